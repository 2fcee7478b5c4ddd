"""A call whose voice webhook never reached the database still gets its
business, numbers and a downloadable recording.

If incoming_call is lost (the database was down while Twilio waited for the
TwiML: callpipe answers anyway and the recording starts), the recording and
status callbacks create the row without From/To, so business_id stays NULL
and no token could ever download it. The reconcile job, run when the call
ends, fetches the Call resource from Twilio's REST API and fills in
direction, from_number, to_number and the business. The simulator plays
this by never sending the voice webhook.
"""

from cplib import check, eq


def test_voice_webhook_lost(stack):
    info, st = stack.run_call("short", skip_voice_webhook=True,
                              to=stack.env["CALLPIPE_BUSINESS_NUMBER"])
    sid = info["call_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))
    voice = [e for e in st.get("events", []) if e.get("kind") == "voice"]
    eq(voice, [], "voice webhooks sent")

    row = stack.wait_row(sid, lambda r: r["business_id"] is not None, timeout=60,
                         what="business_id filled by reconcile")
    eq(row["business_id"], int(stack.env["CALLPIPE_BUSINESS_ID"]), "business_id")
    eq(row["direction"], "inbound", "direction")
    eq(row["to_number"], stack.env["CALLPIPE_BUSINESS_NUMBER"], "to_number")
    check(row["from_number"], "from_number not filled: %r", row["from_number"])
    eq(row["call_status"], "completed", "call_status kept by reconcile")

    stack.wait_statuses(sid, timeout=90)
    r = stack.download(sid)
    eq(r.status, 200, "download with the business's token (body %r)" % r.body[:200])
    want = stack.sim.recording_media(info["recording_sid"], "wav").body
    check(r.body == want, "downloaded %d bytes differ from Twilio's %d", len(r.body), len(want))
