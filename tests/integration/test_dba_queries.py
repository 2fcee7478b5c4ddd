"""The DBAs' own monitoring queries are served by indexes (issue 7 item 6).

In a scratch database (callpipe_scratch_<pid>, callpipe's schema by
callpipectl migrate; the stack's call_log is never touched) with 100,000
call_log rows of which at most 5 % have a failed transcript or summary
(2 % transcripts, 4 % summaries, 4 % in all), EXPLAIN:

  SELECT call_sid, recording_status, transcript_status, summary_status,
         last_error FROM call_log ORDER BY created_at DESC LIMIT 10
    -> ix_call_log_created, no filesort (a backward index scan of 10 rows)
  ... WHERE transcript_status = 'failed' OR summary_status = 'failed'
    -> an index merge (union) of ix_call_log_sweep_transcript and
       ix_call_log_sweep_summary (they lead with the status columns), no
       full scan (type index_merge, not ALL)

schema/005_retention_coverage.sql adds the indexes.
"""

from cplib import check, eq

TIMEOUT = 240
ROWS = 100000
COLS = "call_sid, recording_status, transcript_status, summary_status, last_error"
NEWEST = "SELECT %s FROM call_log ORDER BY created_at DESC LIMIT 10" % COLS
FAILED = ("SELECT %s FROM call_log WHERE transcript_status = 'failed' "
          "OR summary_status = 'failed'" % COLS)


def explain(conn, sql):
    with conn.cursor() as cur:
        cur.execute("EXPLAIN " + sql)
        return list(cur.fetchall())


def test_dba_queries(stack):
    with stack.scratch_database() as (name, connect):
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO businesses (id, name) VALUES (1, 'scratch')")
                # seq MOD 50 = 0: transcript failed (2 %); seq MOD 100 in
                # (0, 1, 50, 51): summary failed (4 %, half of them with
                # the transcript): 4 % of the rows failed in all.
                cur.execute(
                    "INSERT INTO call_log (call_sid, business_id, direction, from_number, "
                    " to_number, call_status, call_duration, recording_status, "
                    " transcript_status, summary_status, last_error, created_at, ended_at) "
                    "SELECT CONCAT('CA', MD5(seq)), 1, 'inbound', "
                    " CONCAT('+9725', LPAD(seq MOD 5000, 8, '0')), '+15005550006', "
                    " 'completed', 30, 'completed', "
                    " IF(seq MOD 50 = 0, 'failed', 'completed'), "
                    " IF(seq MOD 100 IN (0, 1, 50, 51), 'failed', 'completed'), "
                    " IF(seq MOD 50 IN (0, 1), 'stt: 503', NULL), "
                    " TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq SECOND, "
                    " TIMESTAMP'2026-01-01 00:00:30' + INTERVAL seq SECOND "
                    "FROM seq_1_to_" + str(ROWS))
                eq(cur.rowcount, ROWS, "rows inserted into %s.call_log" % name)
                cur.execute("ANALYZE TABLE call_log")
                cur.fetchall()
                cur.execute("SELECT COUNT(*) AS n FROM call_log WHERE " +
                            FAILED.split(" WHERE ", 1)[1])
                failed = cur.fetchone()["n"]
            check(0 < failed <= ROWS * 0.05, "%d failed rows: not within (0, 5 %%]", failed)

            plan = explain(conn, NEWEST)
            print("# newest 10: %r" % plan)
            eq(len(plan), 1, "plan rows of the newest-10 query")
            p = plan[0]
            extra = (p.get("Extra") or "").lower()
            eq(p.get("key"), "ix_call_log_created", "newest-10 key (plan %r)" % p)
            check("filesort" not in extra and "temporary" not in extra,
                  "newest-10 sorts: %r", p)
            check(p.get("type") != "ALL", "newest-10 reads the whole table: %r", p)

            plan = explain(conn, FAILED)
            print("# failed (%d of %d rows): %r" % (failed, ROWS, plan))
            eq(len(plan), 1, "plan rows of the failed query")
            p = plan[0]
            eq(p.get("type"), "index_merge", "failed query access type (plan %r)" % p)
            keys = set((p.get("key") or "").split(","))
            eq(keys, {"ix_call_log_sweep_transcript", "ix_call_log_sweep_summary"},
               "failed query's merged indexes")
            check("union" in (p.get("Extra") or "").lower(),
                  "failed query is not a union merge: %r", p)
            check(int(p.get("rows") or 0) < ROWS * 0.2,
                  "failed query estimates %s rows of %d", p.get("rows"), ROWS)
        finally:
            conn.close()
    eq(stack.query("SHOW DATABASES LIKE %s", (name,)), [], "the scratch database after")
