#!/usr/bin/python3
"""Self-check of the OpenAI simulator, without callpipe.

    cd tests/sim && /usr/bin/python3 -m unittest test_openai_sim_selfcheck [-v]

Makes the test audio with make_audio.py (and a 2-minute --long file) in a
temporary directory, starts openai_sim.py on a free port with that manifest,
and checks: the refusals (auth, fields, formats, size), each answer shape,
recognition of every clip's channels (8 kHz WAV, 16 kHz FLAC, mono mixdown,
stereo, chunks cut out at any offset, times within 0.1 s), the chat answers
and their validation, every fault kind, the request log and the control API.
Everything it starts is stopped at the end. Takes about 10 s.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import openaiclient  # noqa: E402

KEY = "sk-selfcheck-0123456789abcdef"
TOL = 0.1   # seconds: segment times against the manifest

SCHEMA = {"type": "object", "additionalProperties": False,
          "required": ["service", "city", "confidence", "summary"],
          "properties": {"service": {"type": ["string", "null"]},
                         "city": {"type": ["string", "null"]},
                         "confidence": {"type": "number"},
                         "summary": {"type": "string"}}}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sox(*argv):
    subprocess.run(["sox", "-D"] + [str(a) for a in argv], check=True, capture_output=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def chat_request(text, fmt="json_schema", schema=None, **kw):
    rf = {"type": "json_object"} if fmt == "json_object" else {
        "type": "json_schema",
        "json_schema": {"name": "call_summary", "strict": True,
                        "schema": json.loads(json.dumps(schema or SCHEMA))}}
    req = {"model": "gpt-4o-mini", "temperature": 0,
           "messages": [{"role": "system",
                         "content": "Answer in JSON: service, city, confidence, summary."},
                        {"role": "user", "content": text}],
           "response_format": rf}
    req.update(kw)
    return req


class OpenAISimSelfCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="openai-sim-selfcheck.")
        d = cls.d = cls.tmp.name
        cls.audio = os.path.join(d, "audio")
        subprocess.run([sys.executable, os.path.join(HERE, "make_audio.py"),
                        "--out-dir", cls.audio], check=True, capture_output=True)
        cls.long_wav = os.path.join(d, "long", "long2.wav")
        os.makedirs(os.path.dirname(cls.long_wav))
        cls.long_manifest = os.path.join(d, "long", "long2.json")
        subprocess.run([sys.executable, os.path.join(HERE, "make_audio.py"),
                        "--long", cls.long_wav, "--minutes", "2", "--rate", "8000",
                        "--manifest", cls.long_manifest], check=True, capture_output=True)
        with open(os.path.join(cls.audio, "manifest.json"), encoding="utf-8") as f:
            cls.manifest = json.load(f)
        port = free_port()
        cls.url = "http://127.0.0.1:%d" % port
        cls.log_path = os.path.join(d, "sim.log")
        cls.log = open(cls.log_path, "w")
        cls.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "openai_sim.py"),
             "--listen", "127.0.0.1:%d" % port, "--api-key", KEY,
             "--manifest", os.path.join(cls.audio, "manifest.json"),
             "--retry-after-s", "1"], stderr=cls.log)
        cls.sim = openaiclient.OpenAISim(cls.url)
        for _ in range(100):
            try:
                cls.sim.health()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("openai_sim.py did not start")
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=10)
        cls.log.close()
        cls.tmp.cleanup()

    def setUp(self):
        self.sim.reset()

    # ---- helpers -------------------------------------------------------------

    def path(self, name):
        return os.path.join(self.audio, name)

    def channel(self, clip, ch, rate=8000, ext="wav", trim=None):
        """One channel of a clip as an upload file; trim=(start, length)."""
        type(self).n += 1
        out = os.path.join(self.d, "up%d.%s" % (self.n, ext))
        args = [self.path(self.manifest["clips"][clip]["file"]), "-b", "16", out,
                "remix", ch]
        if trim:
            args += ["trim", "%.4f" % trim[0], "%.4f" % trim[1]]
        args += ["rate", rate]
        sox(*args)
        return out

    def transcribe(self, audio, fields=None, filename="caller.wav", key=KEY, **kw):
        if fields is None:
            fields = [("model", "whisper-1"), ("response_format", "verbose_json"),
                      ("timestamp_granularities[]", "segment"), ("temperature", "0")]
        data = read(audio) if isinstance(audio, str) else audio
        return self.sim.transcribe(key, data, filename=filename, fields=fields, **kw)

    def assertError(self, r, status, etype="invalid_request_error", code=None,
                    message=None, param="any"):
        self.assertEqual(r.status, status, r.body)
        body = r.json()
        self.assertEqual(set(body), {"error"})
        self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})
        self.assertEqual(body["error"]["type"], etype)
        self.assertEqual(body["error"]["code"], code)
        if param != "any":
            self.assertEqual(body["error"]["param"], param)
        if message:
            self.assertRegex(body["error"]["message"], message)
        return body["error"]

    def assertTurns(self, segs, turns, offset=0.0):
        """Segments match the manifest turns (utterance text, times - offset)."""
        self.assertEqual([s["text"] for s in segs], [" " + t["text"] for t in turns])
        for s, t in zip(segs, turns):
            self.assertLess(abs(s["start"] - (t["start"] - offset)), TOL, (s, t, offset))
            self.assertLess(abs(s["end"] - (t["end"] - offset)), TOL, (s, t, offset))

    def turns(self, clip, ch=None):
        return [t for t in self.manifest["clips"][clip]["turns"]
                if ch is None or t["channel"] == ch]

    # ---- auth and refusals -----------------------------------------------------

    def test_auth(self):
        up = self.channel("en_call", 1)
        e = self.assertError(self.transcribe(up, key=None), 401, param=None,
                             message="^You didn't provide an API key")
        self.assertIsNone(e["code"])
        e = self.assertError(self.transcribe(up, key="sk-wrong-0123456789abcdef"), 401,
                             code="invalid_api_key", message="^Incorrect API key provided")
        self.assertNotIn("sk-wrong-0123456789abcdef", e["message"])
        self.assertError(self.sim.chat("nope", chat_request("hi json")), 401,
                         code="invalid_api_key")
        # Neither key ever reaches the simulator's log.
        self.log.flush()
        time.sleep(0.1)
        text = read(self.log_path).decode("utf-8")
        self.assertNotIn(KEY, text)
        self.assertNotIn("sk-wrong-0123456789abcdef", text)
        self.assertIn("POST /v1/audio/transcriptions 401", text)

    def test_transcription_refusals(self):
        up = read(self.channel("en_call", 1))
        T = self.sim.transcribe
        self.assertError(T(KEY, None, fields=[("model", "whisper-1")]), 400,
                         message=r"body -> file\n  field required")
        self.assertError(T(KEY, up, fields=[("response_format", "json")]), 400,
                         message="^you must provide a model parameter")
        self.assertError(T(KEY, up, fields=[("model", "whisper-9")]), 404,
                         code="model_not_found", message="whisper-9")
        self.assertError(T(KEY, up, fields=[("model", "whisper-1"),
                                            ("response_format", "xml")]), 400,
                         param="response_format", message="'xml' is not one of")
        self.assertError(T(KEY, up, fields=[("model", "whisper-1"),
                                            ("response_format", "json"),
                                            ("timestamp_granularities[]", "segment")]),
                         400, message="timestamp_granularities")
        self.assertError(T(KEY, up, fields=[("model", "whisper-1"),
                                            ("timestamp_granularities[]", "word")]),
                         400, message="verbose_json")   # json is the default format
        for model in ("gpt-4o-transcribe", "gpt-4o-mini-transcribe"):
            self.assertError(T(KEY, up, fields=[("model", model),
                                                ("response_format", "verbose_json")]),
                             400, code="unsupported_value", param="response_format",
                             message="not compatible with model '%s'. Use 'json' or "
                                     "'text' instead" % model)
        for lang in ("hebrew", "auto", "heb", ""):
            self.assertError(T(KEY, up, fields=[("model", "whisper-1"), ("language", lang)]),
                             400, param="language",
                             message=r"^Invalid language '%s'\. Language parameter must be "
                                     "specified in ISO-639-1 format" % lang)
        self.assertError(T(KEY, up, fields=[("model", "whisper-1"), ("temperature", "1.5")]),
                         400, param="temperature", code="invalid_value")
        for name in ("caller.pcm", "caller", "caller.wav.txt"):
            self.assertError(T(KEY, up, filename=name, fields=[("model", "whisper-1")]),
                             400, param=None,
                             message=re.escape("Invalid file format. Supported formats: "
                                               "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', "
                                               "'oga', 'ogg', 'wav', 'webm']"))
        self.assertError(T(KEY, b"RIFF\x00\x00not really a wave file" * 10,
                           fields=[("model", "whisper-1")]), 400, param="file",
                         code="invalid_value", message="corrupted or unsupported")
        with open(os.path.join(self.d, "empty.wav"), "wb") as f:
            with wave.open(f, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
        self.assertError(T(KEY, read(os.path.join(self.d, "empty.wav")),
                           fields=[("model", "whisper-1")]), 400, code="audio_too_short")
        # Over 25 MiB: 413 server_error, whatever else is wrong with the body.
        big = b"RIFF" + b"\x00" * (26214400 + 1000)
        r = T(KEY, big, fields=[("model", "whisper-1")])
        e = self.assertError(r, 413, etype="server_error", param=None)
        m = re.match(r"^Maximum content size limit \(26214400\) exceeded \((\d+) bytes read\)$",
                     e["message"])
        self.assertTrue(m, e["message"])
        self.assertGreater(int(m.group(1)), 26214400 + 1000)
        # A body that is not multipart at all.
        r = self.sim._api("/v1/audio/transcriptions", b'{"model": "whisper-1"}',
                          "application/json", KEY, None)
        self.assertError(r, 400, message="multipart")
        # Unknown routes are OpenAI's 404.
        r = self.sim._api("/v1/audio/translate", b"{}", "application/json", KEY, None)
        self.assertError(r, 404, message=r"^Invalid URL \(POST /v1/audio/translate\)$")

    # ---- answer shapes ---------------------------------------------------------------

    def test_answer_shapes(self):
        up = self.channel("en_call", 1)
        text = self.turns("en_call", 1)[0]["text"]
        r = self.transcribe(up, fields=[("model", "whisper-1")])
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        self.assertTrue(r.headers["x-request-id"].startswith("req_"))
        body = r.json()
        self.assertEqual(body, {"text": text,
                                "usage": {"type": "duration", "seconds": 11}})
        r = self.transcribe(up, fields=[("model", "whisper-1"), ("response_format", "text")])
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.assertEqual(r.body.decode("utf-8"), text + "\n")
        r = self.transcribe(up, fields=[("model", "gpt-4o-transcribe")])
        body = r.json()
        self.assertEqual(body["text"], text)
        self.assertEqual(body["usage"]["type"], "tokens")
        self.assertEqual(body["usage"]["total_tokens"],
                         body["usage"]["input_tokens"] + body["usage"]["output_tokens"])
        r = self.transcribe(up, fields=[("model", "whisper-1"), ("response_format", "srt")])
        self.assertRegex(r.body.decode("utf-8"), r"^1\n00:00:00,500 --> 00:00:05,2[46]0\nHi\. ")
        r = self.transcribe(up, fields=[("model", "whisper-1"), ("response_format", "vtt")])
        self.assertRegex(r.body.decode("utf-8"), r"^WEBVTT\n\n00:00:00\.500 --> ")

        r = self.transcribe(up)     # verbose_json, segment
        body = r.json()
        self.assertEqual(list(body), ["task", "language", "duration", "text", "segments",
                                      "usage"])
        self.assertEqual((body["task"], body["language"], body["duration"], body["text"]),
                         ("transcribe", "english", 10.8, text))
        seg = body["segments"][0]
        self.assertEqual(list(seg), ["id", "seek", "start", "end", "text", "tokens",
                                     "temperature", "avg_logprob", "compression_ratio",
                                     "no_speech_prob"])
        self.assertEqual((seg["id"], seg["seek"], seg["temperature"]), (0, 0, 0.0))
        self.assertTrue(seg["text"].startswith(" "))
        self.assertTrue(all(isinstance(t, int) for t in seg["tokens"]))
        self.assertLess(seg["no_speech_prob"], 0.1)
        self.assertGreater(seg["avg_logprob"], -1.0)
        # Words alone: no segments (the spec's example); both: both.
        body = self.transcribe(up, fields=[("model", "whisper-1"),
                                           ("response_format", "verbose_json"),
                                           ("timestamp_granularities[]", "word")]).json()
        self.assertNotIn("segments", body)
        self.assertEqual([w["word"] for w in body["words"]], text.split())
        self.assertEqual(list(body["words"][0]), ["word", "start", "end"])
        self.assertLess(abs(body["words"][0]["start"] - 0.5), TOL)
        body = self.transcribe(up, fields=[("model", "whisper-1"),
                                           ("response_format", "verbose_json"),
                                           ("timestamp_granularities[]", "word"),
                                           ("timestamp_granularities[]", "segment")]).json()
        self.assertIn("segments", body)
        self.assertIn("words", body)
        times = [(w["start"], w["end"]) for w in body["words"]]
        self.assertEqual(times, sorted(times))

    # ---- recognition ----------------------------------------------------------------

    def test_recognition_every_clip_channel(self):
        for clip, c in self.manifest["clips"].items():
            for ch in (1, 2):
                turns = self.turns(clip, ch)
                for rate, ext in ((8000, "wav"), (16000, "flac")):
                    up = self.channel(clip, ch, rate=rate, ext=ext)
                    name = ("caller." if ch == 1 else "agent.") + ext
                    r = self.transcribe(up, filename=name)
                    self.assertEqual(r.status, 200, r.body)
                    body = r.json()
                    label = "%s ch%d %d %s" % (clip, ch, rate, ext)
                    if not turns:
                        # Digital silence: Whisper's stock phrase, flagged non-speech.
                        self.assertEqual(len(body["segments"]), 1, label)
                        s = body["segments"][0]
                        self.assertGreater(s["no_speech_prob"], 0.6, label)
                        self.assertLess(s["avg_logprob"], -1.0, label)
                        continue
                    self.assertTurns(body["segments"], turns)
                    self.assertEqual(body["language"],
                                     {"he": "hebrew", "en": "english"}[c["lang"]], label)
                    self.assertLess(abs(body["duration"] - c["duration"]), 0.02, label)
            # The whole file as uploaded: stereo (mixed down by the service),
            # and a mono mixdown at 16 kHz.
            r = self.transcribe(self.path(c["file"]), filename="call.wav")
            self.assertTurns(r.json()["segments"], self.turns(clip))
            mono = os.path.join(self.d, "%s-mono.wav" % clip)
            sox(self.path(c["file"]), mono, "remix", "1,2", "rate", 16000)
            r = self.transcribe(mono, filename="call.wav")
            self.assertTurns(r.json()["segments"], self.turns(clip))

    def test_recognition_ignores_name_and_prompt(self):
        up = self.channel("he_call", 1)
        en = self.turns("en_call", 1)[0]["text"]
        r = self.transcribe(up, filename="en_call-agent.wav",
                            fields=[("model", "whisper-1"), ("response_format", "verbose_json"),
                                    ("prompt", en), ("language", "he")])
        self.assertTurns(r.json()["segments"], self.turns("he_call", 1))

    def test_chunks_of_a_longer_file(self):
        turns = self.turns("long25", 1)
        # A 10 s chunker cutting in the quiet around 10 s and 20 s.
        for start, length in ((0.0, 10.0), (10.0, 10.0), (20.0, 5.46), (9.3, 11.1)):
            up = self.channel("long25", 1, trim=(start, length))
            want = [t for t in turns if t["start"] >= start and t["end"] <= start + length]
            segs = self.transcribe(up, filename="caller-2.wav").json()["segments"]
            self.assertTurns(segs, want, offset=start)
        # Any sample offset, at 16 kHz.
        up = self.channel("long25", 2, rate=16000, trim=(3.2173, 20.0))
        want = [t for t in self.turns("long25", 2) if t["start"] >= 3.2173
                and t["end"] <= 23.2173]
        self.assertTurns(self.transcribe(up).json()["segments"], want, offset=3.2173)
        # A chunk cutting through an utterance: the part inside is transcribed,
        # from the chunk's start.
        t = self.turns("en_call", 1)[0]
        cut = t["start"] + 1.0
        up = self.channel("en_call", 1, trim=(cut, 10.8 - cut))
        body = self.transcribe(up, fields=[("model", "whisper-1"),
                                           ("response_format", "verbose_json"),
                                           ("timestamp_granularities[]", "word"),
                                           ("timestamp_granularities[]", "segment")]).json()
        self.assertEqual(len(body["segments"]), 1)
        s = body["segments"][0]
        self.assertEqual(s["start"], 0.0)
        self.assertLess(abs(s["end"] - (t["end"] - cut)), TOL)
        self.assertTrue(t["text"].endswith(s["text"].strip()), s["text"])
        self.assertLess(len(s["text"].strip()), len(t["text"]))

    def test_long_manifest(self):
        out = self.sim.load_manifest(self.long_manifest)
        self.assertEqual(out["clips"], ["long2"])
        with open(self.long_manifest, encoding="utf-8") as f:
            turns = json.load(f)["clips"]["long2"]["turns"]
        self.assertGreater(len(turns), 15)
        up = os.path.join(self.d, "long-chunk.flac")
        sox(self.long_wav, up, "trim", "30.0", "60.0")
        want = [t for t in turns if t["start"] >= 30.0 and t["end"] <= 90.0]
        r = self.transcribe(up, filename="call-2.flac")
        self.assertTurns(r.json()["segments"], want, offset=30.0)
        self.assertIn("long2", self.sim.manifest()["clips"])
        self.assertIn("he_call", self.sim.manifest()["clips"])
        with self.assertRaises(openaiclient.SimError) as cm:
            self.sim._control("POST", "/_sim/manifest", {"path": "relative.json"})
        self.assertEqual(cm.exception.status, 400)

    # ---- chat --------------------------------------------------------------------------

    def transcript(self, clip):
        return "\n".join("%s: %s" % (t["speaker"].capitalize(), t["text"])
                         for t in self.turns(clip))

    def content(self, r):
        self.assertEqual(r.status, 200, r.body)
        return json.loads(r.json()["choices"][0]["message"]["content"])

    def test_chat_answers(self):
        for clip, c in self.manifest["clips"].items():
            for fmt in ("json_schema", "json_object"):
                r = self.sim.chat(KEY, chat_request(self.transcript(clip), fmt=fmt))
                self.assertEqual(self.content(r), c["llm"], (clip, fmt))
        r = self.sim.chat(KEY, chat_request(self.transcript("he_call")))
        body = r.json()
        self.assertEqual(list(body)[:5], ["id", "object", "created", "model", "choices"])
        self.assertTrue(body["id"].startswith("chatcmpl-"))
        self.assertEqual(body["object"], "chat.completion")
        self.assertIsInstance(body["created"], int)
        self.assertEqual(body["model"], "gpt-4o-mini")
        ch = body["choices"][0]
        self.assertEqual((ch["index"], ch["finish_reason"], ch["message"]["role"],
                          ch["message"]["refusal"]), (0, "stop", "assistant", None))
        self.assertIsInstance(ch["message"]["content"], str)
        u = body["usage"]
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        he = self.content(r)
        self.assertEqual((he["service"], he["city"]), ("אינסטלטור", "תל אביב"))
        self.assertRegex(he["summary"], "[\u0590-\u05FF]")
        # An unknown transcript: nothing known, low confidence.
        a = self.content(self.sim.chat(KEY, chat_request("Caller: Good morning, how are "
                                                          "you? Agent: Fine.")))
        self.assertEqual((a["service"], a["city"]), (None, None))
        self.assertLess(a["confidence"], 0.5)
        self.assertTrue(a["summary"])
        # Half the turns are enough (a channel may have gone missing).
        a = self.content(self.sim.chat(KEY, chat_request(
            "Agent: " + self.turns("en_call")[1]["text"])))
        self.assertEqual(a["service"], "locksmith")
        # The answer follows the schema it was given.
        schema = json.loads(json.dumps(SCHEMA))
        schema["properties"]["language"] = {"type": "string"}
        schema["required"].append("language")
        a = self.content(self.sim.chat(KEY, chat_request(self.transcript("he_call"),
                                                         schema=schema)))
        self.assertEqual(a["language"], "he")
        # max_completion_tokens too small: cut, finish_reason length.
        r = self.sim.chat(KEY, chat_request(self.transcript("he_call"),
                                            max_completion_tokens=5))
        self.assertEqual(r.json()["choices"][0]["finish_reason"], "length")

    def test_chat_refusals(self):
        tr = self.transcript("en_call")
        C = lambda req: self.sim.chat(KEY, req)  # noqa: E731
        self.assertError(C(b"{not json"), 400, message="could not parse the JSON body")
        req = chat_request(tr)
        del req["model"]
        self.assertError(C(req), 400, message="^you must provide a model parameter")
        self.assertError(C(chat_request(tr, model="llama-3")), 404, code="model_not_found")
        req = chat_request(tr)
        del req["messages"]
        self.assertError(C(req), 400, param="messages", code="missing_required_parameter")
        self.assertError(C(chat_request(tr, messages=[])), 400, code="empty_array")
        self.assertError(C(chat_request(tr, messages=[{"role": "robot", "content": "x"}])),
                         400, code="invalid_value", param="messages[0].role")
        self.assertError(C(chat_request(tr, temperature=3)), 400, param="temperature",
                         code="invalid_value")
        req = chat_request(tr, fmt="json_object")
        req["messages"][0]["content"] = "Answer with service, city and summary."
        self.assertError(C(req), 400, param="messages",
                         message="^'messages' must contain the word 'json' in some form")
        self.assertError(C(chat_request(tr, response_format={"type": "yaml"})), 400,
                         param="response_format.type", code="invalid_value")
        for name in (None, "call summary", "x" * 65):
            req = chat_request(tr)
            if name is None:
                del req["response_format"]["json_schema"]["name"]
            else:
                req["response_format"]["json_schema"]["name"] = name
            self.assertError(C(req), 400, param="response_format.json_schema.name",
                             code="missing_required_parameter" if name is None
                             else "invalid_value")
        for mutate, msg in (
                (lambda s: s.pop("additionalProperties"), "'additionalProperties' is required"),
                (lambda s: s.update(additionalProperties=True), "'additionalProperties'"),
                (lambda s: s["required"].remove("city"), "Missing 'city'"),
                (lambda s: s.pop("required"), "'required' is required")):
            schema = json.loads(json.dumps(SCHEMA))
            mutate(schema)
            e = self.assertError(C(chat_request(tr, schema=schema)), 400,
                                 param="response_format",
                                 message="^Invalid schema for response_format 'call_summary'")
            self.assertIn(msg, e["message"])
        # Not strict: the same schema is accepted.
        req = chat_request(tr)
        req["response_format"]["json_schema"]["strict"] = False
        req["response_format"]["json_schema"]["schema"].pop("additionalProperties")
        self.assertEqual(C(req).status, 200)

    # ---- faults ----------------------------------------------------------------------

    def test_transcription_faults(self):
        up = self.channel("en_call", 1)
        self.sim.fault("transcriptions", "rate_limit", count=2, retry_after_ms=250)
        for _ in range(2):
            r = self.transcribe(up)
            self.assertError(r, 429, etype="requests", code="rate_limit_exceeded",
                             message="^Rate limit reached for whisper-1")
            self.assertEqual((r.headers["retry-after-ms"], r.headers["retry-after"]),
                             ("250", "1"))
        self.assertEqual(self.transcribe(up).status, 200)
        self.sim.fault("transcriptions", "rate_limit")      # default: --retry-after-s 1
        r = self.transcribe(up)
        self.assertEqual((r.headers["retry-after-ms"], r.headers["retry-after"]),
                         ("1000", "1"))
        self.sim.fault("transcriptions", "rate_limit", retry_after_s=2.5)
        r = self.transcribe(up)
        self.assertEqual((r.headers["retry-after-ms"], r.headers["retry-after"]),
                         ("2500", "2.5"))
        for kind, status, etype, code in (
                ("insufficient_quota", 429, "insufficient_quota", "insufficient_quota"),
                ("server_error", 500, "server_error", None),
                ("overloaded", 503, "server_error", None),
                ("bad_request", 400, "invalid_request_error", None)):
            self.sim.fault("transcriptions", kind)
            e = self.assertError(self.transcribe(up), status, etype=etype, code=code)
            self.assertTrue(e["message"])
            self.assertNotIn("retry-after", self.transcribe(up).headers)
        # Faults queue in order, one per request; -1 = every request until reset.
        self.sim.fault("transcriptions", "server_error")
        self.sim.fault("transcriptions", "overloaded", count=-1)
        self.assertEqual([self.transcribe(up).status for _ in range(4)], [500, 503, 503, 503])
        self.assertEqual(self.sim.faults()["transcriptions"][0]["count"], -1)
        self.sim.reset()
        self.assertEqual(self.transcribe(up).status, 200)
        # The chat queue is apart.
        self.sim.fault("chat", "server_error")
        self.assertEqual(self.transcribe(up).status, 200)
        kinds = [(r["fault"], r["status"]) for r in self.sim.requests("transcriptions")]
        self.assertEqual(kinds, [(None, 200), (None, 200)])

    def test_stall(self):
        up = self.channel("en_call", 1)
        self.sim.fault("transcriptions", "stall", stall_s=1.0)
        t0 = time.monotonic()
        r = self.transcribe(up, timeout=10)
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.sim.fault("transcriptions", "stall", stall_s=1.5)
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, urllib.error.URLError, TimeoutError)):
            self.transcribe(up, timeout=0.4)
        self.assertLess(time.monotonic() - t0, 1.2)
        # Meanwhile, and after, the service answers others normally.
        self.assertEqual(self.transcribe(up).status, 200)
        # The stalled request is logged once its handler is done: wait for
        # that (bounded), never a fixed sleep a busy machine may outrun.
        deadline = time.monotonic() + 20
        while True:
            log = self.sim.requests("transcriptions")
            if (len(log) >= 2 and "elapsed_ms" in log[1]) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual([r["fault"] for r in log], ["stall", "stall", None])
        self.assertGreaterEqual(log[1]["elapsed_ms"], 1500)

    def raw_post(self, path, body, ctype):
        host, port = self.url[len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("POST", path, body=body, headers={
                "Content-Type": ctype, "Authorization": "Bearer " + KEY})
            resp = conn.getresponse()
            length = int(resp.getheader("Content-Length"))
            with self.assertRaises(http.client.IncompleteRead) as cm:
                resp.read()
            return resp.status, length, cm.exception.partial
        finally:
            conn.close()

    def test_truncated(self):
        self.sim.fault("transcriptions", "truncated")
        body, ctype = openaiclient.multipart(
            [("model", "whisper-1"), ("response_format", "verbose_json")],
            [("file", "caller.wav", "audio/wav", read(self.channel("he_call", 1)))])
        status, length, partial = self.raw_post("/v1/audio/transcriptions", body, ctype)
        self.assertEqual(status, 200)
        self.assertEqual(len(partial), length // 2)
        with self.assertRaises(ValueError):
            json.loads(partial)
        self.sim.fault("chat", "truncated")
        status, length, partial = self.raw_post(
            "/v1/chat/completions",
            json.dumps(chat_request(self.transcript("he_call"))).encode(), "application/json")
        self.assertEqual((status, len(partial)), (200, length // 2))
        self.assertEqual([r["fault"] for r in self.sim.requests()], ["truncated", "truncated"])

    def test_chat_faults(self):
        req = chat_request(self.transcript("he_call"))
        self.sim.fault("chat", "invalid_json")
        self.sim.fault("chat", "length")
        self.sim.fault("chat", "refusal")
        self.sim.fault("chat", "rate_limit", retry_after_ms=100)
        self.sim.fault("chat", "insufficient_quota")
        self.sim.fault("chat", "server_error")
        self.sim.fault("chat", "overloaded")
        self.sim.fault("chat", "bad_request")
        self.sim.fault("chat", "stall", stall_s=0.3)
        ch = self.sim.chat(KEY, req).json()["choices"][0]
        self.assertEqual(ch["finish_reason"], "stop")
        with self.assertRaises(ValueError):
            json.loads(ch["message"]["content"])
        ch = self.sim.chat(KEY, req).json()["choices"][0]
        self.assertEqual(ch["finish_reason"], "length")
        with self.assertRaises(ValueError):
            json.loads(ch["message"]["content"])
        ch = self.sim.chat(KEY, req).json()["choices"][0]
        self.assertIsNone(ch["message"]["content"])
        self.assertTrue(ch["message"]["refusal"])
        r = self.sim.chat(KEY, req)
        self.assertError(r, 429, etype="requests", code="rate_limit_exceeded",
                         message="gpt-4o-mini")
        self.assertEqual(r.headers["retry-after-ms"], "100")
        self.assertError(self.sim.chat(KEY, req), 429, etype="insufficient_quota",
                         code="insufficient_quota")
        self.assertError(self.sim.chat(KEY, req), 500, etype="server_error")
        self.assertError(self.sim.chat(KEY, req), 503, etype="server_error")
        self.assertError(self.sim.chat(KEY, req), 400)
        t0 = time.monotonic()
        self.assertEqual(self.content(self.sim.chat(KEY, req))["city"], "תל אביב")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual(self.content(self.sim.chat(KEY, req))["city"], "תל אביב")
        self.assertEqual([r["fault"] for r in self.sim.requests("chat")],
                         ["invalid_json", "length", "refusal", "rate_limit",
                          "insufficient_quota", "server_error", "overloaded", "bad_request",
                          "stall", None])

    # ---- request log and control API -----------------------------------------------------

    def test_request_log(self):
        up = self.channel("he_call", 2, rate=16000, ext="flac")
        self.transcribe(up, filename="agent.flac",
                        fields=[("model", "whisper-1"), ("response_format", "verbose_json"),
                                ("timestamp_granularities[]", "segment"),
                                ("timestamp_granularities[]", "word"),
                                ("language", "he"), ("temperature", "0")])
        req = chat_request(self.transcript("he_call"))
        self.sim.chat(KEY, req)
        self.transcribe(up, key="sk-bad-key-000000000000")
        log = self.sim.requests()
        self.assertEqual([r["endpoint"] for r in log], ["transcriptions", "chat",
                                                        "transcriptions"])
        t = log[0]
        for k in ("id", "t", "endpoint", "path", "status", "fault", "fields", "file",
                  "matched", "body"):
            self.assertIn(k, t)
        self.assertEqual((t["path"], t["status"], t["fault"], t["body"]),
                         ("/v1/audio/transcriptions", 200, None, None))
        self.assertEqual(t["fields"], {"model": "whisper-1", "response_format": "verbose_json",
                                       "timestamp_granularities[]": ["segment", "word"],
                                       "language": "he", "temperature": "0"})
        f = t["file"]
        self.assertEqual((f["filename"], f["content_type"], f["rate"], f["channels"]),
                         ("agent.flac", "audio/wav", 16000, 1))
        self.assertEqual(f["bytes"], os.path.getsize(up))
        self.assertLess(abs(f["duration_s"] - 10.508), 0.01)
        self.assertEqual(t["matched"], ["he_call.2"])
        c = log[1]
        self.assertEqual((c["status"], c["file"], c["body"]), (200, None, req))
        self.assertEqual(c["matched"], ["he_call.1", "he_call.2"])
        self.assertEqual(log[2]["status"], 401)
        self.assertEqual([r["id"] for r in self.sim.requests("chat")], [c["id"]])
        self.assertEqual(len(self.sim.requests("transcriptions")), 2)
        self.sim.reset()
        self.assertEqual(self.sim.requests(), [])

    def test_control_api(self):
        self.assertTrue(self.sim.health()["ok"])
        for bad in ({"endpoint": "transcriptions", "kind": "refusal"},
                    {"endpoint": "transcriptions", "kind": "nope"},
                    {"endpoint": "speech", "kind": "server_error"},
                    {"endpoint": "chat", "kind": "stall", "count": 0},
                    {"endpoint": "chat", "kind": "stall", "stall_s": -1},
                    {"endpoint": "chat", "kind": "stall", "colour": "blue"}):
            with self.assertRaises(openaiclient.SimError) as cm:
                self.sim._control("POST", "/_sim/faults", bad)
            self.assertEqual(cm.exception.status, 400, bad)
        with self.assertRaises(openaiclient.SimError) as cm:
            self.sim._control("GET", "/_sim/nothing")
        self.assertEqual(cm.exception.status, 404)
        self.assertEqual(self.sim.faults(), {"transcriptions": [], "chat": []})


if __name__ == "__main__":
    unittest.main()
