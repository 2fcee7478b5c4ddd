"""Twilio says the recording is absent: the stage fails with its ErrorCode.

RecordingStatus absent comes with ErrorCode 16101 (too short) or 16102
(silent) (TWILIO.md). Nothing can be fetched: recording_status 'failed',
last_error names the code, no fetch job.
"""

from cplib import check, eq, new_sid


def test_recording_absent(stack):
    info, st = stack.run_call("short", recording_status="absent")
    sid = info["call_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))
    absent = [e for e in st.get("events", [])
              if e.get("params", {}).get("RecordingStatus") == "absent"]
    eq(len(absent), 1, "absent callbacks sent")
    eq(absent[0].get("status"), 204, "answer to the absent callback")
    code = absent[0]["params"].get("ErrorCode")
    eq(code, "16102", "ErrorCode the simulator sent")

    row = stack.wait_row(sid, lambda r: r is not None and r["recording_status"] == "failed",
                         20, "recording_status failed")
    check(row["last_error"] and "16102" in row["last_error"],
          "last_error %r does not name ErrorCode 16102", row["last_error"])
    check("absent" in row["last_error"], "last_error %r does not say absent", row["last_error"])
    eq(row["transcript_status"], "pending", "transcript_status")
    eq(stack.stage_jobs(sid), [], "jobs of an absent recording")
    eq(row["business_id"], stack.business_id, "business_id")

    # The same from a callback we send: 16101 (too short) is named too.
    sid2, re2 = new_sid("CA"), new_sid("RE")
    p = stack.recording_params(sid2, re2, status="absent", ErrorCode="16101")
    del p["RecordingUrl"]
    r = stack.post_webhook("/webhook/handle_recording", p)
    eq(r.status, 204, "absent callback (%r)" % r)
    row = stack.row(sid2)
    check(row is not None, "absent callback: no row")
    eq(row["recording_status"], "failed", "recording_status after absent 16101")
    check(row["last_error"] and "16101" in row["last_error"], "last_error %r", row["last_error"])
    eq(stack.stage_jobs(sid2), [], "jobs after absent 16101")
