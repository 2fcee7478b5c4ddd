"""A download's cache miss never holds a FastCGI child for long (issue 6,
"No request holds a child for long").

On a miss the download route queues a refill_recording job and waits at
most recording.miss_wait_ms for the file. Call 1: the worker refills at
once, so the waiting request itself answers 200 with Twilio's bytes. Call
2: Twilio (the simulator, media_delay_s) stalls longer than the wait, so
the answer is 503 with Retry-After and a JSON error within miss_wait_ms +
1 s; while 8 such downloads run at once (twice), signed webhooks keep
being answered within 1 s, and at most fcgi.children - 1 of the 8 wait
(the others answer at once). When the stall ends the refill job has
stored the file (no call_log status changed) and the download answers
200. The misses fetched from Twilio only through the refill jobs.
"""

import os
import threading
import time

from cplib import check, eq, json_error, new_sid, parallel

TIMEOUT = 180
# Twilio waits 15 s for a webhook; 3 s leaves a loaded 2-core machine room
# while still far below a child held for a whole miss wait per webhook.
WEBHOOK_MAX_S = 3.0


def uncache(stack, re_sid):
    for ext in ("wav", "mp3"):
        p = stack.cached_file(re_sid, ext)
        while p is not None:
            os.unlink(p)
            p = stack.cached_file(re_sid, ext)


def timed_download(stack, sid):
    t0 = time.monotonic()
    r = stack.download(sid)
    return r, time.monotonic() - t0


def check_503(r, dt, limit_s, what):
    json_error(r, 503, what)
    ra = r.header("retry-after")
    check(ra is not None and ra.strip().isdigit() and int(ra) >= 1,
          "%s: Retry-After %r is not whole seconds >= 1", what, ra)
    check(dt <= limit_s, "%s: answered after %.2f s, more than miss_wait_ms + 1 s = %.1f s",
          what, dt, limit_s)


def test_api_download_miss(stack):
    wait_s = stack.conf_get("recording.miss_wait_ms") / 1000.0
    children = stack.conf_get("fcgi.children")
    limit_s = wait_s + 1.0
    stall_s = wait_s + 8.0
    check(stall_s * 1000 < stack.conf_get("twilio.request_timeout_ms"),
          "the stall must end before the worker's media timeout")
    (info1, _, row1), (info2, _, row2) = parallel(stack.completed_call,
                                                  [("short",), ("short",)])
    sid1, re1 = info1["call_sid"], info1["recording_sid"]
    sid2, re2 = info2["call_sid"], info2["recording_sid"]
    wav1 = stack.sim.recording_media(re1, "wav").body
    wav2 = stack.sim.recording_media(re2, "wav").body

    # Call 1: the file comes back while the request waits.
    uncache(stack, re1)
    r, dt = timed_download(stack, sid1)
    print("# miss refilled while waiting: 200 after %.2f s" % dt)
    eq(r.status, 200, "download of an uncached recording, Twilio answering (%r, %.2f s)" %
       (r, dt))
    check(dt <= limit_s, "the refilled download took %.2f s (miss_wait_ms + 1 s = %.1f s)",
          dt, limit_s)
    check(r.body == wav1, "refilled download: %d bytes differ from Twilio's %d",
          len(r.body), len(wav1))
    check(stack.cached_file(re1, "wav"), "the refill stored no file")
    eq(stack.wait_job(sid1, "refill_recording", ("done",), 20)["state"], "done",
       "call 1's refill job")

    # Call 2: Twilio stalls longer than the wait.
    media_before = len(stack.sim.call(sid2).get("media_requests", []))
    uncache(stack, re2)
    stack.sim.set_media(re2, media_delay_s=stall_s)
    try:
        t_stall = time.monotonic()
        r, first_dt = timed_download(stack, sid2)
        check_503(r, first_dt, limit_s, "download while Twilio stalls")
        # A slot was free and nobody else waited: the child waited for the file.
        check(first_dt >= wait_s * 0.9, "the first miss answered after %.2f s, before "
              "miss_wait_ms (%.1f s) with a waiting slot free", first_dt, wait_s)

        hooks, stop = [], threading.Event()

        def webhooks():
            while not stop.is_set():
                s = new_sid("CA")
                t0 = time.monotonic()
                try:
                    rr = stack.post_webhook("/webhook/call_status", stack.voice_params(
                        s, CallStatus="completed", CallDuration="3"))
                    hooks.append((rr.status, time.monotonic() - t0, s))
                except Exception as e:  # noqa: BLE001 - reported below
                    hooks.append((repr(e), time.monotonic() - t0, s))
                time.sleep(0.05)

        th = threading.Thread(target=webhooks, daemon=True)
        th.start()
        waves = []
        try:
            for _ in range(2):
                waves.append(parallel(timed_download, [(stack, sid2)] * 8))
        finally:
            stop.set()
            th.join(10)
        check(time.monotonic() - t_stall < stall_s,
              "the waves outlasted the stall (%.1f s): the test proves nothing",
              time.monotonic() - t_stall)
        for w, wave in enumerate(waves):
            for i, (r, dt) in enumerate(wave):
                check_503(r, dt, limit_s, "wave %d download %d of 8" % (w + 1, i + 1))
            slow = [dt for _, dt in wave if dt > wait_s * 0.8]
            check(len(slow) <= children - 1,
                  "wave %d: %d of 8 downloads waited (%s s); at most fcgi.children - 1 = %d "
                  "may", w + 1, len(slow), ", ".join("%.2f" % x for x in slow), children - 1)
        print("# miss: first 503 after %.2f s; waves: max %s s, waited %s of 8; webhooks: "
              "%d, max %.3f s" % (first_dt, ["%.2f" % max(x for _, x in w) for w in waves],
                                  [sum(1 for _, x in w if x > wait_s * 0.8) for w in waves],
                                  len(hooks), max([h[1] for h in hooks] or [0])))
        check(len(hooks) >= 3, "only %d webhooks were sent during the downloads", len(hooks))
        bad = [h for h in hooks if h[0] != 204 or h[1] > WEBHOOK_MAX_S]
        check(not bad, "webhooks during the downloads not answered 204 within %.1f s: %r "
              "(of %d)", WEBHOOK_MAX_S, bad[:5], len(hooks))
        for _, _, s in hooks[:3]:
            check(stack.row(s) is not None, "webhook %s stored no call_log row", s)
    finally:
        stack.sim.set_media(re2, media_delay_s=0)

    # The stall ends: the refill job stores the file, and changes no status.
    job = stack.wait_job(sid2, "refill_recording", ("done",), stall_s + 30)
    check(stack.cached_file(re2, "wav"), "no cached file after the refill job %r", job)
    r = stack.download(sid2)
    eq(r.status, 200, "download after the stall (%r)" % r)
    check(r.body == wav2, "download after the stall: %d bytes differ from Twilio's %d",
          len(r.body), len(wav2))
    row = stack.row(sid2)
    for k in ("recording_status", "transcript_status", "summary_status", "retry_count",
              "last_error"):
        eq(row[k], row2[k], "call_log %s after the refill" % k)
    refills = [j for j in stack.jobs(sid2) if j["kind"] == "refill_recording"]
    minutes = {j["dedupe_key"] for j in refills}
    eq(len(minutes), len(refills), "refill dedupe keys are distinct")
    check(1 <= len(refills) <= 2, "%d refill jobs for 17 misses within about a minute "
          "(one per recording and minute): %r", len(refills),
          [(j["dedupe_key"], j["state"]) for j in refills])
    for j in refills:
        check(j["dedupe_key"].startswith("refill:%s:" % re2), "refill dedupe key %r",
              j["dedupe_key"])
    media = len(stack.sim.call(sid2).get("media_requests", [])) - media_before
    attempts = sum(j["attempts"] for j in refills)
    check(1 <= media <= attempts, "%d media requests to Twilio for %d refill attempts: the "
          "download route must not fetch itself", media, attempts)
