"""cplib: helpers of callpipe's integration tests (tests/integration/run.py).

The tests run against the real local stack (etc/dev.sh up): nginx with TLS
on CALLPIPE_BASE_URL -> callpipe-fcgi -> MariaDB, and the Twilio simulator
on TWILIO_SIM_URL; with the openai backends (etc/dev.sh up --backends
openai) also the OpenAI simulator on OPENAI_SIM_URL (Stack.openai).
Everything a test needs comes from run/stack.env, read into a Stack;
nothing here starts or stops a service.

Only the standard library, Debian's python3-twilio (the signature, computed
the way Twilio computes it) and python3-pymysql.
"""

import base64
import contextlib
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shlex
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import pymysql
import pymysql.cursors
from twilio.request_validator import RequestValidator

FORM = "application/x-www-form-urlencoded"
SID_RE = re.compile(r"^(CA|RE|AC)[0-9a-f]{32}$")

# The 16 kHz English clips of make_audio.py that pocketsphinx recognises:
# the Twilio simulator serves 8 kHz by default (as Twilio does), and the
# offline model needs 16 kHz, so calls with these clips ask for
# media_rate 16000 unless the test gives a media_rate itself.
OFFLINE_CLIPS = ("demo", "short")
OFFLINE_MEDIA_RATE = 16000

# A segment's times in transcript_segments vs. the manifest's turns.
TIME_TOLERANCE_S = 0.3

# The columns shown when a wait on a call_log row fails.
ROW_SUMMARY_COLS = ("call_sid", "business_id", "call_status", "recording_sid",
                    "recording_status", "transcript_status", "summary_status",
                    "retry_count", "last_error")


class TestFailure(AssertionError):
    """A test's expectation was not met."""


def check(cond, msg, *args):
    """Fails the test with msg (formatted with args) unless cond holds."""
    if not cond:
        raise TestFailure(msg % args if args else msg)


def eq(got, want, what):
    """Fails the test unless got == want; the message shows both."""
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, _short(got), _short(want)))


def _short(v, n=300):
    if isinstance(v, (bytes, bytearray)):
        if len(v) > 64:
            return "<%d bytes: %r...>" % (len(v), bytes(v[:32]))
        return bytes(v)
    s = v if isinstance(v, str) else repr(v)
    if isinstance(v, str) and len(s) > n:
        return s[:n] + "...(%d chars)" % len(s)
    return v


def row_summary(row):
    """A short one-line view of a call_log row for failure messages."""
    if row is None:
        return "no call_log row"
    return ", ".join("%s=%r" % (k, row.get(k)) for k in ROW_SUMMARY_COLS if k in row)


def new_sid(prefix):
    """A fresh SID: prefix + 32 lowercase hex digits (TWILIO.md)."""
    return prefix + secrets.token_hex(16)


def parallel(fn, args_list):
    """Runs fn(*args) for each args tuple in its own thread; returns the
    results in order, or raises the first exception any of them raised."""
    results = [None] * len(args_list)
    errors = [None] * len(args_list)

    def run(i, args):
        try:
            results[i] = fn(*args)
        except BaseException as e:  # noqa: B902 - handed back to the caller
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i, a), daemon=True)
               for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return results


def load_env(path):
    """Reads a shell KEY=value file (no expansion; optional quotes)."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            k, sep, v = line.partition("=")
            if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
                raise ValueError("%s:%d: not a KEY=value line" % (path, n))
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            env[k] = v
    return env


class Response:
    """An HTTP answer: status (int), headers (lower-case names), body
    (bytes). header() returns the first value of a name or None."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers_list = headers
        self.body = body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers_list:
            if k.lower() == name:
                return v
        return None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<HTTP %d %s %r>" % (self.status, self.header("content-type"),
                                    _short(self.body))


def _request(conn, method, path, headers=None, body=None):
    h = dict(headers or {})
    if body is not None and isinstance(body, str):
        body = body.encode("utf-8")
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return Response(r.status, r.getheaders(), data)


class Sim:
    """Client of the Twilio simulator: its control API (/sim/...) and its
    Twilio REST API (HTTP Basic auth, AccountSid:AuthToken)."""

    def __init__(self, url, account_sid, auth_token):
        u = urllib.parse.urlsplit(url)
        self.host = u.hostname
        self.port = u.port or 80
        self.account_sid = account_sid
        self.auth_token = auth_token

    def _call(self, method, path, obj=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            body = None
            if obj is not None:
                body = json.dumps(obj).encode("utf-8")
                h["Content-Type"] = "application/json"
            return _request(conn, method, path, h, body)
        finally:
            conn.close()

    def _json(self, method, path, obj=None, want=(200, 201)):
        r = self._call(method, path, obj)
        if r.status not in want:
            raise TestFailure("sim %s %s: HTTP %d: %s" % (method, path, r.status,
                                                          r.text()[:300]))
        return r.json() if r.body else None

    def health(self):
        return self._call("GET", "/sim/health", timeout=5).status == 200

    def create_call(self, **opts):
        """POST /sim/calls; opts as the simulator takes them ("from",
        "to", "direction", "audio", "order", ...). Returns its JSON
        ({"call_sid", "recording_sid", "account_sid"})."""
        info = self._json("POST", "/sim/calls", opts, want=(201,))
        check(SID_RE.match(info.get("call_sid", "")) is not None,
              "sim gave a malformed call_sid: %r", info)
        return info

    def call(self, call_sid):
        return self._json("GET", "/sim/calls/" + call_sid, want=(200,))

    def wait_call(self, call_sid, timeout=60, states=("completed", "failed")):
        """Polls the simulator until the call is in one of states."""
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.call(call_sid)
            if st.get("state") in states:
                return st
            time.sleep(0.25)
        raise TestFailure("sim call %s not in %s after %ds (state %r, errors %r)" %
                          (call_sid, states, timeout, st and st.get("state"),
                           st and st.get("errors")))

    def set_media(self, recording_sid, **kw):
        return self._json("POST", "/sim/recordings/%s/media" % recording_sid,
                          kw, want=(200, 201, 204))

    def rest(self, path, auth=True, timeout=30):
        """GET on the simulator's Twilio REST API; path from /2010-04-01."""
        h = {}
        if auth:
            tok = base64.b64encode(("%s:%s" % (self.account_sid, self.auth_token))
                                   .encode()).decode()
            h["Authorization"] = "Basic " + tok
        return self._call("GET", path, headers=h, timeout=timeout)

    def recording_media(self, recording_sid, ext="wav", query="RequestedChannels=2"):
        """The exact media bytes Twilio (the simulator) serves for a recording."""
        path = "/2010-04-01/Accounts/%s/Recordings/%s.%s" % (
            self.account_sid, recording_sid, ext)
        if query:
            path += "?" + query
        r = self.rest(path)
        check(r.status == 200, "sim media %s: HTTP %d %s", path, r.status, r.text()[:200])
        return r


def _import_openaiclient():
    """tests/sim/openaiclient.py's OpenAISim, when it is there."""
    simdir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sim")
    if simdir not in sys.path:
        sys.path.append(simdir)
    try:
        import openaiclient  # noqa: E402 - tests/sim, beside this directory
    except ImportError:
        return None
    return getattr(openaiclient, "OpenAISim", None)


class OpenAI:
    """Client of the OpenAI simulator's control API (/_sim/..., no auth;
    tests/sim/openai_sim.py). reset(), fault(), requests() go through
    tests/sim/openaiclient.py's OpenAISim when it exists (the same calls),
    else straight to the HTTP API the contract gives."""

    def __init__(self, url, api_key=None):
        self.url = url.rstrip("/")
        u = urllib.parse.urlsplit(self.url)
        self.host = u.hostname
        self.port = u.port or 80
        self.api_key = api_key
        cls = _import_openaiclient()
        self._client = None
        if cls is not None:
            try:
                self._client = cls(self.url)
            except Exception:  # noqa: BLE001 - fall back to our own calls
                self._client = None

    def _call(self, method, path, obj=None, timeout=30):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            h, body = {}, None
            if obj is not None:
                body = json.dumps(obj).encode("utf-8")
                h["Content-Type"] = "application/json"
            r = _request(conn, method, path, h, body)
        finally:
            conn.close()
        if r.status != 200:
            raise TestFailure("openai sim %s %s: HTTP %d: %s" % (method, path, r.status,
                                                                 r.text()[:300]))
        return r.json() if r.body else None

    def health(self):
        try:
            return self._call("GET", "/_sim/health", timeout=5).get("ok") is True
        except (OSError, TestFailure, ValueError):
            return False

    def reset(self):
        """Clears the faults and the request log."""
        if self._client is not None and hasattr(self._client, "reset"):
            return self._client.reset()
        return self._call("POST", "/_sim/reset", {})

    def fault(self, endpoint, kind, count=1, **kw):
        """Queues a fault on endpoint ("transcriptions" or "chat"): kind as
        the simulator names it, count requests (-1 = every one), kw e.g.
        retry_after_ms=, retry_after_s=, stall_s=."""
        if self._client is not None and hasattr(self._client, "fault"):
            return self._client.fault(endpoint, kind, count=count, **kw)
        body = {"endpoint": endpoint, "kind": kind, "count": count}
        body.update(kw)
        return self._call("POST", "/_sim/faults", body)

    def requests(self, endpoint=None):
        """The request log, oldest first: [{"id", "t", "endpoint", "path",
        "status", "fault", "fields", "file", "matched", "body"}]."""
        if self._client is not None and hasattr(self._client, "requests"):
            out = self._client.requests(endpoint)
        else:
            path = "/_sim/requests"
            if endpoint:
                path += "?endpoint=" + urllib.parse.quote(endpoint)
            out = self._call("GET", path)
        if isinstance(out, dict):
            out = out.get("requests", [])
        return sorted(out, key=lambda r: (r.get("t") or 0, r.get("id") or 0))

    def uploads(self):
        """The transcription requests that carried a file."""
        return [r for r in self.requests("transcriptions") if r.get("file")]

    def load_manifest(self, path):
        """Makes the simulator know the clips of another manifest."""
        return self._call("POST", "/_sim/manifest", {"path": os.path.abspath(path)},
                          timeout=300)


# One setting per line, as etc/callpipe.conf writes them: "key = value;"
# inside "group = {" ... "};" lines. Group 1 is the text before the value,
# group 3 the value, group 4 what follows it.
_CONF_GROUP = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\{")
_CONF_END = re.compile(r"^\s*\}\s*;")
_CONF_SETTING = re.compile(r'^(\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*)'
                           r'("(?:[^"\\]|\\.)*"|[-+.0-9A-Za-z_]+)(\s*;.*)$')


def _conf_settings(lines):
    """(line index, dotted key, match of _CONF_SETTING) of each setting."""
    groups = []
    for i, line in enumerate(lines):
        m = _CONF_GROUP.match(line)
        if m:
            groups.append(m.group(1))
            continue
        if _CONF_END.match(line):
            if groups:
                groups.pop()
            continue
        m = _CONF_SETTING.match(line)
        if m:
            yield i, ".".join(groups + [m.group(2)]), m


def conf_with(src, overrides, dest):
    """Writes a copy of the libconfig file src to dest with overrides
    {"group.sub.key": libconfig value text} applied (strings are quoted
    for you): each key must be set on one line ("key = value;") as
    etc/callpipe.conf does. Returns dest."""
    with open(src, encoding="utf-8") as f:
        lines = f.read().split("\n")
    done = set()
    for i, path, m in list(_conf_settings(lines)):
        if path in overrides:
            v = overrides[path]
            if isinstance(v, str) and not v.startswith('"'):
                v = json.dumps(v)
            lines[i] = "%s%s%s" % (m.group(1), v, m.group(4))
            done.add(path)
    missing = sorted(set(overrides) - done)
    check(not missing, "%s has no line setting %s", src, missing)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    share_like(src, dest)
    return dest


def share_like(src, dest):
    """Gives the copy dest the group of src and at most its group bits
    (run/callpipe.conf is 0640 root:callpipe: the service user reads it),
    and lets that group into dest's directory when it is a private
    temporary one (mkdtemp: 0700): a worker callpipe-fcgi execs as the
    service user reads its -c file again. Nothing for others, ever."""
    st = os.stat(src)
    os.chown(dest, -1, st.st_gid)
    os.chmod(dest, 0o600 | (st.st_mode & 0o040))
    d = os.path.dirname(os.path.abspath(dest))
    dst = os.stat(d)
    if d.startswith(tempfile.gettempdir() + os.sep) and dst.st_uid == os.geteuid() \
            and not dst.st_mode & 0o001:
        os.chown(d, -1, st.st_gid)
        os.chmod(d, (dst.st_mode & 0o700) | 0o050)


def conf_lookup(path, dotted):
    """The value of a dotted key ("stt.openai.timeout_ms") of a libconfig
    file whose keys are set one a line, as etc/callpipe.conf: strings
    unquoted, integers converted; fails when the key is not there."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for _, key, m in _conf_settings(lines):
        if key == dotted:
            v = m.group(3)
            if v.startswith('"'):
                return json.loads(v)
            return int(v) if re.match(r"^-?\d+$", v) else v
    raise TestFailure("%s: no key %s" % (path, dotted))


def transcript_lines(final_transcript):
    """[(label, text)] of final_transcript's "Label: text" lines."""
    out = []
    for line in (final_transcript or "").splitlines():
        label, sep, text = line.partition(":")
        if sep and label.strip():
            out.append((label.strip(), text.strip()))
    return out


def collapse(seq):
    """seq without consecutive repeats."""
    out = []
    for x in seq:
        if not out or out[-1] != x:
            out.append(x)
    return out


def norm_text(s):
    return " ".join(str(s).split())


def segments_of(row):
    """call_log.transcript_segments as a list sorted by start."""
    segs = json.loads(row["transcript_segments"] or "[]")
    if isinstance(segs, dict):
        segs = segs.get("segments") or []
    check(isinstance(segs, list), "transcript_segments is not a list: %r", segs)
    for s in segs:
        for k in ("speaker", "start", "end", "text"):
            check(k in s, "segment %r lacks %r", s, k)
    return sorted(segs, key=lambda s: (s["start"], s["end"]))


def match_turns(segs, turns, tol=TIME_TOLERANCE_S, speaker_of=None):
    """Checks transcript segments against a manifest clip's turns: every
    segment belongs to the turn of its speaker it overlaps (or is nearest
    to), every turn has segments, the first starts and the last ends within
    tol seconds of the turn, their text together is the turn's, and the
    speakers come in the turns' order. speaker_of(turn) gives the speaker
    expected in the segments (default the turn's own: "caller"/"agent").
    Returns [(turn, [segments])]."""
    speaker_of = speaker_of or (lambda t: t["speaker"])
    turns = sorted(turns, key=lambda t: t["start"])
    groups = [(t, []) for t in turns]
    for s in segs:
        best, best_d = None, None
        for i, t in enumerate(turns):
            if speaker_of(t) != str(s["speaker"]).lower():
                continue
            overlap = min(s["end"], t["end"]) - max(s["start"], t["start"])
            d = -overlap if overlap > 0 else min(abs(s["start"] - t["start"]),
                                                 abs(s["end"] - t["end"]))
            if best_d is None or d < best_d:
                best, best_d = i, d
        check(best is not None, "segment %r has a speaker no turn has (turns %r)", s,
              [(speaker_of(t), t["start"], t["end"]) for t in turns])
        groups[best][1].append(s)
    for t, ss in groups:
        check(ss, "no segment for the %s turn %.2f-%.2f %r (segments %r)", speaker_of(t),
              t["start"], t["end"], t["text"],
              [(x["speaker"], x["start"], x["end"]) for x in segs])
        st, en = min(x["start"] for x in ss), max(x["end"] for x in ss)
        check(abs(st - t["start"]) <= tol and abs(en - t["end"]) <= tol,
              "the %s turn %r is at %.2f-%.2f in the manifest, %.2f-%.2f in the transcript "
              "(more than %.1f s apart)", speaker_of(t), t["text"][:40], t["start"], t["end"],
              st, en, tol)
        eq(norm_text(" ".join(norm_text(x["text"]) for x in ss)), norm_text(t["text"]),
           "text of the %s turn at %.2f s" % (speaker_of(t), t["start"]))
    eq(collapse([str(s["speaker"]).lower() for s in segs]),
       collapse([speaker_of(t) for t in turns]), "speaker order of the segments")
    return groups


def parse_ctl_transcript(stdout):
    """callpipectl transcribe's output: ([{"start", "end", "speaker",
    "text"}], language or None). Lines "[12.34-15.67] Caller: text", then
    "language: he" (or "-")."""
    segs, lang = [], None
    for line in stdout.splitlines():
        m = re.match(r"^\[\s*([0-9.]+)\s*-\s*([0-9.]+)\s*\]\s*([^:]+):\s?(.*)$", line)
        if m:
            segs.append({"start": float(m.group(1)), "end": float(m.group(2)),
                         "speaker": m.group(3).strip().lower(), "text": m.group(4)})
            continue
        m = re.match(r"^language:\s*(\S+)\s*$", line)
        if m:
            lang = None if m.group(1) == "-" else m.group(1)
    return segs, lang


HEBREW_RE = re.compile(r"[\u0590-\u05FF]")


def has_hebrew(s):
    return bool(HEBREW_RE.search(s or ""))


# ---------------------------------------------------------------- JSON API

# Timestamps of the JSON API: ISO-8601 UTC with milliseconds and "Z".
ISO_MS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# The fields of a CALL object (GET /api/calls and the detail's "call").
CALL_KEYS = ("call_sid", "direction", "from_number", "to_number", "call_status",
             "call_duration", "created_at", "ended_at", "recording_status",
             "transcript_status", "summary_status", "last_error", "retry_count",
             "extracted_service", "extracted_city", "extraction_confidence",
             "has_recording")
# What GET /api/calls/<sid> adds to it.
DETAIL_KEYS = ("transcription", "final_transcript", "transcript_segments",
               "transcript_language", "summary", "jobs")
JOB_KEYS = ("kind", "state", "attempts", "max_attempts", "last_error", "created_at",
            "updated_at")
STAGE_STATES = ("pending", "recording", "processing", "completed", "failed")
STAGES = ("recording", "transcript", "summary")


def parse_iso(s, what):
    """A JSON API timestamp ("2026-12-01T11:00:00.123Z") as an aware UTC
    datetime; fails the test when s has another shape."""
    check(isinstance(s, str) and ISO_MS_RE.match(s) is not None,
          "%s: %r is not ISO-8601 UTC with milliseconds and Z", what, s)
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def iso_ms(dt):
    """A naive UTC datetime (as pymysql returns DATETIME(3)) or None in the
    API's form: "YYYY-MM-DDTHH:MM:SS.mmmZ" or None."""
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def check_call(c, what="call"):
    """Fails unless c is a CALL object of the contract: every key, the
    right types, ISO timestamps, stage values. Returns c."""
    check(isinstance(c, dict), "%s is not an object: %r", what, c)
    missing = [k for k in CALL_KEYS if k not in c]
    check(not missing, "%s lacks %s: %r", what, missing, c)
    check(isinstance(c["call_sid"], str) and SID_RE.match(c["call_sid"]), "%s: call_sid %r",
          what, c["call_sid"])
    for k in ("direction", "from_number", "to_number", "call_status", "last_error",
              "extracted_service", "extracted_city"):
        check(c[k] is None or isinstance(c[k], str), "%s: %s is %r, not a string or null",
              what, k, c[k])
    check(c["call_duration"] is None or (isinstance(c["call_duration"], int) and
                                         not isinstance(c["call_duration"], bool)),
          "%s: call_duration %r is not an integer or null", what, c["call_duration"])
    check(isinstance(c["retry_count"], int) and not isinstance(c["retry_count"], bool),
          "%s: retry_count %r is not an integer", what, c["retry_count"])
    conf = c["extraction_confidence"]
    check(conf is None or (isinstance(conf, (int, float)) and not isinstance(conf, bool)),
          "%s: extraction_confidence %r is not a number or null", what, conf)
    check(isinstance(c["has_recording"], bool), "%s: has_recording %r is not a boolean",
          what, c["has_recording"])
    eq(c["has_recording"], c["recording_status"] == "completed",
       "%s: has_recording vs recording_status %r" % (what, c["recording_status"]))
    for st in STAGES:
        check(c[st + "_status"] in STAGE_STATES, "%s: %s_status %r", what, st,
              c[st + "_status"])
    parse_iso(c["created_at"], what + " created_at")
    if c["ended_at"] is not None:
        parse_iso(c["ended_at"], what + " ended_at")
    return c


def download_sig(key, call_sid, fmt, expires, business_id):
    """The signature of a download URL (issue 6): lower-hex HMAC-SHA256
    under key over "GET\\n<path>\\n<sid>\\n<format>\\n<expires>\\n<business_id>"."""
    msg = "GET\n/api/calls/%s/download\n%s\n%s\n%d\n%d" % (call_sid, call_sid, fmt,
                                                          int(expires), int(business_id))
    k = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(k, msg.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_path(call_sid, fmt, expires, sig):
    """The relative signed download URL of these fields."""
    return "/api/calls/%s/download?format=%s&expires=%d&sig=%s" % (
        call_sid, fmt, int(expires), sig)


def split_url(url):
    """(path, {name: value}) of a relative URL; fails on a repeated name."""
    u = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    q = dict(pairs)
    check(len(q) == len(pairs), "URL %r repeats a parameter", url)
    return u.path, q


def content_type(r):
    return (r.header("content-type") or "").split(";")[0].strip().lower()


def json_error(r, status, what, names=()):
    """Checks an /api/ error answer: the status, Content-Type
    application/json, {"success": false, "error": "<one line>"}, and that
    the error names each of names (e.g. the bad parameter). Returns the
    error text."""
    eq(r.status, status, "%s: status (%r)" % (what, r))
    eq(content_type(r), "application/json", "%s: Content-Type (%r)" % (what, r))
    try:
        j = r.json()
    except ValueError:
        raise TestFailure("%s: the body is not JSON: %r" % (what, r.body[:300]))
    check(isinstance(j, dict), "%s: the body is not an object: %r", what, j)
    eq(j.get("success"), False, "%s: success" % what)
    err = j.get("error")
    check(isinstance(err, str) and err.strip() and "\n" not in err,
          "%s: error is not one line of text: %r", what, err)
    for n in names:
        check(n in err, "%s: the error %r does not name %r", what, err, n)
    return err


# ---------------------------------------------------------------- FastCGI

# Record types (FastCGI specification 1.0, section 8).
_FCGI_BEGIN_REQUEST, _FCGI_END_REQUEST, _FCGI_PARAMS = 1, 3, 4
_FCGI_STDIN, _FCGI_STDOUT, _FCGI_STDERR = 5, 6, 7


def _fcgi_records(rtype, content, req_id=1):
    """content as records of rtype (at most 65535 bytes each, padded to 8),
    then the empty record that ends the stream."""
    out = []
    for i in range(0, len(content), 65535):
        c = content[i:i + 65535]
        pad = (-len(c)) % 8
        out.append(struct.pack("!BBHHBB", 1, rtype, req_id, len(c), pad, 0) + c + b"\0" * pad)
    out.append(struct.pack("!BBHHBB", 1, rtype, req_id, 0, 0, 0))
    return b"".join(out)


def _fcgi_nv(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    n, v = name.encode("latin-1"), value.encode("latin-1")
    return ln(len(n)) + ln(len(v)) + n + v


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise TestFailure("FastCGI: connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def fcgi_request(sock_path, method, uri, headers=None, body=b"", timeout=30):
    """One request straight to a FastCGI responder on a unix socket, with
    the parameters nginx's fastcgi_params gives (REQUEST_URI, DOCUMENT_URI,
    QUERY_STRING, HTTP_* of headers, ...). Returns a Response: the status
    of its Status header (200 without one), its headers and body; an
    X-Accel-Redirect is not followed."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    path, _, query = uri.partition("?")
    params = {"REQUEST_METHOD": method, "REQUEST_URI": uri, "DOCUMENT_URI": path,
              "SCRIPT_NAME": path, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
              "REQUEST_SCHEME": "https", "HTTPS": "on", "GATEWAY_INTERFACE": "CGI/1.1",
              "SERVER_SOFTWARE": "cplib", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
              "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "443", "SERVER_NAME": "localhost",
              "CONTENT_TYPE": "", "CONTENT_LENGTH": str(len(body)) if body else ""}
    for k, v in (headers or {}).items():
        if k.lower() == "content-type":
            params["CONTENT_TYPE"] = v
        else:
            params["HTTP_" + k.upper().replace("-", "_")] = v
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        begin = struct.pack("!HB5x", 1, 0)   # role RESPONDER, no keep-alive
        msg = (struct.pack("!BBHHBB", 1, _FCGI_BEGIN_REQUEST, 1, len(begin), 0, 0) + begin +
               _fcgi_records(_FCGI_PARAMS, b"".join(_fcgi_nv(k, v) for k, v in params.items())) +
               _fcgi_records(_FCGI_STDIN, body or b""))
        s.sendall(msg)
        out = b""
        while True:
            _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB", _recv_exact(s, 8))
            content = _recv_exact(s, clen + plen)[:clen]
            if rtype == _FCGI_STDOUT:
                out += content
            elif rtype == _FCGI_END_REQUEST:
                break
    finally:
        s.close()
    sep = out.find(b"\r\n\r\n")
    head, rest = (out[:sep], out[sep + 4:]) if sep >= 0 else (out, b"")
    status, hdrs = 200, []
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        if not k:
            continue
        if k.strip().lower() == "status":
            status = int(v.strip().split()[0])
        hdrs.append((k.strip(), v.strip()))
    return Response(status, hdrs, rest)


class FcgiInstance:
    """A callpipe-fcgi master of our own (Stack.fcgi_instance), on its own
    socket, beside the stack's: request() talks FastCGI to it directly."""

    def __init__(self, proc, socket_path, conf, log_path):
        self.proc = proc
        self.socket = socket_path
        self.conf = conf
        self.log_path = log_path

    def request(self, method, uri, headers=None, body=b"", timeout=30):
        return fcgi_request(self.socket, method, uri, headers, body, timeout)

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Stack:
    """The running stack, as run/stack.env describes it."""

    def __init__(self, env, env_path=None):
        self.env = env
        self.env_path = env_path
        need = ("CALLPIPE_BASE_URL", "CALLPIPE_CONF", "CALLPIPE_CA_CERT",
                "CALLPIPE_API_TOKEN", "CALLPIPE_BUSINESS_ID",
                "CALLPIPE_BUSINESS_NUMBER", "CALLPIPE_BUILD", "CALLPIPE_RUN",
                "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_SIM_URL",
                "MYSQL_SOCKET", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD")
        missing = [k for k in need if not env.get(k)]
        if missing:
            raise ValueError("stack.env lacks %s" % ", ".join(missing))
        self.base_url = env["CALLPIPE_BASE_URL"].rstrip("/")
        u = urllib.parse.urlsplit(self.base_url)
        self.https_host = u.hostname
        self.https_port = u.port or 443
        self.run_dir = env["CALLPIPE_RUN"].rstrip("/")
        self.src = env.get("CALLPIPE_SRC") or os.path.dirname(self.run_dir)
        self.conf = env["CALLPIPE_CONF"]
        self.account_sid = env["TWILIO_ACCOUNT_SID"]
        self.auth_token = env["TWILIO_AUTH_TOKEN"]
        self.token = env["CALLPIPE_API_TOKEN"]
        self.business_id = int(env["CALLPIPE_BUSINESS_ID"])
        self.business_number = env["CALLPIPE_BUSINESS_NUMBER"]
        self.audio_dir = env.get("CALLPIPE_AUDIO_DIR") or os.path.join(self.run_dir, "audio")
        self.cache_dir = env.get("CALLPIPE_CACHE_DIR") or os.path.join(
            self.run_dir, "cache", "recordings")
        self.ctl_bin = os.path.join(env["CALLPIPE_BUILD"], "fcgi-app", "callpipectl",
                                    "callpipectl")
        self.fcgi_pid_file = env.get("CALLPIPE_FCGI_PID_FILE") or os.path.join(
            self.run_dir, "pids", "callpipe-fcgi.pid")
        self.sim = Sim(env["TWILIO_SIM_URL"], self.account_sid, self.auth_token)
        # The backends the stack is up with (etc/dev.sh up --backends ...).
        self.backends = env.get("CALLPIPE_BACKENDS") or "offline"
        self.openai = None
        if env.get("OPENAI_SIM_URL"):
            self.openai = OpenAI(env["OPENAI_SIM_URL"], env.get("OPENAI_SIM_API_KEY"))
        self.manifest_path = env.get("OPENAI_SIM_MANIFEST") or os.path.join(
            self.audio_dir, "manifest.json")
        self._ssl = ssl.create_default_context(cafile=env["CALLPIPE_CA_CERT"])
        self._memo = {}
        self._memo_lock = threading.Lock()

    # ------------------------------------------------------------ files

    def audio(self, name):
        """Absolute path of run/audio/<name>.wav (name: demo, short)."""
        p = os.path.join(self.audio_dir, name + ".wav")
        check(os.path.isfile(p), "test audio %s is missing", p)
        return p

    def audio_meta(self, name):
        with open(os.path.join(self.audio_dir, name + ".json"), encoding="utf-8") as f:
            return json.load(f)

    def manifest(self, path=None):
        """run/audio/manifest.json (make_audio.py): {"clips", "utterances"}."""
        with open(path or self.manifest_path, encoding="utf-8") as f:
            return json.load(f)

    def clip(self, name):
        """One clip of the manifest: {"file", "rate", "channels", "lang",
        "service", "city", "llm", "turns": [...]}."""
        clips = self.manifest().get("clips", {})
        check(name in clips, "%s has no clip %r (it has %r)", self.manifest_path, name,
              sorted(clips))
        return clips[name]

    def conf_get(self, dotted):
        """A value of run/callpipe.conf by its dotted path, e.g.
        "stt.openai.timeout_ms" (groups nested in groups too)."""
        return conf_lookup(self.conf, dotted)

    def conf_copy(self, overrides, tmpdir=None, name="callpipe-copy.conf"):
        """A copy of run/callpipe.conf with overrides {"stt.openai.chunk_seconds":
        10, ...} (dotted paths, libconfig values; strings are quoted for
        you). In tmpdir, else a new temporary directory. Returns the path."""
        if tmpdir is None:
            tmpdir = tempfile.mkdtemp(prefix="itest-conf-")
        return conf_with(self.conf, overrides, os.path.join(tmpdir, name))

    # ------------------------------------------------------------ database

    def db(self, database=None, read_timeout=30):
        """A new pymysql connection over MYSQL_SOCKET (autocommit, dict
        rows), to the stack's database unless another is named."""
        return pymysql.connect(unix_socket=self.env["MYSQL_SOCKET"],
                               user=self.env["MYSQL_USER"],
                               password=self.env["MYSQL_PASSWORD"],
                               database=database or self.env["MYSQL_DATABASE"],
                               charset="utf8mb4", autocommit=True,
                               connect_timeout=10, read_timeout=read_timeout,
                               init_command="SET time_zone = '+00:00'",
                               cursorclass=pymysql.cursors.DictCursor)

    def query(self, sql, args=None, database=None):
        """Runs one statement on a fresh connection (to the stack's database
        unless another is named); returns all rows."""
        conn = self.db(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def execute(self, sql, args=None):
        """Runs one statement; returns the affected row count."""
        conn = self.db()
        try:
            with conn.cursor() as cur:
                return cur.execute(sql, args)
        finally:
            conn.close()

    def row(self, call_sid):
        rows = self.query("SELECT * FROM call_log WHERE call_sid = %s", (call_sid,))
        return rows[0] if rows else None

    def jobs(self, call_sid):
        return self.query("SELECT * FROM jobs WHERE call_sid = %s ORDER BY id",
                          (call_sid,))

    def stage_jobs(self, call_sid):
        """The call's stage jobs (fetch_recording, transcribe, summarize),
        without the reconcile job every answered call gets when it ends (the
        safety net for a lost callback; test_recording_callback_lost)."""
        return [j for j in self.jobs(call_sid) if j["kind"] != "reconcile"]

    def wait_row(self, call_sid, predicate, timeout=60, what="condition"):
        """Polls call_log until predicate(row) is true (row may be None);
        returns the row. Fails with the last row seen on timeout."""
        deadline = time.monotonic() + timeout
        row = None
        while True:
            row = self.row(call_sid)
            if predicate(row):
                return row
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        jobs = self.jobs(call_sid)
        raise TestFailure("call %s: %s not reached after %ds; row: %s; jobs: %s" %
                          (call_sid, what, timeout, row_summary(row),
                           [(j["kind"], j["state"], j["attempts"], j["last_error"])
                            for j in jobs]))

    def wait_statuses(self, call_sid, timeout=90, recording="completed",
                      transcript="completed", summary="completed"):
        """Waits until the three stage columns hold the given values
        (None = any value)."""
        want = {"recording_status": recording, "transcript_status": transcript,
                "summary_status": summary}

        def ok(r):
            return r is not None and all(v is None or r[k] == v for k, v in want.items())

        return self.wait_row(call_sid, ok, timeout,
                             "statuses %s" % {k: v for k, v in want.items() if v})

    # ------------------------------------------------------------ HTTPS

    def https(self, method, path, headers=None, body=None, timeout=60):
        """One request to nginx over TLS (certificate verified against
        CALLPIPE_CA_CERT). Returns a Response."""
        conn = http.client.HTTPSConnection(self.https_host, self.https_port,
                                           context=self._ssl, timeout=timeout)
        try:
            return _request(conn, method, path, headers, body)
        finally:
            conn.close()

    def https_conn(self, timeout=60):
        """A kept-alive HTTPS connection for many requests (use request())."""
        return http.client.HTTPSConnection(self.https_host, self.https_port,
                                           context=self._ssl, timeout=timeout)

    @staticmethod
    def request(conn, method, path, headers=None, body=None):
        return _request(conn, method, path, headers, body)

    def sign(self, url, params, token=None):
        """X-Twilio-Signature of a form POST to url, as Twilio computes it."""
        return RequestValidator(token or self.auth_token).compute_signature(url, params)

    def post_webhook(self, path, params, signature=None, method="POST",
                     content_type=FORM, body=None, sign_token=None):
        """Sends a webhook to path (e.g. "/webhook/call_status").
        signature: None = computed over CALLPIPE_BASE_URL + path and params
        (with sign_token, default the account's); False = no header; a
        string = that header. body: a raw body instead of the form."""
        if body is None:
            body = urllib.parse.urlencode(params) if params else ""
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        if signature is None:
            signature = self.sign(self.base_url + path, params or {}, sign_token)
        if signature is not False:
            h["X-Twilio-Signature"] = signature
        if method in ("GET", "HEAD"):
            return self.https(method, path, h)
        return self.https(method, path, h, body)

    def voice_params(self, call_sid, **over):
        p = {"CallSid": call_sid, "AccountSid": self.account_sid,
             "From": "+15551230001", "To": self.business_number,
             "CallStatus": "ringing", "ApiVersion": "2010-04-01",
             "Direction": "inbound"}
        p.update(over)
        return p

    def recording_params(self, call_sid, recording_sid, status="completed", **over):
        p = {"CallSid": call_sid, "AccountSid": self.account_sid,
             "RecordingSid": recording_sid, "RecordingStatus": status,
             "RecordingUrl": "%s/2010-04-01/Accounts/%s/Recordings/%s" % (
                 self.env["TWILIO_SIM_URL"], self.account_sid, recording_sid),
             "RecordingDuration": "4", "RecordingChannels": "2",
             "RecordingSource": "StartCallRecordingTwiML", "ErrorCode": "0"}
        p.update(over)
        return p

    def download(self, call_sid, token="default", fmt=None, headers=None, method="GET"):
        """GET /api/calls/<sid>/download through nginx. token: "default" =
        CALLPIPE_API_TOKEN, None = no Authorization header, else that token."""
        h = dict(headers or {})
        if token == "default":
            token = self.token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        path = "/api/calls/%s/download" % call_sid
        if fmt is not None:
            path += "?format=" + urllib.parse.quote(fmt)
        return self.https(method, path, h)

    # ------------------------------------------------------------ calls

    def start_call(self, audio="short", **opts):
        """Starts a simulated inbound call to the demo business's number
        (opts "to" for another). The simulator serves 8 kHz media (Twilio's
        rate) unless told otherwise; calls with the pocketsphinx clips
        (OFFLINE_CLIPS) ask for media_rate 16000 unless opts give one."""
        o = {"from": "+15551230001", "to": self.business_number,
             "direction": "inbound", "audio": self.audio(audio)}
        if audio in OFFLINE_CLIPS and opts.get("audio_kind", "normal") == "normal":
            o["media_rate"] = OFFLINE_MEDIA_RATE
        o.update(opts)
        return self.sim.create_call(**o)

    def run_call(self, audio="short", timeout=60, **opts):
        """Starts a call and waits until the simulator is done with it.
        Returns (info, sim_state)."""
        info = self.start_call(audio, **opts)
        st = self.sim.wait_call(info["call_sid"], timeout)
        return info, st

    def completed_call(self, audio="short", timeout=120, **opts):
        """Runs a call and waits until all three stages are completed.
        Returns (info, sim_state, row)."""
        info, st = self.run_call(audio, timeout, **opts)
        check(st["state"] == "completed", "sim call %s ended %r: %r",
              info["call_sid"], st["state"], st.get("errors"))
        row = self.wait_statuses(info["call_sid"], timeout)
        return info, st, row

    # ------------------------------------------------------------ stages

    def wait_stage(self, call_sid, stage, status, timeout=90):
        """Waits until <stage>_status ("recording", "transcript", "summary")
        is status (a string or a tuple of them); returns the row."""
        col = stage + "_status"
        want = (status,) if isinstance(status, str) else tuple(status)
        return self.wait_row(call_sid, lambda r: r is not None and r[col] in want, timeout,
                             "%s in %s" % (col, "|".join(want)))

    def wait_job(self, call_sid, kind, states=("done", "dead"), timeout=90):
        """Waits until the call's newest job of kind is in one of states;
        returns that job row."""
        want = (states,) if isinstance(states, str) else tuple(states)
        deadline = time.monotonic() + timeout
        jobs = []
        while True:
            jobs = [j for j in self.jobs(call_sid) if j["kind"] == kind]
            if jobs and jobs[-1]["state"] in want:
                return jobs[-1]
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        raise TestFailure("call %s: no %s job in %s after %ds; jobs: %s; row: %s" %
                          (call_sid, kind, "|".join(want), timeout,
                           [(j["kind"], j["state"], j["attempts"], j["last_error"])
                            for j in self.jobs(call_sid)], row_summary(self.row(call_sid))))

    def job(self, call_sid, kind):
        """The call's newest job of kind, or None."""
        jobs = [j for j in self.jobs(call_sid) if j["kind"] == kind]
        return jobs[-1] if jobs else None

    def create_business(self, name=None, language=None, numbers=1):
        """callpipectl business create --name NAME [--language L] with
        `numbers` new E.164 numbers of its own; returns (id, [numbers])."""
        name = name or "itest " + secrets.token_hex(4)
        nums = ["+1555%07d" % secrets.randbelow(10 ** 7) for _ in range(numbers)]
        args = ["business", "create", "--name", name]
        for n in nums:
            args += ["--number", n]
        if language is not None:
            args += ["--language", language]
        out = self.ctl(*args)
        check(out.returncode == 0, "callpipectl %s: exit %d: %s", shell_join(args),
              out.returncode, out.stderr.strip())
        bid = out.stdout.strip().splitlines()[-1].strip() if out.stdout.strip() else ""
        check(bid.isdigit(), "business create printed %r", out.stdout)
        rows = self.query("SELECT * FROM businesses WHERE id = %s", (int(bid),))
        check(rows, "business %s is not in businesses", bid)
        if language is not None:
            eq(rows[0].get("language"), language, "businesses.language of the new business")
        return int(bid), nums

    def business_with_language(self, language):
        """A business with businesses.language = language and one number,
        made once per run; returns (id, number)."""
        def make():
            bid, nums = self.create_business("itest %s" % language, language)
            return bid, nums[0]
        return self.memo("business_lang_" + language, make)

    def clip_call(self, name, language="clip", **opts):
        """Starts a call with the manifest clip run/audio/<name>.wav at the
        simulator's default rate (8 kHz, as Twilio) unless opts say
        otherwise. language "clip": to a business whose language is the
        clip's ("en": made with --language en); None: to the demo business
        (no language: stt.openai.language applies, "he"). Returns
        (info, clip)."""
        clip = self.clip(name)
        lang = clip.get("lang") if language == "clip" else language
        o = dict(opts)
        if lang is not None and "to" not in o:
            o["to"] = self.business_with_language(lang)[1]
        return self.start_call(name, **o), clip

    def check_clip_transcript(self, row, clip, mono=False):
        """The row's transcript against the clip's turns: segments (speaker,
        order, times within TIME_TOLERANCE_S, text), final_transcript lines
        and the per-channel transcription JSON. mono: everything is the
        "call" speaker ("Call:" lines). Returns the segments."""
        turns = sorted(clip["turns"], key=lambda t: t["start"])
        speaker_of = (lambda t: "call") if mono else (lambda t: t["speaker"])
        segs = segments_of(row)
        match_turns(segs, turns, speaker_of=speaker_of)
        lines = transcript_lines(row["final_transcript"])
        eq(collapse([l for l, _ in lines]),
           collapse([speaker_of(t).capitalize() for t in turns]),
           "speaker labels of final_transcript %r" % row["final_transcript"])
        eq(norm_text(" ".join(t for _, t in lines)), norm_text(" ".join(t["text"] for t in turns)),
           "text of final_transcript")
        trans = json.loads(row["transcription"] or "{}")
        check(isinstance(trans, dict), "transcription is not an object: %r", row["transcription"])
        want = {}
        for t in turns:
            want.setdefault(speaker_of(t), []).append(t["text"])
        got = {k: norm_text(v) for k, v in trans.items() if norm_text(v)}
        eq(got, {k: norm_text(" ".join(v)) for k, v in want.items()}, "transcription JSON")
        return segs

    def openai_sim(self):
        """The OpenAI simulator's client, its faults and log cleared (call
        at a test's start). Fails unless the stack is up with --backends
        openai."""
        check(self.openai is not None,
              "stack.env has no OPENAI_SIM_URL: run 'etc/dev.sh up --backends openai'")
        check(self.openai.health(), "the OpenAI simulator does not answer %s/_sim/health",
              self.openai.url)
        # Jobs left by an earlier test (or by the offline phase, now run
        # by the restarted workers) must not upload into this test's log:
        # wait until no speech or summary job is queued to run or running.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = self.query("SELECT COUNT(*) AS n FROM jobs WHERE kind IN "
                              "('transcribe', 'summarize') AND (state = 'running' "
                              "OR (state = 'queued' AND run_after <= NOW(3)))")
            if not busy or not busy[0]["n"]:
                break
            time.sleep(0.2)
        else:
            check(False, "speech/summary jobs of earlier tests still busy after 60 s")
        self.openai.reset()
        return self.openai

    def memo(self, key, fn):
        """fn() once per run for key (shared fixtures between tests)."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = fn()
            return self._memo[key]

    def other_business_token(self):
        """A second business ("Other") and an API token of it, made once."""
        def make():
            out = self.ctl("business", "create", "--name", "Other")
            check(out.returncode == 0, "business create: exit %d: %s",
                  out.returncode, out.stderr)
            bid = out.stdout.strip()
            check(bid.isdigit(), "business create printed %r", out.stdout)
            out = self.ctl("token", "create", "--business", bid, "--name", "itest")
            check(out.returncode == 0, "token create: exit %d: %s",
                  out.returncode, out.stderr)
            tok = out.stdout.strip()
            check(len(tok) >= 16 and " " not in tok, "token create printed %r", out.stdout)
            return int(bid), tok
        return self.memo("other_business", make)

    # ------------------------------------------------------------ JSON API

    def api(self, method, path, token="default", body=None, query=None, headers=None,
            timeout=60):
        """One request to the JSON API through nginx. token: "default" =
        CALLPIPE_API_TOKEN, None = no Authorization header, else that token.
        body: a dict/list is sent as JSON (Content-Type application/json),
        str/bytes as they are. query: a dict or [(name, value)], encoded
        with "+" as %2B. Returns a Response."""
        h = dict(headers or {})
        if token == "default":
            token = self.token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if query:
            path += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        return self.https(method, path, h, body, timeout=timeout)

    def api_ok(self, method, path, want=200, what=None, **kw):
        """api(), then checks the status, Content-Type application/json and
        "success": true; returns the JSON object."""
        r = self.api(method, path, **kw)
        what = what or "%s %s" % (method, path)
        eq(r.status, want, "%s: status (%r)" % (what, r))
        eq(content_type(r), "application/json", "%s: Content-Type" % what)
        j = r.json()
        eq(j.get("success"), True, "%s: success" % what)
        return j

    def list_calls(self, token="default", **params):
        """GET /api/calls with params (None values left out); the JSON
        answer, every call checked against the contract."""
        q = [(k, str(v)) for k, v in params.items() if v is not None]
        j = self.api_ok("GET", "/api/calls", token=token, query=q,
                        what="GET /api/calls?%s" % urllib.parse.urlencode(q))
        check(isinstance(j.get("calls"), list), "calls is not a list: %r", j)
        check("next_cursor" in j and (j["next_cursor"] is None or
                                      (isinstance(j["next_cursor"], str) and j["next_cursor"])),
              "next_cursor is not a non-empty string or null: %r", j.get("next_cursor"))
        for i, c in enumerate(j["calls"]):
            check_call(c, "calls[%d]" % i)
        return j

    def list_all(self, token="default", limit=200, max_pages=100, **params):
        """Every page of GET /api/calls; returns the calls in order."""
        out, cursor = [], None
        for _ in range(max_pages):
            j = self.list_calls(token, limit=limit, cursor=cursor, **params)
            out += j["calls"]
            cursor = j["next_cursor"]
            if cursor is None:
                return out
        raise TestFailure("GET /api/calls: more than %d pages" % max_pages)

    def call_detail(self, call_sid, token="default"):
        """GET /api/calls/<sid> (200); the "call" object, checked."""
        j = self.api_ok("GET", "/api/calls/" + call_sid, token=token)
        c = check_call(j.get("call"), "detail of %s" % call_sid)
        missing = [k for k in DETAIL_KEYS if k not in c]
        check(not missing, "detail of %s lacks %s", call_sid, missing)
        check(isinstance(c["jobs"], list), "jobs is not a list: %r", c["jobs"])
        for jb in c["jobs"]:
            miss = [k for k in JOB_KEYS if k not in jb]
            check(not miss, "a job of %s lacks %s: %r", call_sid, miss, jb)
            check(jb["state"] in ("queued", "running", "done", "dead"), "job state %r", jb)
            parse_iso(jb["created_at"], "job created_at")
            parse_iso(jb["updated_at"], "job updated_at")
        return c

    def new_business(self, name=None, numbers=1, language=None):
        """A new business (callpipectl business create) with `numbers` new
        numbers and an API token of it (callpipectl token create):
        {"id", "numbers", "token"}."""
        bid, nums = self.create_business(name, language, numbers)
        out = self.ctl("token", "create", "--business", str(bid), "--name", "itest-api")
        check(out.returncode == 0, "token create: exit %d: %s", out.returncode, out.stderr)
        lines = out.stdout.strip().splitlines()
        tok = lines[-1].strip() if lines else ""
        check(len(tok) >= 16 and " " not in tok, "token create printed %r", out.stdout)
        return {"id": bid, "numbers": nums, "token": tok}

    def insert_calls(self, business_id, rows):
        """Inserts call_log rows straight into the database (for list and
        pagination tests): each a dict of columns over these defaults (a
        completed inbound call created now). Returns their call_sids in
        order."""
        sids = []
        conn = self.db()
        try:
            with conn.cursor() as cur:
                for r in rows:
                    row = {"call_sid": new_sid("CA"), "business_id": business_id,
                           "direction": "inbound", "from_number": "+15551230001",
                           "to_number": "+15005550006", "call_status": "completed",
                           "call_duration": 4, "recording_status": "completed",
                           "transcript_status": "completed", "summary_status": "completed"}
                    row.update(r)
                    cols = sorted(row)
                    cur.execute("INSERT INTO call_log (%s) VALUES (%s)" % (
                        ", ".join(cols), ", ".join(["%s"] * len(cols))),
                        [row[c] for c in cols])
                    sids.append(row["call_sid"])
        finally:
            conn.close()
        return sids

    def db_now(self):
        """NOW(3) of the database (UTC, naive)."""
        return self.query("SELECT NOW(3) AS t")[0]["t"]

    def download_url(self, call_sid, body=None, token="default"):
        """POST /api/calls/<sid>/download-url (body None: none sent)."""
        return self.api("POST", "/api/calls/%s/download-url" % call_sid, token=token, body=body)

    def mint(self, call_sid, fmt=None, ttl_s=None, token="default"):
        """A signed URL from POST .../download-url; checks the answer's
        shape and returns (url, expires_at datetime, {query})."""
        body = {}
        if fmt is not None:
            body["format"] = fmt
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        r = self.download_url(call_sid, body or None, token)
        eq(r.status, 200, "POST download-url of %s %r (%r)" % (call_sid, body, r))
        j = r.json()
        eq(j.get("success"), True, "download-url success")
        url = j.get("url")
        check(isinstance(url, str) and url.startswith("/api/calls/%s/download?" % call_sid),
              "download-url gave url %r", url)
        path, q = split_url(url)
        eq(sorted(q), ["expires", "format", "sig"], "parameters of the signed URL %r" % url)
        eq(q["format"], fmt or "wav", "format of the signed URL")
        check(re.match(r"^[0-9a-f]{64}$", q["sig"]) is not None, "sig %r is not 64 lower hex",
              q["sig"])
        check(q["expires"].isdigit(), "expires %r is not unix seconds", q["expires"])
        exp = parse_iso(j.get("expires_at"), "expires_at")
        eq(int(exp.timestamp()), int(q["expires"]), "expires_at vs the URL's expires")
        return url, exp, q

    def get_url(self, url, headers=None, method="GET"):
        """GET (or HEAD) a relative URL through nginx with no Authorization."""
        return self.https(method, url, dict(headers or {}))

    @property
    def signing_key(self):
        key = self.env.get("CALLPIPE_SIGNING_KEY") or self.conf_get("api.signing_key")
        check(key, "no signing key in stack.env or %s", self.conf)
        return key

    def cached_file(self, recording_sid, ext="wav"):
        """The path of a recording's cached file (cache_dir/<RE>.<ext>,
        else the first such name below cache_dir), or None."""
        name = "%s.%s" % (recording_sid, ext)
        p = os.path.join(self.cache_dir, name)
        if os.path.isfile(p):
            return p
        for d, _, files in os.walk(self.cache_dir):
            if name in files:
                return os.path.join(d, name)
        return None

    def api_call(self):
        """A completed call of the demo business, made once per run and
        shared by the API tests that only read it: (info, row)."""
        def make():
            info, _, row = self.completed_call("short")
            return info, row
        return self.memo("api_completed_call", make)

    # ------------------------------------------------------------ root SQL

    def root_db(self):
        """A pymysql connection as MariaDB's root (unix_socket
        authentication: the local stack runs as root)."""
        return pymysql.connect(unix_socket=self.env["MYSQL_SOCKET"], user="root",
                               charset="utf8mb4", autocommit=True, connect_timeout=10,
                               read_timeout=60, init_command="SET time_zone = '+00:00'",
                               cursorclass=pymysql.cursors.DictCursor)

    def capture_sql(self, fn, match=r"\bcall_log\b"):
        """Runs fn() with MariaDB's general log on (log_output TABLE) and
        returns the SELECT statements callpipe's own user sent meanwhile
        whose text matches the regex match, as executed (a prepared
        statement's Execute has its values in place), oldest first. The
        settings are put back and the log table emptied.

        MariaDB decides at prepare time whether an Execute is logged with
        its values (sql_prepare.cc, setup_set_params: only while the
        general log is on), and callpipe keeps its prepared statements per
        connection (db.c): so callpipe's connections are ended once the log
        is on, and its processes reconnect and prepare again."""
        conn = self.root_db()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@global.general_log AS g, @@global.log_output AS o")
                old = cur.fetchone()
                cur.execute("SET GLOBAL general_log = 0")
                cur.execute("TRUNCATE TABLE mysql.general_log")
                cur.execute("SET GLOBAL log_output = 'TABLE'")
                cur.execute("SET GLOBAL general_log = 1")
                try:
                    cur.execute("SELECT id FROM information_schema.processlist "
                                "WHERE user = %s", (self.env["MYSQL_USER"],))
                    for t in cur.fetchall():
                        try:
                            cur.execute("KILL CONNECTION %d" % int(t["id"]))
                        except pymysql.err.OperationalError:
                            pass    # gone already
                    fn()
                    cur.execute("SET GLOBAL general_log = 0")
                    cur.execute("SELECT command_type, CONVERT(argument USING utf8mb4) AS q "
                                "FROM mysql.general_log WHERE user_host LIKE %s "
                                "AND command_type IN ('Query', 'Execute') ORDER BY event_time",
                                (self.env["MYSQL_USER"] + "[%",))
                    rows = cur.fetchall()
                finally:
                    cur.execute("SET GLOBAL general_log = 0")
                    cur.execute("TRUNCATE TABLE mysql.general_log")
                    cur.execute("SET GLOBAL log_output = %s", (old["o"],))
                    cur.execute("SET GLOBAL general_log = %s", (int(old["g"]),))
        finally:
            conn.close()
        rx = re.compile(match, re.I)
        return [r["q"] for r in rows
                if r["q"].lstrip().upper().startswith("SELECT") and rx.search(r["q"])]

    @contextlib.contextmanager
    def scratch_database(self):
        """A database callpipe_scratch_<pid> with callpipe's schema
        (callpipectl -c <copy pointing at it> migrate); yields (name,
        connect) where connect() is a pymysql connection to it; dropped at
        the end. Scratch databases of processes that are gone are dropped
        first."""
        name = "callpipe_scratch_%d" % os.getpid()
        admin = self.db()
        try:
            with admin.cursor() as cur:
                cur.execute("SHOW DATABASES LIKE 'callpipe\\_scratch\\_%%'")
                for r in cur.fetchall():
                    db = list(r.values())[0]
                    pid = db.rsplit("_", 1)[-1]
                    if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
                        cur.execute("DROP DATABASE `%s`" % db)
                cur.execute("CREATE DATABASE `%s` CHARACTER SET utf8mb4 "
                            "COLLATE utf8mb4_unicode_ci" % name)
            tmp = tempfile.mkdtemp(prefix="itest-scratch-")
            try:
                conf = self.conf_copy({"database.name": name}, tmp)
                out = self.ctl("migrate", conf=conf, timeout=120)
                check(out.returncode == 0, "callpipectl migrate of %s: exit %d: %s", name,
                      out.returncode, out.stderr.strip())
                yield name, lambda: self.db(database=name)
            finally:
                for f in os.listdir(tmp):
                    os.unlink(os.path.join(tmp, f))
                os.rmdir(tmp)
        finally:
            try:
                with admin.cursor() as cur:
                    cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
            finally:
                admin.close()

    # ------------------------------------------------------------ a second fcgi

    @contextlib.contextmanager
    def _own_fcgi(self, overrides, sock):
        """Starts callpipe-fcgi on a copy of the config (overrides applied,
        in a temporary directory) and waits for its socket sock; yields a
        FcgiInstance; stops it (SIGTERM to its pid, then SIGKILL to its
        process group) and removes the directory at the end."""
        fcgi_bin = os.path.join(self.env["CALLPIPE_BUILD"], "fcgi-app", "callpipe-fcgi",
                                "callpipe-fcgi")
        tmp = tempfile.mkdtemp(prefix="itest-fcgi-")
        if sock is None:
            sock = os.path.join(tmp, "fcgi.sock")
            overrides = dict(overrides, **{"fcgi.socket": sock})
        conf = conf_with(self.conf, overrides, os.path.join(tmp, "callpipe.conf"))
        log_path = os.path.join(tmp, "callpipe-fcgi.log")
        logf = open(log_path, "ab")
        proc = None
        try:
            proc = subprocess.Popen([fcgi_bin, "-c", conf], stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=logf, start_new_session=True,
                                    env=self.ctl_env())
            inst = FcgiInstance(proc, sock, conf, log_path)
            deadline = time.monotonic() + 20
            while not os.path.exists(sock):
                check(proc.poll() is None, "our callpipe-fcgi exited %r at start: %s",
                      proc.returncode, inst.log()[-1500:])
                check(time.monotonic() < deadline, "our callpipe-fcgi made no socket in 20 s")
                time.sleep(0.05)
            yield inst
        finally:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    pass
            if proc is not None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)   # its children, if any are left
                except OSError:
                    pass
                if proc.poll() is None:
                    proc.wait(5)
            logf.close()
            for f in os.listdir(tmp):
                os.unlink(os.path.join(tmp, f))
            os.rmdir(tmp)

    @contextlib.contextmanager
    def fcgi_instance(self, overrides, children=2):
        """Runs a callpipe-fcgi master of our own with a copy of the config
        (overrides applied; its own socket in a temporary directory, no
        workers) beside the stack's, and yields a FcgiInstance. For
        settings the stack's master must not change, e.g. a
        signing_key_previous."""
        ov = {"fcgi.children": children, "worker.processes": 0}
        ov.update(overrides)
        with self._own_fcgi(ov, None) as inst:
            yield inst

    @contextlib.contextmanager
    def fcgi_replaced(self, overrides):
        """Runs the stack's callpipe-fcgi with other settings: stops the
        stack's master (SIGTERM, its children and workers with it), starts
        one of our own on the stack's socket (so nginx reaches it) with a
        copy of the config, overrides applied, workers as configured, and
        yields a FcgiInstance (its log: inst.log()). At the end ours is
        stopped and `etc/dev.sh up` starts the stack's master again. For
        settings every webhook must see, e.g. recording.mode "rest"."""
        sock = self.conf_get("fcgi.socket")
        master = self.fcgi_master_pid()
        os.kill(master, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _alive(master):
            check(time.monotonic() < deadline, "the stack's callpipe-fcgi %d did not stop "
                  "in 20 s", master)
            time.sleep(0.05)
        if os.path.exists(sock):
            os.unlink(sock)   # a killed master leaves it; bind() would fail
        try:
            with self._own_fcgi(overrides, sock) as inst:
                yield inst
        finally:
            p = self.dev_sh("up")
            check(p.returncode == 0, "etc/dev.sh up after fcgi_replaced: %s",
                  (p.stdout + p.stderr)[-1500:])

    # ------------------------------------------------------------ programs

    @staticmethod
    def ctl_env():
        """The environment for callpipectl: without CALLPIPE_STT_* and
        CALLPIPE_SUMMARY_*, which would win over the config and could send
        test audio to a real service with a real key."""
        return {k: v for k, v in os.environ.items()
                if not k.startswith(("CALLPIPE_STT_", "CALLPIPE_SUMMARY_"))}

    def ctl(self, *args, conf=None, timeout=60):
        """Runs callpipectl -c CONF args...; returns CompletedProcess (text)."""
        argv = [self.ctl_bin, "-c", conf or self.conf] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=self.ctl_env())

    def ctl_measured(self, *args, conf=None, timeout=600):
        """Runs callpipectl in a fresh Python whose only child it is, so that
        resource.getrusage(RUSAGE_CHILDREN).ru_maxrss is callpipectl's own
        peak RSS (KiB). Returns (CompletedProcess, maxrss_kib)."""
        argv = [self.ctl_bin, "-c", conf or self.conf] + list(args)
        wrapper = ("import json, resource, subprocess, sys\n"
                   "p = subprocess.run(sys.argv[1:])\n"
                   "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
                   "sys.stderr.write('\\nCPRUSAGE ' + json.dumps({'rc': p.returncode, "
                   "'maxrss_kib': ru.ru_maxrss}) + '\\n')\n"
                   "sys.exit(p.returncode)\n")
        p = subprocess.run([sys.executable, "-c", wrapper] + argv, capture_output=True,
                           text=True, timeout=timeout, env=self.ctl_env())
        m = re.search(r"\nCPRUSAGE (\{.*\})\n?$", p.stderr)
        check(m is not None, "no rusage from the wrapper of %s: %r", shell_join(argv),
              p.stderr[-500:])
        p.stderr = p.stderr[:m.start()]
        return p, json.loads(m.group(1))["maxrss_kib"]

    def dev_sh(self, *args, timeout=180):
        script = self.env.get("CALLPIPE_DEV_SH") or os.path.join(self.src, "etc", "dev.sh")
        return subprocess.run(["bash", script] + list(args), capture_output=True,
                              text=True, timeout=timeout, cwd=self.src)

    # ------------------------------------------------------------ processes

    def fcgi_master_pid(self):
        with open(self.fcgi_pid_file, encoding="ascii") as f:
            pid = int(f.read().strip())
        check(_alive(pid), "callpipe-fcgi master pid %d (from %s) is not running",
              pid, self.fcgi_pid_file)
        return pid

    def _children(self, exe_name):
        master = self.fcgi_master_pid()
        out = []
        for pid in _pids_with_parent(master):
            if _alive(pid) and _exe_base(pid) == exe_name:
                out.append(pid)
        return sorted(out)

    def fcgi_child_pids(self):
        """Live FastCGI children of the master (callpipe-fcgi processes;
        the master's callpipe-worker children are left out)."""
        return self._children("callpipe-fcgi")

    def worker_pids(self):
        return self._children("callpipe-worker")

    def wait_children(self, predicate, timeout=15, what="children"):
        deadline = time.monotonic() + timeout
        kids = []
        while time.monotonic() < deadline:
            kids = self.fcgi_child_pids()
            if predicate(kids):
                return kids
            time.sleep(0.1)
        raise TestFailure("fcgi children: %s not reached in %ds (children now %r)" %
                          (what, timeout, kids))


def _proc_stat(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as f:
            s = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    rest = s[s.rfind(")") + 2:].split()
    return rest  # rest[0] state, rest[1] ppid


def _alive(pid):
    st = _proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X", "x")


def _pids_with_parent(ppid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _proc_stat(int(name))
        if st is not None and int(st[1]) == ppid:
            out.append(int(name))
    return out


def _exe_base(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid)).replace(" (deleted)", "")
    except OSError:
        return None


def stack_env_path(repo_root):
    return os.environ.get("CALLPIPE_STACK_ENV") or os.path.join(repo_root, "run", "stack.env")


def shell_join(argv):
    return " ".join(shlex.quote(a) for a in argv)
