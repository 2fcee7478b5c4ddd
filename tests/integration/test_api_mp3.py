"""?format=mp3 is encoded by the worker (libsndfile, MPEG Layer III) from
the stored WAV and cached beside it (issue 6): the download is an MP3 that
sox decodes, as long as the WAV within 0.2 s and not silent, it is not
Twilio's MP3 (callpipe never asked Twilio for one), and with the MP3
removed from the cache (the WAV kept) the download queues a refill that
encodes it again.
"""

import io
import os
import re
import subprocess
import tempfile
import time
import wave

from cplib import check, eq, json_error

TIMEOUT = 120


def get_mp3(stack, sid, timeout=20):
    """The mp3 download, waiting through 503s (a miss being refilled)."""
    deadline = time.monotonic() + timeout
    while True:
        r = stack.download(sid, fmt="mp3")
        if r.status != 503 or time.monotonic() >= deadline:
            return r
        json_error(r, 503, "mp3 download while it is refilled")
        time.sleep(0.5)


def wav_seconds(data):
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / float(w.getframerate())


def decode(mp3):
    """(seconds, max amplitude 0..1) of the MP3 as sox decodes it."""
    with tempfile.TemporaryDirectory(prefix="itest-mp3-") as tmp:
        src, dst = os.path.join(tmp, "a.mp3"), os.path.join(tmp, "a.wav")
        with open(src, "wb") as f:
            f.write(mp3)
        p = subprocess.run(["sox", src, dst], capture_output=True, text=True, timeout=60)
        eq(p.returncode, 0, "sox decoding the mp3 (stderr %r)" % p.stderr)
        with open(dst, "rb") as f:
            secs = wav_seconds(f.read())
        p = subprocess.run(["sox", dst, "-n", "stat"], capture_output=True, text=True,
                           timeout=60)
        m = re.search(r"Maximum amplitude:\s*([-0-9.e]+)", p.stderr)
        check(m is not None, "sox stat printed no maximum amplitude: %r", p.stderr)
        return secs, float(m.group(1))


def check_mp3(stack, sid, re_sid, what):
    r = get_mp3(stack, sid)
    eq(r.status, 200, "%s: mp3 download (%r)" % (what, r))
    eq((r.header("content-type") or "").split(";")[0].strip(), "audio/mpeg",
       "%s: Content-Type" % what)
    b = r.body
    check(b[:3] == b"ID3" or (len(b) > 2 and b[0] == 0xFF and (b[1] & 0xE0) == 0xE0),
          "%s: the mp3 starts with neither ID3 nor an MPEG frame sync: %r", what, b[:8])
    wav = stack.download(sid)
    eq(wav.status, 200, "%s: wav download" % what)
    want = wav_seconds(wav.body)
    got, peak = decode(b)
    check(abs(got - want) <= 0.2, "%s: the mp3 decodes to %.3f s, the wav is %.3f s "
          "(more than 0.2 s apart)", what, got, want)
    check(peak > 0.01, "%s: the decoded mp3 is silent (peak %.4f)", what, peak)
    check(stack.cached_file(re_sid, "mp3"), "%s: no mp3 cached beside the wav", what)
    return b


def test_api_mp3(stack):
    info, _ = stack.api_call()
    sid, re_sid = info["call_sid"], info["recording_sid"]
    b = check_mp3(stack, sid, re_sid, "after the call")
    asked = [m for m in stack.sim.call(sid).get("media_requests", [])
             if m["path"].endswith(".mp3")]
    check(not asked, "callpipe asked Twilio for an mp3: %r", asked)

    # The mp3 gone from the cache, the wav kept: a refill encodes it again.
    p = stack.cached_file(re_sid, "mp3")
    os.unlink(p)
    check(stack.cached_file(re_sid, "wav"), "the wav went with the mp3")
    b2 = check_mp3(stack, sid, re_sid, "after the mp3 was removed")
    eq(len(b2) > 0, True, "re-encoded mp3 bytes")
    check(any(j["kind"] == "refill_recording" for j in stack.jobs(sid)),
          "no refill_recording job for the missing mp3")
    eq(len(b2), len(b), "size of the mp3 encoded again from the same wav")
