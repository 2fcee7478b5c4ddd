"""Signed download URLs (issue 6, "Signed URLs").

POST /api/calls/<sid>/download-url mints
/api/calls/<sid>/download?format=&expires=&sig= with sig = hex
HMAC-SHA256(api.signing_key, "GET\\n<path>\\n<sid>\\n<format>\\n<expires>\\n<business_id>");
the URL downloads with no Authorization header (200, and 206 for a Range
through nginx). Every field tampered -> 403 (sid, format, expires, sig, and
the business: a signature made for another business's call, or for this
call under another business id); expired -> 403 before any lookup; ttl_s
outside 1..api.signed_url_ttl_s -> 400. Key rotation: a callpipe-fcgi of
our own (its own socket, spoken to over FastCGI) whose
api.signing_key_previous is the key that signed accepts the URL, and
refuses one signed with a key it does not know.
"""

import secrets
import time

from cplib import (check, download_sig, eq, json_error, new_sid, signed_path,
                   split_url)

TIMEOUT = 180


def wait_jobs_done(stack, sid, timeout_s=30):
    """Waits until none of the call's jobs is queued or running."""
    end = time.monotonic() + timeout_s
    while True:
        busy = [j["kind"] for j in stack.jobs(sid) if j["state"] in ("queued", "running")]
        if not busy:
            return
        check(time.monotonic() < end, "jobs of %s still queued or running after %d s: %r",
              sid, timeout_s, busy)
        time.sleep(0.2)


def test_api_signed_url(stack):
    info, _ = stack.api_call()
    sid, re_sid = info["call_sid"], info["recording_sid"]
    bid, key = stack.business_id, stack.signing_key
    wav = stack.sim.recording_media(re_sid, "wav").body
    ttl_max = stack.conf_get("api.signed_url_ttl_s")

    t0 = time.time()
    url, exp, q = stack.mint(sid)
    check(abs(int(q["expires"]) - (t0 + ttl_max)) <= 5,
          "expires %s is not now + %d s (the default ttl)", q["expires"], ttl_max)
    eq(q["sig"], download_sig(key, sid, "wav", int(q["expires"]), bid),
       "sig vs HMAC-SHA256 of the contract's message under api.signing_key")

    r = stack.get_url(url)
    eq(r.status, 200, "GET of the signed URL, no Authorization (%r)" % r)
    check(r.body == wav, "signed download: %d bytes differ from Twilio's %d", len(r.body),
          len(wav))
    r = stack.get_url(url, {"Range": "bytes=100-"})
    eq(r.status, 206, "Range bytes=100- of the signed URL (%r)" % r)
    eq(r.header("content-range"), "bytes 100-%d/%d" % (len(wav) - 1, len(wav)), "Content-Range")
    check(r.body == wav[100:], "the 206 body is not bytes 100- of the recording")
    r = stack.get_url(url, method="HEAD")
    eq(r.status, 200, "HEAD of the signed URL (%r)" % r)
    eq(r.body, b"", "HEAD body")

    # mp3 and a short ttl; ttl_s at the maximum is fine.
    url3, _, q3 = stack.mint(sid, fmt="mp3", ttl_s=60)
    check(abs(int(q3["expires"]) - (time.time() + 60)) <= 5, "expires of ttl_s 60: %s",
          q3["expires"])
    r = stack.get_url(url3)
    eq(r.status, 200, "GET of the signed mp3 URL (%r)" % r)
    eq((r.header("content-type") or "").split(";")[0], "audio/mpeg", "mp3 Content-Type")
    stack.mint(sid, ttl_s=ttl_max)
    stack.mint(sid, ttl_s=1)

    # Bad bodies: 400 naming the field.
    for body, name in (({"ttl_s": 0}, "ttl_s"), ({"ttl_s": -5}, "ttl_s"),
                       ({"ttl_s": ttl_max + 1}, "ttl_s"), ({"ttl_s": 86401}, "ttl_s"),
                       ({"ttl_s": "60"}, "ttl_s"), ({"ttl_s": 1.5}, "ttl_s"),
                       ({"format": "ogg"}, "format"), ({"format": "WAV"}, "format"),
                       ({"format": 3}, "format")):
        json_error(stack.download_url(sid, body), 400, "download-url %r" % body, names=(name,))
    r = stack.api("POST", "/api/calls/%s/download-url" % sid, body="{not json",
                  headers={"Content-Type": "application/json"})
    json_error(r, 400, "download-url with a body that is not JSON")
    r = stack.download_url(sid, token=None)
    json_error(r, 401, "download-url without a token")

    # Tampering: every field, each alone -> 403 (JSON).
    b = stack.new_business()
    b_sid = stack.insert_calls(b["id"], [{"to_number": b["numbers"][0]}])[0]
    e = int(q["expires"])
    sig = q["sig"]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    cases = [
        ("sid: an unknown call", signed_path(new_sid("CA"), "wav", e, sig)),
        ("sid: another business's call, same sig", signed_path(b_sid, "wav", e, sig)),
        ("format wav -> mp3", signed_path(sid, "mp3", e, sig)),
        ("expires + 1", signed_path(sid, "wav", e + 1, sig)),
        ("expires + 1 day", signed_path(sid, "wav", e + 86400, sig)),
        ("sig: last digit changed", signed_path(sid, "wav", e, flipped)),
        ("sig: upper case", signed_path(sid, "wav", e, sig.upper())),
        ("sig: 63 digits", signed_path(sid, "wav", e, sig[:-1])),
        ("sig: empty", signed_path(sid, "wav", e, "")),
        ("sig: of another business id",
         signed_path(sid, "wav", e, download_sig(key, sid, "wav", e, b["id"]))),
        ("sig: made for B's call under A's business",
         signed_path(b_sid, "wav", e, download_sig(key, b_sid, "wav", e, bid))),
        ("sig: under an unknown key",
         signed_path(sid, "wav", e, download_sig(secrets.token_hex(32), sid, "wav", e, bid))),
        ("expired, right sig",
         signed_path(sid, "wav", int(time.time()) - 5,
                     download_sig(key, sid, "wav", int(time.time()) - 5, bid))),
        ("expired, unknown sid, bad sig",
         signed_path(new_sid("CA"), "wav", int(time.time()) - 5, "0" * 64)),
    ]
    for what, path in cases:
        json_error(stack.get_url(path), 403, "signed URL, %s (%s)" % (what, path))
    # Expired is refused before any lookup: no call_log SELECT at all, while
    # the same URL unexpired reads the call's business (so the capture works).
    # The workers share the database user: the call's own jobs (the
    # delayed reconcile) are waited out first, and only statements naming
    # the call count (the periodic sweep reads call_log meanwhile).
    wait_jobs_done(stack, sid)
    past = int(time.time()) - 5
    box = {}
    sqls = stack.capture_sql(lambda: box.update(r=stack.get_url(
        signed_path(sid, "wav", past, download_sig(key, sid, "wav", past, bid)))),
        match=r"\bcall_log\b.*" + sid)
    json_error(box["r"], 403, "expired URL under the general log")
    eq(sqls, [], "call_log SELECTs of the call for an expired signed URL")
    sqls = stack.capture_sql(lambda: box.update(r=stack.get_url(
        signed_path(sid, "wav", e, sig))), match=r"\bcall_log\b.*" + sid)
    eq(box["r"].status, 200, "a valid signed URL under the general log (%r)" % box["r"])
    check(any(sid in q for q in sqls), "a valid signed URL read no call_log row: %r", sqls)
    # The mp3 URL's sig does not open the wav.
    json_error(stack.get_url(signed_path(sid, "wav", int(q3["expires"]), q3["sig"])), 403,
               "the mp3 URL's sig with format=wav")
    # A URL minted here in Python with the right fields works (so the 403s
    # above are the tampered field, not our minting).
    e2 = int(time.time()) + 120
    r = stack.get_url(signed_path(sid, "mp3", e2, download_sig(key, sid, "mp3", e2, bid)))
    eq(r.status, 200, "a URL signed here with the stack's key (%r)" % r)
    # Missing signature fields, no header: not served.
    for path in ("/api/calls/%s/download?format=wav&expires=%d" % (sid, e),
                 "/api/calls/%s/download?format=wav&sig=%s" % (sid, sig)):
        r = stack.get_url(path)
        check(r.status in (401, 403), "%s: %r, want 401 or 403", path, r)
    # The signature opens the download only, not the rest of the API.
    _, qs = split_url(url)
    r = stack.get_url("/api/calls/%s?format=wav&expires=%s&sig=%s" % (sid, qs["expires"],
                                                                     qs["sig"]))
    json_error(r, 401, "a signature on the detail route")

    # A real expiry: ttl_s 1 works at once and is refused 2.2 s later.
    u1, exp1, _ = stack.mint(sid, ttl_s=1)
    r = stack.get_url(u1)
    if time.time() < exp1.timestamp():
        eq(r.status, 200, "a 1 s URL at once (%r)" % r)
    time.sleep(max(0.0, exp1.timestamp() - time.time()) + 1.2)
    json_error(stack.get_url(u1), 403, "a 1 s URL after it expired")


def test_api_signed_url_key_rotation(stack):
    info, _ = stack.api_call()
    sid = info["call_sid"]
    bid, old = stack.business_id, stack.signing_key
    new, stranger = secrets.token_hex(32), secrets.token_hex(32)
    e = int(time.time()) + 120

    def path(k):
        return signed_path(sid, "wav", e, download_sig(k, sid, "wav", e, bid))

    with stack.fcgi_instance({"api.signing_key": new, "api.signing_key_previous": old}) as inst:
        for k, what in ((old, "the previous key"), (new, "the current key")):
            r = inst.request("GET", path(k))
            eq(r.status, 200, "rotated callpipe-fcgi, URL signed with %s (%r; log %s)" %
               (what, r, inst.log()[-800:]))
            check(r.header("x-accel-redirect"), "no X-Accel-Redirect for %s: %r", what,
                  r.headers_list)
        r = inst.request("GET", path(stranger))
        json_error(r, 403, "rotated callpipe-fcgi, URL signed with an unknown key")
        # It mints with its current key: nginx's callpipe-fcgi (which knows
        # only the old key) refuses that URL.
        r = inst.request("POST", "/api/calls/%s/download-url" % sid,
                         {"Authorization": "Bearer " + stack.token,
                          "Content-Type": "application/json"}, b'{"ttl_s": 60}')
        eq(r.status, 200, "download-url from the rotated callpipe-fcgi (%r)" % r)
        url = r.json()["url"]
        _, q = split_url(url)
        eq(q["sig"], download_sig(new, sid, "wav", int(q["expires"]), bid),
           "the rotated callpipe-fcgi signs with its current key")
        json_error(stack.get_url(url), 403, "the stack refuses a URL under a key it does not know")
    eq(stack.get_url(path(old)).status, 200, "the stack accepts its own key")

    # Without signing_key_previous the old key is refused.
    with stack.fcgi_instance({"api.signing_key": new}) as inst:
        json_error(inst.request("GET", path(old)), 403,
                   "callpipe-fcgi without signing_key_previous, URL under the old key")
        eq(inst.request("GET", path(new)).status, 200, "the same, URL under its key")
