"""Media that answers 404 for a while after completion is fetched later.

TWILIO.md: a recording fetched before it is processed may answer 404.
With media_404_seconds 2 the fetch job fails, backs off (base 500 ms in the
local stack) and succeeds on a later attempt; the stage ends completed and
the stored file is exactly Twilio's.
"""

import os

from cplib import check, eq


def test_media_404_then_ok(stack):
    info, st = stack.run_call("short", media_404_seconds=2.0)
    sid, re_sid = info["call_sid"], info["recording_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))

    row = stack.wait_statuses(sid, timeout=90)
    fetch = [j for j in stack.jobs(sid) if j["kind"] == "fetch_recording"]
    eq(len(fetch), 1, "fetch jobs")
    eq(fetch[0]["dedupe_key"], "fetch:" + re_sid, "fetch dedupe_key")
    eq(fetch[0]["state"], "done", "fetch job state")
    check(fetch[0]["attempts"] > 1, "fetch job took %d attempt(s); the 404s were not retried",
          fetch[0]["attempts"])
    check(fetch[0]["attempts"] <= fetch[0]["max_attempts"], "attempts %d > max_attempts %d",
          fetch[0]["attempts"], fetch[0]["max_attempts"])
    check(row["last_error"] is None, "last_error left after success: %r", row["last_error"])

    st = stack.sim.call(sid)
    media = [m.get("status") for m in st.get("media_requests", [])]
    check(media, "the simulator saw no media request")
    check(404 in media, "no media request answered 404: %r", media)
    first_ok = media.index(200) if 200 in media else None
    check(first_ok is not None, "no media request answered 200: %r", media)
    check(all(s == 404 for s in media[:first_ok]) and first_ok >= 1,
          "media answers are not 404s then 200: %r", media)
    check(fetch[0]["attempts"] >= media.count(404),
          "%d 404s but only %d attempts", media.count(404), fetch[0]["attempts"])

    want = stack.sim.recording_media(re_sid, "wav").body
    path = os.path.join(stack.cache_dir, re_sid + ".wav")
    with open(path, "rb") as f:
        got = f.read()
    check(got == want, "cached %s (%d bytes) differs from Twilio's (%d bytes)", path,
          len(got), len(want))
