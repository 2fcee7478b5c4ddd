"""A recording-completed callback that never arrives is recovered.

TWILIO.md "Retries and failures": Twilio does not reliably re-deliver a
status callback, so callpipe must ask the REST API. The simulator drops the
completed recording callback; when the call ends, callpipe schedules a
reconcile job (worker.reconcile_delay_s after call_status completed), which
lists the call's recordings at Twilio, saves the completed one and enqueues
its fetch. The row must end with every stage completed, the recording
byte-identical to Twilio's.
"""

import os

from cplib import check, eq


def test_recording_callback_lost(stack):
    info, st = stack.run_call("short", drop_callbacks=["recording:completed"])
    sid, re_sid = info["call_sid"], info["recording_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))
    check("recording:completed" in st.get("dropped", []),
          "the simulator did not drop the completed callback: %r", st.get("dropped"))
    sent = [e for e in st.get("events", []) if "recording:completed" in str(e.get("kind", ""))
            or e.get("params", {}).get("RecordingStatus") == "completed"]
    eq(sent, [], "completed recording callbacks sent")

    row = stack.wait_statuses(sid, timeout=90)
    eq(row["recording_sid"], re_sid, "recording_sid found by reconcile")
    eq(row["recording_channels"], 2, "recording_channels from the Recording resource")
    check(row["recording_url"].endswith("/Recordings/" + re_sid),
          "recording_url %r", row["recording_url"])

    jobs = {j["kind"]: j for j in stack.jobs(sid)}
    check("reconcile" in jobs, "no reconcile job: %r", list(jobs))
    eq(jobs["reconcile"]["dedupe_key"], "reconcile:" + sid, "reconcile dedupe_key")
    eq(jobs["reconcile"]["state"], "done", "reconcile job state")
    eq(jobs["fetch_recording"]["dedupe_key"], "fetch:" + re_sid, "fetch dedupe_key")
    eq(jobs["fetch_recording"]["state"], "done", "fetch job state")

    want = stack.sim.recording_media(re_sid, "wav").body
    with open(os.path.join(stack.cache_dir, re_sid + ".wav"), "rb") as f:
        check(f.read() == want, "cached recording differs from Twilio's")
