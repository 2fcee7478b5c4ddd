"""A full cache disk: the fetch is retried, then failed with "no space".

recording.cache_dir points at a new, small tmpfs (TMPFS_SIZE, far less
than a recording; callpipe-fcgi is restarted on a configuration copy and
back afterwards). Mounting is part of the test: a refused mount fails it.
One call: its fetch_recording job must run more than once (a full disk
is no reason to give up at once), end dead with the recording stage
failed and "no space" in last_error, and no partial recording may ever be
visible in the directory: it is polled every POLL_S during the test and
may only ever hold .tmp-* names (callpipe writes a temporary file and
renames it once complete) or complete recordings (none fit here); other
dot-files (the cache purge's per-day marker) are listed in the figures.
"""

import os
import re
import subprocess
import tempfile
import threading
import time

from cplib import TestFailure, check, eq
from faultlib import Deadline, fcgi_conf, fig, mounts_below, start_calls, wait_sim_done

TIMEOUT = 90
TMPFS_SIZE = "32k"
POLL_S = 0.01
RECORDING_RE = re.compile(r"^RE[0-9a-f]{32}\.(wav|mp3)$")
MEDIA_DELAY_S = 0.3


def _umount(path):
    for _ in range(20):
        if not mounts_below(path):
            return
        if subprocess.run(["umount", path], capture_output=True).returncode == 0:
            return
        time.sleep(0.25)
    subprocess.run(["umount", "-l", path], capture_output=True)


def test_cache_full(stack):
    dl = Deadline(TIMEOUT - 25)
    # Beside the cache, where the service user (callpipe-fcgi's children and
    # workers) and nginx's can reach it: run/ may be in a 0700 checkout.
    mp = tempfile.mkdtemp(prefix="fault-cache-", dir=os.path.dirname(stack.cache_dir))
    st0 = os.stat(stack.cache_dir)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=%o,uid=%d,gid=%d" % (
        TMPFS_SIZE, st0.st_mode & 0o7777, st0.st_uid, st0.st_gid), "tmpfs", mp],
        capture_output=True, text=True)
    try:
        check(out.returncode == 0, "mount -t tmpfs on %s refused (exit %d): %s", mp,
              out.returncode, (out.stderr or out.stdout).strip())
        names, partial = set(), set()
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    for n in os.listdir(mp):
                        names.add(n)
                        # A recording (none fits in TMPFS_SIZE) or a name
                        # callpipe has no business writing here.
                        if RECORDING_RE.match(n) or not n.startswith("."):
                            partial.add((n, os.path.getsize(os.path.join(mp, n))))
                except OSError:
                    pass
                time.sleep(POLL_S)

        with fcgi_conf(stack, {"recording.cache_dir": mp}):
            th = threading.Thread(target=poll, daemon=True)
            th.start()
            try:
                t0 = time.monotonic()
                # media_delay_s: each attempt's temporary file exists while
                # Twilio is slow to answer, so the poll sees it.
                info = start_calls(stack, 1, media_delay_s=MEDIA_DELAY_S)[0]
                sid = info["call_sid"]
                st = wait_sim_done(stack, [sid], dl)[sid]
                eq(st["state"], "completed", "sim state (errors %r)" % st.get("errors"))
                while True:
                    row = stack.row(sid)
                    job = stack.job(sid, "fetch_recording")
                    if row and row["recording_status"] == "failed" and job and \
                            job["state"] in ("done", "dead"):
                        break
                    if dl.passed():
                        raise TestFailure("recording of %s not failed in time: row %s, fetch "
                                          "job %s" % (sid, row and (row["recording_status"],
                                                                    row["last_error"]),
                                                      job and (job["state"], job["attempts"],
                                                               job["last_error"])))
                    time.sleep(0.25)
                t_fail = time.monotonic() - t0
            finally:
                stop.set()
                th.join(5)
        eq(sorted(partial), [], "recordings or other files seen in the full cache directory")
        tmps = sorted(n for n in names if n.startswith(".tmp-"))
        check(tmps, "the poll never saw a temporary file (%d attempts)", job["attempts"])
        check("no space" in (row["last_error"] or "").lower(),
              "last_error %r does not say \"no space\"", row["last_error"])
        eq(job["state"], "dead", "state of the fetch_recording job")
        check(job["attempts"] > 1, "the fetch ran %d time(s): it was not retried",
              job["attempts"])
        check("no space" in (job["last_error"] or "").lower(),
              "the job's last_error %r does not say \"no space\"", job["last_error"])
        left = [n for n in os.listdir(mp) if n.startswith(".tmp-") or not n.startswith(".")]
        eq(left, [], "files left in the full cache directory")
        others = sorted(n for n in names if not n.startswith(".tmp-"))
        fig("cache full (tmpfs %s): fetch tried %d times, failed after %.1f s: %r; "
            "temporary files seen: %d, no recording ever visible; other names: %s",
            TMPFS_SIZE, job["attempts"], t_fail, row["last_error"], len(tmps), others)
    finally:
        _umount(mp)
        try:
            os.rmdir(mp)
        except OSError:
            pass
