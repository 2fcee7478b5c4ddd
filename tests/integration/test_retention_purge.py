"""The retention purge (issue 7 item 3): `callpipectl purge [--dry-run]`.

Three completed calls; two are aged by UPDATE of created_at / ended_at:
  old    40 days: past recording.retention_days (7) and
         transcript.retention_days (30 in the conf copy)
  mid    10 days: past the recording retention only; its recording is
         deleted at the simulator beforehand, so the purge's DELETE gets
         404, which counts as deleted
  young  now: inside both retentions
With a conf copy (recording.delete_at_twilio = true,
transcript.retention_days = 30):
  - purge --dry-run prints the files, recordings and transcripts it would
    delete and deletes nothing (files there, sim recording there, rows as
    they were);
  - purge deletes old's and mid's cached WAV and MP3, deletes their
    recordings at Twilio (the simulator's resource answers 404 after) and
    sets recording_deleted_at, clears old's transcripts and summary and
    sets transcript_purged_at; mid keeps its transcript; young is
    untouched (its row is equal, its files there);
  - downloads: old and mid 410, young 200; recording_deleted_at alone
    answers 410 too;
  - a second purge finds nothing to do.
"""

import base64
import re

from cplib import check, eq

TIMEOUT = 240

CONTENT = ("transcription", "final_transcript", "transcript_segments", "summary",
           "extracted_service", "extracted_city", "extraction_confidence")


def sim_rec(stack, rsid, method="GET"):
    tok = base64.b64encode(("%s:%s" % (stack.sim.account_sid, stack.sim.auth_token))
                           .encode()).decode()
    path = "/2010-04-01/Accounts/%s/Recordings/%s.json" % (stack.sim.account_sid, rsid)
    return stack.sim._call(method, path, headers={"Authorization": "Basic " + tok})


def age(stack, sid, days):
    stack.execute("UPDATE call_log SET created_at = NOW(3) - INTERVAL %s DAY, "
                  "ended_at = NOW(3) - INTERVAL %s DAY + INTERVAL 10 SECOND "
                  "WHERE call_sid = %s", (days, days, sid))


def files_of(stack, row):
    return {ext: stack.cached_file(row["recording_sid"], ext) for ext in ("wav", "mp3")}


def stable(row):
    return {k: v for k, v in row.items() if k != "updated_at"}


def test_retention_purge(stack):
    calls = {}
    for name in ("old", "mid", "young"):
        info, _, row = stack.completed_call("short", timeout=120)
        calls[name] = info["call_sid"]
    rows = {n: stack.row(s) for n, s in calls.items()}
    for n, r in rows.items():
        check(r["final_transcript"] and r["summary"], "%s call has no transcript/summary: %r",
              n, r)
        f = files_of(stack, r)
        check(f["wav"] and f["mp3"], "%s call's WAV/MP3 not cached: %r", n, f)
    age(stack, calls["old"], 40)
    age(stack, calls["mid"], 10)
    eq(sim_rec(stack, rows["mid"]["recording_sid"], "DELETE").status, 204,
       "deleting mid's recording at the simulator beforehand")
    rows = {n: stack.row(s) for n, s in calls.items()}
    files = {n: files_of(stack, r) for n, r in rows.items()}
    conf = stack.conf_copy({"recording.delete_at_twilio": True,
                            "transcript.retention_days": 30})

    # Dry run: it says what, and deletes nothing.
    out = stack.ctl("purge", "--dry-run", conf=conf)
    eq(out.returncode, 0, "purge --dry-run exit status (stderr %r)" % out.stderr)
    print("# dry run:\n" + out.stdout)
    for n in ("old", "mid"):
        rsid = rows[n]["recording_sid"]
        for ext in ("wav", "mp3"):
            check(re.search(r"^cache: would delete %s\.%s " % (rsid, ext), out.stdout, re.M),
                  "dry run does not list %s's %s: %r", n, ext, out.stdout)
        check(re.search(r"^twilio: would delete recording %s " % rsid, out.stdout, re.M),
              "dry run does not list %s's Twilio recording", n)
    check(re.search(r"^transcript: would clear call %s " % calls["old"], out.stdout, re.M),
          "dry run does not list old's transcript")
    for n in ("mid", "young"):
        check(calls[n] not in "\n".join(l for l in out.stdout.splitlines()
                                        if l.startswith("transcript:")),
              "dry run would clear %s's transcript", n)
    check(rows["young"]["recording_sid"] not in out.stdout, "dry run names the young call")
    for n, f in files.items():
        for ext, p in f.items():
            check(stack.cached_file(rows[n]["recording_sid"], ext) == p,
                  "dry run deleted %s's %s", n, ext)
    for n, s in calls.items():
        eq(stable(stack.row(s)), stable(rows[n]), "%s's row after the dry run" % n)
    eq(sim_rec(stack, rows["old"]["recording_sid"]).status, 200,
       "old's recording at the simulator after the dry run")

    # The purge.
    out = stack.ctl("purge", conf=conf)
    print("# purge:\n" + out.stdout)
    eq(out.returncode, 0, "purge exit status (stderr %r)" % out.stderr)
    m = re.search(r"^purge: (\d+) cache file\(s\) deleted .*?; (\d+) recording\(s\) deleted "
                  r"at Twilio, (\d+) failed; (\d+) call", out.stdout, re.M)
    check(m, "no totals line: %r", out.stdout)
    check(int(m.group(1)) >= 4 and int(m.group(2)) >= 2 and int(m.group(3)) == 0 and
          int(m.group(4)) >= 1, "totals: %s", m.group(0))
    check(re.search(r"^twilio: deleted recording %s .*HTTP 404: gone already" %
                    rows["mid"]["recording_sid"], out.stdout, re.M),
          "mid's 404 is not reported as deleted: %r", out.stdout)
    after = {n: stack.row(s) for n, s in calls.items()}
    for n in ("old", "mid"):
        for ext in ("wav", "mp3"):
            eq(stack.cached_file(rows[n]["recording_sid"], ext), None,
               "%s's %s after the purge" % (n, ext))
        check(after[n]["recording_deleted_at"] is not None, "%s: recording_deleted_at not set", n)
        eq(sim_rec(stack, rows[n]["recording_sid"]).status, 404,
           "%s's recording at the simulator after the purge" % n)
    for k in CONTENT:
        eq(after["old"][k], None, "old's %s after the purge" % k)
    check(after["old"]["transcript_purged_at"] is not None, "old: transcript_purged_at not set")
    eq(after["old"]["transcript_status"], "completed", "old's transcript_status")
    eq(after["mid"]["transcript_purged_at"], None, "mid: transcript_purged_at")
    eq(after["mid"]["final_transcript"], rows["mid"]["final_transcript"], "mid's transcript")
    eq(stable(after["young"]), stable(rows["young"]), "the young call's row")
    for ext, p in files["young"].items():
        eq(stack.cached_file(rows["young"]["recording_sid"], ext), p, "young's %s" % ext)
    eq(sim_rec(stack, rows["young"]["recording_sid"]).status, 200,
       "young's recording at the simulator")

    # Downloads.
    for n in ("old", "mid"):
        r = stack.download(calls[n])
        eq(r.status, 410, "download of %s after the purge" % n)
    eq(stack.download(calls["young"]).status, 200, "download of the young call")
    stack.execute("UPDATE call_log SET recording_deleted_at = NOW(3) WHERE call_sid = %s",
                  (calls["young"],))
    try:
        r = stack.download(calls["young"])
        eq(r.status, 410, "download with recording_deleted_at set inside the retention")
        check(b"deleted" in r.body, "410 body does not say deleted: %r", r.body[:200])
    finally:
        stack.execute("UPDATE call_log SET recording_deleted_at = NULL WHERE call_sid = %s",
                      (calls["young"],))

    # Nothing left to do.
    out = stack.ctl("purge", conf=conf)
    eq(out.returncode, 0, "second purge exit status (stderr %r)" % out.stderr)
    for s in list(calls.values()) + [r["recording_sid"] for r in rows.values()]:
        check(s not in out.stdout, "second purge names %s again: %r", s, out.stdout)
