"""A dual recording whose agent channel is silent: only the caller's is uploaded.

Whisper invents text on silence, so a channel whose loudest 30 ms window
is below the threshold is not sent. run/audio/silent_agent.wav has only low
line noise (RMS about 40, not digital zero) on channel 2: one upload (caller.wav), Caller lines only, and the
call completes.
"""

from cplib import eq, transcript_lines

BACKENDS = "openai"
TIMEOUT = 120

CLIP = "silent_agent"


def test_openai_silent_agent_channel(stack):
    sim = stack.openai_sim()
    info, clip = stack.clip_call(CLIP)
    sid = info["call_sid"]
    row = stack.wait_statuses(sid, timeout=90)
    eq(row["recording_channels"], 2, "recording_channels")
    ups = sim.uploads()
    eq([u["file"]["filename"] for u in ups], ["caller.wav"], "uploaded files")
    stack.check_clip_transcript(row, clip)
    eq(sorted({l for l, _ in transcript_lines(row["final_transcript"])}), ["Caller"],
       "labels of final_transcript")
    eq(row["extracted_service"], clip["service"], "extracted_service")
    eq(row["extracted_city"], clip["city"], "extracted_city")
