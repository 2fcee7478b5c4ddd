"""The download route answers 503 with Retry-After when the recording is not
in the cache and Twilio fails to serve it, and serves it once Twilio is back.

DESIGN.md §6: a cache miss queues a refill_recording job for the worker and
waits recording.miss_wait_ms for it; an upstream failure is not an empty
success. Once Twilio is back, a client that comes back as Retry-After says
gets the file: a second request wakes the refill that sleeps out its
backoff (queue_wake), so it comes within a few tries, not after the backoff.
"""

import os
import time

from cplib import check, eq


def test_download_twilio_down(stack):
    info, _, _ = stack.completed_call("short")
    sid, re_sid = info["call_sid"], info["recording_sid"]
    path = os.path.join(stack.cache_dir, re_sid + ".wav")
    check(os.path.exists(path), "recording not cached at %s", path)
    os.unlink(path)   # a cache miss: e.g. another web host, or purged

    stack.sim.set_media(re_sid, media_status=500)
    r = stack.download(sid)
    eq(r.status, 503, "download while Twilio answers 500 (body %r)" % r.body[:200])
    check(r.header("retry-after"), "no Retry-After header: %r", r.headers_list)
    body = r.json()
    eq(body.get("success"), False, "error JSON success")
    check(body.get("error"), "error JSON without a reason: %r", body)
    check(not os.path.exists(path), "a failed fetch left a file at %s", path)

    stack.sim.set_media(re_sid, media_status=None)
    t0 = time.monotonic()
    for attempt in range(5):
        r = stack.download(sid)
        if r.status != 503:
            break
        time.sleep(min(float(r.header("retry-after") or 1), 2))
    eq(r.status, 200, "download once Twilio is back (try %d)" % (attempt + 1))
    check(time.monotonic() - t0 < 8, "the file came back only after %.1f s",
          time.monotonic() - t0)
    want = stack.sim.recording_media(re_sid, "wav").body
    check(r.body == want, "downloaded %d bytes differ from Twilio's %d", len(r.body), len(want))
