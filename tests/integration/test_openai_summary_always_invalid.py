"""The LLM never answers valid JSON: summarize retried, then failed.

Every /chat/completions answer's content is not JSON. The summarize job is
retried up to worker.max_attempts and ends 'dead'; summary_status is
'failed' with last_error "summarize (openai): ..."; the transcript stays
completed and no summary, service or city is stored.
"""

from cplib import check, eq

BACKENDS = "openai"
TIMEOUT = 150

CLIP = "en_call"


def test_openai_summary_always_invalid(stack):
    sim = stack.openai_sim()
    max_attempts = stack.conf_get("worker.max_attempts")
    sim.fault("chat", "invalid_json", count=-1)
    try:
        info, _ = stack.clip_call(CLIP)
        sid = info["call_sid"]
        row = stack.wait_stage(sid, "summary", ("failed", "completed"), timeout=120)
        eq(row["summary_status"], "failed", "summary_status")
        eq(row["transcript_status"], "completed", "transcript_status")
        err = row["last_error"] or ""
        check(err.startswith("summarize (openai): "), "last_error %r", err)
        check("not valid JSON" in err, "last_error %r does not say the answer was "
              "not valid JSON", err)
        job = stack.wait_job(sid, "summarize", "dead", timeout=10)
        eq(job["attempts"], max_attempts, "attempts of the dead summarize job")
        chats = sim.requests("chat")
        eq(len(chats), max_attempts, "chat requests")
        check(all(c.get("fault") == "invalid_json" for c in chats), "faults %r",
              [c.get("fault") for c in chats])
        check(not row["summary"], "a summary was stored: %r", row["summary"])
        check(row["extracted_service"] is None and row["extracted_city"] is None,
              "service/city stored from an invalid answer: %r, %r",
              row["extracted_service"], row["extracted_city"])
    finally:
        sim.reset()
