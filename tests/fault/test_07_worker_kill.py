"""Workers killed with SIGKILL again and again during 20 calls.

Twenty calls start; for KILL_FOR_S one random live callpipe-worker gets
SIGKILL every KILL_EVERY_S (whatever it is doing: a fetch, pocketsphinx,
a summary, a COMMIT). The master reaps and respawns them, and a killed
worker's running job is put back (at once, by the master; otherwise when
its lease runs out). Every call must complete with exactly one job per
stage (the job that was interrupted runs again as the same job, no second
job of a stage) and the same transcript as every other call of the clip,
written once. The test waits for the master to have all its workers back.
"""

import os
import signal
import threading
import time

from cplib import check
from faultlib import (Deadline, check_one_job_per_stage, check_transcripts, fig,
                      random_worker, start_calls, wait_sim_done, wait_stages, wait_workers,
                      webhook_answers)

TIMEOUT = 170
CALLS = 20
KILL_EVERY_S = 2.0
KILL_FOR_S = 30.0


def test_worker_kill(stack):
    dl = Deadline(TIMEOUT - 20)
    wait_workers(stack, dl)
    master = stack.fcgi_master_pid()
    kills, busy_kills, idle_ticks = [], [], [0]
    stop = threading.Event()

    def killer():
        end = time.monotonic() + KILL_FOR_S
        while not stop.is_set() and time.monotonic() < end:
            pid = random_worker(stack)
            if pid is None:
                idle_ticks[0] += 1
            else:
                held = stack.query("SELECT kind FROM jobs WHERE state = 'running' AND "
                                   "locked_by LIKE %s", ("%%:%d" % pid,))
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills.append(pid)
                    if held:
                        busy_kills.append(held[0]["kind"])
                except ProcessLookupError:
                    pass
            stop.wait(KILL_EVERY_S)

    t0 = time.monotonic()
    th = threading.Thread(target=killer, daemon=True)
    th.start()
    try:
        sids = [i["call_sid"] for i in start_calls(stack, CALLS, gap_s=0.2)]
        states = wait_sim_done(stack, sids, dl)
        th.join(KILL_FOR_S + 5)
        _, bad = webhook_answers(states)
        check(not bad, "webhook answers that are not 2xx: %r", bad[:5])
        rows = wait_stages(stack, sids, dl)
        t_done = time.monotonic() - t0
    finally:
        stop.set()
        th.join(5)
    check(stack.fcgi_master_pid() == master, "the callpipe-fcgi master changed")
    counts = check_one_job_per_stage(stack, sids)
    nseg = check_transcripts(stack, rows)
    t_back = time.monotonic()
    wait_workers(stack, dl, "the workers after the kills")
    t_back = time.monotonic() - t_back
    by_kind = {}
    for k in busy_kills:
        by_kind[k] = by_kind.get(k, 0) + 1
    fig("worker SIGKILL every %.0f s for %.0f s: %d calls, %d kills (%d during a job: %s; "
        "%d ticks found no live worker), all completed %.1f s after the first call, jobs "
        "%s, %d segments each, all workers back %.1f s later", KILL_EVERY_S, KILL_FOR_S,
        CALLS, len(kills), len(busy_kills), by_kind, idle_ticks[0], t_done,
        dict(sorted(counts.items())), nseg, t_back)
