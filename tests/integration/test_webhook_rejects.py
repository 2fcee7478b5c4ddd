"""Bad webhook requests are refused with the right 4xx and change nothing.

DESIGN.md §7, order of checks: method (405, Allow: POST), content type
(415), signature (403), AccountSid (403), SID formats (400). After each
refusal there is no call_log row and no job for the CallSid. A positive
control at the end sends the same payloads correctly, to show that only
the one defect made the difference.
"""

import json
import urllib.parse

from cplib import check, eq, new_sid


def assert_untouched(stack, call_sid, what):
    eq(stack.row(call_sid), None, "%s: call_log row" % what)
    eq(stack.jobs(call_sid), [], "%s: jobs" % what)


def test_webhook_rejects(stack):
    paths = ("/webhook/incoming_call", "/webhook/handle_recording",
             "/webhook/call_status")
    sids = []

    def params_for(path, call_sid):
        if path == "/webhook/handle_recording":
            return stack.recording_params(call_sid, new_sid("RE"))
        if path == "/webhook/call_status":
            return stack.voice_params(call_sid, CallStatus="completed", CallDuration="5")
        return stack.voice_params(call_sid)

    for path in paths:
        # Wrong signature (signed with another auth token), and none at all.
        sid = new_sid("CA")
        p = params_for(path, sid)
        r = stack.post_webhook(path, p, sign_token="0" * 32)
        eq(r.status, 403, "%s wrong signature" % path)
        r = stack.post_webhook(path, p, signature=False)
        eq(r.status, 403, "%s no signature" % path)
        # A signature over other values: the body was changed in transit.
        sig = stack.sign(stack.base_url + path, p)
        p2 = dict(p, From="+15559999999")
        r = stack.post_webhook(path, p2, signature=sig)
        eq(r.status, 403, "%s signature of another body" % path)
        assert_untouched(stack, sid, "%s bad signature" % path)
        sids.append((path, sid, p))

        # Another account's AccountSid, correctly signed.
        sid = new_sid("CA")
        p = params_for(path, sid)
        p["AccountSid"] = new_sid("AC")
        r = stack.post_webhook(path, p)
        eq(r.status, 403, "%s foreign AccountSid" % path)
        assert_untouched(stack, sid, "%s foreign AccountSid" % path)

        # Malformed CallSids, correctly signed.
        for bad in ("CA123", "CA" + "G" * 32, "ca" + "0" * 32, "CA" + "0" * 33,
                    "CA" + "0" * 31 + "'"):
            p = params_for(path, bad)
            r = stack.post_webhook(path, p)
            eq(r.status, 400, "%s CallSid %r" % (path, bad))
            eq(stack.query("SELECT call_sid FROM call_log WHERE call_sid = %s", (bad,)), [],
               "%s: row for CallSid %r" % (path, bad))
            eq(stack.query("SELECT id FROM jobs WHERE call_sid = %s", (bad,)), [],
               "%s: jobs for CallSid %r" % (path, bad))

        # GET: 405 with Allow: POST.
        sid = new_sid("CA")
        q = urllib.parse.urlencode(params_for(path, sid))
        r = stack.https("GET", path + "?" + q)
        eq(r.status, 405, "GET %s" % path)
        check("POST" in (r.header("allow") or ""), "GET %s: Allow header %r", path,
              r.header("allow"))
        assert_untouched(stack, sid, "GET %s" % path)

        # Not a form: JSON and text bodies, signed as if they were forms.
        sid = new_sid("CA")
        p = params_for(path, sid)
        for ct, body in (("application/json", json.dumps(p)),
                         ("text/plain", urllib.parse.urlencode(p)),
                         ("multipart/form-data; boundary=x",
                          urllib.parse.urlencode(p))):
            r = stack.post_webhook(path, p, content_type=ct, body=body)
            eq(r.status, 415, "%s Content-Type %s" % (path, ct))
        assert_untouched(stack, sid, "%s non-form bodies" % path)

    # Whole simulated calls: signed with a wrong key, and from another
    # account (correctly signed). Every webhook is refused; the call fails
    # at its voice webhook and leaves nothing behind.
    for opts in ({"bad_signature": True}, {"account_sid": new_sid("AC")}):
        info = stack.start_call("short", **opts)
        st = stack.sim.wait_call(info["call_sid"], 30)
        eq(st["state"], "failed", "sim call %r state" % opts)
        evs = st.get("events", [])
        check(evs, "sim call %r sent no webhook", opts)
        for e in evs:
            eq(e.get("status"), 403, "sim call %r: answer to %s" % (opts, e.get("kind")))
        assert_untouched(stack, info["call_sid"], "sim call %r" % opts)

    # Positive control: the payloads refused for their signature are good.
    for path, sid, p in sids:
        r = stack.post_webhook(path, p)
        eq(r.status, 200 if path == "/webhook/incoming_call" else 204,
           "%s correctly signed (%r)" % (path, r))
        check(stack.row(sid) is not None, "%s correctly signed: no call_log row", path)
    rec_sid = sids[1][1]
    jobs = stack.jobs(rec_sid)
    eq([j["dedupe_key"] for j in jobs], ["fetch:" + sids[1][2]["RecordingSid"]],
       "jobs of the correctly signed recording callback")
