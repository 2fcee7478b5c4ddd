"""A recording-completed callback delivered twice enqueues its work once.

The simulator sends the completed callback twice (duplicate_completed);
after the call is done we deliver the same signed callback once more, the
way a late re-delivery would. There must be exactly one fetch job
(dedupe_key fetch:<RE>), one transcribe and one summarize job, and the
transcript is written once: a late delivery changes nothing in the row.
"""

import time

from cplib import check, eq


def test_webhook_duplicate_callback(stack):
    info, st = stack.run_call("short", duplicate_completed=True)
    sid, re_sid = info["call_sid"], info["recording_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))
    completed = [e for e in st.get("events", [])
                 if e.get("url", "").endswith("/webhook/handle_recording") and
                 e.get("params", {}).get("RecordingStatus") == "completed"]
    eq(len(completed), 2, "completed callbacks the simulator sent")
    for e in completed:
        eq(e.get("status"), 204, "answer to a completed callback")

    row = stack.wait_statuses(sid, timeout=90)
    before = {k: row[k] for k in ("final_transcript", "transcription",
                                  "transcript_segments", "summary", "updated_at",
                                  "recording_stored_at", "recording_bytes")}

    # A third, late delivery of exactly what Twilio sent.
    p = dict(completed[0]["params"])
    r = stack.post_webhook("/webhook/handle_recording", p)
    eq(r.status, 204, "late duplicate callback (%r)" % r)
    time.sleep(1.5)  # give a wrongly enqueued job time to run

    jobs = stack.stage_jobs(sid)
    by_kind = {}
    for j in jobs:
        by_kind.setdefault(j["kind"], []).append(j)
    eq(sorted(by_kind), ["fetch_recording", "summarize", "transcribe"], "job kinds")
    for kind, js in by_kind.items():
        eq(len(js), 1, "number of %s jobs" % kind)
        eq(js[0]["state"], "done", "%s job state" % kind)
    eq(by_kind["fetch_recording"][0]["dedupe_key"], "fetch:" + re_sid, "fetch dedupe_key")
    eq(by_kind["transcribe"][0]["dedupe_key"], "transcribe:%s:0" % sid,
       "transcribe dedupe_key")
    eq(by_kind["summarize"][0]["dedupe_key"], "summarize:%s:0" % sid,
       "summarize dedupe_key")
    eq(stack.query("SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key = %s",
                   ("fetch:" + re_sid,))[0]["n"], 1, "jobs with key fetch:RE")

    after = stack.row(sid)
    for k in ("recording_status", "transcript_status", "summary_status"):
        eq(after[k], "completed", k)
    for k, v in before.items():
        eq(after[k], v, "%s after the late duplicate" % k)
    check(after["last_error"] is None, "last_error set: %r", after["last_error"])
