"""The live TwiML answer of incoming_call, through nginx, is right.

Well-formed XML (hostile attribute values are the C unit test's job;
here the real answer is parsed), text/xml, <Start><Recording> before
<Connect><Stream>, no <Record>, and every callback URL built from
public_base_url. Caller-controlled values with XML metacharacters are
stored verbatim and do not break the answer.
"""

import xml.etree.ElementTree as ET

from cplib import check, eq, new_sid


def test_twiml_escaping(stack):
    sid = new_sid("CA")
    hostile = "<\"'&>\u05e9"
    p = stack.voice_params(sid, From="+1555&<>", CallerName=hostile, FromCity=hostile)
    r = stack.post_webhook("/webhook/incoming_call", p)
    eq(r.status, 200, "incoming_call (%r)" % r)
    eq((r.header("content-type") or "").split(";")[0].strip(), "text/xml", "Content-Type")
    root = ET.fromstring(r.body)
    eq(root.tag, "Response", "root element")
    kids = list(root)
    eq([k.tag for k in kids], ["Start", "Connect"], "verbs of the answer")
    check(not any(e.tag == "Record" for e in root.iter()), "a <Record> verb in %r", r.text())

    rec = kids[0].find("Recording")
    check(rec is not None, "<Start> holds no <Recording>: %r", r.text())
    eq(rec.get("recordingStatusCallback"), stack.base_url + "/webhook/handle_recording",
       "recordingStatusCallback")
    eq(rec.get("channels"), "dual", "Recording channels")
    eq(rec.get("trim"), "do-not-trim", "Recording trim")
    eq(set((rec.get("recordingStatusCallbackEvent") or "").split()),
       {"in-progress", "completed", "absent"}, "recordingStatusCallbackEvent")

    conn = kids[1]
    eq(conn.get("action"), stack.base_url + "/webhook/stream_ended", "Connect action")
    stream = conn.find("Stream")
    check(stream is not None, "<Connect> holds no <Stream>: %r", r.text())
    eq(stream.get("url"), stack.conf_get("stream.url"), "Stream url")
    params = {e.get("name"): e.get("value") for e in stream.findall("Parameter")}
    eq(params.get("call_sid"), sid, "Stream Parameter call_sid")

    row = stack.row(sid)
    check(row is not None, "no call_log row")
    eq(row["from_number"], "+1555&<>", "from_number stored verbatim")
    eq(row["business_id"], stack.business_id, "business_id")

    # The outbound answer is built the same way.
    sid2 = new_sid("CA")
    r = stack.post_webhook("/webhook/outbound_call",
                           stack.voice_params(sid2, From=stack.business_number,
                                              To="+15551239999", Direction="outbound-api"))
    eq(r.status, 200, "outbound_call (%r)" % r)
    root = ET.fromstring(r.body)
    eq([k.tag for k in root], ["Start", "Connect"], "verbs of the outbound answer")
    eq(stack.row(sid2)["business_id"], stack.business_id, "outbound business (by From)")
    eq(stack.row(sid2)["direction"], "outbound-api", "outbound direction")

    # stream_ended answers an empty, well-formed <Response/>.
    r = stack.post_webhook("/webhook/stream_ended", {"CallSid": sid,
                                                     "AccountSid": stack.account_sid})
    eq(r.status, 200, "stream_ended (%r)" % r)
    root = ET.fromstring(r.body)
    eq((root.tag, len(root)), ("Response", 0), "stream_ended answer")
    check(stack.row(sid)["stream_ended_at"] is not None, "stream_ended_at not set")
