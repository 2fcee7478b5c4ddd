#!/usr/bin/python3
"""etc/dev.sh demo: one real call through the running local stack.

    /usr/bin/python3 tests/sim/demo.py [--backends offline|openai]

offline (etc/dev.sh demo): an inbound English call with run/audio/demo.wav,
served at 16 kHz (media_rate 16000: the offline pocketsphinx model needs
it), transcribed by pocketsphinx and summarized by the rules backend.
openai (etc/dev.sh demo --backends openai): the Hebrew call
run/audio/he_call.wav at 8 kHz, Twilio's rate, through the OpenAI-compatible
backends (the OpenAI simulator of the local stack); the row must hold a
Hebrew transcript by speaker, transcript_language "he", the service and
city ("plumber", "Tel Aviv") and a Hebrew summary.
Default: CALLPIPE_BACKENDS of run/stack.env (what etc/dev.sh up started).

Either way it waits until callpipe has recorded, fetched, transcribed and
summarized the call, prints the call_log row, then downloads the recording
through nginx with the demo API token and checks it is byte-identical to
what the simulator (Twilio) serves. Exit status 0 only if all of that held.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request

import pymysql

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            env[k] = v
    return env


def http(url, method="GET", body=None, headers=None, ctx=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def fail(msg):
    print("DEMO FAILED: " + msg)
    sys.exit(1)


# What each demo places and expects.
DEMOS = {
    # pocketsphinx's model is a 16 kHz one: the simulator is asked for 16 kHz.
    "offline": {"clip": "demo", "media_rate": 16000, "service": None, "city": None,
                "language": None, "hebrew": False},
    # Twilio's own rate (the simulator's default), in Hebrew.
    "openai": {"clip": "he_call", "media_rate": None, "service": "plumber",
               "city": "Tel Aviv", "language": "he", "hebrew": True},
}
HEBREW = re.compile("[\u0590-\u05FF]")


def main():
    env_path = os.environ.get("CALLPIPE_STACK_ENV", os.path.join(ROOT, "run", "stack.env"))
    env = load_env(env_path)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", choices=sorted(DEMOS),
                    default=env.get("CALLPIPE_BACKENDS") or "offline",
                    help="offline: English 16 kHz call; openai: Hebrew 8 kHz call "
                         "(default: CALLPIPE_BACKENDS of run/stack.env)")
    args = ap.parse_args()
    demo = DEMOS[args.backends]
    up_with = env.get("CALLPIPE_BACKENDS") or "offline"
    if up_with != args.backends:
        fail("the stack is up with the %s backends: run 'etc/dev.sh up --backends %s' "
             "(or 'etc/dev.sh demo --backends %s')" % (up_with, args.backends, args.backends))
    try:
        sys.stdout.reconfigure(encoding="utf-8")
    except (AttributeError, ValueError):
        pass
    sim = env["TWILIO_SIM_URL"]
    audio = os.path.join(env.get("CALLPIPE_RUN", os.path.join(ROOT, "run")), "audio",
                         demo["clip"] + ".wav")
    said = open(audio[:-4] + ".txt", encoding="utf-8").read().strip()

    print("== %s backends: placing an inbound call to %s with %s (%s)"
          % (args.backends, env["CALLPIPE_BUSINESS_NUMBER"], audio,
             "served at %d Hz" % demo["media_rate"] if demo["media_rate"]
             else "served at the simulator's default, Twilio's 8000 Hz"))
    print("   what is said:\n" + "\n".join("     " + l for l in said.splitlines()))
    opts = {"from": "+972501234567", "to": env["CALLPIPE_BUSINESS_NUMBER"],
            "direction": "inbound", "audio": audio}
    if demo["media_rate"]:
        opts["media_rate"] = demo["media_rate"]
    st, _, body = http(sim + "/sim/calls", "POST", json.dumps(opts).encode(),
                       {"Content-Type": "application/json"})
    if st != 201:
        fail("simulator refused the call: %d %s" % (st, body[:200]))
    call = json.loads(body)
    call_sid, rec_sid = call["call_sid"], call["recording_sid"]
    print("   CallSid %s, RecordingSid %s" % (call_sid, rec_sid))

    db = pymysql.connect(unix_socket=env["MYSQL_SOCKET"], user=env["MYSQL_USER"],
                         password=env.get("MYSQL_PASSWORD", ""), database=env["MYSQL_DATABASE"],
                         charset="utf8mb4", autocommit=True,
                         cursorclass=pymysql.cursors.DictCursor)
    deadline = time.time() + 120
    row, last = None, None
    while time.time() < deadline:
        with db.cursor() as c:
            c.execute("SELECT * FROM call_log WHERE call_sid = %s", (call_sid,))
            row = c.fetchone()
        if row:
            now = (row["call_status"], row["recording_status"], row["transcript_status"], row["summary_status"])
            if now != last:
                print("   %5.1fs  call %-11s recording %-10s transcript %-10s summary %s"
                      % ((time.time() - deadline + 120,) + tuple(str(x) for x in now)))
                last = now
            if "failed" in now[1:] or all(s == "completed" for s in now[1:]):
                break
        time.sleep(0.5)
    if row is None:
        fail("no call_log row for %s" % call_sid)
    sim_state = json.loads(http(sim + "/sim/calls/" + call_sid)[2])
    print("\n== The TwiML callpipe answered:\n" + sim_state.get("twiml", "").strip())
    print("\n== call_log row")
    for k in ("call_sid", "business_id", "direction", "from_number", "to_number", "call_status",
              "call_duration", "recording_sid", "recording_duration", "recording_channels",
              "recording_status", "recording_bytes", "transcript_status", "summary_status",
              "transcript_language", "extracted_service", "extracted_city",
              "extraction_confidence", "last_error",
              "created_at", "recording_started_at", "ended_at", "stream_ended_at"):
        print("  %-22s %s" % (k, row.get(k)))
    try:
        raw = json.loads(row["transcription"] or "{}")
    except ValueError:
        raw = {}
    print("  transcription (raw, per channel):")
    for k, v in raw.items():
        print("    %-8s %s" % (k + ":", v))
    print("  final_transcript:")
    for l in (row["final_transcript"] or "").splitlines():
        print("    " + l)
    print("  summary:\n    " + str(row["summary"]))

    problems = []
    for col in ("recording_status", "transcript_status", "summary_status"):
        if row[col] != "completed":
            problems.append("%s is %s (last_error: %s)" % (col, row[col], row["last_error"]))
    if not row["extracted_service"] or not row["extracted_city"]:
        problems.append("service/city not extracted")
    for col in ("service", "city"):
        if demo[col] and row["extracted_" + col] != demo[col]:
            problems.append("extracted_%s is %r, not %r" % (col, row["extracted_" + col], demo[col]))
    if demo["language"] and row.get("transcript_language") != demo["language"]:
        problems.append("transcript_language is %r, not %r"
                        % (row.get("transcript_language"), demo["language"]))
    if demo["hebrew"]:
        lines = [l for l in (row["final_transcript"] or "").splitlines() if l.strip()]
        labels = [l.split(":", 1)[0] for l in lines]
        if "Caller" not in labels or "Agent" not in labels:
            problems.append("final_transcript lacks Caller or Agent lines")
        if not lines or not all(HEBREW.search(l) for l in lines):
            problems.append("final_transcript is not Hebrew line by line")
        if not HEBREW.search(row["summary"] or ""):
            problems.append("the summary is not Hebrew")
    if problems:
        fail("; ".join(problems))

    ctx = ssl.create_default_context(cafile=env["CALLPIPE_CA_CERT"])
    url = "%s/api/calls/%s/download" % (env["CALLPIPE_BASE_URL"], call_sid)
    st, hdrs, ours = http(url, headers={"Authorization": "Bearer " + env["CALLPIPE_API_TOKEN"]}, ctx=ctx)
    if st != 200:
        fail("download through nginx answered %d: %s" % (st, ours[:200]))
    auth = base64.b64encode(("%s:%s" % (env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])).encode()).decode()
    st2, _, theirs = http("%s/2010-04-01/Accounts/%s/Recordings/%s.wav?RequestedChannels=2"
                          % (sim, env["TWILIO_ACCOUNT_SID"], rec_sid),
                          headers={"Authorization": "Basic " + auth})
    if st2 != 200:
        fail("simulator media answered %d" % st2)
    print("\n== Download through nginx: HTTP %d, %s, %d bytes, sha256 %s"
          % (st, hdrs.get("Content-Type"), len(ours), hashlib.sha256(ours).hexdigest()[:16]))
    print("   Twilio (simulator) media:  %d bytes, sha256 %s"
          % (len(theirs), hashlib.sha256(theirs).hexdigest()[:16]))
    if ours != theirs:
        fail("downloaded recording differs from the simulator's")
    print("   byte-identical: yes")
    print("\nDEMO OK (%s backends): recorded from second 0, fetched, transcribed (%s), "
          "summarized (service %s, city %s), downloadable."
          % (args.backends, row.get("transcript_language") or "language not stored",
             row["extracted_service"], row["extracted_city"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
