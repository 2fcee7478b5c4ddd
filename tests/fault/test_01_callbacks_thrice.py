"""Every callback delivered three times enqueues each job once.

The simulator delivers each callback of the call (recording in-progress
and completed, the <Connect action>, the call status) three times, one
after the other with the same I-Twilio-Idempotency-Token (option
deliver_times; Twilio may re-deliver, TWILIO.md "Retries and failures").
Every delivery must be answered 2xx, and each call must have exactly one
job of each kind (fetch_recording, transcribe, summarize and the call's
reconcile), all done, and one transcript.
"""

import time

from cplib import check, eq
from faultlib import (Deadline, check_one_job_per_stage, check_transcripts, fig, jobs_of,
                      start_calls, wait_sim_done, wait_stages, webhook_answers)

TIMEOUT = 90
CALLS = 3
TIMES = 3
CALLBACKS = ("recording:in-progress", "recording:completed", "connect_action", "call_status")


def test_callbacks_thrice(stack):
    dl = Deadline(TIMEOUT - 15)
    t0 = time.monotonic()
    sids = [i["call_sid"] for i in start_calls(stack, CALLS, gap_s=0.3, deliver_times=TIMES)]
    states = wait_sim_done(stack, sids, dl)
    for sid, st in states.items():
        eq(st["state"], "completed", "sim state of %s (errors %r)" % (sid, st.get("errors")))
        kinds = [e["kind"] for e in st["events"]]
        eq(kinds.count("voice"), 1, "voice webhooks of %s" % sid)
        for k in CALLBACKS:
            evs = [e for e in st["events"] if e["kind"] == k]
            eq(len(evs), TIMES, "deliveries of %s for %s" % (k, sid))
            eq(len({e["idempotency_token"] for e in evs}), 1,
               "idempotency tokens of the %s deliveries of %s" % (k, sid))
    seen, bad = webhook_answers(states)
    eq(bad, [], "webhook answers that are not 2xx")
    rows = wait_stages(stack, sids, dl)
    t_done = time.monotonic() - t0
    # The reconcile job runs worker.reconcile_delay_s after the call: wait
    # for it, and give a wrongly enqueued second job time to show.
    while any(j["state"] in ("queued", "running")
              for js in jobs_of(stack, sids).values() for j in js):
        check(not dl.passed(), "jobs of the calls still queued or running")
        time.sleep(0.5)
    time.sleep(1.0)
    counts = check_one_job_per_stage(stack, sids)
    for sid, js in jobs_of(stack, sids).items():
        rec = [j for j in js if j["kind"] == "reconcile"]
        eq([j["dedupe_key"] for j in rec], ["reconcile:" + sid], "reconcile jobs of %s" % sid)
        eq(sorted(j["kind"] for j in js),
           ["fetch_recording", "reconcile", "summarize", "transcribe"], "jobs of %s" % sid)
    nseg = check_transcripts(stack, rows)
    fig("callbacks x%d: %d calls, %d requests sent (all 2xx), jobs %s, %d segments each, "
        "all completed in %.1f s", TIMES, CALLS, len(seen),
        dict(sorted(counts.items())), nseg, t_done)
