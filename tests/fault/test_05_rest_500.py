"""Twilio's REST API answering 500 for 30 s: the calls complete afterwards.

POST /sim/rest_fail makes every request of the simulator's REST API
(media, Recording resources and lists, the Call resource) answer 500
(Twilio error 20500) for OUTAGE_S; the webhooks still arrive. Calls made at
the start of the outage get their recording callbacks, but every fetch
(and reconcile) fails until the outage ends. A 500 is worth a retry, so
the jobs wait (backoff) and the calls complete after it.

The stack's own retry settings are the local stack's short ones (4
attempts, 0.5 .. 4 s: about 4 s in all), which no 30 s outage survives;
the defaults of etc/callpipe.conf (6 attempts from 5 s: about 2.5 min) do.
So callpipe-fcgi runs this test on a configuration copy with RETRY, which
spans about a minute, and is restarted on run/callpipe.conf afterwards.
"""

import time

from cplib import check, eq
from faultlib import (Deadline, check_one_job_per_stage, fcgi_conf, fig, jobs_of, rest_fail,
                      rest_fail_state, start_calls, wait_sim_done, wait_stages,
                      webhook_answers)

TIMEOUT = 120
CALLS = 3
OUTAGE_S = 30
RETRY = {"worker.backoff_base_ms": 1000, "worker.backoff_max_ms": 5000,
         "worker.max_attempts": 12}


def test_rest_500(stack):
    dl = Deadline(TIMEOUT - 30)
    with fcgi_conf(stack, RETRY):
        try:
            rest_fail(stack, OUTAGE_S, 500)
            t0 = time.monotonic()
            sids = [i["call_sid"] for i in start_calls(stack, CALLS, gap_s=1.0)]
            states = wait_sim_done(stack, sids, dl)
            for sid, st in states.items():
                eq(st["state"], "completed",
                   "sim state of %s (errors %r)" % (sid, st.get("errors")))
            _, bad = webhook_answers(states)
            eq(bad, [], "webhook answers that are not 2xx")
            # Nothing can complete while the outage lasts.
            while time.monotonic() - t0 < OUTAGE_S - 2:
                rows = stack.query("SELECT call_sid, recording_status FROM call_log "
                                   "WHERE call_sid IN (%s)" % ", ".join(["%s"] * len(sids)),
                                   sids)
                check(all(r["recording_status"] != "completed" for r in rows),
                      "a recording completed during the REST outage: %r", rows)
                check(all(r["recording_status"] != "failed" for r in rows),
                      "a recording failed during the REST outage: %r",
                      [(s, stack.row(s)["last_error"]) for s in sids])
                time.sleep(1)
            wait_stages(stack, sids, dl)
            t_done = time.monotonic() - t0
            served = rest_fail_state(stack)["served"]
        finally:
            rest_fail(stack, 0)
    check(served > 0, "the simulator answered no request with 500")
    check(t_done >= OUTAGE_S, "calls completed %.1f s after the outage began (it lasts %d s)",
          t_done, OUTAGE_S)
    check_one_job_per_stage(stack, sids)
    tries = [j["attempts"] for js in jobs_of(stack, sids).values() for j in js
             if j["kind"] == "fetch_recording"]
    check(min(tries) > 1, "a fetch ran once only (%r): it did not meet the outage", tries)
    fig("REST 500 for %d s: %d calls, %d requests answered 500, fetch attempts %s, all "
        "completed %.1f s after the outage began (%.1f s after it ended)", OUTAGE_S, CALLS,
        served, tries, t_done, t_done - OUTAGE_S)
