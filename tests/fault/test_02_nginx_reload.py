"""nginx reloaded during calls loses no webhook.

While calls run, nginx's master gets SIGHUP (what `nginx -s reload` sends)
every RELOAD_EVERY_S: it starts new workers on the same configuration and
lets the old ones finish their requests. Every request the simulator sent
(voice webhooks and callbacks) must be answered 2xx, every call must
complete, and nginx's master is the same process afterwards.
"""

import os
import signal
import threading
import time

from cplib import check, eq
from faultlib import (Deadline, check_one_job_per_stage, fig, nginx_pid, start_calls,
                      wait_sim_done, wait_stages, webhook_answers)

TIMEOUT = 90
CALLS = 6
RELOAD_EVERY_S = 0.7


def test_nginx_reload(stack):
    dl = Deadline(TIMEOUT - 15)
    master = nginx_pid(stack)
    stop = threading.Event()
    reloads = []

    def reloader():
        while not stop.wait(RELOAD_EVERY_S):
            os.kill(master, signal.SIGHUP)
            reloads.append(time.monotonic())

    t0 = time.monotonic()
    th = threading.Thread(target=reloader, daemon=True)
    th.start()
    try:
        sids = [i["call_sid"] for i in start_calls(stack, CALLS, gap_s=0.8)]
        states = wait_sim_done(stack, sids, dl)
    finally:
        stop.set()
        th.join(5)
    t_calls = time.monotonic() - t0
    for sid, st in states.items():
        eq(st["state"], "completed", "sim state of %s (errors %r)" % (sid, st.get("errors")))
    seen, bad = webhook_answers(states)
    eq(bad, [], "webhook answers that are not 2xx (of %d)" % len(seen))
    wait_stages(stack, sids, dl)
    t_done = time.monotonic() - t0
    check_one_job_per_stage(stack, sids)
    eq(nginx_pid(stack), master, "nginx master pid after the reloads")
    check(len(reloads) >= 5, "only %d reloads happened during the calls", len(reloads))
    fig("nginx reload: %d calls, %d reloads in %.1f s, %d webhooks all 2xx, "
        "all completed in %.1f s", CALLS, len(reloads), t_calls, len(seen), t_done)
