"""MariaDB killed with SIGKILL, down 10 s, restarted during 10 calls.

Ten calls start GAP_S apart; once the last one rang, MariaDB's mariadbd
gets SIGKILL (no shutdown: a crash, connections cut), stays down DOWN_S,
and is started again (etc/dev.sh mariadb-restart: the same datadir and
socket, InnoDB crash recovery). Callbacks that arrive meanwhile wait for a
reconnect (8 s at most) or are answered 5xx; the calls whose callbacks
were lost are found again by reconcile and the sweep (short sweep settings
as in test_04). Every call must complete, with one job per stage, and no
process of callpipe may have been restarted: the callpipe-fcgi master and
its workers keep their pids (FastCGI children may recycle themselves
after fcgi.max_requests, which is no restart).
"""

import os
import signal
import time

from cplib import check, eq
from faultlib import (Deadline, check_one_job_per_stage, db_up, fcgi_conf, fig, jobs_of,
                      mariadb_pid, start_calls, wait_db, wait_sim_done, wait_stages,
                      webhook_answers, wait_workers)

TIMEOUT = 150
CALLS = 10
GAP_S = 0.4
DOWN_S = 10
SWEEP = {"worker.sweep_interval_s": 2, "worker.sweep_after_s": 8}


def test_mariadb_kill(stack):
    dl = Deadline(TIMEOUT - 35)
    with fcgi_conf(stack, SWEEP):
        master = stack.fcgi_master_pid()
        workers = wait_workers(stack, dl)
        db_pid = mariadb_pid(stack)
        t0 = time.monotonic()
        killed = False
        try:
            sids = [i["call_sid"] for i in start_calls(stack, CALLS, gap_s=GAP_S)]
            time.sleep(1.0)
            os.kill(db_pid, signal.SIGKILL)
            killed = True
            t_kill = time.monotonic()
            time.sleep(DOWN_S)
            check(not db_up(stack), "MariaDB answered while it should be down")
            out = stack.dev_sh("mariadb-restart", timeout=90)
            check(out.returncode == 0, "etc/dev.sh mariadb-restart exited %d: %s",
                  out.returncode, (out.stderr or out.stdout)[-800:])
            t_up = time.monotonic()
        finally:
            if killed and not db_up(stack):
                stack.dev_sh("mariadb-restart", timeout=90)
        wait_db(stack, dl)
        check(mariadb_pid(stack) != db_pid, "MariaDB's pid did not change")
        states = wait_sim_done(stack, sids, dl)
        for sid, st in states.items():
            eq(st["state"], "completed", "sim state of %s (errors %r)" % (sid, st.get("errors")))
        seen, bad = webhook_answers(states)
        rows = wait_stages(stack, sids, dl)
        t_done = time.monotonic() - t0
        eq(stack.fcgi_master_pid(), master, "callpipe-fcgi master pid")
        eq(stack.worker_pids(), workers, "callpipe-worker pids")
    check_one_job_per_stage(stack, sids)
    swept = sum(1 for js in jobs_of(stack, sids).values()
                if any(":sweep" in j["dedupe_key"] for j in js))
    fig("MariaDB SIGKILL: %d calls, down %.1f s (mariadb-restart took %.1f s), %d of %d webhooks "
        "not answered 2xx, %d calls recovered by the sweep, all completed %.1f s after the "
        "first call (%.1f s after MariaDB was back)", CALLS, t_up - t_kill,
        t_up - t_kill - DOWN_S, len(bad), len(seen), swept, t_done, t_done - (t_up - t0))
