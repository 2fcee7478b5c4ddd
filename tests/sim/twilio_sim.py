#!/usr/bin/python3
"""Twilio simulator for callpipe's tests.

    /usr/bin/python3 tests/sim/twilio_sim.py --listen 127.0.0.1:8089 \\
        --account-sid AC... --auth-token TOKEN \\
        --base-url https://127.0.0.1:8443 --ca-cert run/tls/cert.pem \\
        --state-dir run/sim [--pid-file run/pids/twilio-sim.pid]

It plays the Twilio side of a call against callpipe: the signed voice
webhook, the <Start><Recording> recording status callbacks, the <Connect>
action, the call status callback, and Twilio's REST API for recordings
(media, Recording resources, lists, delete). Tests drive it through a small
JSON control API under /sim/. README.md beside this file documents both and
names the Twilio documents each behaviour comes from (TWILIO.md and the
OpenAPI extract in /work/shared/twilio-oai).

Everything is kept in memory; --state-dir only holds the media files the
simulator derives from a call's audio (mono mixdowns, MP3s, resampled WAVs).
Python 3 standard library plus Debian's python3-twilio (RequestValidator, to
sign requests exactly as Twilio's helper libraries check them) and sox.
"""

import argparse
import base64
import datetime
import email.utils
import hmac
import http.client
import http.server
import json
import math
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import wave
import xml.etree.ElementTree as ET

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
SID_HEX = "[0-9a-f]{32}"
RE_AC = re.compile(r"^AC%s$" % SID_HEX)
RE_CA = re.compile(r"^CA%s$" % SID_HEX)
RE_RE = re.compile(r"^RE%s$" % SID_HEX)

# Twilio's own webhook timeout is 15 s (Twilio docs, "Webhooks FAQ").
WEBHOOK_TIMEOUT_S = 15
MAX_BODY_KEPT = 4096          # bytes of a callback answer kept in the call state
MAX_CONTROL_BODY = 1 << 20    # bytes of a control API request

# <Start><Recording> reports this source (observed on live calls; the
# OpenAPI enum recording_enum_source predates it and lacks it).
SOURCE_TWIML = "StartCallRecordingTwiML"
SOURCE_REST = "StartCallRecordingAPI"

DEFAULT_EVENTS = "in-progress completed absent"

CALL_OPTIONS = {
    "from", "to", "direction", "audio", "order", "skip_voice_webhook",
    "duplicate_completed", "media_404_seconds", "media_status",
    "media_delay_s", "audio_kind", "recording_status", "account_sid",
    "bad_signature", "recording_delay_s", "duration_s", "media_rate",
    "error_code", "in_progress_duration", "expect_rest_recording",
    "content_type", "drop_callbacks", "recording_channels",
    "deliver_times", "ringing_s", "hangup_while_ringing", "already_recording",
}

# Twilio's recordings are 8 kHz (TWILIO.md); media_rate: null serves the
# audio at its own rate, 16000 is what pocketsphinx needs.
DEFAULT_MEDIA_RATE = 8000

# Geographic fields Twilio adds to voice requests, by calling code. Only
# their presence and shape matter to callpipe; the values are plausible.
GEO = {
    "+1": ("US", "SAN FRANCISCO", "CA", "94105"),
    "+972": ("IL", "", "", ""),
    "+44": ("GB", "", "", ""),
}


def now_rfc2822(t=None):
    """RFC 2822 date in GMT, as Twilio writes RecordingStartTime and date_*."""
    if t is None:
        t = time.time()
    return email.utils.format_datetime(
        datetime.datetime.fromtimestamp(t, datetime.timezone.utc))


def new_sid(prefix):
    return prefix + secrets.token_hex(16)


def geo(number):
    for code in sorted(GEO, key=len, reverse=True):
        if number.startswith(code):
            return GEO[code]
    return ("", "", "", "")


def log(msg):
    sys.stderr.write("%s twilio-sim: %s\n" % (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), msg))
    sys.stderr.flush()


def twilio_error(code, status, message):
    """Twilio's JSON error body (e.g. 20003 Authenticate, 20404 not found)."""
    return {"code": code, "message": message,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
            "status": status}


class BadRequest(Exception):
    pass


class Sim:
    """All calls and recordings, and the threads that play the calls."""

    def __init__(self, args):
        self.account_sid = args.account_sid
        self.auth_token = args.auth_token
        self.base_url = args.base_url.rstrip("/")
        self.api_base = "http://%s" % args.listen
        self.state_dir = os.path.abspath(args.state_dir)
        self.media_dir = os.path.join(self.state_dir, "media")
        os.makedirs(self.media_dir, exist_ok=True)
        for name in os.listdir(self.media_dir):
            if re.match(r"^RE[0-9a-f]{32}[-.]", name):
                os.unlink(os.path.join(self.media_dir, name))
        self.ssl_ctx = ssl.create_default_context(cafile=args.ca_cert) \
            if args.ca_cert else ssl.create_default_context()
        self.lock = threading.RLock()
        self.calls = {}        # CallSid -> call dict (the /sim/calls state)
        self.recordings = {}   # RecordingSid -> recording dict (REST resource)
        self.media = {}        # RecordingSid -> media behaviour settings
        self.by_recording = {}  # RecordingSid -> CallSid
        # POST /sim/rest_fail: every REST and media request answers
        # "status" until "until" (epoch seconds); "served" counts them.
        self.rest_fail = {"until": 0.0, "status": 500, "served": 0}

    # ---- outgoing requests (Twilio -> callpipe) ---------------------------

    def send(self, call, kind, url, params, method="POST", token=None):
        """One webhook (send_once); with the call's deliver_times N, a
        callback (not the voice webhook) goes N times, one delivery after
        the other, all with the same I-Twilio-Idempotency-Token as a
        re-delivery carries. Returns the first delivery's (event, raw)."""
        n = call["options"].get("deliver_times", 1) if kind != "voice" else 1
        if n > 1 and token is None:
            token = secrets.token_hex(16)
        first = self.send_once(call, kind, url, params, method, token)
        for _ in range(n - 1):
            self.send_once(call, kind, url, params, method, token)
        return first

    def send_once(self, call, kind, url, params, method="POST", token=None):
        """Sign and send one webhook; record it in the call's events.

        The signature is Twilio's: HMAC-SHA1 over the full URL plus the sorted
        POST parameters (TWILIO.md, "X-Twilio-Signature"), computed by
        twilio-python's RequestValidator. A GET carries the parameters in the
        query string and signs the URL alone.
        """
        opts = call["options"]
        # drop_callbacks "call_status" / "connect_action": that request is
        # never sent (lost, as a status callback may be), listed in "dropped".
        if kind in ("call_status", "connect_action") and \
                kind in opts.get("drop_callbacks", ()):
            with self.lock:
                call.setdefault("dropped", []).append(kind)
            return {"kind": kind, "status": None, "error": "dropped"}, None
        sign_key = self.auth_token
        if opts.get("bad_signature"):
            sign_key = "wrong-" + self.auth_token
        validator = RequestValidator(sign_key)
        body = None
        if method == "GET":
            sep = "&" if urllib.parse.urlsplit(url).query else "?"
            url = url + sep + urllib.parse.urlencode(params)
            signature = validator.compute_signature(url, {})
        else:
            body = urllib.parse.urlencode(params).encode("utf-8")
            signature = validator.compute_signature(url, params)
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "X-Home-Region": "us1",
            "I-Twilio-Idempotency-Token": token or secrets.token_hex(16),
        }
        if body is not None:
            headers["Content-Type"] = opts.get(
                "content_type", "application/x-www-form-urlencoded")
        event = {"t": time.time(), "kind": kind, "method": method, "url": url,
                 "params": dict(params), "status": None, "content_type": None,
                 "body": None, "error": None, "elapsed_ms": None,
                 "idempotency_token": headers["I-Twilio-Idempotency-Token"]}
        t0 = time.monotonic()
        try:
            parts = urllib.parse.urlsplit(url)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(
                    parts.hostname, parts.port or 443, timeout=WEBHOOK_TIMEOUT_S,
                    context=self.ssl_ctx)
            elif parts.scheme == "http":
                conn = http.client.HTTPConnection(
                    parts.hostname, parts.port or 80, timeout=WEBHOOK_TIMEOUT_S)
            else:
                raise ValueError("unsupported URL scheme in %r" % url)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read(1 << 20)
                event["status"] = resp.status
                event["content_type"] = resp.getheader("Content-Type")
                event["body"] = data[:MAX_BODY_KEPT].decode("utf-8", "replace")
                event["_raw"] = data
            finally:
                conn.close()
        except Exception as e:  # network, TLS and protocol errors alike
            event["error"] = "%s: %s" % (type(e).__name__, e)
        event["elapsed_ms"] = int((time.monotonic() - t0) * 1000)
        log("-> %s %s [%s] %s (%d ms)" % (
            method, url.split("?")[0], kind,
            event["status"] if event["error"] is None else event["error"],
            event["elapsed_ms"]))
        raw = event.pop("_raw", None)
        with self.lock:
            call["events"].append(event)
        return event, raw

    # ---- control API ------------------------------------------------------

    def create_call(self, req):
        if not isinstance(req, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(req) - CALL_OPTIONS
        if unknown:
            raise BadRequest("unknown option(s): %s" % ", ".join(sorted(unknown)))
        direction = req.get("direction", "inbound")
        if direction not in ("inbound", "outbound-api"):
            raise BadRequest("direction must be inbound or outbound-api")
        order = req.get("order", "normal")
        if order not in ("normal", "callbacks_first"):
            raise BadRequest("order must be normal or callbacks_first")
        audio_kind = req.get("audio_kind", "normal")
        if audio_kind not in ("normal", "empty", "header_only"):
            raise BadRequest("audio_kind must be normal, empty or header_only")
        rec_status = req.get("recording_status", "completed")
        if rec_status not in ("completed", "absent", "failed"):
            raise BadRequest("recording_status must be completed, absent or failed")
        drop = req.get("drop_callbacks", [])
        if not isinstance(drop, list) or not set(drop) <= {
                "recording:in-progress", "recording:completed",
                "recording:absent", "recording:failed",
                "call_status", "connect_action"}:
            raise BadRequest("drop_callbacks must be a list of recording:<status>, "
                             "call_status, connect_action")
        for key in ("from", "to"):
            if key in req and not re.match(r"^\+[1-9][0-9]{6,14}$", str(req[key])):
                raise BadRequest("%s must be an E.164 number" % key)
        if "account_sid" in req and not isinstance(req["account_sid"], str):
            raise BadRequest("account_sid must be a string")
        for key in ("media_404_seconds", "media_delay_s", "recording_delay_s",
                    "duration_s", "ringing_s"):
            if key in req and (not isinstance(req[key], (int, float))
                               or req[key] < 0):
                raise BadRequest("%s must be a number >= 0" % key)
        for key in ("media_status", "media_rate", "error_code"):
            if req.get(key) is not None and not isinstance(req[key], int):
                raise BadRequest("%s must be an integer" % key)
        if req.get("media_status") is not None and not 100 <= req["media_status"] <= 599:
            raise BadRequest("media_status must be an HTTP status")
        if req.get("media_rate") is not None and not 4000 <= req["media_rate"] <= 48000:
            raise BadRequest("media_rate must be a rate in Hz")
        if req.get("recording_channels", 2) not in (1, 2):
            raise BadRequest("recording_channels must be 1 or 2")
        dt = req.get("deliver_times", 1)
        if not isinstance(dt, int) or isinstance(dt, bool) or not 1 <= dt <= 10:
            raise BadRequest("deliver_times must be an integer 1 .. 10")

        audio = req.get("audio")
        duration = None
        channels = 0
        if audio is not None:
            if not isinstance(audio, str) or not os.path.isabs(audio):
                raise BadRequest("audio must be an absolute path")
            try:
                with wave.open(audio, "rb") as w:
                    duration = w.getnframes() / float(w.getframerate())
                    channels = w.getnchannels()
            except (OSError, wave.Error, EOFError, ZeroDivisionError) as e:
                raise BadRequest("audio %s: not a readable PCM WAV: %s" % (audio, e))
        elif audio_kind == "normal":
            raise BadRequest("audio is required unless audio_kind is empty or header_only")
        if "duration_s" in req:
            duration = float(req["duration_s"])
        if duration is None:
            duration = 2.0

        call_sid = new_sid("CA")
        rec_sid = new_sid("RE")
        call = {
            "call_sid": call_sid, "recording_sid": rec_sid,
            "account_sid": req.get("account_sid", self.account_sid),
            "from": req.get("from", "+14155550123"),
            "to": req.get("to", "+15005550006"),
            "direction": direction, "audio": audio, "audio_channels": channels,
            "duration_s": duration, "state": "queued", "errors": [],
            "warnings": [], "twiml": None, "recording_attrs": None,
            "connect": None, "events": [], "media_requests": [],
            "options": dict(req), "created": time.time(),
            "start_time": None, "end_time": None,
        }
        with self.lock:
            self.calls[call_sid] = call
            self.by_recording[rec_sid] = call_sid
            self.media[rec_sid] = {
                "media_status": req.get("media_status"),
                "media_delay_s": float(req.get("media_delay_s", 0)),
                "media_404_seconds": float(req.get("media_404_seconds", 0)),
                "media_404_until": None,
                "audio_kind": audio_kind,
                "media_rate": req.get("media_rate", DEFAULT_MEDIA_RATE),
            }
        threading.Thread(target=self.run_call, args=(call,), daemon=True,
                         name="call-" + call_sid[:10]).start()
        log("call %s (%s, recording %s) created" % (call_sid, direction, rec_sid))
        return {"call_sid": call_sid, "recording_sid": rec_sid,
                "account_sid": call["account_sid"]}

    def set_rest_fail(self, req):
        """POST /sim/rest_fail {"seconds": S, "status": 500}: every request
        of the REST API (resources and media alike) answers status with
        Twilio's JSON error for the next S seconds (0 ends it at once)."""
        if not isinstance(req, dict) or set(req) - {"seconds", "status"}:
            raise BadRequest("rest_fail takes seconds and status")
        secs = req.get("seconds", 0)
        status = req.get("status", 500)
        if not isinstance(secs, (int, float)) or isinstance(secs, bool) or \
                not 0 <= secs <= 3600:
            raise BadRequest("seconds must be a number 0 .. 3600")
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise BadRequest("status must be an HTTP error status")
        with self.lock:
            self.rest_fail = {"until": time.time() + secs if secs else 0.0,
                              "status": status, "served": 0}
            return self.rest_fail_state()

    def rest_fail_state(self):
        with self.lock:
            out = dict(self.rest_fail)
            out["active"] = time.time() < out["until"]
            return out

    def rest_failing(self):
        """The status to answer a REST request with now, or None."""
        with self.lock:
            if time.time() < self.rest_fail["until"]:
                self.rest_fail["served"] += 1
                return self.rest_fail["status"]
            return None

    def call_state(self, call_sid):
        with self.lock:
            call = self.calls.get(call_sid)
            if call is None:
                return None
            out = {k: v for k, v in call.items() if k != "options"}
            out["options"] = dict(call["options"])
            out["errors"] = list(call["errors"])
            out["warnings"] = list(call["warnings"])
            out["events"] = [dict(e) for e in call["events"]]
            out["media_requests"] = [dict(m) for m in call["media_requests"]]
            rec = self.recordings.get(call["recording_sid"])
            out["recording"] = dict(rec) if rec else None
            out["media"] = dict(self.media[call["recording_sid"]])
            return out

    def set_media(self, rec_sid, req):
        if not isinstance(req, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(req) - {"media_status", "media_delay_s", "media_404_seconds",
                              "audio_kind", "media_rate"}
        if unknown:
            raise BadRequest("unknown option(s): %s" % ", ".join(sorted(unknown)))
        with self.lock:
            m = self.media.get(rec_sid)
            if m is None:
                return None
            if "media_status" in req:
                v = req["media_status"]
                if v is not None and (not isinstance(v, int) or not 100 <= v <= 599):
                    raise BadRequest("media_status must be null or an HTTP status")
                m["media_status"] = v
            if "media_delay_s" in req:
                m["media_delay_s"] = float(req["media_delay_s"])
            if "audio_kind" in req:
                if req["audio_kind"] not in ("normal", "empty", "header_only"):
                    raise BadRequest("audio_kind must be normal, empty or header_only")
                m["audio_kind"] = req["audio_kind"]
            if "media_rate" in req:
                v = req["media_rate"]
                if v is not None and (not isinstance(v, int) or not 4000 <= v <= 48000):
                    raise BadRequest("media_rate must be null or a rate in Hz")
                m["media_rate"] = v
            if "media_404_seconds" in req:
                secs = float(req["media_404_seconds"])
                m["media_404_seconds"] = secs
                rec = self.recordings.get(rec_sid)
                # Counted from now for a recording already completed, from
                # its completion otherwise.
                if rec is not None and rec["status"] == "completed":
                    m["media_404_until"] = time.time() + secs
            return dict(m)

    # ---- the call ---------------------------------------------------------

    def voice_params(self, call, status):
        """The parameters of Twilio's voice request (TWILIO.md, "Webhook parameters")."""
        fc, fcity, fstate, fzip = geo(call["from"])
        tc, tcity, tstate, tzip = geo(call["to"])
        return {
            "AccountSid": call["account_sid"], "ApiVersion": API_VERSION,
            "CallSid": call["call_sid"], "CallStatus": status,
            "Direction": call["direction"],
            "From": call["from"], "To": call["to"],
            "Caller": call["from"], "Called": call["to"],
            "FromCountry": fc, "FromCity": fcity, "FromState": fstate, "FromZip": fzip,
            "CallerCountry": fc, "CallerCity": fcity, "CallerState": fstate, "CallerZip": fzip,
            "ToCountry": tc, "ToCity": tcity, "ToState": tstate, "ToZip": tzip,
            "CalledCountry": tc, "CalledCity": tcity, "CalledState": tstate, "CalledZip": tzip,
        }

    def recording_params(self, call, rec, status):
        """Recording status callback parameters (TWILIO.md; twilio.com/docs/voice/twiml/recording)."""
        acct = call["account_sid"]
        p = {
            "AccountSid": acct, "CallSid": call["call_sid"],
            "RecordingSid": rec["sid"],
            "RecordingUrl": "%s/%s/Accounts/%s/Recordings/%s" % (
                self.api_base, API_VERSION, acct, rec["sid"]),
            "RecordingStatus": status,
            "RecordingChannels": str(rec["channels"]),
            "RecordingSource": rec["source"],
            "RecordingStartTime": now_rfc2822(rec["start_t"]),
            "RecordingTrack": rec["track"],
        }
        opts = call["options"]
        if status == "in-progress":
            if opts.get("in_progress_duration") is not None:
                p["RecordingDuration"] = str(opts["in_progress_duration"])
            p["ErrorCode"] = "0"
        elif status == "completed":
            p["RecordingDuration"] = rec["duration"]
            p["ErrorCode"] = "0"
        elif status == "absent":
            p["RecordingDuration"] = "0"
            p["ErrorCode"] = str(opts.get("error_code") or 16102)
        else:  # failed: Twilio names no error code for it
            p["RecordingDuration"] = rec["duration"] or "0"
            if opts.get("error_code") is not None:
                p["ErrorCode"] = str(opts["error_code"])
        return p

    def status_params(self, call, seq):
        """Call status callback for the ended call (CallDuration in seconds):
        completed, or the final status of a call that ended ringing."""
        p = self.voice_params(call, call.get("final_status") or "completed")
        secs = int(call["call_duration"])
        p.update({
            "CallDuration": str(secs),
            "Duration": str(max(1, int(math.ceil(secs / 60.0)))),
            "Timestamp": now_rfc2822(), "CallbackSource": "call-progress-events",
            "SequenceNumber": str(seq), "SipResponseCode": "200",
        })
        return p

    def check_twiml(self, call, event, raw):
        """Parse the voice webhook's answer; fill errors, warnings, recording_attrs.

        Fatal (the call fails, no recording): no answer, not HTTP 200,
        not an XML content type, not TwiML, a <Record> verb anywhere, no
        <Start><Recording> (unless expect_rest_recording), no <Connect>, or
        <Start><Recording> after <Connect> (DESIGN.md section 3; TWILIO.md,
        "Starting a recording"). Deviations Twilio would accept are warnings.
        """
        errors, warnings = call["errors"], call["warnings"]
        if event["error"]:
            errors.append("voice webhook: %s" % event["error"])
            return None
        call["twiml"] = event["body"]
        if event["status"] != 200:
            errors.append("voice webhook answered HTTP %d" % event["status"])
            return None
        ctype = (event["content_type"] or "").split(";")[0].strip().lower()
        if ctype not in ("text/xml", "application/xml"):
            errors.append("voice webhook answered Content-Type %r, not text/xml"
                          % event["content_type"])
            return None
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as e:
            errors.append("TwiML does not parse: %s" % e)
            return None
        if root.tag != "Response":
            errors.append("TwiML root is <%s>, not <Response>" % root.tag)
            return None
        if any(el.tag == "Record" for el in root.iter()):
            errors.append("TwiML contains a <Record> verb")
        verbs = list(root)
        start_idx = next((i for i, v in enumerate(verbs) if v.tag == "Start"
                          and v.find("Recording") is not None), None)
        connect_idx = next((i for i, v in enumerate(verbs) if v.tag == "Connect"), None)
        if connect_idx is None:
            errors.append("TwiML has no <Connect>")
        if start_idx is None:
            if not call["options"].get("expect_rest_recording"):
                errors.append("TwiML has no <Start><Recording>")
        elif connect_idx is not None and start_idx > connect_idx:
            errors.append("<Start><Recording> comes after <Connect>")
        rec_el = None
        if start_idx is not None:
            if start_idx > 0:
                warnings.append("verbs before <Start><Recording>: %s" % ", ".join(
                    v.tag for v in verbs[:start_idx]))
            rec_el = verbs[start_idx].find("Recording")
            attrs = dict(rec_el.attrib)
            call["recording_attrs"] = attrs
            for name in ("recordingChannels", "recordingTrack"):
                if name in attrs:
                    warnings.append("<Recording> has %s; Twilio's attribute is %s"
                                    % (name, "channels" if name == "recordingChannels"
                                       else "track"))
            if attrs.get("channels", "dual") != "dual" or "channels" not in attrs:
                warnings.append("<Recording channels=%r>, expected \"dual\""
                                % attrs.get("channels"))
            if attrs.get("trim") != "do-not-trim":
                warnings.append("<Recording trim=%r>, expected \"do-not-trim\""
                                % attrs.get("trim"))
            if "recordingStatusCallback" not in attrs:
                warnings.append("<Recording> has no recordingStatusCallback")
            events = attrs.get("recordingStatusCallbackEvent", "completed").split()
            for ev in events:
                if ev not in ("in-progress", "completed", "absent"):
                    warnings.append("unknown recordingStatusCallbackEvent %r" % ev)
            for ev in ("in-progress", "completed", "absent"):
                if ev not in events:
                    warnings.append("recordingStatusCallbackEvent lacks %r" % ev)
        if connect_idx is not None:
            con = verbs[connect_idx]
            stream = con.find("Stream")
            call["connect"] = {
                "action": con.get("action"), "method": con.get("method", "POST"),
                "stream_url": stream.get("url") if stream is not None else None,
                "stream_parameters": {p.get("name"): p.get("value")
                                      for p in (stream.findall("Parameter")
                                                if stream is not None else [])},
            }
            if stream is None:
                warnings.append("<Connect> has no <Stream>")
            if con.get("action") is None:
                warnings.append("<Connect> has no action")
        if errors:
            return None
        return rec_el

    def new_recording(self, call, attrs, source):
        """The Recording resource, status in-progress, from TwiML/REST attributes."""
        webhook = call.get("webhook_url") or self.base_url + "/"
        cb = attrs.get("recordingStatusCallback")
        dual = attrs.get("channels", "dual") == "dual"
        # recording_channels: 1 plays a mono recording whatever the TwiML
        # asked for (RecordingChannels=1, media one channel).
        channels = 2 if (dual and call["audio_channels"] != 1
                         and call["options"].get("recording_channels", 2) != 1) else 1
        rec = {
            "sid": call["recording_sid"], "call_sid": call["call_sid"],
            "account_sid": self.account_sid, "status": "in-progress",
            "channels": channels, "source": source,
            "track": attrs.get("track", "both"),
            "start_t": time.time(), "updated_t": time.time(),
            "duration": None, "error_code": None, "deleted": False,
            "callback": urllib.parse.urljoin(webhook, cb) if cb else None,
            "callback_method": attrs.get("recordingStatusCallbackMethod", "POST").upper(),
            "events": attrs.get("recordingStatusCallbackEvent", "completed").split(),
            "completed_t": None,
        }
        with self.lock:
            self.recordings[rec["sid"]] = rec
        return rec

    def recording_callback(self, call, rec, status, token=None):
        if rec["callback"] is None:
            return
        # "drop_callbacks": ["recording:completed", ...] plays a callback
        # that never arrives (TWILIO.md "Retries and failures": Twilio does
        # not reliably re-deliver status callbacks).
        if "recording:" + status in call["options"].get("drop_callbacks", ()):
            with self.lock:
                call.setdefault("dropped", []).append("recording:" + status)
            return
        subscribed = status in rec["events"] or (
            status == "failed" and "completed" in rec["events"])
        if not subscribed:
            return
        self.send(call, "recording:" + status, rec["callback"],
                  self.recording_params(call, rec, status),
                  method=rec["callback_method"], token=token)

    def finish_recording(self, call, rec):
        """The recording is processed: completed, absent or failed."""
        opts = call["options"]
        status = opts.get("recording_status", "completed")
        with self.lock:
            rec["duration"] = str(max(1, int(round(call["duration_s"])))) \
                if status != "absent" else "0"
            if status == "completed":
                rec["status"] = "completed"
                m = self.media[rec["sid"]]
                m["media_404_until"] = time.time() + m["media_404_seconds"]
            else:
                # The OpenAPI status enum has no "failed": a failed recording
                # is shown like an absent one, with its error code.
                rec["status"] = "absent"
                rec["error_code"] = opts.get("error_code") or (
                    16102 if status == "absent" else None)
            rec["completed_t"] = rec["updated_t"] = time.time()
        token = secrets.token_hex(16)
        self.recording_callback(call, rec, status, token=token)
        if opts.get("duplicate_completed"):
            time.sleep(1.0)
            # A re-delivery carries the same idempotency token.
            self.recording_callback(call, rec, status, token=token)

    def default_recording_attrs(self):
        return {"recordingStatusCallback": self.base_url + "/webhook/handle_recording",
                "recordingStatusCallbackEvent": DEFAULT_EVENTS,
                "channels": "dual", "trim": "do-not-trim"}

    def run_call(self, call):
        try:
            if call["options"].get("order", "normal") == "callbacks_first":
                self.run_callbacks_first(call)
            else:
                self.run_normal(call)
        except Exception:
            with self.lock:
                call["errors"].append("simulator: " + traceback.format_exc(limit=3))
                call["state"] = "failed"
            log("call %s: simulator error\n%s" % (call["call_sid"], traceback.format_exc()))

    def voice_webhook(self, call):
        """POST the voice webhook; returns the <Recording> element or None."""
        inbound = call["direction"] == "inbound"
        call["webhook_url"] = self.base_url + (
            "/webhook/incoming_call" if inbound else "/webhook/outbound_call")
        # An inbound call asks for TwiML while ringing; an outbound-api call
        # asks once the callee answered (TWILIO.md, CallStatus values).
        status = "ringing" if inbound else "in-progress"
        event, raw = self.send(call, "voice", call["webhook_url"],
                               self.voice_params(call, status))
        with self.lock:
            return self.check_twiml(call, event, raw)

    def post_call_status(self, call):
        call["call_duration"] = int(math.ceil(call["duration_s"]))
        self.send(call, "call_status", self.base_url + "/webhook/call_status",
                  self.status_params(call, 0))

    def run_normal(self, call):
        opts = call["options"]
        call["start_time"] = time.time()
        rec = None
        if opts.get("skip_voice_webhook"):
            call["webhook_url"] = self.base_url + "/webhook/incoming_call"
            rec = self.new_recording(call, self.default_recording_attrs(), SOURCE_TWIML)
        else:
            rec_el = self.voice_webhook(call)
            if call["errors"]:
                with self.lock:
                    call["state"] = "failed"
                # The caller still hung up: Twilio reports the end of the call.
                call["duration_s"] = 0.0
                call["end_time"] = time.time()
                self.post_call_status(call)
                log("call %s failed: %s" % (call["call_sid"], "; ".join(call["errors"])))
                return
            if rec_el is not None:
                rec = self.new_recording(call, dict(rec_el.attrib), SOURCE_TWIML)
        # ringing_s: the call rings this long after the voice webhook
        # (the Call resource says ringing or queued, a REST start answers
        # 21220: TWILIO.md "Starting a recording"); hangup_while_ringing:
        # then it ends unanswered, no recording, no <Connect action>.
        if opts.get("ringing_s"):
            time.sleep(float(opts["ringing_s"]))
        if opts.get("hangup_while_ringing"):
            with self.lock:
                call["final_status"] = ("canceled" if call["direction"] == "inbound"
                                        else "no-answer")
                call["end_time"] = time.time()
                call["duration_s"] = 0.0
            self.post_call_status(call)
            with self.lock:
                call["state"] = "completed"
            log("call %s ended while ringing (%s)" % (call["call_sid"],
                                                      call["final_status"]))
            return
        with self.lock:
            call["state"] = "in-progress"
        if rec is None and opts.get("already_recording"):
            # Someone else (another client, a <Start> elsewhere) started a
            # recording as the call was answered: a REST start gets 16108.
            rec = self.new_recording(call, self.default_recording_attrs(),
                                     SOURCE_REST)
        if rec is not None:
            self.recording_callback(call, rec, "in-progress")

        time.sleep(call["duration_s"])

        call["end_time"] = time.time()
        with self.lock:
            rec = self.recordings.get(call["recording_sid"])  # may come from REST
            if rec is not None and rec["status"] == "in-progress":
                rec["status"] = "processing"
                rec["duration"] = "-1"
                rec["updated_t"] = time.time()
        con = call.get("connect")
        if con and con.get("action"):
            # Twilio requests the <Connect action> when the stream ends.
            url = urllib.parse.urljoin(call["webhook_url"], con["action"])
            self.send(call, "connect_action", url,
                      self.voice_params(call, "in-progress"),
                      method=con.get("method", "POST").upper())
        self.post_call_status(call)
        if rec is not None:
            time.sleep(float(opts.get("recording_delay_s", 0.3)))
            self.finish_recording(call, rec)
        with self.lock:
            call["state"] = "completed"
        log("call %s completed" % call["call_sid"])

    def run_callbacks_first(self, call):
        """Callbacks before the voice webhook, no running time (a late webhook)."""
        opts = call["options"]
        call["start_time"] = time.time()
        call["webhook_url"] = self.base_url + "/webhook/incoming_call"
        rec = self.new_recording(call, self.default_recording_attrs(), SOURCE_TWIML)
        call["end_time"] = time.time()
        self.post_call_status(call)
        self.recording_callback(call, rec, "in-progress")
        with self.lock:
            rec["status"] = "processing"
            rec["duration"] = "-1"
        self.finish_recording(call, rec)
        if not opts.get("skip_voice_webhook"):
            self.voice_webhook(call)
        with self.lock:
            call["state"] = "failed" if call["errors"] else "completed"
        log("call %s %s (callbacks first)" % (call["call_sid"], call["state"]))

    # ---- REST: Recording resources ---------------------------------------

    def recording_json(self, rec, call_scoped=False):
        """A Recording resource (OpenAPI: api.v2010.account.recording, or
        api.v2010.account.call.call_recording when call_scoped)."""
        acct = rec["account_sid"]
        status = "deleted" if rec["deleted"] else rec["status"]
        done = rec["status"] in ("completed", "absent")
        if call_scoped:
            uri = "/%s/Accounts/%s/Calls/%s/Recordings/%s.json" % (
                API_VERSION, acct, rec["call_sid"], rec["sid"])
        else:
            uri = "/%s/Accounts/%s/Recordings/%s.json" % (API_VERSION, acct, rec["sid"])
        out = {
            "account_sid": acct, "api_version": API_VERSION,
            "call_sid": rec["call_sid"], "conference_sid": None,
            "channels": rec["channels"],
            "date_created": now_rfc2822(rec["start_t"]),
            "date_updated": now_rfc2822(rec["updated_t"]),
            "start_time": now_rfc2822(rec["start_t"]),
            "price": "-0.00250" if done else None,
            "price_unit": "USD",
            "duration": rec["duration"],
            "sid": rec["sid"], "source": rec["source"], "status": status,
            "error_code": rec["error_code"], "encryption_details": None,
            "uri": uri,
        }
        if call_scoped:
            out["track"] = rec["track"]
        else:
            base = "/%s/Accounts/%s/Recordings/%s" % (API_VERSION, acct, rec["sid"])
            out["subresource_uris"] = {
                "add_on_results": base + "/AddOnResults.json",
                "transcriptions": base + "/Transcriptions.json"}
            out["media_url"] = self.api_base + base
        return out

    def recording_list(self, path, query, recs, call_scoped):
        try:
            page_size = int(query.get("PageSize", ["50"])[0])
            page = int(query.get("Page", ["0"])[0])
        except ValueError:
            raise BadRequest("PageSize and Page must be integers")
        page_size = min(max(page_size, 1), 1000)
        recs = sorted(recs, key=lambda r: r["start_t"], reverse=True)
        chunk = recs[page * page_size:(page + 1) * page_size]
        first = "%s?PageSize=%d&Page=0" % (path, page_size)
        return {
            "recordings": [self.recording_json(r, call_scoped) for r in chunk],
            "end": page * page_size + max(len(chunk) - 1, 0),
            "first_page_uri": first,
            "next_page_uri": ("%s?PageSize=%d&Page=%d" % (path, page_size, page + 1))
            if (page + 1) * page_size < len(recs) else None,
            "page": page, "page_size": page_size,
            "previous_page_uri": ("%s?PageSize=%d&Page=%d" % (path, page_size, page - 1))
            if page > 0 else None,
            "start": page * page_size,
            "uri": "%s?PageSize=%d&Page=%d" % (path, page_size, page),
        }

    def media_file(self, rec, call, ext, two_channels, rate):
        """Path of the media to serve, made with sox and cached in --state-dir."""
        src = call["audio"]
        with wave.open(src, "rb") as w:
            src_rate = w.getframerate()
        rate = rate or src_rate
        chans = 2 if (two_channels and rec["channels"] == 2) else 1
        out = os.path.join(self.media_dir, "%s-%dch-%d.%s" % (rec["sid"], chans, rate, ext))
        if os.path.exists(out):
            return out
        tmp = out + ".tmp." + secrets.token_hex(4) + "." + ext
        argv = ["sox", "-G", "-D", src]
        if ext == "mp3":
            argv += ["-C", "32", tmp]   # Twilio's MP3 is 32 kbps (TWILIO.md)
        else:
            argv += ["-b", "16", "-e", "signed-integer", tmp]
        if call["audio_channels"] == 2 and chans == 1:
            argv += ["remix", "1,2"]    # Twilio mixes a dual recording down
        if rate != src_rate:
            argv += ["rate", str(rate)]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("sox failed: %s" % r.stderr.strip())
        os.replace(tmp, out)
        return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "twilio-sim/1"
    sim = None  # set by main()

    def log_request(self, code="-", size="-"):
        pass  # one line per request is written by finish_log()

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    def finish_log(self, status, size):
        log("%s %s %s %d %d (%d ms)" % (
            self.client_address[0], self.command, self.path, status, size,
            int((time.monotonic() - self._t0) * 1000)))

    def reply(self, status, body=b"", ctype="application/json", headers=None,
              head_only=False):
        if isinstance(body, (dict, list)):
            body = (json.dumps(body, indent=1) + "\n").encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if status != 204 and not head_only:
            self.wfile.write(body)
        self.finish_log(status, len(body))

    def read_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_CONTROL_BODY:
            raise BadRequest("body too large")
        data = self.rfile.read(n) if n else b""
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError as e:
            raise BadRequest("body is not JSON: %s" % e)

    def drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        if 0 < n <= MAX_CONTROL_BODY:
            self.rfile.read(n)

    def handle_one(self, method):
        self._t0 = time.monotonic()
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        try:
            if path.startswith("/sim/"):
                return self.control(method, path)
            if path.startswith("/%s/" % API_VERSION):
                return self.rest(method, path, query, parts.query)
            self.drain()
            return self.reply(404, {"error": "no such route"})
        except BadRequest as e:
            return self.reply(400, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            log("%s %s: client went away" % (method, self.path))
        except Exception:
            log("%s %s: %s" % (method, self.path, traceback.format_exc()))
            return self.reply(500, twilio_error(20500, 500, "Internal Server Error"))

    def do_GET(self):
        self.handle_one("GET")

    def do_HEAD(self):
        self.handle_one("HEAD")

    def do_POST(self):
        self.handle_one("POST")

    def do_DELETE(self):
        self.handle_one("DELETE")

    # ---- /sim/ control API -------------------------------------------------

    def control(self, method, path):
        sim = self.sim
        if path == "/sim/health" and method in ("GET", "HEAD"):
            return self.reply(200, {"ok": True, "account_sid": sim.account_sid,
                                    "base_url": sim.base_url},
                              head_only=(method == "HEAD"))
        if path == "/sim/calls" and method == "POST":
            return self.reply(201, sim.create_call(self.read_json()))
        if path == "/sim/calls" and method == "GET":
            with sim.lock:
                return self.reply(200, {"calls": [
                    {"call_sid": c["call_sid"], "state": c["state"]}
                    for c in sim.calls.values()]})
        m = re.match(r"^/sim/calls/(CA[0-9a-f]{32})$", path)
        if m and method == "GET":
            st = sim.call_state(m.group(1))
            return self.reply(200 if st else 404, st or {"error": "no such call"})
        if path == "/sim/rest_fail" and method == "POST":
            return self.reply(200, sim.set_rest_fail(self.read_json()))
        if path == "/sim/rest_fail" and method == "GET":
            return self.reply(200, sim.rest_fail_state())
        m = re.match(r"^/sim/recordings/(RE[0-9a-f]{32})/media$", path)
        if m and method == "POST":
            st = sim.set_media(m.group(1), self.read_json())
            return self.reply(200 if st else 404, st or {"error": "no such recording"})
        self.drain()
        return self.reply(404, {"error": "no such control route"})

    # ---- Twilio REST ------------------------------------------------------

    def authorised(self):
        """HTTP Basic AccountSid:AuthToken, compared in constant time."""
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(h[6:].strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        ok_user = hmac.compare_digest(user.encode(), self.sim.account_sid.encode())
        ok_pw = hmac.compare_digest(pw.encode(), self.sim.auth_token.encode())
        return ok_user and ok_pw

    def note_unauthorised_media(self, path, raw_query):
        """A media request without valid credentials still shows in the call state."""
        m = re.match(r"^/%s/Accounts/AC[0-9a-fA-F]{32}/Recordings/(RE[0-9a-f]{32})"
                     r"(\.wav|\.mp3)?$" % API_VERSION, path)
        if not m:
            return
        with self.sim.lock:
            call = self.sim.calls.get(self.sim.by_recording.get(m.group(1), ""))
            if call is not None:
                call["media_requests"].append({"t": time.time(), "path": path,
                                               "query": raw_query, "status": 401})

    def not_found(self, head_only=False):
        return self.reply(404, twilio_error(
            20404, 404, "The requested resource %s was not found"
            % urllib.parse.urlsplit(self.path).path), head_only=head_only)

    def rest(self, method, path, query, raw_query):
        sim = self.sim
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_CONTROL_BODY:
            return self.reply(413, twilio_error(20001, 413, "Request too large"))
        data = self.rfile.read(n) if n else b""
        fail = sim.rest_failing()
        if fail is not None:
            return self.reply(fail, twilio_error(
                20500 if fail >= 500 else 20001, fail,
                "Internal Server Error (simulated outage)"),
                head_only=(method == "HEAD"))
        self._form = {}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if method == "POST" and ctype == "application/x-www-form-urlencoded":
            self._form = {k: v[0] for k, v in urllib.parse.parse_qs(
                data.decode("utf-8", "replace"), keep_blank_values=True).items()}
        if not self.authorised():
            self.note_unauthorised_media(path, raw_query)
            return self.reply(401, twilio_error(20003, 401, "Authenticate"),
                              headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        head = method == "HEAD"
        if head:
            method = "GET"
        pfx = r"^/%s/Accounts/(AC[0-9a-fA-F]{32})" % API_VERSION
        m = re.match(pfx + r"/Recordings/(RE[0-9a-fA-F]{32})(\.json|\.wav|\.mp3)?$", path)
        if m:
            acct, rsid, ext = m.group(1), m.group(2), m.group(3) or ""
            if acct != sim.account_sid:
                return self.not_found(head)
            if ext == ".json":
                return self.recording_resource(method, rsid, None, query, head)
            if method != "GET":
                return self.reply(405, twilio_error(20004, 405, "Method not allowed"))
            return self.media(rsid, ext or ".wav", query, raw_query, head)
        m = re.match(pfx + r"/Calls/(CA[0-9a-fA-F]{32})/Recordings/(RE[0-9a-fA-F]{32})\.json$",
                     path)
        if m:
            if m.group(1) != sim.account_sid:
                return self.not_found(head)
            return self.recording_resource(method, m.group(3), m.group(2), query, head)
        m = re.match(pfx + r"/Calls/(CA[0-9a-fA-F]{32})/Recordings\.json$", path)
        if m:
            if m.group(1) != sim.account_sid:
                return self.not_found(head)
            if method == "POST":
                return self.start_rest_recording(m.group(2))
            if method != "GET":
                return self.reply(405, twilio_error(20004, 405, "Method not allowed"))
            soft = query.get("IncludeSoftDeleted", ["false"])[0].lower() == "true"
            with sim.lock:
                recs = [r for r in sim.recordings.values()
                        if r["call_sid"] == m.group(2) and (soft or not r["deleted"])]
                body = sim.recording_list(path, query, recs, True)
            return self.reply(200, body, head_only=head)
        m = re.match(pfx + r"/Recordings\.json$", path)
        if m and method == "GET":
            if m.group(1) != sim.account_sid:
                return self.not_found(head)
            want = query.get("CallSid", [None])[0]
            soft = query.get("IncludeSoftDeleted", ["false"])[0].lower() == "true"
            with sim.lock:
                recs = [r for r in sim.recordings.values()
                        if (want is None or r["call_sid"] == want)
                        and (soft or not r["deleted"])]
                body = sim.recording_list(path, query, recs, False)
            return self.reply(200, body, head_only=head)
        m = re.match(pfx + r"/Calls/(CA[0-9a-fA-F]{32})\.json$", path)
        if m and method == "GET":
            if m.group(1) != sim.account_sid:
                return self.not_found(head)
            body = self.call_resource(m.group(2))
            if body is None:
                return self.not_found(head)
            return self.reply(200, body, head_only=head)
        return self.not_found(head)

    def recording_resource(self, method, rsid, call_sid, query, head):
        sim = self.sim
        with sim.lock:
            rec = sim.recordings.get(rsid)
            if rec is None or (call_sid is not None and rec["call_sid"] != call_sid):
                return self.not_found(head)
            soft = query.get("IncludeSoftDeleted", ["false"])[0].lower() == "true"
            if method == "DELETE":
                if rec["deleted"]:
                    return self.not_found()
                rec["deleted"] = True
                rec["updated_t"] = time.time()
                return self.reply(204)
            if method != "GET":
                return self.reply(405, twilio_error(20004, 405, "Method not allowed"))
            if rec["deleted"] and not soft:
                return self.not_found(head)
            body = sim.recording_json(rec, call_scoped=call_sid is not None)
        return self.reply(200, body, head_only=head)

    def call_resource(self, call_sid):
        """A Call resource (OpenAPI api.v2010.account.call), main fields."""
        sim = self.sim
        with sim.lock:
            c = sim.calls.get(call_sid)
            if c is None:
                return None
            status = {"queued": "ringing" if c["direction"] == "inbound" else "queued",
                      "in-progress": "in-progress", "completed": "completed",
                      "failed": "completed"}[c["state"]]
            if c["end_time"] is not None:
                status = c.get("final_status") or "completed"
            base = "/%s/Accounts/%s/Calls/%s" % (API_VERSION, sim.account_sid, call_sid)
            return {
                "sid": call_sid, "account_sid": sim.account_sid,
                "date_created": now_rfc2822(c["created"]),
                "date_updated": now_rfc2822(),
                "parent_call_sid": None, "to": c["to"], "to_formatted": c["to"],
                "from": c["from"], "from_formatted": c["from"],
                "phone_number_sid": None, "status": status,
                "start_time": now_rfc2822(c["start_time"]) if c["start_time"] else None,
                "end_time": now_rfc2822(c["end_time"]) if c["end_time"] else None,
                "duration": str(c.get("call_duration")) if c["end_time"] else None,
                "price": None, "price_unit": "USD", "direction": c["direction"],
                "answered_by": None, "api_version": API_VERSION,
                "forwarded_from": None, "group_sid": None, "caller_name": None,
                "queue_time": "0", "trunk_sid": None, "uri": base + ".json",
                "subresource_uris": {"recordings": base + "/Recordings.json"},
            }

    def start_rest_recording(self, call_sid):
        """POST .../Calls/{CallSid}/Recordings.json (TWILIO.md, "Starting a recording").

        21220 unless the call is in-progress; 16108 when it already records.
        Unset form fields take Twilio's REST defaults (mono, completed only).
        """
        sim = self.sim
        with sim.lock:
            call = sim.calls.get(call_sid)
            if call is None:
                return self.not_found()
            if call["state"] != "in-progress" or call["end_time"] is not None:
                return self.reply(400, twilio_error(
                    21220, 400, "Call is not in-progress. Cannot create recording."))
            if call["recording_sid"] in sim.recordings:
                return self.reply(400, twilio_error(
                    16108, 400, "Cannot start a new recording: one is in progress"))
        form = getattr(self, "_form", {})
        attrs = {
            "recordingStatusCallback": form.get("RecordingStatusCallback"),
            "recordingStatusCallbackEvent": form.get("RecordingStatusCallbackEvent",
                                                     "completed"),
            "recordingStatusCallbackMethod": form.get("RecordingStatusCallbackMethod",
                                                      "POST"),
            "channels": form.get("RecordingChannels", "mono"),
            "trim": form.get("Trim", "do-not-trim"),
            "track": form.get("RecordingTrack", "both"),
        }
        attrs = {k: v for k, v in attrs.items() if v is not None}
        call["recording_attrs"] = attrs
        rec = sim.new_recording(call, attrs, SOURCE_REST)
        sim.recording_callback(call, rec, "in-progress")
        with sim.lock:
            return self.reply(201, sim.recording_json(rec, call_scoped=True))

    def media(self, rsid, ext, query, raw_query, head):
        sim = self.sim
        with sim.lock:
            call_sid = sim.by_recording.get(rsid)
            call = sim.calls.get(call_sid) if call_sid else None
            m = dict(sim.media.get(rsid) or {})
            rec = sim.recordings.get(rsid)
            rec = dict(rec) if rec else None
        entry = {"t": time.time(), "path": urllib.parse.urlsplit(self.path).path,
                 "query": raw_query, "status": None}
        if m.get("media_delay_s"):
            time.sleep(m["media_delay_s"])
        status, body, ctype = self.media_answer(rsid, ext, query, call, m, rec)
        entry["status"] = status
        if call is not None:
            with sim.lock:
                call["media_requests"].append(entry)
        if status != 200:
            return self.reply(status, body, head_only=head)
        return self.reply(200, body, ctype=ctype, head_only=head)

    def media_answer(self, rsid, ext, query, call, m, rec):
        sim = self.sim
        path = urllib.parse.urlsplit(self.path).path
        missing = twilio_error(20404, 404, "The requested resource %s was not found" % path)
        if call is None or rec is None:
            return 404, missing, None
        if m.get("media_status") is not None:
            st = m["media_status"]
            code = {404: 20404, 401: 20003}.get(st, 20500)
            return st, twilio_error(code, st, http.client.responses.get(st, "Error")), None
        if rec["deleted"] or rec["status"] != "completed":
            return 404, missing, None
        until = m.get("media_404_until")
        if until is not None and time.time() < until:
            return 404, missing, None
        ctype = "audio/mpeg" if ext == ".mp3" else "audio/x-wav"
        kind = m.get("audio_kind", "normal")
        if kind == "empty":
            return 200, b"", ctype
        if kind == "header_only" or call["audio"] is None:
            return 200, wav_header_only(rec["channels"], m.get("media_rate") or 8000), \
                "audio/x-wav"
        two = query.get("RequestedChannels", ["1"])[0] == "2"
        f = sim.media_file(rec, call, ext.lstrip("."), two, m.get("media_rate"))
        with open(f, "rb") as fh:
            return 200, fh.read(), ctype


def wav_header_only(channels, rate=8000):
    """A 44-byte RIFF/WAVE header announcing 16-bit PCM and no frames."""
    import io
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"")
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description="Twilio simulator for callpipe's tests")
    ap.add_argument("--listen", required=True, help="HOST:PORT")
    ap.add_argument("--account-sid", required=True)
    ap.add_argument("--auth-token", required=True)
    ap.add_argument("--base-url", required=True, help="callpipe's public base URL")
    ap.add_argument("--ca-cert", help="CA certificate that signs callpipe's TLS cert")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--pid-file")
    args = ap.parse_args()
    if not RE_AC.match(args.account_sid):
        ap.error("--account-sid must be AC followed by 32 lowercase hex digits")
    if shutil.which("sox") is None:
        ap.error("sox is not installed (apt-get install sox libsox-fmt-mp3)")
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        ap.error("--listen must be HOST:PORT")

    Handler.sim = Sim(args)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("listening on http://%s, calling %s" % (args.listen, Handler.sim.base_url))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except OSError:
                pass
        log("stopped")


if __name__ == "__main__":
    main()
