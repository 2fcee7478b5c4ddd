"""A worker killed with SIGKILL mid-job: its master puts the job back at
once (issue 7, fault suite: "the master puts a reaped worker's jobs back at
once rather than waiting for the lease"; prefork.c release_worker_jobs).

The call's media answers only after MEDIA_DELAY_S, so its fetch_recording
job is running (locked_by "host:pid" of one worker) while the test kills
that worker. Within REQUEUE_S the job is no longer running under the dead
worker's id (queued again, or claimed by the other worker), long before
worker.lease_seconds; last_error names the kill. The killed run counts (a
job that kills its worker every time must still end dead at
max_attempts), so the call completes with one fetch_recording job whose
attempts is 2.
"""

import os
import signal
import time

from cplib import check, eq

TIMEOUT = 120

MEDIA_DELAY_S = 6.0
REQUEUE_S = 1.5


def test_worker_sigkill_requeue(stack):
    lease = stack.conf_get("worker.lease_seconds")
    workers = stack.worker_pids()
    check(len(workers) >= 2, "the stack runs %d workers; the test needs 2", len(workers))
    info = stack.start_call("short", media_delay_s=MEDIA_DELAY_S)
    sid = info["call_sid"]

    deadline = time.monotonic() + 60
    job = None
    while job is None:
        check(time.monotonic() < deadline, "no running fetch_recording job in 60 s: %r",
              stack.jobs(sid))
        for j in stack.jobs(sid):
            if j["kind"] == "fetch_recording" and j["state"] == "running":
                job = j
        time.sleep(0.05)
    owner = job["locked_by"]
    pid = int(owner.rsplit(":", 1)[1])
    check(pid in workers, "locked_by %r names no worker of the master (%r)", owner, workers)
    time.sleep(0.5)   # inside the media request
    os.kill(pid, signal.SIGKILL)
    t_kill = time.monotonic()

    while True:
        j = stack.query("SELECT * FROM jobs WHERE id = %s", (job["id"],))[0]
        if not (j["state"] == "running" and j["locked_by"] == owner):
            break
        check(time.monotonic() - t_kill < REQUEUE_S, "job %d still running under the "
              "killed worker %s %.1f s after the kill (lease %s s)", job["id"], owner,
              time.monotonic() - t_kill, lease)
        time.sleep(0.02)
    took = time.monotonic() - t_kill
    check((j["last_error"] or "").startswith("put back: worker %s" % owner),
          "last_error %r", j["last_error"])
    check(j["attempts"] in (1, 2), "attempts %d after the put-back (1, or 2 once "
          "claimed again)", j["attempts"])

    row = stack.wait_statuses(sid, timeout=90)
    fetches = [x for x in stack.jobs(sid) if x["kind"] == "fetch_recording"]
    eq([(x["state"], x["attempts"]) for x in fetches], [("done", 2)],
       "fetch_recording jobs (the killed run counted)")
    eq(row["recording_status"], "completed", "recording_status")
    print("  job %d put back %.2f s after SIGKILL to worker %d (lease %s s)"
          % (job["id"], took, pid, lease))
