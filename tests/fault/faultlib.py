"""faultlib: helpers of callpipe's fault suite (tests/fault/run.py).

The fault tests break one piece of the running local stack at a time (a
worker, MariaDB, nginx, Twilio's REST API, the cache's disk, the
callbacks) while calls go through, and check that every call still ends
with its three stages completed (or, for the full disk, failed the right
way). Each test puts the stack back as it found it, in a finally block;
the runner then checks that it did (stack_problems).

Built on tests/integration/cplib.py (the Stack); only the standard library,
python3-twilio and python3-pymysql.
"""

import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

from cplib import TestFailure, check, eq

STAGES = ("fetch_recording", "transcribe", "summarize")
FINAL = ("completed", "failed")


def fig(fmt, *args):
    """One figure line for the closing note: "# fmt" (flushed at once)."""
    print("# " + (fmt % args if args else fmt), flush=True)


class Deadline:
    """A test's own time limit, a little shorter than its TIMEOUT, so that
    a wait gives up (and the finally blocks put the stack back) before the
    runner stops waiting for the test."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def passed(self):
        return self.left() <= 0


# ---------------------------------------------------------------- calls

# Every call the suite started (test_99_stuck_empty checks them all at the end).
STARTED = []


def start_calls(stack, n, audio="short", gap_s=0.0, **opts):
    """Starts n simulated calls (gap_s apart); returns their infos."""
    infos = []
    for i in range(n):
        infos.append(stack.start_call(audio, **opts))
        STARTED.append(infos[-1]["call_sid"])
        if gap_s and i + 1 < n:
            time.sleep(gap_s)
    return infos


def rows_of(stack, sids):
    """{call_sid: row} of call_log for sids (one query)."""
    if not sids:
        return {}
    rows = stack.query("SELECT * FROM call_log WHERE call_sid IN (%s)" %
                       ", ".join(["%s"] * len(sids)), list(sids))
    return {r["call_sid"]: r for r in rows}


def jobs_of(stack, sids):
    """{call_sid: [job rows, oldest first]} for sids (one query)."""
    out = {s: [] for s in sids}
    if not sids:
        return out
    for j in stack.query("SELECT * FROM jobs WHERE call_sid IN (%s) ORDER BY id" %
                         ", ".join(["%s"] * len(sids)), list(sids)):
        out[j["call_sid"]].append(j)
    return out


def statuses(row):
    if row is None:
        return None
    return (row["recording_status"], row["transcript_status"], row["summary_status"])


def wait_sim_done(stack, sids, deadline):
    """Waits until the simulator is done with every call (completed or
    failed); returns {sid: sim state}."""
    out = {}
    while True:
        for s in sids:
            if s not in out:
                st = stack.sim.call(s)
                if st.get("state") in ("completed", "failed"):
                    out[s] = st
        if len(out) == len(sids):
            return out
        if deadline.passed():
            raise TestFailure("the simulator is not done with %d of %d calls: %s" % (
                len(sids) - len(out), len(sids),
                [s for s in sids if s not in out][:5]))
        time.sleep(0.5)


def wait_stages(stack, sids, deadline, want=("completed", "completed", "completed")):
    """Waits until every call's (recording, transcript, summary) statuses
    are want; fails at once when a call reaches another final state
    (every stage completed or failed, none pending or running), and at the
    deadline. Returns the rows."""
    last = {}
    while True:
        last = rows_of(stack, sids)
        done = [s for s in sids if statuses(last.get(s)) == tuple(want)]
        if len(done) == len(sids):
            return last
        bad = [s for s in sids if last.get(s) is not None and
               statuses(last[s]) != tuple(want) and
               all(x in FINAL for x in statuses(last[s])) and
               not any(j["state"] in ("queued", "running")
                       for j in stack.jobs(s))]
        if bad:
            raise TestFailure("%d calls ended %s, not %s: %s" % (
                len(bad), [statuses(last[s]) for s in bad[:3]], want,
                [describe(stack, s, last.get(s)) for s in bad[:3]]))
        if deadline.passed():
            waiting = [s for s in sids if s not in done]
            raise TestFailure("%d of %d calls not %s in time: %s" % (
                len(waiting), len(sids), want,
                [describe(stack, s, last.get(s)) for s in waiting[:4]]))
        time.sleep(0.5)


def describe(stack, sid, row):
    """A short account of a call for a failure message."""
    if row is None:
        row = stack.row(sid)
    if row is None:
        return "%s: no call_log row" % sid
    return "%s: %s last_error=%r jobs=%s" % (
        sid, statuses(row), row.get("last_error"),
        [(j["kind"], j["dedupe_key"].split(":")[-1], j["state"], j["attempts"],
          (j["last_error"] or "")[:80]) for j in stack.jobs(sid)])


def check_one_job_per_stage(stack, sids, allow_retry=False):
    """Each call has exactly one fetch_recording, one transcribe and one
    summarize job, each done, with the first dedupe key of its stage (no
    second job of a stage); allow_retry lets a stage have later jobs under
    a retry's key too (their keys differ, the last one done). Returns the
    number of jobs seen per kind."""
    counts = {}
    for sid, jobs in jobs_of(stack, sids).items():
        by_kind = {}
        for j in jobs:
            by_kind.setdefault(j["kind"], []).append(j)
            counts[j["kind"]] = counts.get(j["kind"], 0) + 1
        for k in STAGES:
            js = by_kind.get(k, [])
            check(js, "call %s has no %s job: %s", sid, k, describe(stack, sid, None))
            if not allow_retry:
                eq(len(js), 1, "%s jobs of call %s (%s)" % (
                    k, sid, [(j["dedupe_key"], j["state"]) for j in js]))
            keys = [j["dedupe_key"] for j in js]
            eq(len(set(keys)), len(keys), "distinct dedupe keys of the %s jobs of %s" % (k, sid))
            eq(js[-1]["state"], "done", "state of the last %s job of %s" % (k, sid))
    return counts


def check_transcripts(stack, rows):
    """No transcript is written twice: every call of the same clip has the
    same final_transcript and segments, no segment appears twice, and no
    transcript line repeats the one before it. Returns the number of
    segments of one call."""
    ref = None
    for sid, r in rows.items():
        check(r["final_transcript"], "call %s has no final_transcript", sid)
        segs = [(s.get("speaker"), s.get("start"), s.get("end"), s.get("text"))
                for s in _segments(r)]
        eq(len(set(segs)), len(segs), "distinct segments of %s" % sid)
        lines = [l for l in r["final_transcript"].splitlines() if l.strip()]
        for a, b in zip(lines, lines[1:]):
            check(a != b, "call %s: final_transcript repeats the line %r", sid, a)
        if ref is None:
            ref = (sid, r["final_transcript"], segs)
            continue
        eq(r["final_transcript"], ref[1], "final_transcript of %s vs %s" % (sid, ref[0]))
        eq(segs, ref[2], "segments of %s vs %s" % (sid, ref[0]))
    return len(ref[2]) if ref else 0


def _segments(row):
    import json
    segs = json.loads(row["transcript_segments"] or "[]")
    if isinstance(segs, dict):
        segs = segs.get("segments") or []
    return segs


def webhook_answers(states):
    """[(sid, kind, status or error)] of every request the simulator sent
    for these calls (sim states), and those not answered 2xx."""
    seen, bad = [], []
    for sid, st in states.items():
        for e in st.get("events", []):
            got = e.get("status") if e.get("error") is None else e.get("error")
            seen.append((sid, e.get("kind"), got))
            if e.get("error") is not None or not (200 <= (e.get("status") or 0) < 300):
                bad.append((sid, e.get("kind"), got))
    return seen, bad


# ---------------------------------------------------------------- processes

def wait_workers(stack, deadline, what="the workers"):
    """Waits until the master runs worker.processes workers and
    fcgi.children children; returns the worker pids."""
    want_w = int(stack.conf_get("worker.processes"))
    want_c = int(stack.conf_get("fcgi.children"))
    w = c = []
    while True:
        try:
            w, c = stack.worker_pids(), stack.fcgi_child_pids()
        except (OSError, ValueError, TestFailure):
            w, c = [], []
        if len(w) == want_w and len(c) == want_c:
            return w
        if deadline.passed():
            raise TestFailure("%s: %d workers and %d children, want %d and %d" % (
                what, len(w), len(c), want_w, want_c))
        time.sleep(0.2)


def pid_file(stack, key, name):
    return stack.env.get(key) or os.path.join(stack.run_dir, "pids", name + ".pid")


def read_pid(path):
    with open(path, encoding="ascii") as f:
        return int(f.read().strip())


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as f:
            s = f.read()
    except OSError:
        return False
    return s[s.rfind(")") + 2:].split()[0] not in ("Z", "X", "x")


def mariadb_pid(stack):
    return read_pid(pid_file(stack, "MARIADB_PID_FILE", "mariadb"))


def nginx_pid(stack):
    return read_pid(pid_file(stack, "NGINX_PID_FILE", "nginx"))


def db_up(stack):
    try:
        stack.query("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not up"
        return False


def wait_db(stack, deadline):
    while not db_up(stack):
        if deadline.passed():
            raise TestFailure("MariaDB does not answer")
        time.sleep(0.2)


def _stop_master(stack):
    path = stack.fcgi_pid_file
    try:
        pid = read_pid(path)
    except (OSError, ValueError):
        return
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 20
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)   # what is left of its group
        except OSError:
            pass
        end = time.monotonic() + 5
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.1)


def _start_master(stack, conf):
    """callpipe-fcgi -c conf as etc/dev.sh starts it: its own session, the
    pid file written by the process itself, output to run/log."""
    fcgi_bin = os.path.join(stack.env["CALLPIPE_BUILD"], "fcgi-app", "callpipe-fcgi",
                            "callpipe-fcgi")
    sock = stack.env.get("CALLPIPE_FCGI_SOCKET") or os.path.join(stack.run_dir, "fcgi.sock")
    log_dir = stack.env.get("CALLPIPE_LOG_DIR") or os.path.join(stack.run_dir, "log")
    try:
        os.unlink(sock)
    except FileNotFoundError:
        pass
    path = stack.fcgi_pid_file
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    with open(os.path.join(log_dir, "callpipe-fcgi.log"), "ab") as logf:
        subprocess.Popen(["setsid", "sh", "-c",
                          'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"',
                          path, fcgi_bin, "-c", conf],
                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                         env=stack.ctl_env(), start_new_session=True)
    end = time.monotonic() + 20
    while not (os.path.exists(sock) and os.path.exists(path)):
        check(time.monotonic() < end, "callpipe-fcgi -c %s made no socket in 20 s", conf)
        time.sleep(0.05)


def restart_fcgi(stack, conf):
    """Stops the stack's callpipe-fcgi (SIGTERM to the pid of its pid file)
    and starts it again with conf; waits for its children and workers."""
    _stop_master(stack)
    _start_master(stack, conf)
    wait_workers(stack, Deadline(20), "callpipe-fcgi after its restart")


@contextlib.contextmanager
def fcgi_conf(stack, overrides):
    """Runs the block with callpipe-fcgi on a copy of run/callpipe.conf with
    overrides, unless the running configuration has them already; callpipe-
    fcgi is restarted on run/callpipe.conf itself afterwards (whatever
    happened). Yields the configuration file in use."""
    need = {k: v for k, v in overrides.items() if str(stack.conf_get(k)) != str(v)}
    if not need:
        yield stack.conf
        return
    tmp = tempfile.mkdtemp(prefix="fault-conf-")
    conf = stack.conf_copy(overrides, tmp)
    try:
        fig("callpipe-fcgi restarted with %s", ", ".join(
            "%s=%s" % kv for kv in sorted(need.items())))
        restart_fcgi(stack, conf)
        yield conf
    finally:
        try:
            restart_fcgi(stack, stack.conf)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- the stack

def mounts_below(path):
    """Mount points at or below path (from /proc/self/mounts)."""
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            mp = line.split()[1].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return out


def stack_problems(stack):
    """What differs from a healthy stack: MariaDB, the master, its children
    and workers, nginx, the simulator's REST outage, mounts under run/.
    [] when all is well (waits a little for respawns)."""
    probs = []
    if not db_up(stack):
        probs.append("MariaDB does not answer")
    try:
        wait_workers(stack, Deadline(15))
    except TestFailure as e:
        probs.append(str(e))
    try:
        st = stack.https("GET", "/healthz", timeout=10).status
        if st != 200:
            probs.append("GET /healthz: %d" % st)
    except OSError as e:
        probs.append("GET /healthz: %s" % e)
    try:
        r = stack.sim._json("GET", "/sim/rest_fail", want=(200,))
        if r.get("active"):
            probs.append("the simulator's REST outage is still on")
    except (OSError, TestFailure) as e:
        probs.append("simulator: %s" % e)
    m = mounts_below(stack.run_dir)
    if stack.env.get("CALLPIPE_SERVICE_DIR"):
        m += mounts_below(stack.env["CALLPIPE_SERVICE_DIR"])
    if m:
        probs.append("mounts left under run/ or the service directory: %s" % m)
    return probs


def random_worker(stack):
    """A random live worker pid, or None."""
    pids = stack.worker_pids()
    return random.choice(pids) if pids else None


def rest_fail(stack, seconds, status=500):
    return stack.sim._json("POST", "/sim/rest_fail", {"seconds": seconds, "status": status},
                           want=(200,))


def rest_fail_state(stack):
    return stack.sim._json("GET", "/sim/rest_fail", want=(200,))
