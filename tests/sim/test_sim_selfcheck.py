#!/usr/bin/python3
"""Self-check of the Twilio simulator, without callpipe.

    /usr/bin/python3 tests/sim/test_sim_selfcheck.py [-v]

Starts, in a temporary directory: a self-signed TLS certificate (openssl),
a small HTTPS receiver that plays callpipe's part (it checks every
X-Twilio-Signature with twilio-python's RequestValidator.validate and answers
TwiML chosen by the call's To number), and twilio_sim.py on a free port. Then
it runs calls through the simulator and checks what the receiver got and
what the simulator's REST API serves. Everything it starts is stopped at the
end. Takes about 20 s (most of it making the audio and playing the calls in
real time).
"""

import base64
import http.server
import io
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import wave

from twilio.request_validator import RequestValidator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import simclient  # noqa: E402

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "selfcheck-token-5b1f"

GOOD_TWIML = """<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Start>
    <Recording channels="dual" trim="do-not-trim"
      recordingStatusCallback="{base}/webhook/handle_recording"
      recordingStatusCallbackEvent="in-progress completed absent"/>
  </Start>
  <Connect action="{base}/webhook/stream_ended">
    <Stream url="wss://127.0.0.1:9/agent-stream"><Parameter name="call_sid" value="{sid}"/></Stream>
  </Connect>
</Response>"""

RECORD_TWIML = """<?xml version="1.0" encoding="UTF-8"?>
<Response><Record maxLength="30"/><Connect action="{base}/webhook/stream_ended">
<Stream url="wss://127.0.0.1:9/agent-stream"/></Connect></Response>"""

LATE_START_TWIML = """<?xml version="1.0" encoding="UTF-8"?>
<Response><Connect action="{base}/webhook/stream_ended">
<Stream url="wss://127.0.0.1:9/agent-stream"/></Connect>
<Start><Recording channels="dual" trim="do-not-trim"
 recordingStatusCallback="{base}/webhook/handle_recording"/></Start></Response>"""

CONNECT_ONLY_TWIML = """<?xml version="1.0" encoding="UTF-8"?>
<Response><Connect action="{base}/webhook/stream_ended">
<Stream url="wss://127.0.0.1:9/agent-stream"/></Connect></Response>"""

# The receiver's answer depends on the call's To number.
TWIML_BY_TO = {"+15005550006": GOOD_TWIML, "+15005550007": RECORD_TWIML,
               "+15005550008": LATE_START_TWIML, "+15005550009": CONNECT_ONLY_TWIML}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Receiver(http.server.BaseHTTPRequestHandler):
    """callpipe's stand-in: validates signatures, answers TwiML or 200."""
    base = None
    seen = []          # (path, params dict, signature valid)
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8")
        params = {k: v[0] for k, v in urllib.parse.parse_qs(
            body, keep_blank_values=True).items()}
        url = self.base + self.path
        valid = RequestValidator(TOKEN).validate(
            url, params, self.headers.get("X-Twilio-Signature", ""))
        with self.lock:
            self.seen.append((self.path, params, valid,
                              self.headers.get("Content-Type")))
        if not valid:
            return self.answer(403, "text/plain", b"bad signature\n")
        if self.path in ("/webhook/incoming_call", "/webhook/outbound_call"):
            if params.get("To") == "+15005550009":
                time.sleep(0.5)  # a slow answer: the call stays ringing a while
            twiml = TWIML_BY_TO.get(params.get("To"), GOOD_TWIML)
            return self.answer(200, "text/xml", twiml.format(
                base=self.base, sid=params.get("CallSid")).encode())
        if self.path == "/webhook/stream_ended":
            return self.answer(200, "text/xml", b"<Response/>")
        return self.answer(200, "text/plain", b"ok\n")

    def answer(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SimSelfCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sim-selfcheck.")
        d = cls.tmp.name
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1",
                        "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        subprocess.run([sys.executable, os.path.join(HERE, "make_audio.py"),
                        "--out-dir", os.path.join(d, "audio")],
                       check=True, capture_output=True)
        cls.short = os.path.join(d, "audio", "short.wav")

        cls.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        cls.receiver.socket = ctx.wrap_socket(cls.receiver.socket, server_side=True)
        Receiver.base = "https://127.0.0.1:%d" % cls.receiver.server_address[1]
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()

        port = free_port()
        cls.sim_url = "http://127.0.0.1:%d" % port
        cls.sim_log = open(os.path.join(d, "sim.log"), "w")
        cls.sim_proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "twilio_sim.py"),
             "--listen", "127.0.0.1:%d" % port, "--account-sid", ACCOUNT,
             "--auth-token", TOKEN, "--base-url", Receiver.base,
             "--ca-cert", cert, "--state-dir", os.path.join(d, "sim")],
            stderr=cls.sim_log)
        cls.sim = simclient.SimClient(cls.sim_url)
        for _ in range(100):
            try:
                cls.sim.health()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("twilio_sim.py did not start")

    @classmethod
    def tearDownClass(cls):
        cls.sim_proc.terminate()
        cls.sim_proc.wait(timeout=10)
        cls.sim_log.close()
        cls.receiver.shutdown()
        cls.receiver.server_close()
        cls.tmp.cleanup()

    # ---- helpers ----------------------------------------------------------

    def rest(self, path, auth=True, method="GET", form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.sim_url + path, method=method, data=data)
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(
                ("%s:%s" % (ACCOUNT, TOKEN)).encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def rec_path(self, rsid):
        return "/2010-04-01/Accounts/%s/Recordings/%s" % (ACCOUNT, rsid)

    def seen_for(self, call_sid):
        with Receiver.lock:
            return [s for s in Receiver.seen if s[1].get("CallSid") == call_sid]

    # ---- tests ------------------------------------------------------------

    def test_normal_call_end_to_end(self):
        c = self.sim.start_call(audio=self.short, to="+15005550006",
                                from_="+972541234567")
        # Before the call ends the media is not there yet.
        time.sleep(1.0)
        st = self.sim.get_call(c["call_sid"])
        self.assertEqual(st["state"], "in-progress")
        self.assertEqual(self.rest(self.rec_path(c["recording_sid"]) + ".wav")[0], 404)
        js = json.loads(self.rest(self.rec_path(c["recording_sid"]) + ".json")[2])
        self.assertEqual(js["status"], "in-progress")
        self.assertIsNone(js["duration"])

        st = self.sim.wait_call(c["call_sid"], "completed", timeout=20)
        self.assertEqual(st["errors"], [])
        self.assertEqual(st["warnings"], [])
        self.assertEqual(st["recording_attrs"]["channels"], "dual")
        kinds = [e["kind"] for e in st["events"]]
        self.assertEqual(kinds, ["voice", "recording:in-progress", "connect_action",
                                 "call_status", "recording:completed"])
        self.assertTrue(all(e["status"] == 200 for e in st["events"]), st["events"])
        seen = self.seen_for(c["call_sid"])
        self.assertEqual([s[0] for s in seen],
                         ["/webhook/incoming_call", "/webhook/handle_recording",
                          "/webhook/stream_ended", "/webhook/call_status",
                          "/webhook/handle_recording"])
        self.assertTrue(all(s[2] for s in seen), "a signature did not validate")
        self.assertTrue(all(s[3] == "application/x-www-form-urlencoded" for s in seen))
        voice = seen[0][1]
        self.assertEqual(voice["CallStatus"], "ringing")
        self.assertEqual(voice["Direction"], "inbound")
        self.assertEqual(voice["From"], "+972541234567")
        self.assertEqual(voice["AccountSid"], ACCOUNT)
        done = seen[4][1]
        self.assertEqual(done["RecordingStatus"], "completed")
        self.assertEqual(done["RecordingChannels"], "2")
        self.assertEqual(done["RecordingDuration"], "4")
        self.assertEqual(done["ErrorCode"], "0")
        self.assertEqual(done["RecordingUrl"], self.sim_url + self.rec_path(c["recording_sid"]))
        self.assertIn("+0000", done["RecordingStartTime"])
        self.assertEqual(seen[3][1]["CallDuration"], "5")

        # Media: Basic auth required.
        status, _, body = self.rest(self.rec_path(c["recording_sid"]) + ".wav", auth=False)
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["code"], 20003)
        with wave.open(self.short, "rb") as w:
            src_frames, src_rate = w.getnframes(), w.getframerate()
        self.assertEqual(src_rate, 16000)
        for suffix, chans in ((".wav", 1), ("", 1), (".wav?RequestedChannels=2", 2)):
            status, ctype, body = self.rest(self.rec_path(c["recording_sid"]) + suffix)
            self.assertEqual((status, ctype), (200, "audio/x-wav"), suffix)
            with wave.open(io.BytesIO(body), "rb") as w:
                # Served at Twilio's 8 kHz by default.
                self.assertEqual(w.getnchannels(), chans, suffix)
                self.assertEqual(w.getframerate(), 8000, suffix)
                self.assertEqual(w.getnframes(), src_frames // 2, suffix)
        status, ctype, body = self.rest(self.rec_path(c["recording_sid"]) + ".mp3")
        self.assertEqual((status, ctype), (200, "audio/mpeg"))
        self.assertTrue(body[:3] == b"ID3" or body[0] == 0xFF, body[:4])
        self.assertGreater(len(body), 4000)

        # Resources.
        js = json.loads(self.rest(self.rec_path(c["recording_sid"]) + ".json")[2])
        self.assertEqual((js["status"], js["duration"], js["channels"], js["call_sid"]),
                         ("completed", "4", 2, c["call_sid"]))
        lst = json.loads(self.rest("/2010-04-01/Accounts/%s/Calls/%s/Recordings.json"
                                   % (ACCOUNT, c["call_sid"]))[2])
        self.assertEqual([r["sid"] for r in lst["recordings"]], [c["recording_sid"]])
        self.assertIsNone(lst["next_page_uri"])
        self.assertEqual([m["status"] for m in self.sim.get_call(c["call_sid"])["media_requests"]],
                         [404, 401, 200, 200, 200, 200])

        # Delete: 204, then the media and the resource are gone.
        self.assertEqual(self.rest(self.rec_path(c["recording_sid"]) + ".json",
                                   method="DELETE")[0], 204)
        self.assertEqual(self.rest(self.rec_path(c["recording_sid"]) + ".wav")[0], 404)
        self.assertEqual(self.rest(self.rec_path(c["recording_sid"]) + ".json")[0], 404)
        js = json.loads(self.rest(self.rec_path(c["recording_sid"])
                                  + ".json?IncludeSoftDeleted=true")[2])
        self.assertEqual(js["status"], "deleted")

    def test_record_verb_is_refused(self):
        c = self.sim.start_call(audio=self.short, to="+15005550007")
        st = self.sim.wait_call(c["call_sid"], "failed", timeout=10)
        self.assertTrue(any("<Record>" in e for e in st["errors"]), st["errors"])
        self.assertIsNone(st["recording"])
        self.assertEqual([e["kind"] for e in st["events"]], ["voice", "call_status"])
        self.assertEqual(self.rest(self.rec_path(c["recording_sid"]) + ".json")[0], 404)

    def test_start_after_connect_is_refused(self):
        c = self.sim.start_call(audio=self.short, to="+15005550008")
        st = self.sim.wait_call(c["call_sid"], "failed", timeout=10)
        self.assertIn("<Start><Recording> comes after <Connect>", st["errors"])

    def test_bad_signature_is_rejected_by_receiver(self):
        c = self.sim.start_call(audio=self.short, bad_signature=True)
        st = self.sim.wait_call(c["call_sid"], "failed", timeout=10)
        self.assertIn("voice webhook answered HTTP 403", st["errors"])
        self.assertFalse(any(s[2] for s in self.seen_for(c["call_sid"])))

    def test_outbound_callbacks_first_duplicate_and_media_404(self):
        out = self.sim.start_call(audio=self.short, direction="outbound-api",
                                  duplicate_completed=True, media_404_seconds=3)
        first = self.sim.start_call(audio=self.short, order="callbacks_first")
        st = self.sim.wait_call(first["call_sid"], "completed", timeout=10)
        self.assertEqual([e["kind"] for e in st["events"]],
                         ["call_status", "recording:in-progress",
                          "recording:completed", "voice"])

        st = self.sim.wait_call(out["call_sid"], "completed", timeout=20)
        self.assertEqual(st["events"][0]["url"], Receiver.base + "/webhook/outbound_call")
        self.assertEqual(st["events"][0]["params"]["CallStatus"], "in-progress")
        done = [e for e in st["events"] if e["kind"] == "recording:completed"]
        self.assertEqual(len(done), 2)
        self.assertEqual(done[0]["idempotency_token"], done[1]["idempotency_token"])
        # About 1 s of the 3 s of 404 passed between the two deliveries.
        path = self.rec_path(out["recording_sid"]) + ".wav"
        t0 = time.time()
        codes = []
        while time.time() - t0 < 6:
            codes.append(self.rest(path)[0])
            if codes[-1] == 200:
                break
            time.sleep(0.1)
        self.assertEqual(codes[0], 404)
        self.assertEqual(codes[-1], 200)
        self.assertGreater(time.time() - t0, 1.0)

    def test_media_kinds_status_and_absent(self):
        empty = self.sim.start_call(audio_kind="empty", duration_s=0.5)
        header = self.sim.start_call(audio_kind="header_only", duration_s=0.5)
        absent = self.sim.start_call(audio=self.short, duration_s=0.5,
                                     recording_status="absent")
        st = self.sim.wait_call(empty["call_sid"], "completed", timeout=10)
        self.assertEqual(self.rest(self.rec_path(empty["recording_sid"]) + ".wav")[2], b"")
        self.sim.wait_call(header["call_sid"], "completed", timeout=10)
        body = self.rest(self.rec_path(header["recording_sid"]) + ".wav")[2]
        self.assertEqual(len(body), 44)
        self.assertEqual(body[:4], b"RIFF")
        self.sim.set_media(header["recording_sid"], media_status=500)
        status, _, body = self.rest(self.rec_path(header["recording_sid"]) + ".wav")
        self.assertEqual(status, 500)
        st = self.sim.wait_call(absent["call_sid"], "completed", timeout=10)
        ab = [e for e in st["events"] if e["kind"] == "recording:absent"]
        self.assertEqual(len(ab), 1)
        self.assertEqual(ab[0]["params"]["ErrorCode"], "16102")
        self.assertEqual(self.rest(self.rec_path(absent["recording_sid"]) + ".wav")[0], 404)

    def test_rest_start_recording(self):
        c = self.sim.start_call(audio=self.short, to="+15005550009",
                                expect_rest_recording=True)
        path = "/2010-04-01/Accounts/%s/Calls/%s/Recordings.json" % (ACCOUNT, c["call_sid"])
        form = {"RecordingChannels": "dual", "Trim": "do-not-trim",
                "RecordingStatusCallback": Receiver.base + "/webhook/handle_recording",
                "RecordingStatusCallbackEvent": "in-progress completed"}
        status, _, body = self.rest(path, method="POST", form=form)
        self.assertEqual((status, json.loads(body)["code"]), (400, 21220))  # ringing
        self.sim.wait_call(c["call_sid"], "in-progress", timeout=5)
        status, _, body = self.rest(path, method="POST", form=form)
        self.assertEqual(status, 201)
        js = json.loads(body)
        self.assertEqual((js["sid"], js["status"], js["channels"], js["source"]),
                         (c["recording_sid"], "in-progress", 2, "StartCallRecordingAPI"))
        self.assertEqual(json.loads(self.rest(path, method="POST", form=form)[2])["code"], 16108)
        st = self.sim.wait_call(c["call_sid"], "completed", timeout=15)
        self.assertEqual([e["kind"] for e in st["events"]],
                         ["voice", "recording:in-progress", "connect_action",
                          "call_status", "recording:completed"])
        self.assertEqual(self.rest(path, method="POST", form=form)[0], 400)  # ended

    def test_media_rate_and_mono_recording(self):
        wide = self.sim.start_call(audio=self.short, duration_s=0.5, media_rate=16000)
        own = self.sim.start_call(audio=self.short, duration_s=0.5, media_rate=None)
        mono = self.sim.start_call(audio=self.short, duration_s=0.5, recording_channels=1)
        with wave.open(self.short, "rb") as w:
            src_frames = w.getnframes()
        for c, rate in ((wide, 16000), (own, 16000)):
            self.sim.wait_call(c["call_sid"], "completed", timeout=10)
            status, _, body = self.rest(self.rec_path(c["recording_sid"])
                                        + ".wav?RequestedChannels=2")
            with wave.open(io.BytesIO(body), "rb") as w:
                self.assertEqual((w.getframerate(), w.getnchannels(), w.getnframes()),
                                 (rate, 2, src_frames))
        st = self.sim.wait_call(mono["call_sid"], "completed", timeout=10)
        cbs = [e for e in st["events"] if e["kind"].startswith("recording:")]
        self.assertEqual([e["kind"] for e in cbs],
                         ["recording:in-progress", "recording:completed"])
        self.assertTrue(all(e["params"]["RecordingChannels"] == "1" for e in cbs))
        self.assertEqual(st["warnings"], [])
        js = json.loads(self.rest(self.rec_path(mono["recording_sid"]) + ".json")[2])
        self.assertEqual(js["channels"], 1)
        for suffix in (".wav", ".wav?RequestedChannels=2"):
            status, _, body = self.rest(self.rec_path(mono["recording_sid"]) + suffix)
            with wave.open(io.BytesIO(body), "rb") as w:
                self.assertEqual((w.getframerate(), w.getnchannels(), w.getnframes()),
                                 (8000, 1, src_frames // 2), suffix)
        with self.assertRaises(simclient.SimError):
            self.sim.start_call(audio=self.short, recording_channels=3)

    def test_control_api_rejects_bad_options(self):
        with self.assertRaises(simclient.SimError) as cm:
            self.sim.start_call(audio=self.short, colour="blue")
        self.assertEqual(cm.exception.status, 400)
        with self.assertRaises(simclient.SimError):
            self.sim.start_call(audio="relative.wav")

    def test_deliver_times_and_rest_fail(self):
        c = self.sim.start_call(audio=self.short, deliver_times=3)
        st = self.sim.wait_call(c["call_sid"], "completed", timeout=20)
        kinds = [e["kind"] for e in st["events"]]
        self.assertEqual(kinds.count("voice"), 1)
        for k in ("recording:in-progress", "connect_action", "call_status",
                  "recording:completed"):
            evs = [e for e in st["events"] if e["kind"] == k]
            self.assertEqual(len(evs), 3, k)
            self.assertEqual(len({e["idempotency_token"] for e in evs}), 1, k)
            self.assertTrue(all(e["status"] == 200 for e in evs), k)
        with self.assertRaises(simclient.SimError):
            self.sim.start_call(audio=self.short, deliver_times=0)

        path = self.rec_path(c["recording_sid"]) + ".wav"
        self.assertEqual(self.rest(path)[0], 200)
        on = self.sim._request("POST", "/sim/rest_fail", {"seconds": 30, "status": 500})
        self.assertTrue(on["active"])
        try:
            for p in (path, self.rec_path(c["recording_sid"]) + ".json",
                      "/2010-04-01/Accounts/%s/Calls/%s.json" % (ACCOUNT, c["call_sid"])):
                code, ctype, body = self.rest(p)
                self.assertEqual(code, 500, p)
                self.assertEqual(json.loads(body)["code"], 20500)
            self.assertEqual(self.rest(path, auth=False)[0], 500)
            self.assertEqual(self.sim._request("GET", "/sim/rest_fail")["served"], 4)
        finally:
            off = self.sim._request("POST", "/sim/rest_fail", {"seconds": 0})
        self.assertFalse(off["active"])
        self.assertEqual(self.rest(path)[0], 200)
        with self.assertRaises(simclient.SimError):
            self.sim._request("POST", "/sim/rest_fail", {"seconds": 1, "colour": 1})


if __name__ == "__main__":
    unittest.main()
