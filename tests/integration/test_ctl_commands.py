"""callpipectl status, calls list/show, queue list/retry-dead (issue 8 item 5).

On a scratch database (no worker claims there) with calls and jobs
inserted here, so every count, order and filter is known: status's counts
per stage and status and per job kind (queued, due, running, dead, age of
the oldest due job), calls list newest first with --phone / --failed /
--limit, calls show's fields and jobs, queue list in claim order and
--dead newest first, queue retry-dead --kind then all (jobs queued with
attempts 0, the failed stage back to pending, a stageless kind's row
untouched, a dead job whose stage is not failed left dead, a dead
start_recording restarted as retry does), and a call
made through the stack shown by calls show as the
database holds it. Every bad argument exits 2 with one line on stderr and
nothing on stdout; every command has --help.
"""

import datetime
import os
import shutil
import subprocess
import tempfile

from cplib import check, eq, new_sid

TIMEOUT = 240

PHONE_A = "+15550101001"
PHONE_B = "+15550101002"
AGENT = "+15005550006"


def lines(out):
    return [l.split("\t") for l in out.rstrip("\n").split("\n")] if out.strip() else []


def ok(stack, conf, *args):
    p = stack.ctl(*args, conf=conf)
    eq(p.returncode, 0, "callpipectl %s exit status (stderr %r)" % (" ".join(args), p.stderr))
    return p.stdout


def bad(stack, conf, *args, says=None):
    p = stack.ctl(*args, conf=conf)
    what = "callpipectl %s" % " ".join(args)
    eq(p.returncode, 2, "%s exit status (stderr %r)" % (what, p.stderr))
    eq(p.stdout, "", "%s stdout" % what)
    err = p.stderr.rstrip("\n")
    check(err and "\n" not in err, "%s: stderr is not one line: %r", what, p.stderr)
    if says:
        check(says in err, "%s: stderr %r lacks %r", what, err, says)


def insert(conn, table, rows):
    with conn.cursor() as cur:
        for r in rows:
            cols = sorted(r)
            cur.execute("INSERT INTO %s (%s) VALUES (%s)" % (
                table, ", ".join(cols), ", ".join(["%s"] * len(cols))), [r[c] for c in cols])
            r["id"] = cur.lastrowid


def test_ctl_views_scratch(stack):
    with stack.scratch_database() as (name, connect):
        tmp = tempfile.mkdtemp(prefix="itest-ctl-")
        conn = connect()
        try:
            conf = stack.conf_copy({"database.name": name}, tmp)
            run_views(stack, conf, conn)
        finally:
            conn.close()
            shutil.rmtree(tmp, ignore_errors=True)


def run_views(stack, conf, conn):
    sids = [new_sid("CA") for _ in range(4)]
    t0 = datetime.datetime(2026, 1, 1, 0, 0, 0)
    calls = [
        # oldest .. newest
        {"call_sid": sids[0], "from_number": PHONE_A, "to_number": AGENT,
         "recording_status": "completed", "transcript_status": "completed",
         "summary_status": "completed"},
        {"call_sid": sids[1], "from_number": AGENT, "to_number": PHONE_A,
         "recording_status": "completed", "transcript_status": "failed",
         "summary_status": "pending", "last_error": "stt said no"},
        {"call_sid": sids[2], "from_number": PHONE_B, "to_number": AGENT,
         "recording_status": "recording", "transcript_status": "pending",
         "summary_status": "pending"},
        {"call_sid": sids[3], "from_number": PHONE_B, "to_number": AGENT,
         "recording_status": "failed", "transcript_status": "pending",
         "summary_status": "pending", "last_error": "absent"},
    ]
    for i, c in enumerate(calls):
        c.update({"direction": "inbound", "call_status": "completed",
                  "created_at": t0 + datetime.timedelta(seconds=i + 1)})
    insert(conn, "call_log", calls)
    with conn.cursor() as cur:
        cur.execute("SELECT UTC_TIMESTAMP(3) AS now")
        now = cur.fetchone()["now"]
    ago = now - datetime.timedelta(seconds=120)
    later = now + datetime.timedelta(hours=1)
    jobs = {
        "fetch": {"kind": "fetch_recording", "call_sid": sids[2], "state": "queued",
                  "run_after": ago},
        "summ": {"kind": "summarize", "call_sid": sids[0], "state": "queued",
                 "run_after": later},
        "recon": {"kind": "reconcile", "call_sid": sids[3], "state": "running",
                  "run_after": ago - datetime.timedelta(seconds=60), "attempts": 1,
                  "locked_by": "host:1", "locked_until": later},
        # An earlier dead job of the same failed stage (before a manual
        # retry): superseded by "trans", it must stay dead.
        "trans0": {"kind": "transcribe", "call_sid": sids[1], "state": "dead",
                   "run_after": ago, "attempts": 6, "last_error": "stt said no",
                   "updated_at": now - datetime.timedelta(seconds=50)},
        "trans": {"kind": "transcribe", "call_sid": sids[1], "state": "dead",
                  "run_after": ago, "attempts": 6, "last_error": "stt said no",
                  "updated_at": now - datetime.timedelta(seconds=30)},
        "refill": {"kind": "refill_recording", "call_sid": sids[0], "state": "dead",
                   "run_after": ago, "attempts": 6, "last_error": "gone",
                   "updated_at": now - datetime.timedelta(seconds=10)},
        # Dead, but its stage completed since (a retry): stays dead.
        "stale": {"kind": "fetch_recording", "call_sid": sids[0], "state": "dead",
                  "run_after": ago, "attempts": 6, "last_error": "timeout",
                  "updated_at": now - datetime.timedelta(seconds=60)},
        "done": {"kind": "fetch_recording", "call_sid": sids[0], "state": "done",
                 "run_after": ago},
    }
    for key, j in jobs.items():
        j.setdefault("attempts", 0)
        j.update({"dedupe_key": "itest:%s:%s" % (key, j["call_sid"]), "max_attempts": 6})
    insert(conn, "jobs", list(jobs.values()))

    # ---- status
    out = ok(stack, conf, "status").split("\n\n")
    eq(len(out), 2, "status: two tables (%r)" % out)
    stages = lines(out[0])
    eq(stages[0], ["stage", "status", "calls"], "status header")
    want = {("recording", "pending"): 0, ("recording", "recording"): 1,
            ("recording", "completed"): 2, ("recording", "failed"): 1,
            ("transcript", "pending"): 2, ("transcript", "processing"): 0,
            ("transcript", "completed"): 1, ("transcript", "failed"): 1,
            ("summary", "pending"): 3, ("summary", "processing"): 0,
            ("summary", "completed"): 1, ("summary", "failed"): 0}
    eq({(s, st): int(n) for s, st, n in stages[1:]}, want, "status: calls per stage and status")
    kinds = lines(out[1])
    eq(kinds[0], ["kind", "queued", "due", "running", "dead", "oldest_due_age_s"],
       "status kinds header")
    k = {r[0]: r[1:] for r in kinds[1:]}
    for kind in ("fetch_recording", "transcribe", "summarize", "reconcile",
                 "refill_recording", "sweep"):
        check(kind in k, "status lists no kind %s: %r", kind, list(k))
    eq(k["fetch_recording"][:4], ["1", "1", "0", "1"], "status fetch_recording")
    age = int(k["fetch_recording"][4])
    check(119 <= age <= 180, "oldest due fetch_recording age %d s, queued 120 s ago", age)
    eq(k["summarize"], ["1", "0", "0", "0", "-"], "status summarize (queued, not due)")
    eq(k["reconcile"], ["0", "0", "1", "0", "-"], "status reconcile (running)")
    eq(k["transcribe"], ["0", "0", "0", "2", "-"], "status transcribe (dead)")
    eq(k["sweep"], ["0", "0", "0", "0", "-"], "status sweep (none)")

    # ---- calls list
    rows = lines(ok(stack, conf, "calls", "list"))
    eq(rows[0][:3], ["call_sid", "created", "business"], "calls list header")
    eq([r[0] for r in rows[1:]], sids[::-1], "calls list: newest first")
    eq(rows[1][1], "2026-01-01T00:00:04.000Z", "calls list created")
    eq(rows[1][2], "-", "calls list business of a call without one")
    eq(rows[1][7:], ["failed", "pending", "pending", "absent"], "calls list statuses")
    eq([r[0] for r in lines(ok(stack, conf, "calls", "list", "--phone", PHONE_A))[1:]],
       [sids[1], sids[0]], "calls list --phone (from or to)")
    eq([r[0] for r in lines(ok(stack, conf, "calls", "list", "--failed"))[1:]],
       [sids[3], sids[1]], "calls list --failed")
    eq([r[0] for r in lines(ok(stack, conf, "calls", "list", "--failed", "--phone",
                               PHONE_B, "--limit", "5"))[1:]],
       [sids[3]], "calls list --failed --phone")
    eq([r[0] for r in lines(ok(stack, conf, "calls", "list", "--limit", "2"))[1:]],
       sids[:1:-1], "calls list --limit 2")

    # ---- calls show
    out = ok(stack, conf, "calls", "show", sids[1])
    fields = dict(l.split("\t", 1) for l in out.split("jobs:\n")[0].split("\n")
                  if "\t" in l)
    eq(fields["call_sid"], sids[1], "calls show call_sid")
    eq(fields["from_number"], AGENT, "calls show from_number")
    eq(fields["transcript_status"], "failed", "calls show transcript_status")
    eq(fields["last_error"], "stt said no", "calls show last_error")
    eq(fields["created_at"], "2026-01-01T00:00:02.000Z", "calls show created_at")
    eq(fields["recording_sid"], "-", "calls show a NULL field")
    check("summary:\n  -\n" in out, "calls show: no empty summary block: %r", out)
    jl = lines(out.split("jobs:\n", 1)[1])
    eq(jl[0][:3], ["id", "kind", "state"], "calls show jobs header")
    eq([(r[0], r[1], r[2], r[3]) for r in jl[1:]],
       [(str(jobs[k]["id"]), "transcribe", "dead", "6") for k in ("trans0", "trans")],
       "calls show jobs")
    p = stack.ctl("calls", "show", new_sid("CA"), conf=conf)
    eq(p.returncode, 1, "calls show of an unknown call")
    check("no call" in p.stderr, "calls show unknown stderr %r", p.stderr)

    # ---- queue list
    rows = lines(ok(stack, conf, "queue", "list"))
    eq(rows[0][:6], ["id", "kind", "state", "attempts", "max_attempts", "run_after"],
       "queue list header")
    eq([r[0] for r in rows[1:]], [str(jobs[k]["id"]) for k in ("recon", "fetch", "summ")],
       "queue list: queued and running by run_after")
    eq(rows[1][8], "host:1", "queue list locked_by")
    rows = lines(ok(stack, conf, "queue", "list", "--dead"))
    eq([r[0] for r in rows[1:]],
       [str(jobs[k]["id"]) for k in ("refill", "trans", "trans0", "stale")],
       "queue list --dead: the last to die first")
    eq(rows[2][9], "stt said no", "queue list --dead last_error")
    eq([r[0] for r in lines(ok(stack, conf, "queue", "list", "--dead", "--kind",
                               "transcribe"))[1:]],
       [str(jobs[k]["id"]) for k in ("trans", "trans0")],
       "queue list --dead --kind transcribe")
    eq(len(lines(ok(stack, conf, "queue", "list", "--limit", "1"))), 2,
       "queue list --limit 1: header and one job")

    # ---- queue retry-dead
    out = ok(stack, conf, "queue", "retry-dead", "--kind", "transcribe")
    eq(out, "1 dead job(s) queued again with attempts reset; 1 failed stage(s) back to "
       "pending, 0 of them restarted by a new job as retry does; 1 left dead (their "
       "stage is not failed)\n",
       "queue retry-dead --kind transcribe")
    with conn.cursor() as cur:
        cur.execute("SELECT state, attempts, run_after <= UTC_TIMESTAMP(3) AS due, locked_by "
                    "FROM jobs WHERE id = %s", (jobs["trans"]["id"],))
        eq(cur.fetchone(), {"state": "queued", "attempts": 0, "due": 1, "locked_by": None},
           "the transcribe job after retry-dead")
        cur.execute("SELECT state FROM jobs WHERE id = %s", (jobs["trans0"]["id"],))
        eq(cur.fetchone()["state"], "dead",
           "the older dead transcribe job of the same stage (else the stage runs twice)")
        cur.execute("SELECT transcript_status, summary_status FROM call_log "
                    "WHERE call_sid = %s", (sids[1],))
        eq(cur.fetchone(), {"transcript_status": "pending", "summary_status": "pending"},
           "the call whose transcript the dead job had failed")
    out = ok(stack, conf, "queue", "retry-dead")
    eq(out, "1 dead job(s) queued again with attempts reset; 0 failed stage(s) back to "
       "pending, 0 of them restarted by a new job as retry does; 2 left dead (their "
       "stage is not failed)\n",
       "queue retry-dead (the stageless refill; the stale fetch stays dead)")
    with conn.cursor() as cur:
        cur.execute("SELECT recording_status FROM call_log WHERE call_sid = %s", (sids[3],))
        eq(cur.fetchone()["recording_status"], "failed",
           "a failed stage without a dead job is left alone")
        cur.execute("SELECT id FROM jobs WHERE state = 'dead' ORDER BY id")
        eq([r["id"] for r in cur.fetchall()], [jobs["trans0"]["id"], jobs["stale"]["id"]],
           "dead jobs after retry-dead: the superseded ones")
        cur.execute("SELECT recording_status FROM call_log WHERE call_sid = %s", (sids[0],))
        eq(cur.fetchone()["recording_status"], "completed",
           "the completed stage of the stale dead fetch")
    eq(ok(stack, conf, "queue", "retry-dead"), "0 dead job(s) queued again with attempts "
       "reset; 0 failed stage(s) back to pending, 0 of them restarted by a new job as "
       "retry does; 2 left dead (their stage is not failed)\n", "queue retry-dead with only superseded ones dead")

    # A dead start_recording (recording.mode "rest"; the call has ended):
    # not revived, its stage restarted as callpipectl retry does it, by the
    # recording stage's own job (no recording known: reconcile) under the
    # new retry count.
    late = {"call_sid": new_sid("CA"), "from_number": PHONE_A, "to_number": AGENT,
            "direction": "inbound", "call_status": "completed",
            "recording_status": "failed", "transcript_status": "pending",
            "summary_status": "pending", "created_at": t0}
    insert(conn, "call_log", [late])
    start = {"kind": "start_recording", "call_sid": late["call_sid"], "state": "dead",
             "run_after": ago, "attempts": 6, "max_attempts": 6,
             "dedupe_key": "itest:start:%s" % late["call_sid"], "last_error": "21220"}
    insert(conn, "jobs", [start])
    eq(ok(stack, conf, "queue", "retry-dead", "--kind", "start_recording"),
       "0 dead job(s) queued again with attempts reset; 1 failed stage(s) back to "
       "pending, 1 of them restarted by a new job as retry does; 0 left dead (their "
       "stage is not failed)\n", "queue retry-dead --kind start_recording")
    with conn.cursor() as cur:
        cur.execute("SELECT recording_status, retry_count FROM call_log WHERE call_sid = %s",
                    (late["call_sid"],))
        eq(cur.fetchone(), {"recording_status": "pending", "retry_count": 1},
           "the call of the dead start_recording job")
        cur.execute("SELECT kind, state, dedupe_key FROM jobs WHERE call_sid = %s "
                    "ORDER BY id", (late["call_sid"],))
        eq(cur.fetchall(), [
            {"kind": "start_recording", "state": "dead", "dedupe_key": start["dedupe_key"]},
            {"kind": "reconcile", "state": "queued",
             "dedupe_key": "reconcile:%s:1" % late["call_sid"]}],
           "the jobs of that call after retry-dead")

    # ---- bad arguments: exit 2, one line, nothing changed
    bad(stack, conf, "status", "x", says="status")
    bad(stack, conf, "calls", says="calls list")
    bad(stack, conf, "calls", "frob", says="frob")
    bad(stack, conf, "calls", "list", "--phone", "5550101001", says="E.164")
    bad(stack, conf, "calls", "list", "--limit", "0", says="--limit")
    bad(stack, conf, "calls", "list", "--limit", says="--limit")
    bad(stack, conf, "calls", "list", "--bogus", says="--bogus")
    bad(stack, conf, "calls", "show", says="CALL_SID")
    bad(stack, conf, "calls", "show", "CA123", says="CallSid")
    bad(stack, conf, "queue", "list", "--kind", "nosuchkind", says="fetch_recording")
    bad(stack, conf, "queue", "retry-dead", "--kind", says="--kind")
    bad(stack, conf, "queue", "retry-dead", "--dead", says="--dead")
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'")
        eq(cur.fetchone()["n"], 5, "queued jobs after the refused commands")


def test_ctl_calls_show_real_call(stack):
    info, st, row = stack.completed_call("short")
    sid = info["call_sid"]
    out = ok(stack, None, "calls", "show", sid)
    fields = dict(l.split("\t", 1) for l in out.split("jobs:\n")[0].split("\n") if "\t" in l)
    for col in ("recording_status", "transcript_status", "summary_status", "recording_sid",
                "from_number", "to_number", "call_status"):
        eq(fields[col], row[col] if row[col] is not None else "-", "calls show %s" % col)
    eq(fields["business_id"], str(row["business_id"]), "calls show business_id")
    check("final_transcript:\n  Caller: " in out or "final_transcript:\n  Agent: " in out,
          "calls show: no transcript block: %r", out[-800:])
    jl = lines(out.split("jobs:\n", 1)[1])
    want = stack.query("SELECT id, kind, state FROM jobs WHERE call_sid = %s ORDER BY id",
                       (sid,))
    eq([(r[0], r[1], r[2]) for r in jl[1:]],
       [(str(j["id"]), j["kind"], j["state"]) for j in want], "calls show jobs of a real call")
    check(any(j["kind"] == "fetch_recording" for j in want), "the call has no fetch job")
    rows = lines(ok(stack, None, "calls", "list", "--phone", row["from_number"], "--limit",
                    "1000"))
    check(sid in [r[0] for r in rows[1:]], "calls list --phone %s lacks %s",
          row["from_number"], sid)


def test_ctl_new_commands_help(stack):
    for words in (["status"], ["calls"], ["calls", "list"], ["calls", "show"],
                  ["queue"], ["queue", "list"], ["queue", "retry-dead"]):
        p = subprocess.run([stack.ctl_bin] + words + ["--help"], capture_output=True,
                           text=True, timeout=30, env=stack.ctl_env())
        eq(p.returncode, 0, "callpipectl %s --help (stderr %r)" % (" ".join(words), p.stderr))
        check(p.stdout.startswith("usage: callpipectl"), "%s --help: %r", words, p.stdout)
        check("\n  %s" % " ".join(words) in p.stdout, "%s --help: %r", words, p.stdout)
        check("\n  token " not in p.stdout, "%s --help shows other commands", words)
    p = subprocess.run([stack.ctl_bin, "--help"], capture_output=True, text=True,
                       timeout=30, env=stack.ctl_env())
    for c in ("status", "calls list", "calls show", "queue list", "queue retry-dead",
              "migrate", "token create", "url", "sweep"):
        check("\n  %s " % c in p.stdout or "\n  %s\n" % c in p.stdout,
              "callpipectl --help does not list %s", c)
    p = subprocess.run([stack.ctl_bin, "status"], capture_output=True, text=True,
                       timeout=30, env=stack.ctl_env())
    eq(p.returncode, 2, "callpipectl status without -c")
    check("-c FILE" in p.stderr and p.stderr.count("\n") == 1, "no -c stderr %r", p.stderr)
    # An option callpipectl itself does not take: one line too, not the
    # whole usage.
    for argv in (["-x", "status"], ["-c"]):
        p = subprocess.run([stack.ctl_bin] + argv, capture_output=True, text=True,
                           timeout=30, env=stack.ctl_env())
        eq((p.returncode, p.stdout), (2, ""), "callpipectl %s" % " ".join(argv))
        check(p.stderr.count("\n") == 1 and argv[0] in p.stderr,
              "callpipectl %s stderr %r", " ".join(argv), p.stderr)
