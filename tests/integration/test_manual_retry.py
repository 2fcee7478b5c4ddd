"""A failed stage is retried by hand: callpipectl retry CALL_SID.

DESIGN.md §4: retry moves failed -> pending with retry_count + 1 and
enqueues the stage's job under a new dedupe key. The recording's media
fails every time (500) until the fetch job is dead and recording_status
failed; Twilio recovers; `callpipectl retry` puts the recording stage (and
the ones after it) back to pending, and the call completes with
retry_count 1, last_error cleared and the new job fetch:<RE>:1 done. A call
with nothing failed, and an unknown call, are refused with a reason.
"""

from cplib import check, eq, new_sid


def test_manual_retry(stack):
    info, st = stack.run_call("short", media_status=500)
    sid, re_sid = info["call_sid"], info["recording_sid"]
    row = stack.wait_row(sid, lambda r: r is not None and r["recording_status"] == "failed",
                         60, "recording_status failed")
    check(row["last_error"] and "500" in row["last_error"], "last_error %r", row["last_error"])
    eq(row["retry_count"], 0, "retry_count before the retry")

    stack.sim.set_media(re_sid, media_status=None)
    p = stack.ctl("retry", sid)
    eq(p.returncode, 0, "callpipectl retry exit status (stderr %r)" % p.stderr)
    check("recording" in p.stdout, "retry output %r does not name the stage", p.stdout)

    row = stack.wait_statuses(sid, timeout=90)
    eq(row["retry_count"], 1, "retry_count after the retry")
    check(row["last_error"] is None, "last_error left after success: %r", row["last_error"])
    jobs = {j["dedupe_key"]: j for j in stack.stage_jobs(sid)}
    eq(jobs["fetch:" + re_sid]["state"], "dead", "the first fetch job stays dead")
    eq(jobs["fetch:%s:1" % re_sid]["state"], "done", "the retry's fetch job")
    eq(jobs["transcribe:%s:1" % sid]["state"], "done", "transcribe after the retry")

    p = stack.ctl("retry", sid)
    eq(p.returncode, 1, "retry of a call with no failed stage")
    check("nothing to retry" in p.stderr, "stderr %r", p.stderr)
    p = stack.ctl("retry", new_sid("CA"))
    eq(p.returncode, 1, "retry of an unknown call")
    check("no call" in p.stderr, "stderr %r", p.stderr)
