"""`callpipectl upgrade-legacy` turns the earlier system's call_log into
callpipe's (issue 7 item 5).

In scratch databases callpipe_legacy_<pid>_<n> (the stack's own database
is never touched) it builds the legacy table from the seeds' model:
id INT, call_sid VARCHAR(64) NULL UNIQUE, business_id INT, created_at
DATETIME, with and without the seeds' tracking columns (statuses
VARCHAR(32), last_error TEXT, retry_count INT).

- 20,000 rows without the tracking columns, batches of 500: the run is
  killed (SIGKILL) after its third progress line and run again, which
  finishes; then the schema is compared with a freshly migrated database
  (SHOW CREATE TABLE of every table and view), the inferred statuses,
  placeholder sids, businesses rows and legacy_upgraded_at are checked,
  and a further run is a no-op.
- 1,000,000 rows with the tracking columns (kept, mapped and unknown
  values, NULLs to infer): timed ("# legacy upgrade of 1000000 rows"),
  while one thread INSERTs and one SELECTs call_log in a loop: reads never
  wait long, writes wait only while the copying ALTER runs (the window
  comes from the upgrade's own log lines); the same checks follow.
"""

import os
import re
import signal
import subprocess
import tempfile
import threading
import time


from cplib import check, eq

TIMEOUT = 600
SMALL = 20000
BIG = int(os.environ.get("CALLPIPE_LEGACY_ROWS", "1000000"))
BUSINESSES = 50

REC_WORDS = {"pending": "pending", "completed": "completed", "failed": "failed",
             "recording": "recording", "done": "completed", "processing": "recording"}
STAGE_WORDS = {"pending": "pending", "completed": "completed", "failed": "failed",
               "processing": "processing", "error": "failed", "done": "completed"}


def infer(row):
    """The seeds' inference (issue 7 item 5) from a legacy row."""
    if row["recording_url"]:
        rec = "completed"
    elif row["recording_sid"]:
        rec = "recording"
    else:
        rec = "pending"
    tx = "completed" if (len(row["final_transcript"] or "") > 50 or
                         len(row["transcription"] or "") > 50) else "pending"
    sm = "completed" if len(row["summary"] or "") > 20 else "pending"
    return rec, tx, sm


def expected(row):
    rec, tx, sm = infer(row)
    out = []
    for col, inferred, words in (("recording_status", rec, REC_WORDS),
                                 ("transcript_status", tx, STAGE_WORDS),
                                 ("summary_status", sm, STAGE_WORDS)):
        v = row.get(col)
        v = (v or "").strip().lower()
        out.append(words.get(v, inferred))
    return tuple(out)


LEGACY_CORE = (
    "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "call_sid VARCHAR(64) NULL UNIQUE, business_id INT NULL, "
    "from_number VARCHAR(32) NULL, to_number VARCHAR(32) NULL, "
    "call_status VARCHAR(32) NULL, recording_url VARCHAR(512) NULL, "
    "recording_sid VARCHAR(64) NULL, transcription TEXT NULL, "
    "final_transcript TEXT NULL, summary TEXT NULL, "
    "extracted_service VARCHAR(255) NULL, extracted_city VARCHAR(255) NULL, "
    "created_at DATETIME NULL DEFAULT CURRENT_TIMESTAMP")
LEGACY_TRACKING = (
    ", recording_status VARCHAR(32) NULL, transcript_status VARCHAR(32) NULL, "
    "summary_status VARCHAR(32) NULL, last_error TEXT NULL, retry_count INT NULL")

# Row s of seq: NULL sids every 1000th, a NULL business every 997th,
# recording url+sid / sid only / neither, transcripts and summaries on both
# sides of the 50 and 20 character limits.
CORE_SELECT = (
    "IF(seq MOD 1000 = 0, NULL, CONCAT('CA', LPAD(HEX(seq), 32, '0'))), "
    "IF(seq MOD 997 = 0, NULL, 1 + seq MOD %d), "
    "CONCAT('+9725', LPAD(seq MOD 5000, 8, '0')), '+15005550006', 'completed', "
    "IF(seq MOD 8 = 0 OR seq MOD 8 = 4, NULL, "
    "   CONCAT('https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE', seq)), "
    "IF(seq MOD 8 = 0, NULL, CONCAT('RE', LPAD(HEX(seq), 32, '0'))), "
    "ELT(1 + seq MOD 3, REPEAT('word ', 11), 'short', NULL), "
    "IF(seq MOD 5 = 0, REPEAT('x', 51), IF(seq MOD 5 = 1, REPEAT('y', 50), NULL)), "
    "IF(seq MOD 2 = 0, REPEAT('s', 21), REPEAT('t', 20)), 'plumber', 'Haifa', "
    "'2025-01-01' + INTERVAL seq SECOND" % BUSINESSES)
CORE_COLS = ("call_sid, business_id, from_number, to_number, call_status, recording_url, "
             "recording_sid, transcription, final_transcript, summary, extracted_service, "
             "extracted_city, created_at")
TRACKING_SELECT = (
    ", ELT(1 + seq MOD 6, NULL, 'completed', 'failed', 'Done', 'weird', ''), "
    "ELT(1 + seq MOD 5, NULL, 'completed', 'processing', 'error', 'pending'), "
    "IF(seq MOD 7 = 0, 'failed', NULL), "
    "IF(seq MOD 11 = 0, REPEAT('e', 600), NULL), IF(seq MOD 13 = 0, NULL, seq MOD 3)")
TRACKING_COLS = ", recording_status, transcript_status, summary_status, last_error, retry_count"


class Scratch:
    """An empty database of our own and a config pointing at it."""

    def __init__(self, stack, tag):
        self.stack = stack
        self.name = "callpipe_legacy_%d_%s" % (os.getpid(), tag)
        self.tmp = tempfile.mkdtemp(prefix="itest-legacy-")
        root = stack.root_db()
        try:
            with root.cursor() as cur:
                cur.execute("DROP DATABASE IF EXISTS `%s`" % self.name)
                cur.execute("CREATE DATABASE `%s` CHARACTER SET utf8mb4 "
                            "COLLATE utf8mb4_unicode_ci" % self.name)
        finally:
            root.close()
        self.conf = stack.conf_copy({"database.name": self.name}, self.tmp)

    def connect(self, read_timeout=600):
        return self.stack.db(self.name, read_timeout=read_timeout)

    def rows(self, sql, args=None):
        return self.stack.query(sql, args, database=self.name)

    def drop(self):
        root = self.stack.root_db()
        try:
            with root.cursor() as cur:
                cur.execute("DROP DATABASE IF EXISTS `%s`" % self.name)
        finally:
            root.close()
        for f in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, f))
        os.rmdir(self.tmp)


def schema(db):
    """Every table's and view's SHOW CREATE, AUTO_INCREMENT counters and the
    database's name left out."""
    out = {}
    for r in db.rows("SELECT table_name AS t FROM information_schema.tables "
                     "WHERE table_schema = DATABASE() ORDER BY table_name"):
        row = db.rows("SHOW CREATE TABLE `%s`" % r["t"])[0]
        text = row.get("Create Table") or row.get("Create View")
        text = re.sub(r" AUTO_INCREMENT=\d+", "", text)
        out[r["t"]] = text.replace("`%s`." % db.name, "")
    return out


def build_legacy(db, rows, tracking):
    t0 = time.monotonic()
    db.rows("CREATE TABLE call_log (" + LEGACY_CORE + (LEGACY_TRACKING if tracking else "") +
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    step = 250000
    for lo in range(1, rows + 1, step):
        hi = min(rows, lo + step - 1)
        db.rows("INSERT INTO call_log (" + CORE_COLS + (TRACKING_COLS if tracking else "") +
                ") SELECT " + CORE_SELECT + (TRACKING_SELECT if tracking else "") +
                " FROM seq_%d_to_%d" % (lo, hi))
    return time.monotonic() - t0


def last_id(db):
    """The legacy rows' highest id (INSERT ... SELECT leaves gaps)."""
    return db.rows("SELECT MAX(id) AS m FROM call_log")[0]["m"]


def legacy_sample(db, ids):
    return {r["id"]: r for r in db.rows(
        "SELECT * FROM call_log WHERE id IN (%s)" % ",".join(str(i) for i in ids))}


def upgrade(stack, db, *extra, timeout=900):
    return subprocess.run([stack.ctl_bin, "-c", db.conf, "upgrade-legacy"] + list(extra),
                          capture_output=True, text=True, timeout=timeout,
                          env=stack.ctl_env())


def check_upgraded(db, fresh, before, upto, label):
    eq(schema(db), fresh, "%s: the schema after upgrade-legacy vs a fresh migrate" % label)
    after = legacy_sample(db, list(before))
    for i, old in before.items():
        new = after[i]
        want = expected(old)
        got = (new["recording_status"], new["transcript_status"], new["summary_status"])
        eq(got, want, "%s: row %d statuses (legacy %r)" % (
            label, i, {k: old.get(k) for k in ("recording_status", "transcript_status",
                                               "summary_status", "recording_url",
                                               "recording_sid")}))
        sid = old["call_sid"] or "LG%032d" % i
        eq(new["call_sid"], sid, "%s: row %d call_sid" % (label, i))
        eq(new["business_id"], old["business_id"], "%s: row %d business_id" % (label, i))
        check(new["legacy_upgraded_at"] is not None, "%s: row %d not marked", label, i)
        if old.get("last_error"):
            eq(new["last_error"], old["last_error"][:500], "%s: row %d last_error" % (label, i))
        eq(new["retry_count"], old.get("retry_count") or 0, "%s: row %d retry_count" % (
            label, i))
    names = {r["id"]: r["name"] for r in db.rows("SELECT id, name FROM businesses")}
    for b in range(1, BUSINESSES + 1):
        eq(names.get(b), "legacy %d" % b, "%s: businesses row %d" % (label, b))
    left = db.rows("SELECT COUNT(*) AS n FROM call_log WHERE id <= %s AND "
                   "legacy_upgraded_at IS NULL", (upto,))[0]["n"]
    eq(left, 0, "%s: old rows without legacy_upgraded_at" % label)
    orphans = db.rows("SELECT COUNT(*) AS n FROM call_log c LEFT JOIN businesses b "
                      "ON b.id = c.business_id WHERE c.business_id IS NOT NULL "
                      "AND b.id IS NULL")[0]["n"]
    eq(orphans, 0, "%s: rows whose business is missing" % label)
    trig = [r["n"] for r in db.rows("SELECT trigger_name AS n FROM information_schema.triggers "
                                    "WHERE trigger_schema = DATABASE()")]
    eq(trig, [], "%s: triggers left after the upgrade" % label)


def check_noop(stack, db, label):
    mig = db.rows("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version")
    sch = schema(db)
    out = upgrade(stack, db)
    eq(out.returncode, 0, "%s: second run exit status (stderr %r)" % (label, out.stderr))
    check("nothing to do" in out.stdout, "%s: second run did something: %r", label, out.stdout)
    eq(db.rows("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version"),
       mig, "%s: schema_migrations after the second run" % label)
    eq(schema(db), sch, "%s: schema after the second run" % label)
    out = stack.ctl("migrate", conf=db.conf)
    eq(out.returncode, 0, "%s: migrate after the upgrade (stderr %r)" % (label, out.stderr))
    check(re.search(r"(?<![0-9])0 migration", out.stdout), "%s: migrate after the upgrade "
          "applied something: %r", label, out.stdout)


def sample_ids(rows):
    ids = set(range(1, 121)) | {1000, 2000, 997 * 3, 5005, 7007, 11011, 13013}
    ids |= {rows - k for k in range(0, 40)} | {rows // 2 + k for k in range(0, 60)}
    return sorted(i for i in ids if 1 <= i <= rows)


def test_legacy_upgrade(stack):
    made = []
    try:
        fresh_db = Scratch(stack, "fresh")
        made.append(fresh_db)
        out = stack.ctl("migrate", conf=fresh_db.conf, timeout=120)
        eq(out.returncode, 0, "migrate of the reference database (stderr %r)" % out.stderr)
        fresh = schema(fresh_db)

        # --- without the tracking columns; killed mid-way and resumed.
        small = Scratch(stack, "small")
        made.append(small)
        build_legacy(small, SMALL, tracking=False)
        before = legacy_sample(small, sample_ids(SMALL))
        small_last = last_id(small)
        p = subprocess.Popen([stack.ctl_bin, "-c", small.conf, "upgrade-legacy", "--batch",
                              "500"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=stack.ctl_env())
        seen = []
        for line in p.stdout:
            seen.append(line)
            if len([s for s in seen if "statuses: ids" in s]) >= 3:
                p.send_signal(signal.SIGKILL)
                break
        p.wait(timeout=30)
        check(not any("done:" in s for s in seen), "the run finished before the kill: %r",
              seen)
        eq(p.returncode, -signal.SIGKILL, "the killed run's status")
        out = upgrade(stack, small, "--batch", "500")
        eq(out.returncode, 0, "the resumed run (stderr %r)" % out.stderr)
        check("done: call_log is callpipe's" in out.stdout, "resumed run: %r", out.stdout)
        print("# legacy upgrade killed after %d lines, resumed: %d lines" % (
            len(seen), len(out.stdout.splitlines())))
        check_upgraded(small, fresh, before, small_last, "no tracking columns")
        check_noop(stack, small, "no tracking columns")
        small.drop()
        made.remove(small)

        # --- 1M rows with the tracking columns, under a read/write load.
        big = Scratch(stack, "big")
        made.append(big)
        build_s = build_legacy(big, BIG, tracking=True)
        before = legacy_sample(big, sample_ids(BIG))
        big_last = last_id(big)
        stop = threading.Event()
        ops = {"insert": [], "select": []}
        errors = []

        def writer():
            conn = big.connect()
            n = 0
            try:
                with conn.cursor() as cur:
                    while not stop.is_set():
                        n += 1
                        t = time.monotonic()
                        cur.execute("INSERT INTO call_log (call_sid, business_id, "
                                    "from_number) VALUES (%s, 1, '+972500000000')",
                                    ("CAee%030x" % (os.getpid() * 100000 + n),))
                        ops["insert"].append((t, time.monotonic() - t))
                        time.sleep(0.05)
            except Exception as e:  # noqa: BLE001 - reported by the test
                errors.append("insert: %r" % e)
            finally:
                conn.close()

        def reader():
            conn = big.connect()
            k = 0
            try:
                with conn.cursor() as cur:
                    while not stop.is_set():
                        k = (k * 7919 + 13) % BIG + 1
                        t = time.monotonic()
                        cur.execute("SELECT call_sid, recording_status FROM call_log "
                                    "WHERE id = %s", (k,))
                        cur.fetchall()
                        ops["select"].append((t, time.monotonic() - t))
                        time.sleep(0.05)
            except Exception as e:  # noqa: BLE001
                errors.append("select: %r" % e)
            finally:
                conn.close()

        threads = [threading.Thread(target=writer, daemon=True),
                   threading.Thread(target=reader, daemon=True)]
        for t in threads:
            t.start()
        time.sleep(1)
        t0 = time.monotonic()
        p = subprocess.Popen([stack.ctl_bin, "-c", big.conf, "upgrade-legacy"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=stack.ctl_env())
        lines = []
        for line in p.stdout:
            lines.append((time.monotonic(), line.rstrip("\n")))
        p.wait(timeout=900)
        took = time.monotonic() - t0
        err = p.stderr.read()
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        eq(p.returncode, 0, "upgrade-legacy of %d rows (stderr %r, last lines %r)" % (
            BIG, err, [s for _, s in lines[-5:]]))
        check(not errors, "the load failed during the upgrade: %r", errors)
        start = [t for t, s in lines if "copying call_log" in s]
        end = [t for t, s in lines if "copy done" in s]
        check(start and end, "no copy lines in %r", [s for _, s in lines])
        c0, c1 = start[-1], end[-1]
        slack = 1.0
        in_copy = [lat for t, lat in ops["insert"] if t + lat >= c0 - slack and t <= c1 + slack]
        outside = [lat for t, lat in ops["insert"] if not (t + lat >= c0 - slack and
                                                            t <= c1 + slack)]
        reads = [lat for _, lat in ops["select"]]
        print("# legacy upgrade of %d rows: %.1f s (build %.1f s; copy %.1f s: inserts blocked "
              "up to %.1f s; other inserts max %.2f s over %d, reads max %.2f s over %d)" % (
                  BIG, took, build_s, c1 - c0, max(in_copy or [0]), max(outside or [0]),
                  len(outside), max(reads or [0]), len(reads)))
        for key in ("statuses: ids 1..", "triggers", "the old system wrote", "copying call_log",
                    "copy done", "migration(s) applied", "done: call_log"):
            hit = [s for _, s in lines if key in s]
            if hit:
                print("#   " + hit[0])
        check(len(outside) > 20, "only %d INSERTs outside the copy: writes were not going on",
              len(outside))
        check(max(outside) < 5.0, "an INSERT outside the copy waited %.1f s", max(outside))
        check(max(reads) < 5.0, "a SELECT waited %.1f s during the upgrade", max(reads))
        check_upgraded(big, fresh, before, big_last, "1M rows with tracking columns")
        n = big.rows("SELECT COUNT(*) AS n FROM call_log WHERE call_sid LIKE 'LG%%'")[0]["n"]
        eq(n, BIG // 1000, "placeholder sids (rows without a sid)")
        check_noop(stack, big, "1M rows")
    finally:
        for db in made:
            db.drop()
