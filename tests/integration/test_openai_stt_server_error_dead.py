"""STT answers 500 every time: retried up to worker.max_attempts, then dead.

A 5xx is retryable; when every attempt fails the transcribe job ends
'dead' after worker.max_attempts attempts and transcript_status 'failed',
last_error "transcribe (openai): ..." naming the status.
"""

from cplib import check, eq

BACKENDS = "openai"
TIMEOUT = 150

CLIP = "en_call"


def test_openai_stt_server_error_dead(stack):
    sim = stack.openai_sim()
    max_attempts = stack.conf_get("worker.max_attempts")
    sim.fault("transcriptions", "server_error", count=-1)
    try:
        info, _ = stack.clip_call(CLIP)
        sid = info["call_sid"]
        row = stack.wait_stage(sid, "transcript", ("failed", "completed"), timeout=120)
        eq(row["transcript_status"], "failed", "transcript_status")
        err = row["last_error"] or ""
        check(err.startswith("transcribe (openai): "), "last_error %r", err)
        check("500" in err, "last_error %r does not name the 500", err)
        job = stack.wait_job(sid, "transcribe", "dead", timeout=10)
        eq(job["attempts"], max_attempts, "attempts of the dead transcribe job")
        reqs = sim.requests("transcriptions")
        # One request per attempt: every retry goes through the job's
        # backoff, none inside an attempt (the first channel fails each
        # attempt before the second is sent).
        eq(len(reqs), max_attempts, "transcription requests for %d attempts"
           % max_attempts)
        check(all(r["status"] == 500 for r in reqs), "statuses %r",
              [r["status"] for r in reqs])
        eq(sim.requests("chat"), [], "chat requests")
    finally:
        sim.reset()
