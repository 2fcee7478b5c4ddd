"""GET /metrics: the Prometheus text exposition (format 0.0.4) of callpipe.

Every scrape is parsed with Debian's python3-prometheus-client parser
(prometheus_client.parser.text_string_to_metric_families). That parser
accepts a series given twice and a histogram whose buckets go down, so
this test checks those itself: no (name, labels) twice, every histogram's
buckets in le order and non-decreasing, a +Inf bucket equal to _count, and _sum
present. Then that values move:

- N signed webhooks raise callpipe_http_requests_total of their route and
  status by exactly N;
- a call that completes raises the stage transitions (each stage
  completed) and the job histograms and attempts of its three kinds;
- every FastCGI child killed with SIGKILL raises the children's respawns,
  no counter summed across the processes goes down, and /healthz's count
  is exact across it (the dead children's counts are folded into the
  retired total, once);
- the queue gauges are read from the jobs table at scrape time;
- connections killed in MariaDB raise callpipe_db_reconnects_total.
"""

import math
import os
import signal
import time

from prometheus_client.parser import text_string_to_metric_families

from cplib import check, eq, new_sid

TIMEOUT = 240

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
EXPECTED = {
    "callpipe_http_requests_total": "counter",
    "callpipe_downloads_total": "counter",
    "callpipe_stage_transitions_total": "counter",
    "callpipe_job_duration_seconds": "histogram",
    "callpipe_job_attempts_total": "counter",
    "callpipe_queue_jobs": "gauge",
    "callpipe_queue_oldest_age_seconds": "gauge",
    "callpipe_database_up": "gauge",
    "callpipe_db_reconnects_total": "counter",
    "callpipe_processes_alive": "gauge",
    "callpipe_respawns_total": "counter",
}
PIPELINE = ("fetch_recording", "transcribe", "summarize")


class Scrape:
    """One parsed scrape: samples keyed by (sample name, sorted labels)."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.samples = {}
        self.families = list(text_string_to_metric_families(text))
        for fam in self.families:
            self.types[fam.name] = fam.type
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                check(key not in self.samples, "series %r appears twice", key)
                self.samples[key] = s.value

    def get(self, name, **labels):
        """The value of one series; 0 when absent (a counter never seen)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def sum(self, name, **labels):
        """Sum over the series of name whose labels include labels."""
        tot = 0.0
        for (n, lab), v in self.samples.items():
            d = dict(lab)
            if n == name and all(d.get(k) == v2 for k, v2 in labels.items()):
                tot += v
        return tot

    def counters(self):
        """Every counter-like sample (counters and histogram parts):
        {key: value}."""
        out = {}
        for fam in self.families:
            if fam.type not in ("counter", "histogram"):
                continue
            for s in fam.samples:
                if s.name.endswith("_created"):
                    continue
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out


def no_duplicate_lines(text):
    """The parser would merge a repeated series; the raw lines tell."""
    seen = set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series = line.rsplit(" ", 1)[0]
        check(series not in seen, "sample line for %s twice", series)
        seen.add(series)


def check_histograms(sc):
    n = 0
    for fam in sc.families:
        if fam.type != "histogram":
            continue
        groups = {}
        for s in fam.samples:
            lab = dict(s.labels)
            le = lab.pop("le", None)
            key = tuple(sorted(lab.items()))
            g = groups.setdefault(key, {"buckets": [], "sum": None, "count": None})
            if s.name == fam.name + "_bucket":
                check(le is not None, "%s bucket without le", fam.name)
                g["buckets"].append((float(le), s.value))
            elif s.name == fam.name + "_sum":
                g["sum"] = s.value
            elif s.name == fam.name + "_count":
                g["count"] = s.value
        for key, g in groups.items():
            what = "%s%r" % (fam.name, key)
            # In the order exposed: le ascending, +Inf last.
            b = g["buckets"]
            eq([le for le, _ in b], sorted(le for le, _ in b),
               "%s: buckets out of le order" % what)
            check(b, "%s: no buckets", what)
            check(b[-1][0] == math.inf, "%s: no +Inf bucket (%r)", what, b)
            for (le1, v1), (le2, v2) in zip(b, b[1:]):
                check(le1 < le2, "%s: bucket le=%r twice", what, le1)
                check(v1 <= v2, "%s: bucket le=%r (%r) > le=%r (%r)", what, le1, v1, le2, v2)
            check(g["count"] is not None, "%s: no _count", what)
            check(g["sum"] is not None, "%s: no _sum", what)
            eq(b[-1][1], g["count"], "%s: +Inf bucket vs _count" % what)
            check(g["sum"] >= 0, "%s: _sum %r < 0", what, g["sum"])
            n += 1
    return n


def scrape(stack):
    r = stack.https("GET", "/metrics")
    eq(r.status, 200, "GET /metrics from 127.0.0.1 (%r)" % r)
    eq(r.header("content-type"), CONTENT_TYPE, "GET /metrics Content-Type")
    text = r.body.decode("utf-8")
    no_duplicate_lines(text)
    sc = Scrape(text)
    for name, typ in EXPECTED.items():
        # The parser names a counter's family without its _total.
        fam = name[:-len("_total")] if typ == "counter" else name
        eq(sc.types.get(fam), typ, "type of %s" % name)
    check(check_histograms(sc) >= len(PIPELINE), "fewer histograms than kinds")
    eq(sc.get("callpipe_database_up"), 1.0, "callpipe_database_up")
    return sc


def not_down(before, after, what):
    """No counter of before is lower (or gone) in after."""
    a = after.counters()
    for key, v in before.counters().items():
        check(key in a, "%s: series %r vanished", what, key)
        check(a[key] >= v, "%s: %r went down from %r to %r", what, key, v, a[key])


def test_metrics_format_and_webhooks(stack):
    before = scrape(stack)
    route = dict(route="/webhook/call_status", method="POST", status="204")
    n = 7
    for _ in range(n):
        sid = new_sid("CA")
        r = stack.post_webhook("/webhook/call_status",
                               stack.voice_params(sid, CallStatus="completed",
                                                  CallDuration="2"))
        eq(r.status, 204, "signed call_status (%r)" % r)
    # A rejected one counts under its own status, not under 204.
    r = stack.post_webhook("/webhook/call_status", stack.voice_params(new_sid("CA")),
                           signature="wrong")
    eq(r.status, 403, "call_status with a wrong signature")
    after = scrape(stack)
    eq(after.get("callpipe_http_requests_total", **route) -
       before.get("callpipe_http_requests_total", **route), n,
       "callpipe_http_requests_total%r increase after %d webhooks" % (route, n))
    bad = dict(route, status="403")
    eq(after.get("callpipe_http_requests_total", **bad) -
       before.get("callpipe_http_requests_total", **bad), 1,
       "403s of call_status")
    # The scrape itself is counted (the one before this one, at least).
    m = dict(route="/metrics", method="GET", status="200")
    check(after.get("callpipe_http_requests_total", **m) >
          before.get("callpipe_http_requests_total", **m), "GET /metrics not counted")
    not_down(before, after, "after webhooks")
    n_child = stack.conf_get("fcgi.children")
    eq(after.get("callpipe_processes_alive", process="child"), float(n_child),
       "children alive")
    eq(after.get("callpipe_processes_alive", process="worker"),
       float(stack.conf_get("worker.processes")), "workers alive")


def test_metrics_call_moves_stages_and_jobs(stack):
    before = scrape(stack)
    info, st = stack.run_call("short", timeout=60)
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))
    stack.wait_statuses(info["call_sid"], timeout=120)
    # The summarize job's outcome is counted after its transaction commits,
    # a moment after the row says completed.
    deadline = time.monotonic() + 10
    while True:
        after = scrape(stack)
        if after.get("callpipe_stage_transitions_total", stage="summary",
                     outcome="completed") > before.get(
                         "callpipe_stage_transitions_total", stage="summary",
                         outcome="completed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for stage in ("recording", "transcript", "summary"):
        k = dict(stage=stage, outcome="completed")
        check(after.get("callpipe_stage_transitions_total", **k) >=
              before.get("callpipe_stage_transitions_total", **k) + 1,
              "stage %s completed: %r -> %r", stage,
              before.get("callpipe_stage_transitions_total", **k),
              after.get("callpipe_stage_transitions_total", **k))
    for kind in PIPELINE:
        c = "callpipe_job_duration_seconds_count"
        check(after.get(c, kind=kind) >= before.get(c, kind=kind) + 1,
              "%s{kind=%s}: %r -> %r", c, kind, before.get(c, kind=kind),
              after.get(c, kind=kind))
        s = "callpipe_job_duration_seconds_sum"
        check(after.get(s, kind=kind) > before.get(s, kind=kind),
              "%s{kind=%s} did not grow", s, kind)
        a = dict(kind=kind, result="done")
        check(after.get("callpipe_job_attempts_total", **a) >=
              before.get("callpipe_job_attempts_total", **a) + 1,
              "callpipe_job_attempts_total%r did not grow", a)
    # The voice webhook and the callbacks went through their routes.
    v = dict(route="/webhook/incoming_call", method="POST", status="200")
    check(after.get("callpipe_http_requests_total", **v) >
          before.get("callpipe_http_requests_total", **v), "incoming_call not counted")
    not_down(before, after, "after a call")


def test_metrics_child_sigkill_folds(stack):
    """Every child is killed, so the counts of the ones that served the
    requests must be folded: /healthz's 200 count afterwards is exactly
    the one before plus the 200s answered since (a lost fold shows as
    less, a double fold as more; new requests cannot hide either)."""
    n = stack.conf_get("fcgi.children")
    # Some child serves these; which one does not matter, all of them die.
    for _ in range(20):
        eq(stack.https("GET", "/healthz").status, 200, "GET /healthz")
    # Listed after the requests: one may have been recycled meanwhile
    # (fcgi.max_requests), and one recycled between this and its kill is
    # not killed (ProcessLookupError) and not a "died" respawn.
    kids = stack.wait_children(lambda k: len(k) == n, 10, "%d children" % n)
    before = scrape(stack)
    killed = 0
    for victim in kids:
        try:
            os.kill(victim, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
    check(killed > 0, "none of the children %r could be killed", kids)
    stack.wait_children(lambda k: len(k) == n and not set(k) & set(kids), 10,
                        "children %r replaced" % kids)
    # nginx may meet a dead child's socket once (502): retry briefly.
    ok = 0
    deadline = time.monotonic() + 5
    while True:
        r = stack.https("GET", "/healthz")
        ok += r.status == 200
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check(ok == 1, "GET /healthz after the kill never answered 200")
    after = scrape(stack)
    died = dict(process="child", cause="died")
    eq(after.get("callpipe_respawns_total", **died) -
       before.get("callpipe_respawns_total", **died), killed,
       "child respawns after a SIGKILL of %d of %d" % (killed, n))
    not_down(before, after, "after SIGKILL of children %r" % kids)
    h = dict(route="/healthz", method="GET", status="200")
    eq(after.get("callpipe_http_requests_total", **h) -
       before.get("callpipe_http_requests_total", **h), ok,
       "/healthz 200s counted across the fold of every child")
    eq(after.get("callpipe_processes_alive", process="child"), float(n), "children alive")


def test_metrics_queue_gauges(stack):
    """A queued job far in the future (so no worker claims it) shows in
    callpipe_queue_jobs at once and leaves with its row."""
    key = "hobs-metrics-test:%d" % os.getpid()
    kind = "refill_recording"     # queued only by a download's cache miss
    before = scrape(stack)
    q = dict(kind=kind, state="queued")
    stack.execute("INSERT INTO jobs (kind, dedupe_key, state, max_attempts, run_after) "
                  "VALUES (%s, %s, 'queued', 1, UTC_TIMESTAMP(3) + INTERVAL 1 DAY)",
                  (kind, key))
    try:
        mid = scrape(stack)
        eq(mid.get("callpipe_queue_jobs", **q) - before.get("callpipe_queue_jobs", **q),
           1.0, "callpipe_queue_jobs%r with one more queued row" % q)
        # Not due: it has not waited yet.
        eq(mid.get("callpipe_queue_oldest_age_seconds", kind=kind), 0.0,
           "oldest age of a job due tomorrow")
    finally:
        stack.execute("DELETE FROM jobs WHERE dedupe_key = %s", (key,))
    after = scrape(stack)
    eq(after.get("callpipe_queue_jobs", **q), before.get("callpipe_queue_jobs", **q),
       "callpipe_queue_jobs%r after the row is gone" % q)


def test_metrics_db_reconnects(stack):
    """Every connection of callpipe's user is killed (KILL CONNECTION, as
    root); the children and workers connect again on their next query, and
    callpipe_db_reconnects_total counts it."""
    before = scrape(stack)
    root = stack.root_db()
    try:
        with root.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s "
                        "AND ID <> CONNECTION_ID()", (stack.env["MYSQL_USER"],))
            ids = [r["ID"] for r in cur.fetchall()]
            check(ids, "no connection of %s to kill", stack.env["MYSQL_USER"])
            for i in ids:
                try:
                    cur.execute("KILL CONNECTION %d" % int(i))
                except Exception:     # gone meanwhile (a worker's own reconnect)
                    pass
    finally:
        root.close()
    # Each child's next /healthz pings, finds its connection gone and
    # connects again; the workers do on their next claim.
    for _ in range(10):
        eq(stack.https("GET", "/healthz").status, 200, "GET /healthz after the kill")
    deadline = time.monotonic() + 10
    while True:
        after = scrape(stack)
        got = (after.get("callpipe_db_reconnects_total") -
               before.get("callpipe_db_reconnects_total"))
        if got >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    check(got >= 2, "callpipe_db_reconnects_total rose by %r after %d connections were "
          "killed", got, len(ids))
    not_down(before, after, "after the reconnects")
