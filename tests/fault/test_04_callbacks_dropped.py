"""Every callback of a call lost: the sweep and reconcile complete it.

The simulator sends the voice webhook and nothing else: the recording
callbacks (in-progress and completed), the <Connect action> and the call
status callback are all dropped (drop_callbacks). callpipe has the row of
the voice webhook and never hears of the call again; the periodic sweep
(worker.sweep_interval_s, worker.sweep_after_s: short here, callpipe-fcgi
runs on a configuration copy unless run/callpipe.conf has them) gives it a
reconcile job (dedupe key reconcile:<CallSid>:sweep<n>), which reads the
Call and its recordings at Twilio and enqueues the fetch. Every call must
complete, with one job per stage.
"""

import time

from cplib import check, eq
from faultlib import (Deadline, check_one_job_per_stage, check_transcripts, fcgi_conf, fig,
                      jobs_of, start_calls, wait_sim_done, wait_stages)

TIMEOUT = 100
CALLS = 3
SWEEP = {"worker.sweep_interval_s": 2, "worker.sweep_after_s": 8}
DROP = ["recording:in-progress", "recording:completed", "call_status", "connect_action"]


def test_callbacks_dropped(stack):
    dl = Deadline(TIMEOUT - 30)
    with fcgi_conf(stack, SWEEP):
        t0 = time.monotonic()
        sids = [i["call_sid"] for i in start_calls(stack, CALLS, gap_s=0.5, drop_callbacks=DROP)]
        states = wait_sim_done(stack, sids, dl)
        t_sim = time.monotonic() - t0
        for sid, st in states.items():
            eq(st["state"], "completed", "sim state of %s (errors %r)" % (sid, st.get("errors")))
            eq(sorted(set(st.get("dropped", []))), sorted(DROP), "callbacks dropped for %s" % sid)
            eq([e["kind"] for e in st["events"]], ["voice"], "requests sent for %s" % sid)
        rows = wait_stages(stack, sids, dl)
        t_done = time.monotonic() - t0
    check_one_job_per_stage(stack, sids)
    for sid, js in jobs_of(stack, sids).items():
        rec = [j for j in js if j["kind"] == "reconcile"]
        check(rec and all(j["dedupe_key"].startswith("reconcile:%s:sweep" % sid) for j in rec),
              "reconcile jobs of %s are not the sweep's: %r", sid,
              [j["dedupe_key"] for j in rec])
        eq(rows[sid]["recording_sid"], states[sid]["recording_sid"], "recording_sid of %s" % sid)
        # The Call resource's status and duration, as the lost call status
        # callback would have given them, and so the coverage.
        row = stack.row(sid)
        eq(row["call_status"], "completed", "call_status of %s" % sid)
        eq(row["call_duration"], states[sid]["call_duration"], "call_duration of %s" % sid)
        check(row["recording_coverage"] is not None and row["recording_coverage_low"] == 0,
              "recording_coverage of %s: %r (low %r)", sid, row["recording_coverage"],
              row["recording_coverage_low"])
    check_transcripts(stack, rows)
    fig("every callback dropped: %d calls (each %.1f s) done at Twilio after %.1f s, all "
        "completed through the sweep after %.1f s (sweep every %d s, after %d s)", CALLS,
        states[sids[0]]["duration_s"], t_sim, t_done, SWEEP["worker.sweep_interval_s"],
        SWEEP["worker.sweep_after_s"])
