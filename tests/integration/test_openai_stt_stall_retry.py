"""STT stalls past the client's timeout once: retried, then completed.

The simulator holds the first /audio/transcriptions request for 8 s, longer
than stt.openai.timeout_ms (5000 in the local stack). The client gives up
(a timeout is retryable), the job is retried, and the call completes.
"""

from cplib import check, eq

BACKENDS = "openai"
TIMEOUT = 150

CLIP = "en_call"
STALL_S = 8.0


def test_openai_stt_stall_retry(stack):
    sim = stack.openai_sim()
    timeout_s = stack.conf_get("stt.openai.timeout_ms") / 1000.0
    check(timeout_s < STALL_S, "stt.openai.timeout_ms %.0f s is not below the stall",
          timeout_s)
    sim.fault("transcriptions", "stall", count=1, stall_s=STALL_S)
    info, clip = stack.clip_call(CLIP)
    sid = info["call_sid"]
    row = stack.wait_statuses(sid, timeout=120)
    stack.check_clip_transcript(row, clip)
    job = stack.job(sid, "transcribe")
    check(job["attempts"] >= 2, "transcribe attempts %r: the stall was not retried",
          job["attempts"])
    reqs = sim.requests("transcriptions")
    eq(reqs[0].get("fault"), "stall", "fault of the first request")
    later = reqs[1:]
    check(later and later[0]["t"] - reqs[0]["t"] >= timeout_s - 0.2,
          "the retry came %.2f s after the stalled request; the client's timeout is %.1f s",
          (later[0]["t"] - reqs[0]["t"]) if later else -1, timeout_s)
    check(row["last_error"] is None, "last_error after success: %r", row["last_error"])
