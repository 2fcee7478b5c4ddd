"""The call list's SQL is served by the (business_id, created_at) index on
100k rows, with no filesort (issue 6: "keyset pagination on (created_at,
id) served by an index (a test checks EXPLAIN on 100k rows)").

The SQL is the one callpipe really runs: MariaDB's general log is on while
the test asks GET /api/calls (first page, a cursor page, each filter) for a
business of its own, and the SELECTs on call_log that callpipe's user sent
are taken from it as executed. They are EXPLAINed in a scratch database
callpipe_scratch_<pid> (callpipectl migrate with a copy of the config
pointing at it) holding 100,000 call_log rows spread over ten businesses,
the list's business among them, so the stack's own call_log is never
touched; the scratch database is dropped at the end.
"""

import re

from cplib import check, eq

TIMEOUT = 240
ROWS = 100000
BUSINESSES = 10
INDEX = "ix_call_log_business_created"


def explain(conn, sql):
    with conn.cursor() as cur:
        cur.execute("EXPLAIN " + sql)
        return list(cur.fetchall())


def test_api_list_explain(stack):
    biz = stack.new_business()
    tok, bid = biz["token"], biz["id"]
    stack.insert_calls(bid, [{"from_number": "+972501234567"} for _ in range(3)])
    first = stack.list_calls(tok, limit=2)
    check(first["next_cursor"], "no next_cursor with 3 calls and limit 2")
    cursor = first["next_cursor"]
    since = first["calls"][-1]["created_at"]
    asks = [
        ("first page", {}),
        ("default limit", None),
        ("cursor page", {"limit": 2, "cursor": cursor}),
        ("phone", {"phone": "+972501234567", "limit": 20}),
        ("state failed", {"state": "failed", "limit": 20}),
        ("state completed, stage transcript", {"state": "completed", "stage": "transcript"}),
        ("since", {"since": since, "limit": 20}),
    ]

    def ask_all():
        for _, params in asks:
            stack.list_calls(tok, **(params or {}))

    statements = stack.capture_sql(ask_all)
    # Only the list statements: they read call_log of our business in
    # created_at order (the detail, auth and job reads are not ours).
    lists = [q for q in statements
             if re.search(r"\bORDER\s+BY\b[^;]*\bcreated_at\b", q, re.I | re.S) and
             re.search(r"\b%d\b" % bid, q)]
    check(len(lists) >= len(asks),
          "the general log holds %d list SELECTs on call_log for business %d, want %d "
          "(one per request); callpipe's SELECTs on call_log were: %r",
          len(lists), bid, len(asks), statements)

    with stack.scratch_database() as (name, connect):
        conn = connect()
        try:
            with conn.cursor() as cur:
                # Ten businesses whose ids include the list's own, so the
                # captured statements run unchanged.
                ids = [bid] + [bid + i for i in range(1, BUSINESSES)]
                cur.executemany("INSERT INTO businesses (id, name) VALUES (%s, %s)",
                                [(i, "scratch %d" % i) for i in ids])
                cur.execute(
                    "INSERT INTO call_log (call_sid, business_id, direction, from_number, "
                    " to_number, call_status, call_duration, recording_status, "
                    " transcript_status, summary_status, created_at, ended_at) "
                    "SELECT CONCAT('CA', MD5(seq)), %s + seq MOD %s, 'inbound', "
                    " CONCAT('+9725', LPAD(seq MOD 5000, 8, '0')), '+15005550006', "
                    " 'completed', 30, "
                    " ELT(1 + seq MOD 7, 'completed','completed','completed','failed',"
                    "     'completed','pending','completed'), "
                    " ELT(1 + seq MOD 5, 'completed','completed','failed','completed','pending'), "
                    " ELT(1 + seq MOD 3, 'completed','failed','completed'), "
                    " TIMESTAMP'2026-01-01 00:00:00' + INTERVAL (seq DIV 3) SECOND, "
                    " TIMESTAMP'2026-01-01 00:00:30' + INTERVAL (seq DIV 3) SECOND "
                    "FROM seq_1_to_" + str(ROWS), (bid, BUSINESSES))
                eq(cur.rowcount, ROWS, "rows inserted into %s.call_log" % name)
                cur.execute("ANALYZE TABLE call_log")
                cur.fetchall()
                cur.execute("SELECT COUNT(*) AS n FROM call_log WHERE business_id = %s", (bid,))
                eq(cur.fetchone()["n"], ROWS // BUSINESSES, "rows of the list's business")
            problems, shown = [], []
            for q in lists:
                plan = explain(conn, q)
                shown.append("%s/%s/%s" % (plan[0].get("key"), plan[0].get("rows"),
                                           plan[0].get("Extra")))
                # The rows of call_log itself (under any alias), not derived tables.
                ours = [p for p in plan if not str(p.get("table") or "").startswith("<") and
                        INDEX in str(p.get("possible_keys") or "") + str(p.get("key") or "") +
                        str(p.get("table"))] or plan
                for p in ours:
                    extra = p.get("Extra") or ""
                    if p.get("key") != INDEX or "filesort" in extra.lower() or \
                       "temporary" in extra.lower():
                        problems.append("%s\n    -> %r" % (q, plan))
                        break
            print("# explain on %d rows: %d list SELECTs, key/rows/Extra: %s" % (
                ROWS, len(lists), "; ".join(shown)))
            check(not problems, "list SELECTs not served by %s in order:\n%s", INDEX,
                  "\n".join(problems))
        finally:
            conn.close()
    gone = stack.query("SHOW DATABASES LIKE %s", (name,))
    eq(gone, [], "the scratch database after the test")
