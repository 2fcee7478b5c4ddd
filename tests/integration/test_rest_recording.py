"""recording.mode = "rest" (issue 7 item 1; DESIGN.md §3; rest_start.c).

The stack's callpipe-fcgi (twiml mode) is stopped and one of our own takes
its socket, with the same configuration but recording.mode "rest" and its
workers; at the end ours stops and `etc/dev.sh up` starts the stack's
again. Three calls run at once, each with the simulator's
expect_rest_recording (no <Start><Recording> in the TwiML):

- ringing: the call rings RINGING_S after the voice webhook, so Twilio's
  REST start answers 21220 and the Call resource says ringing; the job
  tries again every 250 ms within one run (attempts stays 1) and the
  recording starts once the call is answered. All three stages complete,
  the POST carried RecordingChannels=dual, Trim=do-not-trim, the callback
  URL and "in-progress completed absent", and recording_start_offset_ms
  (the 201's arrival minus the TwiML answer, the job's created_at) lies
  between RINGING_S and RINGING_S + SLACK_S.
- hangup: the call ends while ringing (CallStatus canceled): the stage
  fails with "call ended before the recording could start", the job is
  dead after one attempt.
- already: a recording is already running when the call is answered, so
  the REST start answers 16108 ("already recording"): counted as started,
  the stage completes with that recording, no offset is stored.
"""

from cplib import check, eq

TIMEOUT = 240

RINGING_S = 2.0
SLACK_S = 4.0


def test_rest_recording(stack):
    with stack.fcgi_replaced({"recording.mode": "rest"}) as inst:
        _run_calls(stack, inst)


def _run_calls(stack, inst):
    ring = stack.start_call("short", expect_rest_recording=True, ringing_s=RINGING_S)
    hang = stack.start_call("short", expect_rest_recording=True, ringing_s=1.5,
                            hangup_while_ringing=True)
    already = stack.start_call("short", expect_rest_recording=True,
                               already_recording=True)

    # ringing, then answered: recorded from the REST start.
    sid = ring["call_sid"]
    st = stack.sim.wait_call(sid, 60)
    eq(st["state"], "completed", "simulator state (errors %r)" % st["errors"])
    check("<Start>" not in (st["twiml"] or ""), "TwiML has <Start>: %r", st["twiml"])
    attrs = st["recording_attrs"] or {}
    eq(attrs.get("channels"), "dual", "RecordingChannels")
    eq(attrs.get("trim"), "do-not-trim", "Trim")
    eq(attrs.get("recordingStatusCallback"), stack.base_url + "/webhook/handle_recording",
       "RecordingStatusCallback")
    eq(attrs.get("recordingStatusCallbackEvent"), "in-progress completed absent",
       "RecordingStatusCallbackEvent")
    eq((st["recording"] or {}).get("source"), "StartCallRecordingAPI", "recording source")
    row = stack.wait_statuses(sid, timeout=120)
    eq(row["recording_sid"], ring["recording_sid"], "recording_sid")
    eq(row["recording_channels"], 2, "recording_channels")
    off = row["recording_start_offset_ms"]
    check(off is not None and RINGING_S * 1000 <= off <= (RINGING_S + SLACK_S) * 1000,
          "recording_start_offset_ms %r not within [%d, %d] ms", off,
          RINGING_S * 1000, (RINGING_S + SLACK_S) * 1000)
    starts = [j for j in stack.jobs(sid) if j["kind"] == "start_recording"]
    eq([(j["dedupe_key"], j["state"], j["attempts"]) for j in starts],
       [("start:" + sid, "done", 1)], "start_recording job (21220 tries not counted)")
    ring_off = off

    # ended while ringing: the stage fails, one attempt.
    sid = hang["call_sid"]
    row = stack.wait_row(sid, lambda r: r is not None and r["recording_status"] == "failed",
                         timeout=60, what="recording failed")
    check("call ended before the recording could start" in (row["last_error"] or ""),
          "last_error %r", row["last_error"])
    eq(row["call_status"], "canceled", "call_status")
    eq(row["recording_start_offset_ms"], None, "recording_start_offset_ms")
    starts = [j for j in stack.jobs(sid) if j["kind"] == "start_recording"]
    eq([(j["state"], j["attempts"]) for j in starts], [("dead", 1)],
       "start_recording job of the unanswered call")

    # already recording (16108): counted as started.
    sid = already["call_sid"]
    st = stack.sim.wait_call(sid, 60)
    eq(st["state"], "completed", "simulator state (errors %r)" % st["errors"])
    row = stack.wait_statuses(sid, timeout=120)
    eq(row["recording_sid"], already["recording_sid"], "recording_sid")
    eq(row["recording_start_offset_ms"], None, "recording_start_offset_ms (16108)")
    starts = [j for j in stack.jobs(sid) if j["kind"] == "start_recording"]
    eq([(j["state"], j["attempts"]) for j in starts], [("done", 1)],
       "start_recording job after 16108")
    log = inst.log()
    check("already active (16108)" in log, "the worker log does not mention 16108")
    print("  ringing call: recording_start_offset_ms %d (rang %.1f s)" % (ring_off, RINGING_S))
