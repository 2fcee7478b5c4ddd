"""The download route's authentication, tenancy, retention and formats.

DESIGN.md §6/§7, order of checks: credentials (401), sid format (400),
call of this business (404, also for another business's call), retention
(410), recording held (404). Errors are JSON {"success": false, "error"}.
?format=mp3 serves the MP3 the worker encoded from the stored WAV
(libsndfile, MPEG Layer III) as audio/mpeg: decodable (sox), of the WAV's
duration and channels.
"""

import os
import subprocess
import tempfile

from cplib import check, eq, new_sid


def audio_info(data, ext):
    """(seconds, channels) of audio bytes as sox decodes them (soxi)."""
    fd, path = tempfile.mkstemp(suffix="." + ext)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        secs = float(subprocess.check_output(["soxi", "-D", path], text=True))
        chans = int(subprocess.check_output(["soxi", "-c", path], text=True))
    finally:
        os.unlink(path)
    return secs, chans


def json_error(r, status, what):
    eq(r.status, status, "%s: status (%r)" % (what, r))
    ct = (r.header("content-type") or "").split(";")[0].strip()
    eq(ct, "application/json", "%s: Content-Type" % what)
    j = r.json()
    eq(j.get("success"), False, "%s: success" % what)
    check(isinstance(j.get("error"), str) and j["error"], "%s: no error text in %r", what, j)
    return j


def test_download_auth(stack):
    other_bid, other_tok = stack.other_business_token()
    check(other_bid != stack.business_id, "the second business got the demo's id")
    info, st, row = stack.completed_call("short")
    sid, re_sid = info["call_sid"], info["recording_sid"]

    # Credentials first.
    json_error(stack.download(sid, token=None), 401, "no token")
    json_error(stack.download(sid, token="x" * 43), 401, "unknown token")
    json_error(stack.download(sid, headers={"Authorization": "Basic dXNlcjpwYXNz"},
                              token=None), 401, "Basic credentials")
    json_error(stack.download("CA123", token=None), 401, "no token and a bad sid")
    # Then the sid, then the business.
    json_error(stack.download("CA123"), 400, "malformed sid")
    json_error(stack.download("CA" + "Z" * 32), 400, "non-hex sid")
    json_error(stack.download(new_sid("CA")), 404, "unknown call")
    json_error(stack.download(sid, token=other_tok), 404, "another business's token")
    json_error(stack.download(sid, token=other_tok, fmt="mp3"), 404,
               "another business's token, mp3")

    # The owner: WAV is the default (equal to Twilio's), MP3 on request.
    r = stack.download(sid)
    eq(r.status, 200, "owner's download (%r)" % r)
    eq(r.body, stack.sim.recording_media(re_sid, "wav").body, "WAV bytes")
    r = stack.download(sid, fmt="mp3")
    eq(r.status, 200, "mp3 download (%r)" % r)
    eq((r.header("content-type") or "").split(";")[0].strip(), "audio/mpeg", "mp3 Content-Type")
    b = r.body
    check(b[:3] == b"ID3" or (len(b) > 2 and b[0] == 0xFF and (b[1] & 0xE0) == 0xE0),
          "mp3 download does not start with ID3 or an MPEG frame sync: %r", b[:8])
    wav_s, wav_ch = audio_info(stack.sim.recording_media(re_sid, "wav").body, "wav")
    mp3_s, mp3_ch = audio_info(b, "mp3")
    check(abs(mp3_s - wav_s) <= 0.2, "mp3 lasts %.2f s, the WAV %.2f s", mp3_s, wav_s)
    eq(mp3_ch, wav_ch, "mp3 channels")
    json_error(stack.download(sid, fmt="ogg"), 400, "format=ogg")

    # Older than the retention period (7 days): 410, even with the file cached.
    old = stack.execute("UPDATE call_log SET ended_at = NOW() - INTERVAL 8 DAY "
                        "WHERE call_sid = %s", (sid,))
    eq(old, 1, "rows aged")
    try:
        json_error(stack.download(sid), 410, "call past retention")
        json_error(stack.download(sid, token=other_tok), 404,
                   "another business's call past retention")
    finally:
        stack.execute("UPDATE call_log SET ended_at = NOW() WHERE call_sid = %s", (sid,))
    eq(stack.download(sid).status, 200, "download after restoring ended_at")

    # A call whose recording is not held yet: 404.
    sid2 = new_sid("CA")
    r = stack.post_webhook("/webhook/incoming_call", stack.voice_params(sid2))
    eq(r.status, 200, "incoming_call for a call without recording")
    json_error(stack.download(sid2), 404, "call without a recording")
