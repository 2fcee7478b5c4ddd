"""STT answers 429 insufficient_quota: permanent, the transcript fails at once.

OPENAI.md: a 429 with code insufficient_quota ("You exceeded your current
quota…") is never retried, unlike rate_limit_exceeded. The transcribe job is
dead after one attempt, transcript_status is 'failed', last_error starts
"transcribe (openai): " and holds the service's own message; no summary is
asked for.
"""

from cplib import check, eq

BACKENDS = "openai"
TIMEOUT = 120

CLIP = "en_call"
MESSAGE = "exceeded your current quota"


def test_openai_stt_insufficient_quota(stack):
    sim = stack.openai_sim()
    # Every request is refused: a client that retried would show a second
    # quota answer, one that went on to the agent's channel a second upload.
    sim.fault("transcriptions", "insufficient_quota", count=-1)
    try:
        _check(stack, sim)
    finally:
        sim.reset()


def _check(stack, sim):
    info, _ = stack.clip_call(CLIP)
    sid = info["call_sid"]
    row = stack.wait_stage(sid, "transcript", ("failed", "completed"), timeout=90)
    eq(row["transcript_status"], "failed", "transcript_status")
    eq(row["recording_status"], "completed", "recording_status")
    err = row["last_error"] or ""
    check(err.startswith("transcribe (openai): "), "last_error %r", err)
    check(MESSAGE in err, "last_error %r lacks the service's message %r", err, MESSAGE)
    check(stack.openai.api_key is None or stack.openai.api_key not in err,
          "last_error holds the API key")
    job = stack.wait_job(sid, "transcribe", "dead", timeout=10)
    eq(job["attempts"], 1, "attempts of the transcribe job")
    reqs = sim.requests("transcriptions")
    check(reqs and reqs[0]["status"] == 429 and reqs[0].get("fault") == "insufficient_quota",
          "first transcription request %r", reqs[:1])
    eq(len(reqs), 1, "transcription requests (one: no retry, no second channel "
       "after a permanent error)")
    check(row["summary_status"] != "completed", "summary_status %r", row["summary_status"])
    eq(sim.requests("chat"), [], "chat requests")
