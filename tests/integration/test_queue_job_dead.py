"""A fetch that always fails ends 'dead' after max_attempts, stage failed.

The simulator answers 500 to every media request of the call. The
fetch_recording job is retried with backoff (500 ms base in the local
stack) until worker.max_attempts (4), then it is 'dead' and
recording_status 'failed' with last_error naming the 500; nothing is
enqueued after it.
"""

from cplib import check, eq


def test_queue_job_dead(stack):
    max_attempts = stack.conf_get("worker.max_attempts")
    info, st = stack.run_call("short", media_status=500)
    sid, re_sid = info["call_sid"], info["recording_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))

    row = stack.wait_row(sid, lambda r: r is not None and r["recording_status"] == "failed",
                         60, "recording_status failed")
    jobs = stack.stage_jobs(sid)
    eq([j["kind"] for j in jobs], ["fetch_recording"], "jobs of the call")
    j = jobs[0]
    eq(j["dedupe_key"], "fetch:" + re_sid, "dedupe_key")
    eq(j["state"], "dead", "job state")
    eq(j["max_attempts"], max_attempts, "job max_attempts")
    eq(j["attempts"], max_attempts, "job attempts")
    check(j["last_error"] and "500" in j["last_error"], "job last_error %r does not name 500",
          j["last_error"])
    check(row["last_error"] and "500" in row["last_error"], "row last_error %r does not name 500",
          row["last_error"])
    check(len(row["last_error"]) <= 500, "last_error longer than 500 bytes")
    eq(row["transcript_status"], "pending", "transcript_status")
    eq(row["summary_status"], "pending", "summary_status")
    check(row["final_transcript"] is None, "a transcript was written: %r", row["final_transcript"])

    media = [m.get("status") for m in stack.sim.call(sid).get("media_requests", [])]
    eq(media, [500] * max_attempts, "media requests the simulator answered")
    # The failure shows in the download route as "not held".
    eq(stack.download(sid).status, 404, "download of a failed recording")
