"""A FastCGI child killed with SIGKILL is replaced and requests go on.

The master reaps the dead child and forks a new one (php-fpm's model,
STYLE.md). Until then the other children serve; should none be alive at
that moment nginx answers 502, which is retried briefly. Afterwards every
request is served, and the master itself is the same process.
"""

import os
import signal
import time

from cplib import check, eq, new_sid


def serve_after_kill(stack, deadline_s=5.0):
    """First /healthz 200 after a kill, allowing 502 for deadline_s."""
    t0 = time.monotonic()
    while True:
        r = stack.https("GET", "/healthz")
        if r.status == 200:
            return time.monotonic() - t0
        check(r.status == 502 and time.monotonic() - t0 < deadline_s,
              "GET /healthz after the kill: %r", r)
        time.sleep(0.1)


def test_fcgi_child_sigkill_respawn(stack):
    n = stack.conf_get("fcgi.children")
    master = stack.fcgi_master_pid()
    kids = stack.wait_children(lambda k: len(k) == n, 10, "%d children" % n)
    victim = kids[0]
    os.kill(victim, signal.SIGKILL)
    new = stack.wait_children(lambda k: victim not in k and len(k) == n, 10,
                              "pid %d replaced" % victim)
    fresh = set(new) - set(kids)
    check(fresh, "no new child pid: before %r, after %r", kids, new)
    serve_after_kill(stack)

    # Every following request is served: status checks and a webhook.
    for i in range(10):
        r = stack.https("GET", "/healthz")
        eq(r.status, 200, "GET /healthz #%d after the respawn" % i)
    sid = new_sid("CA")
    r = stack.post_webhook("/webhook/call_status",
                           stack.voice_params(sid, CallStatus="completed", CallDuration="3"))
    eq(r.status, 204, "call_status webhook after the respawn (%r)" % r)
    row = stack.row(sid)
    check(row is not None, "no call_log row for the webhook after the respawn")
    eq(row["call_status"], "completed", "call_status")
    eq(row["call_duration"], 3, "call_duration")
    eq(stack.fcgi_master_pid(), master, "master pid")
