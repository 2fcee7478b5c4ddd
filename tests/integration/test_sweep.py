"""The periodic sweep (issue 7 item 2; DESIGN.md §5 stage 4, sweep.h).

Needs the stack's worker.sweep_interval_s at most 5 and worker.sweep_after_s
at most 30 (etc/dev.sh conf_overrides: 2 and 8); with the defaults (60,
900) the test fails at once rather than wait for an hour.

- A call that loses every callback after its voice webhook (both recording
  callbacks, the call status callback, the <Connect action>) is still live
  when the sweep finds it silent: its reconcile:<CallSid>:sweep<p> waits
  without spending an attempt, then finds the recording, and the call
  completes; the call's final status comes from the Call resource.
- A transcript left in `processing` with no job (its jobs pruned) gets a
  transcribe job again under a :sweep<p> key, with a note in last_error,
  and the call completes (`callpipectl sweep` or the workers' own sweep,
  whichever comes first).
- Finished jobs older than jobs.retention_days are deleted, newer ones and
  queued ones kept.
- Every period's sweep job is enqueued by both workers but logs nothing
  when it finds nothing.
- v_calls_stuck, its threshold (dba_settings.stuck_after_s) set to 0, lists
  none of this test's calls at the end.
"""

import os
import re
import time

from cplib import check, eq

# The callbacks a call can lose after its voice webhook (tests/sim/README.md).
ALL_CALLBACKS = ["recording:in-progress", "recording:completed", "call_status",
                 "connect_action"]


def _settings(stack):
    interval = int(stack.conf_get("worker.sweep_interval_s"))
    after = int(stack.conf_get("worker.sweep_after_s"))
    check(interval <= 5 and after <= 30,
          "the stack sweeps every %d s after %d s of silence: this test needs "
          "worker.sweep_interval_s <= 5 and worker.sweep_after_s <= 30 "
          "(etc/dev.sh conf_overrides)", interval, after)
    return interval, after


def _log_path(stack):
    return os.path.join(stack.run_dir, "log", "callpipe-fcgi.log")


def _log_tail(stack, start):
    with open(_log_path(stack), "rb") as f:
        f.seek(start)
        return f.read().decode("utf-8", "replace")


def _log_size(stack):
    return os.path.getsize(_log_path(stack))


def test_sweep_every_callback_lost(stack):
    interval, after = _settings(stack)
    log0 = _log_size(stack)
    # Live longer than the silence the sweep waits for, so the reconcile
    # finds the call still in progress at least once.
    duration = after + 2 * interval + 4
    info = stack.start_call("short", drop_callbacks=ALL_CALLBACKS,
                            duration_s=duration)
    sid = info["call_sid"]
    st = stack.sim.wait_call(sid, timeout=duration + 60)
    eq(sorted(set(st.get("dropped", []))), sorted(ALL_CALLBACKS), "callbacks dropped")
    kinds = [e.get("kind") for e in st.get("events", [])]
    eq(kinds, ["voice"], "requests the simulator sent")

    row = stack.wait_statuses(sid, timeout=duration + 120)
    eq(row["recording_sid"], info["recording_sid"], "recording_sid found by reconcile")
    eq(row["call_status"], "completed", "call_status from the Call resource")
    check(row["ended_at"] is not None, "ended_at not set from the Call resource")

    jobs = stack.jobs(sid)
    rec = [j for j in jobs if j["kind"] == "reconcile"]
    eq(len(rec), 1, "reconcile jobs (%r)" % [j["dedupe_key"] for j in jobs])
    check(re.fullmatch(r"reconcile:%s:sweep\d+" % sid, rec[0]["dedupe_key"]),
          "reconcile dedupe_key %r", rec[0]["dedupe_key"])
    eq(rec[0]["state"], "done", "reconcile state")
    # The waits gave their attempts back: attempts counts the other runs
    # only (e.g. one more while the recording was still processing).
    log = _log_tail(stack, log0)
    key = re.escape(rec[0]["dedupe_key"])
    runs = len(re.findall(r"job \d+ %s: claimed" % key, log))
    waits = len(re.findall(r"job \d+ %s attempt \d+: [^\n]*the call is still "
                           r"in-progress at Twilio; asking again" % key, log))
    check(waits >= 1, "the reconcile never waited for the live call (duration %d s)",
          duration)
    eq(rec[0]["attempts"], runs - waits,
       "reconcile attempts (%d runs, %d waits for the live call)" % (runs, waits))
    for kind in ("fetch_recording", "transcribe", "summarize"):
        mine = [j for j in jobs if j["kind"] == kind]
        eq([j["state"] for j in mine], ["done"], "%s jobs" % kind)

    check(re.search(r"%s: sweep: no event and no recording URL" % sid, log),
          "the sweep's note on %s is not in the log", sid)
    stack.memo("sweep_calls", list).append(sid)


def test_sweep_stuck_transcript_gets_its_job_again(stack):
    interval, _ = _settings(stack)
    lease = int(stack.conf_get("worker.lease_seconds"))
    info, _st = stack.run_call("short")
    sid = info["call_sid"]
    stack.wait_statuses(sid, timeout=120)
    log0 = _log_size(stack)
    # The transcript's worker died and its finished jobs were pruned: the
    # stage stays in processing with no job to move it.
    stack.execute("DELETE FROM jobs WHERE call_sid = %s", (sid,))
    eq(stack.execute(
        "UPDATE call_log SET transcript_status = 'processing', "
        "summary_status = 'pending', updated_at = NOW(3) - INTERVAL %s SECOND "
        "WHERE call_sid = %s", (lease + 30, sid)), 1, "rows made stuck")
    out = stack.ctl("sweep")
    eq(out.returncode, 0, "callpipectl sweep exit (stderr %r)" % out.stderr)
    check(re.search(r"^sweep \d+: \d+ reconcile\(s\), \d+ stage job\(s\) again, "
                    r"\d+ finished job\(s\) deleted$", out.stdout, re.M),
          "callpipectl sweep's totals line: %r", out.stdout)
    by_ctl = re.search(r"^lost transcript\t%s\ttranscribe:%s:0:sweep\d+\tidle \d+ s$"
                       % (sid, sid), out.stdout, re.M)
    note = stack.row(sid)["last_error"] or ""
    if not by_ctl:
        # The workers' own sweep (every interval s) came first.
        time.sleep(interval + 1)
    row = stack.wait_statuses(sid, timeout=120)
    eq(row["last_error"], None, "last_error once the stage completed")
    # The note: in last_error while the job waits or runs (read right after
    # callpipectl's sweep; the stage's completion clears it), and in the
    # workers' log when their sweep came first.
    want = (r"sweep: transcript processing with no job \(idle \d+ s\); "
            r"transcribe:%s:0:sweep\d+ queued" % sid)
    check(re.fullmatch(want, note) or (not by_ctl and re.search(
        "call %s: %s" % (sid, want), _log_tail(stack, log0))),
        "the sweep's note on %s: last_error %r (callpipectl swept it: %s)",
        sid, note, bool(by_ctl))
    jobs = {j["kind"]: j for j in stack.jobs(sid)}
    check(re.fullmatch(r"transcribe:%s:0:sweep\d+" % sid, jobs["transcribe"]["dedupe_key"]),
          "transcribe dedupe_key %r", jobs["transcribe"]["dedupe_key"])
    eq(jobs["transcribe"]["state"], "done", "swept transcribe state")
    eq(jobs["summarize"]["dedupe_key"], "summarize:%s:0" % sid, "summarize dedupe_key")
    eq(jobs["summarize"]["state"], "done", "summarize state")
    check(row["final_transcript"], "no transcript after the sweep")
    stack.memo("sweep_calls", list).append(sid)


def test_sweep_deletes_old_finished_jobs(stack):
    interval, _ = _settings(stack)
    days = int(stack.conf_get("jobs.retention_days"))
    tag = "sweeptest:%d" % os.getpid()
    rows = [("done", days + 5, "old-done"), ("dead", days + 1, "old-dead"),
            ("done", days - 1, "kept-done"), ("queued", days + 5, "kept-queued")]
    try:
        for state, age, name in rows:
            stack.execute(
                "INSERT INTO jobs (kind, dedupe_key, state, max_attempts, "
                "updated_at) VALUES ('transcribe', %s, %s, 1, NOW(3) - INTERVAL %s DAY)",
                ("%s:%s" % (tag, name), state, age))
        deadline = time.time() + 4 * interval + 10
        while time.time() < deadline:
            left = {r["dedupe_key"] for r in stack.query(
                "SELECT dedupe_key FROM jobs WHERE dedupe_key LIKE %s", (tag + ":%",))}
            if not any(k.endswith(":old-done") or k.endswith(":old-dead") for k in left):
                break
            time.sleep(0.5)
        eq(sorted(left), sorted("%s:%s" % (tag, n) for n in ("kept-done", "kept-queued")),
           "jobs left after the sweep")
    finally:
        stack.execute("DELETE FROM jobs WHERE dedupe_key LIKE %s", (tag + ":%",))


def test_sweep_quiet_one_job_a_period(stack):
    interval, _ = _settings(stack)
    log0 = _log_size(stack)
    t0 = time.time()
    time.sleep(3 * interval + 1)
    p0, p1 = int(t0) // interval, int(time.time()) // interval
    keys = [r["dedupe_key"] for r in stack.query(
        "SELECT dedupe_key FROM jobs WHERE kind = 'sweep' AND dedupe_key IN (%s)"
        % ",".join(["%s"] * (p1 - p0 + 1)),
        ["sweep:%d" % p for p in range(p0, p1 + 1)])]
    # Both workers enqueue each period; one job a period, none skipped
    # (the first and last may straddle the window).
    check(len(keys) >= p1 - p0 - 1, "sweep jobs of periods %d..%d: %r", p0, p1, keys)
    eq(len(keys), len(set(keys)), "sweep jobs per period")
    log = _log_tail(stack, log0)
    noisy = [l for l in log.splitlines() if "sweep:" in l and " info: " in l
             and ("already enqueued" in l or "claimed" in l or " done" in l)]
    eq(noisy, [], "info lines of idle sweeps")


def test_sweep_leaves_nothing_stuck(stack):
    sids = stack.memo("sweep_calls", list)
    check(sids, "no call of this test to look at")
    old = stack.query("SELECT stuck_after_s FROM dba_settings WHERE id = 1")
    eq(len(old), 1, "dba_settings rows")
    try:
        stack.execute("UPDATE dba_settings SET stuck_after_s = 0 WHERE id = 1")
        stuck = stack.query(
            "SELECT call_sid, recording_status, transcript_status, summary_status "
            "FROM v_calls_stuck WHERE call_sid IN (%s)" % ",".join(["%s"] * len(sids)),
            sids)
        eq(stuck, [], "v_calls_stuck (threshold 0) of this test's calls")
        # The threshold is live: a row made stuck now shows at once.
        stack.execute("UPDATE call_log SET transcript_status = 'processing' "
                      "WHERE call_sid = %s", (sids[-1],))
        got = stack.query("SELECT call_sid FROM v_calls_stuck WHERE call_sid = %s",
                          (sids[-1],))
        eq(len(got), 1, "v_calls_stuck with threshold 0 lists a processing row")
    finally:
        stack.execute("UPDATE call_log SET transcript_status = 'completed' "
                      "WHERE call_sid = %s AND transcript_status = 'processing'",
                      (sids[-1],))
        stack.execute("UPDATE dba_settings SET stuck_after_s = %s WHERE id = 1",
                      (old[0]["stuck_after_s"] if old else 900,))
