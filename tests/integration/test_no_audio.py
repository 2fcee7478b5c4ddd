"""A recording without audio is a permanent failure ("no audio").

Twilio can hand over an empty file or a WAV header with no samples
(audio_kind empty / header_only). Retrying cannot help: the fetch job is
'dead' after its first attempt, recording_status 'failed' and last_error
says "no audio". Both calls run at once.
"""

from cplib import check, eq, parallel


def one(stack, kind):
    info, st = stack.run_call("short", audio_kind=kind)
    sid = info["call_sid"]
    eq(st["state"], "completed", "%s: sim call state (errors %r)" % (kind, st.get("errors")))
    row = stack.wait_row(sid, lambda r: r is not None and r["recording_status"] == "failed",
                         45, "%s: recording_status failed" % kind)
    check(row["last_error"] and "no audio" in row["last_error"],
          "%s: last_error %r does not say 'no audio'", kind, row["last_error"])
    jobs = stack.stage_jobs(sid)
    eq([j["kind"] for j in jobs], ["fetch_recording"], "%s: jobs" % kind)
    eq(jobs[0]["state"], "dead", "%s: job state" % kind)
    eq(jobs[0]["attempts"], 1, "%s: attempts (a permanent failure is not retried)" % kind)
    check(jobs[0]["last_error"] and "no audio" in jobs[0]["last_error"],
          "%s: job last_error %r", kind, jobs[0]["last_error"])
    eq(row["transcript_status"], "pending", "%s: transcript_status" % kind)
    eq(row["summary_status"], "pending", "%s: summary_status" % kind)
    media = [m.get("status") for m in stack.sim.call(sid).get("media_requests", [])]
    eq(media, [200], "%s: media requests" % kind)
    eq(stack.download(sid).status, 404, "%s: download" % kind)


def test_no_audio(stack):
    parallel(lambda k: one(stack, k), [("empty",), ("header_only",)])
