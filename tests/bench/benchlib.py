"""benchlib: what tests/bench/bench-* share (issue 8 item 6).

The benches run by hand against the local stack's MariaDB (etc/dev.sh up
first, with the same CALLPIPE_DEV_PORT_OFFSET), never against its data:
each makes a scratch database, callpipe_bench (the stack's user may create
callpipe_* databases), applies the migrations with callpipectl, starts its
own callpipe-fcgi master and/or callpipe-worker processes on a config
derived from run/callpipe.conf, its own nginx on plain HTTP
127.0.0.1:(18080 + offset), and drops the database and stops every process
it started (by pid) when it ends. Needs wrk, nginx, python3-pymysql,
python3-twilio (Debian packages).
"""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pymysql

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = os.path.join(ROOT, "run")
BENCH_DB = "callpipe_bench"
OFFSET = int(os.environ.get("CALLPIPE_DEV_PORT_OFFSET", "0") or 0)
PORT = 18080 + OFFSET
BASE = "http://127.0.0.1:%d" % PORT

_procs = []        # (name, Popen) we started, stopped at exit
_cleanups = []


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(1)


def stack_env():
    """run/stack.env (KEY=VALUE lines) as a dict."""
    path = os.environ.get("CALLPIPE_STACK_ENV", os.path.join(RUN, "stack.env"))
    if not os.path.exists(path):
        die("%s missing: run etc/dev.sh up first (same CALLPIPE_DEV_PORT_OFFSET)" % path)
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v
    return env


ENV = stack_env()
# BENCH_BUILD: the build directory of another commit, to compare with it
# (its programs run on the same config: BENCH_DROP_KEYS="group.key ..."
# leaves out keys that build does not know).
BUILD = os.environ.get("BENCH_BUILD") or ENV.get("CALLPIPE_BUILD",
                                                 os.path.join(RUN, "build"))
BIN_FCGI = os.path.join(BUILD, "fcgi-app/callpipe-fcgi/callpipe-fcgi")
BIN_WORKER = os.path.join(BUILD, "fcgi-app/callpipe-worker/callpipe-worker")
BIN_CTL = os.path.join(BUILD, "fcgi-app/callpipectl/callpipectl")


def workdir(name):
    """A fresh run/bench/<name>/ (git-ignored with the rest of run/)."""
    d = os.path.join(RUN, "bench", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def machine():
    """One line: date, cores, load average (the figures are only as quiet
    as the machine)."""
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return "%s, %d cores; uptime: %s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), up)


def loadavg():
    return "load %.2f %.2f %.2f" % os.getloadavg()


def db(database=BENCH_DB):
    return pymysql.connect(unix_socket=ENV["MYSQL_SOCKET"], user=ENV["MYSQL_USER"],
                           password=ENV["MYSQL_PASSWORD"], database=database,
                           charset="utf8mb4", autocommit=True,
                           init_command="SET time_zone = '+00:00'")


def sql(query, args=None, database=BENCH_DB):
    """Runs one statement on a fresh connection; all rows as tuples."""
    conn = db(database)
    try:
        with conn.cursor() as cur:
            cur.execute(query, args)
            return list(cur.fetchall())
    finally:
        conn.close()


def set_conf(text, group, key, value):
    """text with `key = ...;` inside `group = { ... };` (top level when
    group is None) set to value (int, bool or str, written in the config
    syntax)."""
    if isinstance(value, bool):
        lit = "true" if value else "false"
    elif isinstance(value, int):
        lit = str(value)
    else:
        lit = '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    if group is None:
        pat = re.compile(r"^(%s\s*=\s*)[^;]*;" % re.escape(key), re.M)
        new, n = pat.subn(lambda m: m.group(1) + lit + ";", text, count=1)
        if n != 1:
            die("config: no top-level %s" % key)
        return new
    m = re.search(r"^%s\s*=\s*\{\n(.*?)^\};" % re.escape(group), text, re.M | re.S)
    if not m:
        die("config: no group %s" % group)
    body = m.group(1)
    pat = re.compile(r"^(\s*%s\s*=\s*)[^;]*;" % re.escape(key), re.M)
    nbody, n = pat.subn(lambda mm: mm.group(1) + lit + ";", body, count=1)
    if n != 1:
        nbody = body + "  %s = %s;\n" % (key, lit)
    return text[:m.start(1)] + nbody + text[m.end(1):]


def make_conf(path, overrides):
    """Writes the stack's config with overrides {"group.key": value} to
    path (mode 0600: it holds the stack's secrets)."""
    with open(ENV.get("CALLPIPE_CONF", os.path.join(RUN, "callpipe.conf"))) as f:
        text = f.read()
    text = set_conf(text, "database", "name", BENCH_DB)
    for k in os.environ.get("BENCH_DROP_KEYS", "").split():
        g, _, key = k.rpartition(".")
        text = re.sub(r"^\s*%s\s*=[^;]*;.*\n" % re.escape(key), "", text,
                      flags=re.M)
    if os.environ.get("BENCH_CLAIM_BATCH"):
        overrides = dict(overrides)
        overrides["worker.claim_batch"] = int(os.environ["BENCH_CLAIM_BATCH"])
    for k, v in overrides.items():
        g, _, key = k.rpartition(".")
        text = set_conf(text, g or None, key, v)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def ctl(conf, *args):
    r = subprocess.run([BIN_CTL, "-c", conf] + list(args), capture_output=True,
                       text=True)
    if r.returncode != 0:
        die("callpipectl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def scratch_db(conf):
    """callpipe_bench dropped, created and migrated; dropped again at exit."""
    sql("DROP DATABASE IF EXISTS `%s`" % BENCH_DB, database=None)
    sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4" % BENCH_DB, database=None)
    _cleanups.append(lambda: sql("DROP DATABASE IF EXISTS `%s`" % BENCH_DB,
                                 database=None))
    ctl(conf, "migrate")


def start(name, argv, log, env=None):
    """Starts argv in its own session, output to log; stopped at exit."""
    p = subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True,
                         env=env)
    _procs.append((name, p))
    return p


def stop(p, sig=signal.SIGTERM, timeout=15):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            die("%s: not within %.0f s" % (what, timeout))
        time.sleep(0.05)


def start_fcgi(conf, sock, log):
    """callpipe-fcgi's master on conf; returns its Popen once sock exists."""
    if os.path.exists(sock):
        os.unlink(sock)
    p = start("callpipe-fcgi", [BIN_FCGI, "-c", conf], log)
    wait_for(lambda: os.path.exists(sock) or p.poll() is not None, 20,
             "callpipe-fcgi socket %s" % sock)
    if p.poll() is not None:
        die("callpipe-fcgi exited %s; see %s" % (p.returncode, log))
    return p


def children(pid):
    """Pids whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                ppid = int(st[st.rindex(")") + 2:].split()[1])
                if ppid == pid:
                    out.append(int(d))
            except (OSError, ValueError):
                pass
    return sorted(out)


def exe(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return ""


def rss_kb(pid):
    """VmRSS of pid in kB (/proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


NGINX_MAIN = """user root root;
worker_processes %(workers)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log warn;
events { worker_connections 1024; }
http {
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path %(dir)s/tmp/body;
    fastcgi_temp_path %(dir)s/tmp/fastcgi;
    proxy_temp_path %(dir)s/tmp/proxy;
    uwsgi_temp_path %(dir)s/tmp/uwsgi;
    scgi_temp_path %(dir)s/tmp/scgi;
    server {
        # Bench only: plain HTTP on loopback (the stack's site is TLS).
        listen 127.0.0.1:%(port)d;
        client_max_body_size 64k;
        client_body_buffer_size 64k;
%(locations)s
    }
}
"""


def start_nginx(d, locations, workers=None):
    """nginx with one plain-HTTP server on 127.0.0.1:PORT holding
    locations (nginx config text); stopped at exit."""
    if workers is None:
        workers = int(os.environ.get("BENCH_NGINX_WORKERS", "1"))
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_MAIN % {"dir": d, "port": PORT, "locations": locations,
                              "workers": workers})
    with open("/etc/nginx/fastcgi_params") as f:
        params = f.read()
    with open(os.path.join(d, "fastcgi_params"), "w") as f:
        f.write(params)
    r = subprocess.run(["nginx", "-p", d + "/", "-c", conf, "-e",
                        os.path.join(d, "nginx-error.log")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        die("nginx: %s" % r.stderr.strip())
    pidfile = os.path.join(d, "nginx.pid")
    wait_for(lambda: os.path.exists(pidfile), 10, "nginx pid file")
    with open(pidfile) as f:
        pid = int(f.read().strip())

    def quit_nginx():
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
    _cleanups.append(quit_nginx)
    return pid


WRK_DONE = r'''
threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local wrapped = 0
  for _, t in ipairs(threads) do wrapped = wrapped + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "status_errors": %d, ' ..
    '"socket_errors": %d, "wrapped": %d}\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, wrapped))
end
'''


def wrk(url, seconds, conns, script=None, args=(), headers=(), threads=2):
    """Runs wrk; returns the figures of its done() (requests, rps, p50/p99
    in ms, errors)."""
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
            "--timeout", "10s"]
    for h in headers:
        argv += ["-H", h]
    if script is None:
        script = os.path.join(RUN, "bench", "done.lua")
        with open(script, "w") as f:
            f.write(WRK_DONE)
    argv += ["-s", script, url]
    if args:
        argv += ["--"] + list(args)
    r = subprocess.run(argv, capture_output=True, text=True)
    line = [l for l in r.stdout.splitlines() if l.startswith("BENCH ")]
    if r.returncode != 0 or not line:
        die("wrk %s: %s %s" % (url, r.stdout, r.stderr))
    f = json.loads(line[-1][6:])
    f["rps"] = f["requests"] / (f["duration_us"] / 1e6)
    f["p50_ms"] = f["p50_us"] / 1000.0
    f["p99_ms"] = f["p99_us"] / 1000.0
    f["errors"] = f["status_errors"] + f["socket_errors"]
    return f


def verdict(value, target, higher_better=True):
    ok = value >= target if higher_better else value <= target
    return "meets" if ok else "MISSES"


@atexit.register
def _cleanup():
    for name, p in reversed(_procs):
        try:
            stop(p)
        except Exception as e:   # keep stopping the others
            print("bench: stopping %s: %s" % (name, e), file=sys.stderr)
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception as e:
            print("bench: cleanup: %s" % e, file=sys.stderr)


def _on_term(signo, frame):
    sys.exit(128 + signo)   # runs the atexit cleanup


signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGHUP, _on_term)
