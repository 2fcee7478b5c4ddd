"""Children are recycled after fcgi.max_requests requests each.

With children * max_requests (2 * 50 in the local stack) fewer than the
requests sent, at least one child must have left and been replaced; every
request is answered 200 meanwhile (the others keep accepting on the shared
socket), and the same number of children is running at the end.
"""

from cplib import check, eq


def test_fcgi_max_requests_recycle(stack):
    n = stack.conf_get("fcgi.children")
    maxreq = stack.conf_get("fcgi.max_requests")
    check(maxreq > 0, "fcgi.max_requests is %r: children are never recycled", maxreq)
    master = stack.fcgi_master_pid()
    before = stack.wait_children(lambda k: len(k) == n, 10, "%d children" % n)
    total = n * maxreq + 20
    conn = stack.https_conn()
    statuses = {}
    try:
        for i in range(total):
            r = stack.request(conn, "GET", "/healthz")
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.header("connection") == "close":
                conn.close()
                conn = stack.https_conn()
    finally:
        conn.close()
    eq(statuses, {200: total}, "answers to %d GET /healthz" % total)
    after = stack.wait_children(lambda k: len(k) == n, 10, "%d children" % n)
    check(set(after) - set(before), "no child was recycled after %d requests: "
          "children %r before and %r after", total, before, after)
    eq(stack.fcgi_master_pid(), master, "master pid")
