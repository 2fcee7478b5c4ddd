#!/usr/bin/python3
"""etc/dev.sh demo: one real call through the running local stack.

Places an inbound call with run/audio/demo.wav through the Twilio
simulator, waits until callpipe has recorded, fetched, transcribed and
summarized it, prints the call_log row, then downloads the recording through
nginx with the demo API token and checks it is byte-identical to what the
simulator (Twilio) serves. Exit status 0 only if all of that held.
"""
import base64
import hashlib
import json
import os
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


def main():
    env = load_env(os.environ.get("CALLPIPE_STACK_ENV", os.path.join(ROOT, "run", "stack.env")))
    sim = env["TWILIO_SIM_URL"]
    audio = os.path.join(env.get("CALLPIPE_RUN", os.path.join(ROOT, "run")), "audio", "demo.wav")
    said = open(audio[:-4] + ".txt", encoding="utf-8").read().strip()

    print("== Placing an inbound call to %s with %s" % (env["CALLPIPE_BUSINESS_NUMBER"], audio))
    print("   what is said:\n" + "\n".join("     " + l for l in said.splitlines()))
    st, _, body = http(sim + "/sim/calls", "POST", json.dumps({
        "from": "+972501234567", "to": env["CALLPIPE_BUSINESS_NUMBER"],
        "direction": "inbound", "audio": audio}).encode(),
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
              "extracted_service", "extracted_city", "extraction_confidence", "last_error",
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
    print("\nDEMO OK: recorded from second 0, fetched, transcribed, summarized "
          "(service %s, city %s), downloadable." % (row["extracted_service"], row["extracted_city"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
