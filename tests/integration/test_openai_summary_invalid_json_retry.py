"""The LLM answers content that is not JSON once, then valid JSON: completed.

choices[0].message.content is parsed a second time (OPENAI.md); content
that does not parse is a failure that is retried. The summarize job's
second attempt gets the simulator's valid answer and the call completes
with its service, city and summary.
"""

from cplib import check, eq, norm_text

BACKENDS = "openai"
TIMEOUT = 150

CLIP = "en_call"


def test_openai_summary_invalid_json_retry(stack):
    sim = stack.openai_sim()
    sim.fault("chat", "invalid_json", count=1)
    info, clip = stack.clip_call(CLIP)
    sid = info["call_sid"]
    row = stack.wait_statuses(sid, timeout=120)
    chats = sim.requests("chat")
    check(len(chats) >= 2, "%d chat requests: the invalid answer was not retried", len(chats))
    eq(chats[0].get("fault"), "invalid_json", "fault of the first chat request")
    eq(chats[0]["status"], 200, "HTTP status of the invalid answer")
    job = stack.job(sid, "summarize")
    eq(job["state"], "done", "summarize job")
    eq(job["attempts"], 2, "summarize attempts")
    eq(row["extracted_service"], clip["service"], "extracted_service")
    eq(row["extracted_city"], clip["city"], "extracted_city")
    eq(norm_text(row["summary"]), norm_text(clip["llm"]["summary"]), "summary")
    check(row["last_error"] is None, "last_error after success: %r", row["last_error"])
    eq(len(sim.requests("transcriptions")), 2, "transcription requests (not redone)")
