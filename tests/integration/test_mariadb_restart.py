"""callpipe survives a MariaDB restart without being restarted itself.

`etc/dev.sh mariadb-restart` stops and starts MariaDB alone. Each FastCGI
child's persistent connection is then dead (2006/2013), and so are the
workers'. The next signed webhook must be answered 204 and stored (the
child reconnects), more requests reach every child, and a whole call goes
through the workers again, all under the same master pid.
"""

from cplib import check, eq, new_sid

TIMEOUT = 180


def mariadb_pid(stack):
    path = stack.env.get("MARIADB_PID_FILE") or stack.run_dir + "/pids/mariadb.pid"
    with open(path, encoding="ascii") as f:
        return int(f.read().strip())


def test_mariadb_restart(stack):
    n = stack.conf_get("fcgi.children")
    master = stack.fcgi_master_pid()
    stack.wait_children(lambda k: len(k) == n, 10, "%d children" % n)
    # Both children hold a connection before the restart.
    for _ in range(2 * n):
        eq(stack.https("GET", "/healthz").status, 200, "GET /healthz before the restart")
    db_before = mariadb_pid(stack)

    out = stack.dev_sh("mariadb-restart", timeout=120)
    check(out.returncode == 0, "etc/dev.sh mariadb-restart exited %d: %s", out.returncode,
          (out.stderr or out.stdout)[-800:])
    check(mariadb_pid(stack) != db_before, "MariaDB pid unchanged (%d): it did not restart",
          db_before)
    eq(stack.fcgi_master_pid(), master, "master pid after the MariaDB restart")

    # The very next webhook is stored, then more of them (every child).
    for i in range(3 * n):
        sid = new_sid("CA")
        r = stack.post_webhook("/webhook/call_status",
                               stack.voice_params(sid, CallStatus="completed",
                                                  CallDuration=str(10 + i)))
        eq(r.status, 204, "call_status webhook #%d after the restart (%r)" % (i + 1, r))
        row = stack.row(sid)
        check(row is not None, "webhook #%d after the restart: no call_log row", i + 1)
        eq(row["call_duration"], 10 + i, "call_duration of webhook #%d" % (i + 1))
    for i in range(2 * n):
        eq(stack.https("GET", "/healthz").status, 200, "GET /healthz #%d after the restart" % i)

    # The workers reconnected too: a call goes through every stage.
    info, st, row = stack.completed_call("short")
    eq(row["business_id"], stack.business_id, "business_id of the call after the restart")
    eq(stack.fcgi_master_pid(), master, "master pid at the end")
