"""SIGTERM to the children lets a request in progress finish.

A download whose recording is not cached makes the serving child wait for
the worker's refill_recording job (at most recording.miss_wait_ms, 1500 ms
here); with media_delay_s 0.8 that takes > 0.8 s. 0.4 s into it every
child gets SIGTERM (we do not know which one serves). The child that
serves must finish the request (200, every byte), the idle ones leave, and
the master starts new children.
"""

import os
import signal
import threading
import time

from cplib import check, eq


def test_fcgi_sigterm_slow_request(stack):
    n = stack.conf_get("fcgi.children")
    info, st, row = stack.completed_call("short")
    sid, re_sid = info["call_sid"], info["recording_sid"]
    want = stack.sim.recording_media(re_sid, "wav").body
    cached = os.path.join(stack.cache_dir, re_sid + ".wav")
    check(os.path.isfile(cached), "%s is not cached after completion", cached)
    os.unlink(cached)
    media_before = len(stack.sim.call(sid).get("media_requests", []))
    wait_ms = stack.conf_get("recording.miss_wait_ms") or 1500
    check(int(wait_ms) >= 1500, "recording.miss_wait_ms %s: this test needs >= 1500", wait_ms)
    stack.sim.set_media(re_sid, media_delay_s=0.8)

    master = stack.fcgi_master_pid()
    kids = stack.wait_children(lambda k: len(k) == n, 10, "%d children" % n)
    box = {}

    def fetch():
        t0 = time.monotonic()
        try:
            box["r"] = stack.download(sid)
        except BaseException as e:  # noqa: B902 - reported below
            box["e"] = e
        box["dt"] = time.monotonic() - t0

    t = threading.Thread(target=fetch, daemon=True)
    t.start()
    time.sleep(0.4)
    check(t.is_alive(), "the download ended within 0.4 s: the media delay did not apply (%r)",
          box)
    for pid in kids:
        os.kill(pid, signal.SIGTERM)
    t.join(30)
    stack.sim.set_media(re_sid, media_delay_s=0)
    check(not t.is_alive(), "the download did not end within 30 s of SIGTERM")
    if "e" in box:
        raise box["e"]
    r = box["r"]
    eq(r.status, 200, "download during SIGTERM (%r)" % r)
    check(box["dt"] >= 0.75, "the download took %.1f s: it was not slowed by the media delay",
          box["dt"])
    eq(len(r.body), len(want), "bytes of the download")
    check(r.body == want, "downloaded bytes differ from the simulator's recording")
    media_after = len(stack.sim.call(sid).get("media_requests", []))
    check(media_after > media_before, "the refill did not fetch from Twilio (cache miss)")

    after = stack.wait_children(lambda k: len(k) == n and not set(k) & set(kids), 15,
                                "all %d children replaced" % n)
    eq(stack.fcgi_master_pid(), master, "master pid")
    for i in range(4):
        r = stack.https("GET", "/healthz")
        eq(r.status, 200, "GET /healthz #%d after the respawn" % i)
    check(after, "no children")
