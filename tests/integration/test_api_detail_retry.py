"""GET /api/calls/<sid> and POST /api/calls/<sid>/retry (issue 6, "JSON API").

The detail of a call that went through the simulators carries its
transcript (per-channel JSON, the Caller:/Agent: lines, the timed
segments, the language), its summary and its jobs, equal to what the
database holds. Retry takes only a failed stage: 409 naming the stage's
status otherwise (nothing changes); a failed stage -> 202, that stage and
the later ones pending, retry_count + 1, and the call completes again.
Two failures: a transcript marked failed in call_log, and a recording whose
media Twilio (the simulator) refuses until the fetch job is dead.
"""

import json

from cplib import check, eq, iso_ms, json_error, new_sid

TIMEOUT = 240


def test_api_call_detail(stack):
    info, _ = stack.api_call()
    sid = info["call_sid"]
    row = stack.row(sid)
    c = stack.call_detail(sid)
    eq(c["call_sid"], sid, "call_sid")
    for k in ("direction", "from_number", "to_number", "call_status", "call_duration",
              "recording_status", "transcript_status", "summary_status", "retry_count",
              "extracted_service", "extracted_city", "last_error", "final_transcript",
              "summary", "transcript_language"):
        eq(c[k], row[k], "%s of the detail vs call_log" % k)
    eq(c["created_at"], iso_ms(row["created_at"]), "created_at")
    eq(c["ended_at"], iso_ms(row["ended_at"]), "ended_at")
    for st in ("recording", "transcript", "summary"):
        eq(c[st + "_status"], "completed", "%s_status of a completed call" % st)
    eq(c["has_recording"], True, "has_recording")
    check(isinstance(c["call_duration"], int) and c["call_duration"] > 0, "call_duration %r",
          c["call_duration"])

    # The transcript, as stored.
    check(isinstance(c["transcription"], dict) and c["transcription"],
          "transcription is not a non-empty object: %r", c["transcription"])
    eq(c["transcription"], json.loads(row["transcription"]), "transcription")
    check(set(c["transcription"]) <= {"caller", "agent", "call"},
          "transcription keys %r", sorted(c["transcription"]))
    check(isinstance(c["final_transcript"], str) and
          any(l.startswith(("Caller:", "Agent:")) for l in c["final_transcript"].splitlines()),
          "final_transcript has no Caller:/Agent: line: %r", c["final_transcript"])
    segs = c["transcript_segments"]
    check(isinstance(segs, list) and segs, "transcript_segments is not a non-empty list: %r",
          segs)
    stored = json.loads(row["transcript_segments"])
    if isinstance(stored, dict):
        stored = stored.get("segments")
    eq(len(segs), len(stored), "number of segments")
    for got, want in zip(segs, stored):
        eq(sorted(got), ["end", "speaker", "start", "text"], "keys of a segment")
        check(got["speaker"] in ("caller", "agent", "call"), "segment speaker %r", got)
        check(isinstance(got["start"], (int, float)) and isinstance(got["end"], (int, float))
              and 0 <= got["start"] <= got["end"], "segment times %r", got)
        eq(got["speaker"], want["speaker"], "segment speaker")
        eq(got["text"], want["text"], "segment text")
        check(abs(got["start"] - want["start"]) < 0.005 and abs(got["end"] - want["end"]) < 0.005,
              "segment times %r vs stored %r", got, want)
    check(isinstance(c["summary"], str) and c["summary"].strip(), "summary %r", c["summary"])

    # The jobs, as the queue holds them.
    jobs = stack.jobs(sid)
    eq(len(c["jobs"]), len(jobs), "number of jobs (%r)" % [j["kind"] for j in c["jobs"]])
    key = lambda j: (j["kind"], j["state"], j["attempts"], j["max_attempts"])  # noqa: E731
    eq(sorted(map(key, c["jobs"])), sorted(map(key, jobs)), "jobs (kind, state, attempts)")
    by_id = sorted(jobs, key=lambda j: j["id"])
    for jb in c["jobs"]:
        m = [j for j in by_id if j["kind"] == jb["kind"] and iso_ms(j["created_at"]) ==
             jb["created_at"]]
        check(m, "job %r has no row with that kind and created_at", jb)
        eq(jb["updated_at"], iso_ms(m[0]["updated_at"]), "updated_at of the %s job" % jb["kind"])
        eq(jb["last_error"], m[0]["last_error"], "last_error of the %s job" % jb["kind"])
    kinds = {j["kind"]: j["state"] for j in c["jobs"]}
    for k in ("fetch_recording", "transcribe", "summarize"):
        eq(kinds.get(k), "done", "state of the %s job" % k)

    json_error(stack.api("GET", "/api/calls/" + new_sid("CA")), 404, "detail of an unknown sid")
    json_error(stack.api("GET", "/api/calls/CA123"), 400, "detail of a malformed sid")
    json_error(stack.api("GET", "/api/calls/" + sid, token=None), 401, "detail without a token")
    json_error(stack.api("DELETE", "/api/calls/" + sid), 405, "DELETE of a call")


def retry(stack, sid, stage, token="default"):
    return stack.api("POST", "/api/calls/%s/retry" % sid, token=token, body={"stage": stage})


def test_api_retry_refusals(stack):
    info, _ = stack.api_call()
    sid = info["call_sid"]
    before = stack.row(sid)
    for stage in ("recording", "transcript", "summary"):
        err = json_error(retry(stack, sid, stage), 409, "retry %s of a completed call" % stage,
                         names=(stage, "completed"))
        check("not failed" in err, "409 error %r does not say 'not failed'", err)
    check(err.startswith("summary is completed, not failed"), "the 409 error text %r does "
          "not start with the contract's 'summary is completed, not failed'", err)
    for body, what in (({}, "no stage"), ({"stage": "transcription"}, "unknown stage"),
                       ({"stage": 1}, "stage not a string"), ("not json", "not JSON"),
                       ("", "empty body")):
        r = stack.api("POST", "/api/calls/%s/retry" % sid, body=body,
                      headers={"Content-Type": "application/json"})
        json_error(r, 400, "retry with %s" % what)
    json_error(retry(stack, new_sid("CA"), "transcript"), 404, "retry of an unknown call")
    json_error(retry(stack, sid, "transcript", token=None), 401, "retry without a token")
    json_error(stack.api("GET", "/api/calls/%s/retry" % sid), 405, "GET of retry")
    after = stack.row(sid)
    for k in ("recording_status", "transcript_status", "summary_status", "retry_count",
              "last_error"):
        eq(after[k], before[k], "%s after the refused retries" % k)

    # A pending stage is refused too, with its status.
    biz = stack.new_business()
    s2 = stack.insert_calls(biz["id"], [{"recording_status": "failed",
                                         "transcript_status": "pending",
                                         "summary_status": "pending",
                                         "last_error": "fetch: HTTP 500"}])[0]
    json_error(retry(stack, s2, "transcript", biz["token"]), 409, "retry of a pending stage",
               names=("transcript is pending, not failed",))


def test_api_retry_transcript(stack):
    info, _, row = stack.completed_call("short")
    sid = info["call_sid"]
    n = stack.execute("UPDATE call_log SET transcript_status = 'failed', summary_status = "
                      "'pending', last_error = 'itest: transcript failed' WHERE call_sid = %s",
                      (sid,))
    eq(n, 1, "rows marked failed")
    lst = stack.list_calls(state="failed", stage="transcript", limit=200)
    check(sid in [c["call_sid"] for c in lst["calls"]],
          "the failed call is not in ?state=failed&stage=transcript")
    json_error(retry(stack, sid, "summary"), 409, "retry of the pending summary",
               names=("summary is pending",))
    json_error(retry(stack, sid, "recording"), 409, "retry of the completed recording",
               names=("recording is completed",))

    j = stack.api("POST", "/api/calls/%s/retry" % sid, body={"stage": "transcript"})
    eq(j.status, 202, "retry of the failed transcript (%r)" % j)
    body = j.json()
    eq(body.get("success"), True, "retry success")
    c = body.get("call") or {}
    eq(c.get("call_sid"), sid, "call_sid of the retried call")
    eq(c.get("recording_status"), "completed", "recording_status after the retry")
    check(c.get("transcript_status") in ("pending", "processing"),
          "transcript_status after the retry: %r", c.get("transcript_status"))
    eq(c.get("summary_status"), "pending", "summary_status after the retry")
    eq(c.get("retry_count"), row["retry_count"] + 1, "retry_count in the answer")
    check(c.get("last_error") is None, "last_error after the retry: %r", c.get("last_error"))
    db = stack.row(sid)
    eq(db["retry_count"], row["retry_count"] + 1, "retry_count in call_log")

    done = stack.wait_statuses(sid, timeout=90)
    eq(done["retry_count"], row["retry_count"] + 1, "retry_count after completing")
    check(done["last_error"] is None, "last_error after completing: %r", done["last_error"])
    keys = {j["dedupe_key"]: j["state"] for j in stack.stage_jobs(sid)}
    eq(keys.get("transcribe:%s:1" % sid), "done", "the retry's transcribe job (%r)" % keys)
    c = stack.call_detail(sid)
    eq(sum(1 for jb in c["jobs"] if jb["kind"] == "transcribe"), 2,
       "transcribe jobs in the detail after a retry")
    json_error(retry(stack, sid, "transcript"), 409, "a second retry once completed",
               names=("transcript is completed, not failed",))


def test_api_retry_recording(stack):
    info, st = stack.run_call("short", media_status=500)
    sid, re_sid = info["call_sid"], info["recording_sid"]
    try:
        stack.wait_stage(sid, "recording", "failed", 90)
        c = stack.call_detail(sid)
        eq(c["recording_status"], "failed", "recording_status in the detail")
        check(c["last_error"] and "500" in c["last_error"], "last_error %r", c["last_error"])
        check(any(jb["kind"] == "fetch_recording" and jb["state"] == "dead" for jb in c["jobs"]),
              "no dead fetch_recording job in the detail: %r", c["jobs"])
        json_error(retry(stack, sid, "transcript"), 409, "retry of the transcript after it",
                   names=("transcript is pending, not failed",))
    finally:
        stack.sim.set_media(re_sid, media_status=None)
    r = retry(stack, sid, "recording")
    eq(r.status, 202, "retry of the failed recording (%r)" % r)
    c = r.json()["call"]
    check(c["recording_status"] in ("pending", "recording"), "recording_status %r",
          c["recording_status"])
    eq((c["transcript_status"], c["summary_status"]), ("pending", "pending"),
       "later stages after the retry")
    eq(c["retry_count"], 1, "retry_count")
    row = stack.wait_statuses(sid, timeout=90)
    eq(row["retry_count"], 1, "retry_count after completing")
    keys = {j["dedupe_key"]: j["state"] for j in stack.stage_jobs(sid)}
    eq(keys.get("fetch:%s:1" % re_sid), "done", "the retry's fetch job (%r)" % keys)
    eq(stack.download(sid).status, 200, "download after the retried recording")
