"""STT answers 429 rate_limit_exceeded twice, then succeeds: the call completes.

The OpenAI simulator answers the first two /audio/transcriptions requests
with 429 (code rate_limit_exceeded): the first with only `Retry-After: 2`,
the second with only `retry-after-ms: 2000`, so each header is proved to be
honoured on its own; both waits are longer than the worker's own backoff
(500 ms, doubling). While it is
retried the transcript stage stays 'processing' with last_error noted; each
retry waits at least what retry-after says; then every stage completes.
"""

import time

from cplib import check, eq

BACKENDS = "openai"
TIMEOUT = 150

CLIP = "en_call"
RETRY_AFTER_S = 2.0


def test_openai_stt_rate_limit_retry(stack):
    sim = stack.openai_sim()
    sim.fault("transcriptions", "rate_limit", count=1,
              retry_after_s=RETRY_AFTER_S, retry_headers="s")
    sim.fault("transcriptions", "rate_limit", count=1,
              retry_after_ms=int(RETRY_AFTER_S * 1000), retry_headers="ms")
    info, clip = stack.clip_call(CLIP)
    sid = info["call_sid"]

    # The first 429: the stage is still being worked on, the error noted.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            r["status"] == 429 for r in sim.requests("transcriptions")):
        time.sleep(0.1)
    check(any(r["status"] == 429 for r in sim.requests("transcriptions")),
          "no 429 was answered within 60 s: %r", sim.requests("transcriptions"))
    row = stack.wait_row(sid, lambda r: r is not None and r["last_error"] is not None,
                         RETRY_AFTER_S, "last_error noted during the retry")
    eq(row["transcript_status"], "processing", "transcript_status while retried")
    check("429" in row["last_error"] or "rate" in row["last_error"].lower(),
          "last_error during the retry does not say why: %r", row["last_error"])

    row = stack.wait_statuses(sid, timeout=120)
    stack.check_clip_transcript(row, clip)
    reqs = sim.requests("transcriptions")
    statuses = [r["status"] for r in reqs]
    eq(statuses[:2], [429, 429], "the first two answers")
    eq([r.get("fault") for r in reqs[:2]], ["rate_limit", "rate_limit"], "faults")
    eq(sorted(r["file"]["filename"] for r in reqs if r["status"] == 200),
       ["agent.wav", "caller.wav"], "successful uploads")
    job = stack.job(sid, "transcribe")
    eq(job["state"], "done", "transcribe job")
    # Two 429s, each ending an attempt, then the attempt that succeeded.
    eq(job["attempts"], 3, "transcribe job attempts")
    slack = 0.05
    for i in range(2):
        gap = reqs[i + 1]["t"] - reqs[i]["t"]
        check(gap >= RETRY_AFTER_S - slack,
              "request %d came %.2f s after the 429 (%s only), which asked for %.1f s",
              i + 2, gap, ("Retry-After", "retry-after-ms")[i], RETRY_AFTER_S)
    check(row["last_error"] is None, "last_error after success: %r", row["last_error"])
