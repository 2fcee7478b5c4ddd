"""A mono recording (RecordingChannels=1): one upload, segments labelled Call.

The Twilio simulator's option recording_channels 1 makes the recording
mono (its callbacks say RecordingChannels=1, the media has one channel).
Nobody can tell the speakers apart: one upload (call.wav), "Call:" lines,
speaker "call" in transcript_segments, transcription {"call": ...}, times
within 0.3 s of the manifest.
"""

import json

from cplib import eq

BACKENDS = "openai"
TIMEOUT = 120

CLIP = "en_call"


def test_openai_mono_recording(stack):
    sim = stack.openai_sim()
    info, clip = stack.clip_call(CLIP, recording_channels=1)
    sid = info["call_sid"]
    row = stack.wait_statuses(sid, timeout=90)
    eq(row["recording_channels"], 1, "recording_channels")
    ups = sim.uploads()
    eq([u["file"]["filename"] for u in ups], ["call.wav"], "uploaded files")
    eq((ups[0]["file"]["rate"], ups[0]["file"]["channels"]), (8000, 1), "upload format")
    segs = stack.check_clip_transcript(row, clip, mono=True)
    eq({s["speaker"] for s in segs}, {"call"}, "segment speakers")
    eq(sorted(json.loads(row["transcription"])), ["call"], "keys of transcription")
    eq(row["transcript_language"], "en", "transcript_language")
