#!/usr/bin/python3
"""OpenAI API simulator for callpipe's tests: /v1/audio/transcriptions and
/v1/chat/completions.

    /usr/bin/python3 tests/sim/openai_sim.py --listen 127.0.0.1:8090 \\
        --api-key KEY --manifest run/audio/manifest.json \\
        [--pid-file run/pids/openai-sim.pid] [--retry-after-s 1]

THIS SIMULATES THE PROTOCOL, NOT RECOGNITION. No speech model runs here.
The simulator knows what is said in the test clips from the manifest that
tests/sim/make_audio.py writes (each utterance's text, and where in which
clip it is), and recognises an upload by its audio content: the upload is
decoded (WAV or FLAC, any rate, mixed down to mono, resampled to 8 kHz) and
a four-band energy envelope (20 ms windows every 10 ms) is template-matched
by normalized cross-correlation against every manifest utterance. It never
looks at the file name, the prompt or any other hint the client sends. So
the answer is exactly the manifest's sentences at the times the utterances
occur in the upload (relative to the upload's start; an upload that is a
chunk of a longer file gets chunk-relative times), and audio that is not in
the manifest is not transcribed at all. The chat endpoint likewise answers
the manifest clip's prepared "llm" object for the clip whose turns appear
in the transcript it is sent.

The HTTP side follows /work/shared/OPENAI.md: the fields, the answer bodies
(json, text, srt, vtt, verbose_json with segments and words), the refusals
with OpenAI's error shape {"error": {"message", "type", "param", "code"}}
(missing file/model, unknown response_format, timestamp_granularities[]
without verbose_json, verbose_json with gpt-4o(-mini)-transcribe, a language
that is not ISO-639-1, an unsupported file extension, more than 25 MiB,
missing or wrong Bearer key), json_object/json_schema validation on chat,
and the error bodies and headers of 429/500/503 for fault injection.

Control API (JSON, no auth) under /_sim/: health, reset, faults, requests,
manifest; see tests/sim/README.md. One line per request goes to stderr; the
API key and the Authorization header are never logged.

Python 3 standard library, numpy (Debian python3-numpy) and sox.
"""

import argparse
import hashlib
import hmac
import http.server
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import wave

import numpy as np

# ---- what the service accepts (OPENAI.md) ---------------------------------

MAX_UPLOAD = 26214400              # 25 MiB per request (help.openai.com 7031512)
MAX_CHAT_BODY = 8 << 20            # the simulator's own cap on a chat body
MAX_CONTROL_BODY = 1 << 20
HARD_READ_CAP = 512 << 20          # bodies beyond this are not even drained

AUDIO_EXTENSIONS = ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg',
                    'wav', 'webm']
RESPONSE_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt', 'diarized_json']
GRANULARITIES = ['word', 'segment']
RE_TRANSCRIBE_MODEL = re.compile(
    r"^(whisper-1|gpt-4o(-mini)?-transcribe(-\d{4}-\d{2}-\d{2})?)$")
RE_CHAT_MODEL = re.compile(r"^(gpt-[0-9a-z.\-]+|o[1-9][0-9a-z.\-]*|chatgpt-[0-9a-z.\-]+)$")
CHAT_ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer']
RE_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# Whisper's languages (openai/whisper tokenizer.py) that have a two-letter
# ISO-639-1 code; verbose_json reports the full name.
LANGUAGES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish",
    "ru": "russian", "ko": "korean", "fr": "french", "ja": "japanese",
    "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian",
    "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian",
    "ta": "tamil", "no": "norwegian", "th": "thai", "ur": "urdu",
    "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali",
    "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque",
    "is": "icelandic", "hy": "armenian", "ne": "nepali", "mn": "mongolian",
    "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali",
    "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic",
    "yi": "yiddish", "lo": "lao", "uz": "uzbek", "fo": "faroese",
    "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar",
    "bo": "tibetan", "tl": "tagalog", "mg": "malagasy", "as": "assamese",
    "tt": "tatar", "ln": "lingala", "ha": "hausa", "ba": "bashkir",
    "jw": "javanese", "su": "sundanese",
}

# What Whisper is known to write on silence (the reason callpipe does not
# upload a silent channel); marked as non-speech the way Whisper marks it.
HALLUCINATION = {"he": "תודה רבה.", "default": "Thank you."}

FAULT_KINDS = {
    "transcriptions": {"rate_limit", "insufficient_quota", "server_error",
                       "overloaded", "stall", "truncated", "bad_request"},
}
FAULT_KINDS["chat"] = FAULT_KINDS["transcriptions"] | {"invalid_json", "length", "refusal"}

# ---- recognition parameters -----------------------------------------------

SR = 8000                 # every upload and template is analysed at 8 kHz
HOP = 80                  # 10 ms
WIN = 160                 # 20 ms Hann window
BAND_EDGES = (0, 8, 16, 32, 81)   # rfft bins of 50 Hz: 0-400, 400-800, 800-1600, 1600-4000 Hz
POWER = 0.3               # band energy ** (POWER/2): compressed, scale-invariant under NCC
PHASES = (0, 40)          # template start offsets (samples): frame misalignment <= 2.5 ms
THRESHOLD = 0.90          # NCC above which an utterance is taken as present
MIN_PARTIAL = 0.5         # an utterance cut by the upload's edge: >= half of it
MIN_PARTIAL_S = 0.5       # ... and >= 0.5 s of it inside the upload
QUIET_RMS = 100           # loudest 30 ms window below this (of 32767): silence


def log(msg):
    sys.stderr.write("%s openai-sim: %s\n" % (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), msg))
    sys.stderr.flush()


class ApiError(Exception):
    """An answer in OpenAI's error shape."""

    def __init__(self, status, message, etype="invalid_request_error", param=None,
                 code=None, headers=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": etype, "param": param,
                               "code": code}}
        self.headers = headers or {}


class ControlError(Exception):
    pass


def stable_int(*parts):
    h = hashlib.sha256("\x00".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big")


# ---- audio ----------------------------------------------------------------

def sox_decode(data=None, path=None, ftype=None, channel=None, trim_end=None):
    """Decode audio with sox into mono int16 at SR (mixdown unless channel)."""
    argv = ["sox", "-D"]
    if ftype:
        argv += ["-t", ftype]
    argv += [path if path else "-", "-t", "raw", "-e", "signed-integer", "-b", "16",
             "-r", str(SR)]
    if channel is None:
        argv += ["-c", "1", "-"]
    else:
        argv += ["-", "remix", str(channel)]
    if trim_end is not None:
        argv += ["trim", "0", "%.3f" % trim_end]
    r = subprocess.run(argv, input=data, capture_output=True)
    if r.returncode != 0:
        raise ValueError(r.stderr.decode("utf-8", "replace").strip())
    return np.frombuffer(r.stdout, dtype="<i2").astype(np.float64)


def sox_info(data, ftype):
    """(rate, channels, frames) of an upload: WAV and FLAC headers read here,
    anything else through `sox --i` on a temporary file."""
    if ftype == "wav":
        try:
            with wave.open(io.BytesIO(data), "rb") as w:
                return w.getframerate(), w.getnchannels(), w.getnframes()
        except (wave.Error, EOFError, ValueError):
            pass   # e.g. WAVE_FORMAT_EXTENSIBLE or float: let sox read it
    if ftype == "flac" and len(data) >= 42 and data[4] & 0x7F == 0:
        si = data[8:8 + 34]                      # STREAMINFO, always first
        v = int.from_bytes(si[10:18], "big")
        rate = v >> 44
        chans = ((v >> 41) & 0x7) + 1
        frames = v & ((1 << 36) - 1)
        if rate > 0:
            return rate, chans, frames or None
    with tempfile.NamedTemporaryFile(suffix="." + ftype) as tf:
        tf.write(data)
        tf.flush()
        r = subprocess.run(["sox", "--i", tf.name], capture_output=True)
    if r.returncode != 0:
        raise ValueError(r.stderr.decode("utf-8", "replace").strip())
    out = r.stdout.decode("utf-8", "replace")
    rate = re.search(r"Sample Rate\s*:\s*(\d+)", out)
    chans = re.search(r"Channels\s*:\s*(\d+)", out)
    frames = re.search(r"=\s*(\d+)\s+samples", out)
    if not (rate and chans):
        raise ValueError("sox --i: no rate/channels")
    return int(rate.group(1)), int(chans.group(1)), int(frames.group(1)) if frames else None


def sniff_type(data, ext):
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return {"oga": "ogg", "mpga": "mp3", "mpeg": "mp3"}.get(ext, ext)


def features(x):
    """Frames (hop 10 ms, window 20 ms) x 4 band energies, compressed."""
    n = (len(x) - WIN) // HOP + 1
    if n <= 0:
        return np.zeros((0, len(BAND_EDGES) - 1))
    win = np.hanning(WIN)
    out = np.empty((n, len(BAND_EDGES) - 1))
    block = 8192
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        idx = np.arange(WIN)[None, :] + HOP * np.arange(b0, b1)[:, None]
        sp = np.abs(np.fft.rfft(x[idx] * win, axis=1)) ** 2
        for k in range(len(BAND_EDGES) - 1):
            out[b0:b1, k] = sp[:, BAND_EDGES[k]:BAND_EDGES[k + 1]].sum(1) ** (POWER / 2)
    return out


def loudest_rms(x, win=240):
    """RMS of the loudest 30 ms window (on the 8 kHz signal)."""
    if len(x) == 0:
        return 0.0
    if len(x) < win:
        return float(np.sqrt(np.mean(x * x)))
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    return float(np.sqrt(np.max(c[win:] - c[:-win]) / win))


class Signal:
    """An upload's features with the FFTs reused across templates."""

    def __init__(self, feats, max_m):
        self.f = feats
        self.n = len(feats)
        self.nfft = 1 << max(int(math.ceil(math.log2(self.n + max_m + 1))), 4)
        self.spec = [np.fft.rfft(feats[:, b], self.nfft) for b in range(feats.shape[1])]
        self.cs = np.vstack([np.zeros(feats.shape[1]), np.cumsum(feats, 0)])
        self.cs2 = np.vstack([np.zeros(feats.shape[1]), np.cumsum(feats * feats, 0)])

    def ncc(self, tpl):
        """NCC of tpl (M x B) at every full-overlap lag 0..n-M."""
        m = len(tpl)
        if m == 0 or self.n < m:
            return np.zeros(0)
        num = np.zeros(self.n - m + 1)
        var = np.zeros(self.n - m + 1)
        tvar = 0.0
        for b in range(tpl.shape[1]):
            t = tpl[:, b] - tpl[:, b].mean()
            tvar += float((t * t).sum())
            c = np.fft.irfft(self.spec[b] * np.conj(np.fft.rfft(t, self.nfft)), self.nfft)
            num += c[:self.n - m + 1]
            s = self.cs[m:, b] - self.cs[:-m, b]
            s2 = self.cs2[m:, b] - self.cs2[:-m, b]
            var += np.maximum(s2 - s * s / m, 0.0)
        den = np.sqrt(var * tvar)
        out = np.zeros(self.n - m + 1)
        ok = den > 1e-9
        out[ok] = num[ok] / den[ok]
        return out


def ncc_direct(a, b):
    """NCC of two equal-length feature blocks."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / den if den > 1e-9 else 0.0


# ---- the manifest -----------------------------------------------------------

class Manifest:
    """Clips (for chat) and utterances with their recognition templates."""

    def __init__(self):
        self.clips = {}
        self.utterances = {}   # id -> dict(text, lang, duration, words, tpl[phase])
        self.paths = []

    def load(self, path):
        path = os.path.abspath(path)
        with open(path, encoding="utf-8") as f:
            m = json.load(f)
        if not isinstance(m, dict) or not isinstance(m.get("utterances"), dict) \
                or not isinstance(m.get("clips"), dict):
            raise ValueError("%s: not a manifest (needs clips and utterances)" % path)
        base = os.path.dirname(path)
        decoded = {}
        new_utts = {}
        ends = {}
        for uid, u in m["utterances"].items():
            key = (os.path.join(base, u["file"]), int(u["channel"]))
            ends[key] = max(ends.get(key, 0.0), float(u["end"]))
        for key, end in ends.items():
            decoded[key] = sox_decode(path=key[0], channel=key[1], trim_end=end + 0.5)
        for uid, u in m["utterances"].items():
            x = decoded[(os.path.join(base, u["file"]), int(u["channel"]))]
            a, b = int(round(float(u["start"]) * SR)), int(round(float(u["end"]) * SR))
            if b - a < WIN + max(PHASES) or b > len(x) + HOP:
                raise ValueError("utterance %s: %.3f-%.3f s is not in %s"
                                 % (uid, u["start"], u["end"], u["file"]))
            tpls = [features(x[a + ph:b]) for ph in PHASES]
            dur = (b - a) / SR
            new_utts[uid] = {"id": uid, "text": u["text"], "lang": u.get("lang", "en"),
                             "duration": dur, "tpl": tpls,
                             "words": word_times(u["text"], dur)}
        # Swapped in whole: a request running now keeps the dicts it took.
        self.utterances = dict(self.utterances, **new_utts)
        self.clips = dict(self.clips, **m["clips"])
        self.paths = self.paths + [path]
        return {"path": path, "clips": sorted(m["clips"]), "utterances": len(new_utts)}

    def summary(self):
        return {"paths": self.paths, "clips": sorted(self.clips),
                "utterances": sorted(self.utterances)}


def word_times(text, dur):
    """Word start/end within an utterance, spread by character count."""
    words = text.split()
    weights = [len(w) + 1 for w in words]
    total = float(sum(weights)) or 1.0
    out, t = [], 0.0
    for w, k in zip(words, weights):
        d = dur * k / total
        out.append((w, t, t + d))
        t += d
    return out


# ---- recognition ----------------------------------------------------------------

def recognise(manifest, x):
    """Utterances found in the 8 kHz mono signal x: list of dicts sorted by start."""
    dur = len(x) / SR
    feats = features(x)
    utts = list(manifest.utterances.values())
    if not utts or len(feats) == 0:
        return []
    max_m = max(len(t) for u in utts for t in u["tpl"])
    sig = Signal(feats, max_m)
    n = len(feats)
    head_loud = n > 0 and loudest_rms(x[:int(0.3 * SR)]) >= QUIET_RMS
    tail_loud = n > 0 and loudest_rms(x[-int(0.3 * SR):]) >= QUIET_RMS
    cands = []
    for u in utts:
        for ph, tpl in zip(PHASES, u["tpl"]):
            m = len(tpl)
            r = sig.ncc(tpl)
            if len(r):
                left = np.concatenate([[-np.inf], r[:-1]])
                right = np.concatenate([r[1:], [-np.inf]])
                for k in np.nonzero((r >= THRESHOLD) & (r >= left) & (r >= right))[0]:
                    cands.append((float(r[k]), u, int(k), ph, False))
            # Cut by the upload's start or end: match the part inside.
            min_m = max(int(math.ceil(m * MIN_PARTIAL)), int(MIN_PARTIAL_S * SR / HOP))
            if head_loud:
                best = None
                for keep in range(min(m - 1, n), min_m - 1, -1):
                    s = ncc_direct(feats[:keep], tpl[m - keep:])
                    if best is None or s > best[0]:
                        best = (s, keep)
                if best and best[0] >= THRESHOLD:
                    cands.append((best[0], u, -(m - best[1]), ph, True))
            if tail_loud:
                best = None
                for keep in range(min(m - 1, n), min_m - 1, -1):
                    s = ncc_direct(feats[n - keep:], tpl[:keep])
                    if best is None or s > best[0]:
                        best = (s, keep)
                if best and best[0] >= THRESHOLD:
                    cands.append((best[0], u, n - best[1], ph, True))
    cands.sort(key=lambda c: (-c[0], c[1]["id"]))
    found = []
    for score, u, k, ph, partial in cands:
        start = (k * HOP - ph) / SR
        end = start + u["duration"]
        ok = True
        for f in found:
            ov = min(end, f["t1"]) - max(start, f["t0"])
            if ov > 0.3 * min(end - start, f["t1"] - f["t0"]):
                ok = False
                break
        if not ok:
            continue
        s0, s1 = max(0.0, start), min(dur, end)
        words = [(w, start + a, start + b) for w, a, b in u["words"]
                 if s0 <= start + (a + b) / 2 <= s1]
        if not words:
            continue
        found.append({"utterance": u["id"], "lang": u["lang"], "score": round(score, 4),
                      "t0": start, "t1": end, "start": s0, "end": s1,
                      "partial": bool(partial or start < -0.05 or end > dur + 0.05),
                      "text": " ".join(w for w, _, _ in words),
                      "words": [(w, max(s0, a), min(s1, b)) for w, a, b in words]})
    found.sort(key=lambda f: f["start"])
    return found


# ---- transcription answers ---------------------------------------------------------

def ts(t):
    """Whisper's timestamps come in 20 ms steps."""
    return round(round(t / 0.02) * 0.02, 2)


def segment_json(i, f, temperature):
    h = stable_int(f["utterance"], round(f["start"], 2))
    words = f["text"].split()
    tokens = [50365 + int(round(f["start"] / 0.02)) % 1500] + \
        [stable_int(w) % 50000 + 200 for w in words] + \
        [50365 + int(round(f["end"] / 0.02)) % 1500]
    return {"id": i, "seek": int(f["start"] // 30) * 3000,
            "start": ts(f["start"]), "end": ts(f["end"]), "text": " " + f["text"],
            "tokens": tokens, "temperature": temperature,
            "avg_logprob": round(-0.12 - (h % 25) / 100.0, 6),
            "compression_ratio": round(1.15 + (h >> 8) % 40 / 100.0, 6),
            "no_speech_prob": round(0.002 + (h >> 16) % 80 / 10000.0, 6)}


def srt_time(t, sep):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d%s%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60,
                                     sep, ms % 1000)


def transcription_answer(req, found, duration, quiet):
    """(content type, body bytes, summary for the log)."""
    fmt = req["response_format"]
    lang_code = req["language"]
    if lang_code is None:
        by = {}
        for f in found:
            by[f["lang"]] = by.get(f["lang"], 0.0) + f["end"] - f["start"]
        lang_code = max(sorted(by), key=lambda k: by[k]) if by else "en"
    segs = [segment_json(i, f, req["temperature"]) for i, f in enumerate(found)]
    if not found and quiet:
        # Whisper on silence: a stock phrase, flagged as non-speech.
        text = HALLUCINATION.get(lang_code, HALLUCINATION["default"])
        segs = [{"id": 0, "seek": 0, "start": 0.0, "end": ts(min(duration, 30.0)),
                 "text": " " + text, "tokens": [50365, 2561, 291, 13, 50515],
                 "temperature": req["temperature"], "avg_logprob": -1.2741,
                 "compression_ratio": 0.6364, "no_speech_prob": 0.9312}]
        words = [(w, 0.0, ts(min(duration, 30.0))) for w in text.split()]
    else:
        words = [w for f in found for w in f["words"]]
    text = " ".join(s["text"].strip() for s in segs)
    secs = max(1, int(math.ceil(duration)))
    if req["model"].startswith("gpt-"):
        out_tokens = max(1, len(text.encode("utf-8")) // 4)
        in_tokens = max(1, int(duration * 10))
        usage = {"type": "tokens", "input_tokens": in_tokens,
                 "input_token_details": {"text_tokens": 0, "audio_tokens": in_tokens},
                 "output_tokens": out_tokens, "total_tokens": in_tokens + out_tokens}
    else:
        usage = {"type": "duration", "seconds": secs}
    summary = {"language": lang_code, "duration": round(duration, 3),
               "segments": [{"start": s["start"], "end": s["end"],
                             "no_speech_prob": s["no_speech_prob"],
                             "text": s["text"]} for s in segs]}
    if fmt == "json":
        return "application/json", dumps({"text": text, "usage": usage}), summary
    if fmt == "text":
        return "text/plain; charset=utf-8", (text + "\n").encode("utf-8"), summary
    if fmt in ("srt", "vtt"):
        lines = ["WEBVTT", ""] if fmt == "vtt" else []
        for i, s in enumerate(segs):
            if fmt == "srt":
                lines.append(str(i + 1))
            sep = "," if fmt == "srt" else "."
            lines.append("%s --> %s" % (srt_time(s["start"], sep), srt_time(s["end"], sep)))
            lines.append(s["text"].strip())
            lines.append("")
        return "text/plain; charset=utf-8", ("\n".join(lines) + "\n").encode("utf-8"), summary
    body = {"task": "transcribe", "language": LANGUAGES.get(lang_code, "english"),
            "duration": round(duration, 2), "text": text}
    grans = req["granularities"] or ["segment"]
    if "segment" in grans:
        body["segments"] = segs
    if "word" in grans:
        body["words"] = [{"word": w, "start": ts(a), "end": ts(b)} for w, a, b in words]
    body["usage"] = usage
    return "application/json", dumps(body), summary


def dumps(obj):
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ---- multipart --------------------------------------------------------------------

def header_params(value):
    """'form-data; name="a"; filename="b.wav"' -> ('form-data', {name:…, filename:…})."""
    parts = re.findall(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', ";" + value.split(";", 1)[1]) \
        if ";" in value else []
    params = {}
    for k, v in parts:
        v = v.strip()
        if v.startswith('"') and v.endswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        params[k.lower()] = v
    return value.split(";", 1)[0].strip().lower(), params


def parse_multipart(body, ctype):
    """(text fields {name: [values]}, file part dict or None)."""
    kind, params = header_params(ctype) if ctype else ("", {})
    if kind != "multipart/form-data" or not params.get("boundary"):
        raise ApiError(400, "Could not parse multipart form")
    delim = b"--" + params["boundary"].encode("latin-1")
    chunks = body.split(delim)
    if len(chunks) < 3:
        raise ApiError(400, "Could not parse multipart form")
    fields, file_part = {}, None
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ApiError(400, "Could not parse multipart form")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        disp, dp = header_params(headers.get("content-disposition", ""))
        name = dp.get("name")
        if disp != "form-data" or name is None:
            continue
        if "filename" in dp:
            if name == "file" and file_part is None:
                file_part = {"filename": dp["filename"],
                             "content_type": headers.get("content-type"), "data": data}
            continue
        fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
    return fields, file_part


# ---- chat -------------------------------------------------------------------------

def norm_text(s):
    return " ".join(re.sub(r"[^\w\s]", " ", s.lower()).split())


def message_text(msg):
    c = msg.get("content")
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return "\n".join(p.get("text", "") for p in c
                         if isinstance(p, dict) and p.get("type") == "text"
                         and isinstance(p.get("text"), str))
    return ""


def find_clip(manifest, messages):
    """The clip whose turns appear in the user messages (then in any message)."""
    for roles in (("user",), tuple(CHAT_ROLES)):
        hay = norm_text("\n".join(message_text(m) for m in messages
                                  if isinstance(m, dict) and m.get("role") in roles))
        best = None
        for name in sorted(manifest.clips):
            turns = manifest.clips[name].get("turns") or []
            if not turns:
                continue
            hit = [t for t in turns if norm_text(t["text"]) and norm_text(t["text"]) in hay]
            frac = len(hit) / float(len(turns))
            key = (frac, len(hit))
            if frac >= 0.5 and (best is None or key > best[0]):
                best = (key, name, hit)
        if best:
            return best[1], [t.get("utterance") for t in best[2]]
    return None, []


def unknown_answer(messages):
    hay = "\n".join(message_text(m) for m in messages if isinstance(m, dict))
    hebrew = re.search(r"[\u0590-\u05FF]", hay) is not None
    return {"service": None, "city": None, "confidence": 0.1,
            "summary": "לא ברור מה המתקשר ביקש." if hebrew
            else "It is not clear what the caller asked for."}


def schema_types(s):
    t = s.get("type") if isinstance(s, dict) else None
    return t if isinstance(t, list) else [t] if t else []


def shape_to_schema(answer, schema, lang):
    """The answer object as a model under this strict schema would give it."""
    props = schema.get("properties") or {}
    out = {}
    for k, ps in props.items():
        types = schema_types(ps)
        if k in answer:
            v = answer[k]
        elif k == "language":
            v = lang
        else:
            v = None
        enum = ps.get("enum") if isinstance(ps, dict) else None
        if enum is not None and v not in enum:
            v = None if None in enum else enum[0]
        if v is None and types and "null" not in types:
            v = {"string": "", "number": 0, "integer": 0, "boolean": False,
                 "array": [], "object": {}}.get(types[0])
        out[k] = v
    return out


def check_strict(schema, name, ctx=()):
    """Structured Outputs' strict rules: objects closed, every property required."""
    def bad(msg):
        raise ApiError(400, "Invalid schema for response_format '%s': In context=%s, %s"
                       % (name, repr(tuple(ctx)), msg), param="response_format")
    if not isinstance(schema, dict):
        bad("schema must be an object")
    types = schema_types(schema)
    if "object" in types or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            bad("'additionalProperties' is required to be supplied and to be false.")
        props = schema.get("properties") or {}
        req = schema.get("required")
        if not isinstance(req, list):
            bad("'required' is required to be supplied and to be an array including "
                "every key in properties.")
        missing = [k for k in props if k not in req]
        if missing:
            bad("'required' is required to be supplied and to be an array including "
                "every key in properties. Missing '%s'." % missing[0])
        extra = [k for k in req if k not in props]
        if extra:
            bad("'required' includes '%s', which is not in 'properties'." % extra[0])
        for k, v in props.items():
            check_strict(v, name, tuple(ctx) + ("properties", k))
    if "array" in types and "items" in schema:
        check_strict(schema["items"], name, tuple(ctx) + ("items",))
    for key in ("anyOf",):
        for i, sub in enumerate(schema.get(key) or []):
            check_strict(sub, name, tuple(ctx) + (key, str(i)))


def validate_chat(body):
    """Refuse what /v1/chat/completions refuses; returns the parsed parameters."""
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid type for request body: expected an object.")
    model = body.get("model")
    if not model:
        raise ApiError(400, "you must provide a model parameter")
    if not isinstance(model, str):
        raise ApiError(400, "Invalid type for 'model': expected a string, but got %s "
                       "instead." % type(model).__name__, param="model",
                       code="invalid_type")
    if "messages" not in body:
        raise ApiError(400, "Missing required parameter: 'messages'.", param="messages",
                       code="missing_required_parameter")
    msgs = body["messages"]
    if not isinstance(msgs, list):
        raise ApiError(400, "Invalid type for 'messages': expected an array of objects.",
                       param="messages", code="invalid_type")
    if not msgs:
        raise ApiError(400, "Invalid 'messages': empty array. Expected an array with "
                       "minimum length 1, but got an empty array instead.",
                       param="messages", code="empty_array")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise ApiError(400, "Invalid type for 'messages[%d]': expected an object." % i,
                           param="messages[%d]" % i, code="invalid_type")
        if "role" not in m:
            raise ApiError(400, "Missing required parameter: 'messages[%d].role'." % i,
                           param="messages[%d].role" % i, code="missing_required_parameter")
        if m["role"] not in CHAT_ROLES:
            raise ApiError(400, "Invalid value: '%s'. Supported values are: 'system', "
                           "'assistant', 'user', 'function', 'tool', and 'developer'."
                           % m["role"], param="messages[%d].role" % i, code="invalid_value")
        c = m.get("content")
        if c is None and m["role"] in ("system", "developer", "user"):
            raise ApiError(400, "Missing required parameter: 'messages[%d].content'." % i,
                           param="messages[%d].content" % i,
                           code="missing_required_parameter")
        if c is not None and not isinstance(c, (str, list)):
            raise ApiError(400, "Invalid type for 'messages[%d].content': expected one of "
                           "a string or array of objects." % i,
                           param="messages[%d].content" % i, code="invalid_type")
    if not RE_CHAT_MODEL.match(model):
        raise ApiError(404, "The model `%s` does not exist or you do not have access to "
                       "it." % model, code="model_not_found")
    t = body.get("temperature", 1)
    if t is not None and (not isinstance(t, (int, float)) or isinstance(t, bool)
                          or not 0 <= t <= 2):
        raise ApiError(400, "Invalid 'temperature': expected a number between 0 and 2.",
                       param="temperature", code="invalid_value")
    max_tokens = None
    for k in ("max_completion_tokens", "max_tokens"):
        v = body.get(k)
        if v is not None:
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ApiError(400, "Invalid '%s': integer below minimum value. Expected a "
                               "value >= 1." % k, param=k, code="integer_below_min_value")
            max_tokens = v if max_tokens is None else min(max_tokens, v)
    n = body.get("n", 1)
    if n is None:
        n = 1
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
        raise ApiError(400, "Invalid 'n': expected an integer between 1 and 128.",
                       param="n", code="invalid_value")
    rf = body.get("response_format")
    rtype, schema = "text", None
    if rf is not None:
        if not isinstance(rf, dict) or "type" not in rf:
            raise ApiError(400, "Missing required parameter: 'response_format.type'.",
                           param="response_format.type", code="missing_required_parameter")
        rtype = rf["type"]
        if rtype not in ("text", "json_object", "json_schema"):
            raise ApiError(400, "Invalid value: '%s'. Supported values are: 'text', "
                           "'json_object', and 'json_schema'." % rtype,
                           param="response_format.type", code="invalid_value")
        if rtype == "json_object":
            if not any("json" in message_text(m).lower() for m in msgs):
                raise ApiError(400, "'messages' must contain the word 'json' in some form, "
                               "to use 'response_format' of type 'json_object'.",
                               param="messages")
        if rtype == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict):
                raise ApiError(400, "Missing required parameter: "
                               "'response_format.json_schema'.",
                               param="response_format.json_schema",
                               code="missing_required_parameter")
            name = js.get("name")
            if name is None:
                raise ApiError(400, "Missing required parameter: "
                               "'response_format.json_schema.name'.",
                               param="response_format.json_schema.name",
                               code="missing_required_parameter")
            if not isinstance(name, str) or not RE_SCHEMA_NAME.match(name):
                raise ApiError(400, "Invalid 'response_format.json_schema.name': string "
                               "does not match pattern. Expected a string that matches "
                               "the pattern '^[a-zA-Z0-9_-]+$' (at most 64 characters).",
                               param="response_format.json_schema.name",
                               code="invalid_value")
            schema = js.get("schema")
            if schema is not None and not isinstance(schema, dict):
                raise ApiError(400, "Invalid type for 'response_format.json_schema.schema':"
                               " expected an object.",
                               param="response_format.json_schema.schema",
                               code="invalid_type")
            if js.get("strict"):
                if schema is None or "object" not in schema_types(schema):
                    raise ApiError(400, "Invalid schema for response_format '%s': schema "
                                   "must be a JSON Schema of 'type: \"object\"', got "
                                   "'type: \"%s\"'." % (name, (schema or {}).get("type")),
                                   param="response_format")
                check_strict(schema, name)
    return {"model": model, "messages": msgs, "rtype": rtype, "schema": schema,
            "max_tokens": max_tokens, "n": n}


# ---- the simulator ------------------------------------------------------------------

class Sim:
    def __init__(self, api_key, retry_after_s):
        self.api_key = api_key
        self.retry_after_s = retry_after_s
        self.lock = threading.RLock()
        self.manifest = Manifest()
        self.faults = {"transcriptions": [], "chat": []}
        self.requests = []
        self.seq = 0

    def reset(self):
        with self.lock:
            self.faults = {"transcriptions": [], "chat": []}
            self.requests = []

    def add_fault(self, req):
        if not isinstance(req, dict):
            raise ControlError("body must be a JSON object")
        unknown = set(req) - {"endpoint", "kind", "count", "retry_after_ms",
                              "retry_after_s", "stall_s", "retry_headers"}
        if unknown:
            raise ControlError("unknown key(s): %s" % ", ".join(sorted(unknown)))
        ep = req.get("endpoint")
        if ep not in FAULT_KINDS:
            raise ControlError("endpoint must be transcriptions or chat")
        kind = req.get("kind")
        if kind not in FAULT_KINDS[ep]:
            raise ControlError("kind must be one of %s for %s"
                               % (", ".join(sorted(FAULT_KINDS[ep])), ep))
        count = req.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or \
                not (count == -1 or count >= 1):
            raise ControlError("count must be an integer >= 1, or -1 (every request)")
        f = {"kind": kind, "count": count}
        for k, typ in (("retry_after_ms", int), ("retry_after_s", (int, float)),
                       ("stall_s", (int, float))):
            if k in req:
                v = req[k]
                if not isinstance(v, typ) or isinstance(v, bool) or v < 0:
                    raise ControlError("%s must be a number >= 0" % k)
                f[k] = v
        rh = req.get("retry_headers", "both")
        if rh not in ("both", "ms", "s"):
            raise ControlError("retry_headers must be both, ms or s")
        f["retry_headers"] = rh
        with self.lock:
            self.faults[ep].append(f)
            return {"ok": True, "faults": self.fault_state()}

    def fault_state(self):
        with self.lock:
            return {ep: [dict(f) for f in q] for ep, q in self.faults.items()}

    def take_fault(self, ep):
        with self.lock:
            q = self.faults[ep]
            if not q:
                return None
            f = dict(q[0])
            if q[0]["count"] != -1:
                q[0]["count"] -= 1
                if q[0]["count"] == 0:
                    q.pop(0)
            return f

    def new_entry(self, endpoint, path):
        with self.lock:
            self.seq += 1
            e = {"id": self.seq, "request_id": "req_%s" % hashlib.sha256(
                ("%d-%f" % (self.seq, time.time())).encode()).hexdigest()[:32],
                "t": time.time(), "endpoint": endpoint, "path": path, "status": None,
                "fault": None, "fields": None, "file": None, "matched": [],
                "body": None, "error": None}
            self.requests.append(e)
            return e

    def log_entries(self, endpoint=None):
        with self.lock:
            return [json.loads(json.dumps(e)) for e in self.requests
                    if endpoint is None or e["endpoint"] == endpoint]


def mask_key(key):
    if len(key) >= 12:
        return key[:3] + "*" * (len(key) - 7) + key[-4:]
    return "*" * len(key)


def fault_error(kind, model, f, default_retry_s, request_id):
    """The ApiError a fault answers with (None for stall/truncated/chat kinds)."""
    headers = {}
    ra_s, ra_ms = f.get("retry_after_s"), f.get("retry_after_ms")
    if kind == "rate_limit" and ra_s is None and ra_ms is None:
        ra_s = default_retry_s
    if ra_s is not None or ra_ms is not None:
        if ra_ms is None:
            ra_ms = int(round(ra_s * 1000))
        if ra_s is None:
            ra_s = int(math.ceil(ra_ms / 1000.0))
        # OpenAI sends both; "ms" or "s" lets a test prove that a client
        # honours either one alone (OPENAI.md: retry-after-ms, else retry-after).
        rh = f.get("retry_headers", "both")
        if rh in ("both", "s"):
            headers["retry-after"] = str(int(ra_s)) if float(ra_s).is_integer() else str(ra_s)
        if rh in ("both", "ms"):
            headers["retry-after-ms"] = str(int(ra_ms))
    if kind == "rate_limit":
        headers.update({"x-ratelimit-limit-requests": "50",
                        "x-ratelimit-remaining-requests": "0",
                        "x-ratelimit-reset-requests": "%dms" % int(ra_ms)})
        return ApiError(429, "Rate limit reached for %s in organization org-callpipesim on "
                        "requests per min (RPM): Limit 50, Used 50, Requested 1. Please try "
                        "again in %gs. Visit https://platform.openai.com/account/rate-limits "
                        "to learn more." % (model or "default", int(ra_ms) / 1000.0),
                        etype="requests", code="rate_limit_exceeded", headers=headers)
    if kind == "insufficient_quota":
        return ApiError(429, "You exceeded your current quota, please check your plan and "
                        "billing details. For more information on this error, read the "
                        "docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                        etype="insufficient_quota", code="insufficient_quota",
                        headers=headers)
    if kind == "server_error":
        return ApiError(500, "The server had an error processing your request. Sorry about "
                        "that! You can retry your request, or contact us through our help "
                        "center at help.openai.com if you keep seeing this error. (Please "
                        "include the request ID %s in your email.)" % request_id,
                        etype="server_error", headers=headers)
    if kind == "overloaded":
        return ApiError(503, "That model is currently overloaded with other requests. You "
                        "can retry your request, or contact us through our help center at "
                        "help.openai.com if the error persists. (Please include the request "
                        "ID %s in your message.)" % request_id,
                        etype="server_error", headers=headers)
    if kind == "bad_request":
        return ApiError(400, "Invalid request (the simulator's injected bad_request fault).",
                        headers=headers)
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-sim/1"
    sim = None

    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    # ---- plumbing -----------------------------------------------------------

    def read_body(self, keep_limit):
        """(bytes kept (None if over keep_limit), total bytes read)."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        kept, total, over = [], 0, False
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, 1 << 20))
                    if not piece:
                        raise ConnectionResetError("body cut short")
                    remaining -= len(piece)
                    total += len(piece)
                    if total > keep_limit:
                        over = True
                        kept = []
                    elif not over:
                        kept.append(piece)
                    if total > HARD_READ_CAP:
                        raise ConnectionResetError("body too large to drain")
                self.rfile.readline(3)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            if n > HARD_READ_CAP:
                self.close_connection = True
                return None, n
            while total < n:
                piece = self.rfile.read(min(n - total, 1 << 20))
                if not piece:
                    raise ConnectionResetError("body cut short")
                total += len(piece)
                if total > keep_limit:
                    over = True
                    kept = []
                elif not over:
                    kept.append(piece)
        return (None if over else b"".join(kept)), total

    def send(self, status, body, ctype="application/json", headers=None, truncate=False):
        if isinstance(body, (dict, list)):
            body = dumps(body)
        self._status = status
        entry = getattr(self, "_entry", None)
        if entry is not None:
            with self.sim.lock:
                entry["status"] = status   # before the client can read the answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if truncate:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self.wfile.write(body)
        return len(body)

    def finish_log(self, status, size, entry=None):
        extra = ""
        if entry is not None:
            fl = entry.get("file")
            extra = " fault=%s" % (entry.get("fault") or "-")
            if fl:
                extra += " file=%s %sHz/%sch/%ss" % (fl.get("filename"), fl.get("rate"),
                                                     fl.get("channels"), fl.get("duration_s"))
            got = entry.get("matched") or []
            if got:
                extra += " matched=%s" % (",".join(got) if len(got) <= 8 else
                                          "%s,... (%d)" % (",".join(got[:4]), len(got)))
        log("%s %s %s %s %d (%d ms)%s" % (self.client_address[0], self.command,
                                          self.path, status, size,
                                          int((time.monotonic() - self._t0) * 1000), extra))

    def common_headers(self, entry):
        return {"x-request-id": entry["request_id"], "openai-version": "2020-10-01",
                "openai-processing-ms": str(int((time.monotonic() - self._t0) * 1000)),
                "openai-organization": "org-callpipesim"}

    def handle_any(self):
        self._t0 = time.monotonic()
        self._entry = None   # one handler serves every request of a connection
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path.startswith("/_sim/"):
                return self.control(path)
            return self.api(path)
        except (BrokenPipeError, ConnectionResetError) as e:
            log("%s %s: client went away (%s)" % (self.command, self.path, e))
            self.close_connection = True
        except Exception:
            log("%s %s: %s" % (self.command, self.path, traceback.format_exc()))
            try:
                self.send(500, {"error": {"message": "simulator error", "type": "server_error",
                                          "param": None, "code": None}})
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def do_HEAD(self):
        self.handle_any()

    # ---- control API ----------------------------------------------------------

    def control(self, path):
        sim = self.sim
        body, n = self.read_body(MAX_CONTROL_BODY)
        req = None
        status, out = 200, None
        try:
            if body:
                try:
                    req = json.loads(body)
                except ValueError as e:
                    raise ControlError("body is not JSON: %s" % e)
            if body is None:
                raise ControlError("body too large")
            m = self.command
            if path == "/_sim/health" and m == "GET":
                out = {"ok": True, "clips": len(sim.manifest.clips),
                       "utterances": len(sim.manifest.utterances)}
            elif path == "/_sim/reset" and m == "POST":
                sim.reset()
                out = {"ok": True}
            elif path == "/_sim/faults" and m == "POST":
                out = sim.add_fault(req if req is not None else {})
            elif path == "/_sim/faults" and m == "GET":
                out = {"faults": sim.fault_state()}
            elif path == "/_sim/requests" and m == "GET":
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                ep = q.get("endpoint", [None])[0]
                if ep not in (None, "transcriptions", "chat", "other"):
                    raise ControlError("endpoint must be transcriptions, chat or other")
                out = {"requests": sim.log_entries(ep)}
            elif path == "/_sim/manifest" and m == "POST":
                p = (req or {}).get("path")
                if not isinstance(p, str) or not os.path.isabs(p):
                    raise ControlError("path must be an absolute path")
                try:
                    with sim.lock:
                        out = dict(sim.manifest.load(p), ok=True)
                except (OSError, ValueError, KeyError, TypeError) as e:
                    raise ControlError("cannot load %s: %s" % (p, e))
            elif path == "/_sim/manifest" and m == "GET":
                out = sim.manifest.summary()
            else:
                status, out = 404, {"error": "no such control route"}
        except ControlError as e:
            status, out = 400, {"error": str(e)}
        size = self.send(status, out)
        self.finish_log(status, size)

    # ---- the API -----------------------------------------------------------------

    def api(self, path):
        sim = self.sim
        m = self.command
        if m == "POST" and path == "/v1/audio/transcriptions":
            endpoint, keep = "transcriptions", MAX_UPLOAD
        elif m == "POST" and path == "/v1/chat/completions":
            endpoint, keep = "chat", MAX_CHAT_BODY
        else:
            endpoint, keep = "other", MAX_CONTROL_BODY
        body, nread = self.read_body(keep)
        entry = self._entry = sim.new_entry(endpoint, path)
        self._status, size = None, 0
        try:
            _, size = self.api_inner(endpoint, path, body, nread, entry)
        except ApiError as e:
            headers = dict(self.common_headers(entry), **e.headers)
            with sim.lock:
                entry["error"] = e.body["error"]["message"]
            size = self.send(e.status, e.body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            with sim.lock:
                entry["client_gone"] = True   # e.g. it timed out during a stall
            raise
        finally:
            with sim.lock:
                entry["status"] = self._status
                entry["elapsed_ms"] = int((time.monotonic() - self._t0) * 1000)
            self.finish_log(self._status, size, entry)

    def check_auth(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer ") or not h[7:].strip():
            raise ApiError(401, "You didn't provide an API key. You need to provide your API "
                           "key in an Authorization header using Bearer auth (i.e. "
                           "Authorization: Bearer YOUR_KEY), or as the password field (with "
                           "blank username) if you're accessing the API from your browser "
                           "and are prompted for a username and password. You can obtain an "
                           "API key from https://platform.openai.com/account/api-keys.")
        key = h[7:].strip()
        if not hmac.compare_digest(key.encode(), self.sim.api_key.encode()):
            raise ApiError(401, "Incorrect API key provided: %s. You can find your API key at "
                           "https://platform.openai.com/account/api-keys." % mask_key(key),
                           code="invalid_api_key")

    def api_inner(self, endpoint, path, body, nread, entry):
        self.check_auth()
        if endpoint == "other":
            if self.command == "GET" and path == "/v1/models":
                return 200, self.send(200, {"object": "list", "data": [
                    {"id": mid, "object": "model", "created": 1677610602,
                     "owned_by": "openai-sim"} for mid in
                    ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe",
                     "gpt-4o-mini", "gpt-4o")]}, headers=self.common_headers(entry))
            raise ApiError(404, "Invalid URL (%s %s)" % (self.command, path))
        if body is None:
            raise ApiError(413, "Maximum content size limit (%d) exceeded (%d bytes read)"
                           % (MAX_UPLOAD if endpoint == "transcriptions" else MAX_CHAT_BODY,
                              nread), etype="server_error")
        if endpoint == "transcriptions":
            return self.transcriptions(body, entry)
        return self.chat(body, entry)

    def apply_fault(self, endpoint, entry, model):
        f = self.sim.take_fault(endpoint)
        if f is None:
            return None
        with self.sim.lock:
            entry["fault"] = f["kind"]
        err = fault_error(f["kind"], model, f, self.sim.retry_after_s, entry["request_id"])
        if err is not None:
            raise err
        if f["kind"] == "stall":
            time.sleep(float(f.get("stall_s", 30)))
        return f

    def transcriptions(self, body, entry):
        sim = self.sim
        try:
            fields, fpart = parse_multipart(body, self.headers.get("Content-Type"))
        except ApiError:
            self.apply_fault("transcriptions", entry, None)   # a fault comes first
            raise
        with sim.lock:
            entry["fields"] = {k: (v[0] if len(v) == 1 else v) for k, v in fields.items()}
            if fpart is not None:
                entry["file"] = {"filename": fpart["filename"],
                                 "content_type": fpart["content_type"],
                                 "bytes": len(fpart["data"]), "rate": None,
                                 "channels": None, "duration_s": None}

        def one(name):
            v = fields.get(name)
            return v[-1] if v else None
        model = one("model")
        fault = self.apply_fault("transcriptions", entry, model)
        if fpart is None:
            raise ApiError(400, "1 validation error for Request\nbody -> file\n  field "
                           "required (type=value_error.missing)")
        if not model:
            raise ApiError(400, "you must provide a model parameter")
        if not RE_TRANSCRIBE_MODEL.match(model):
            raise ApiError(404, "The model `%s` does not exist or you do not have access to "
                           "it." % model, code="model_not_found")
        fmt = one("response_format") or "json"
        if fmt not in RESPONSE_FORMATS:
            raise ApiError(400, "'%s' is not one of %s - 'response_format'"
                           % (fmt, RESPONSE_FORMATS), param="response_format")
        gpt = model.startswith("gpt-")
        if (gpt and fmt not in ("json", "text")) or (not gpt and fmt == "diarized_json"):
            raise ApiError(400, "response_format '%s' is not compatible with model '%s'. "
                           "Use 'json' or 'text' instead." % (fmt, model)
                           if gpt else "response_format 'diarized_json' is not compatible "
                           "with model '%s'." % model,
                           param="response_format", code="unsupported_value")
        grans = fields.get("timestamp_granularities[]") or []
        for g in grans:
            if g not in GRANULARITIES:
                raise ApiError(400, "'%s' is not one of ['word', 'segment'] - "
                               "'timestamp_granularities[]'" % g,
                               param="timestamp_granularities[]")
        if grans and fmt != "verbose_json":
            raise ApiError(400, "timestamp_granularities[] is only supported when "
                           "response_format is 'verbose_json' (got '%s')." % fmt,
                           param="timestamp_granularities")
        lang = one("language")
        if lang is not None and lang not in LANGUAGES:
            raise ApiError(400, "Invalid language '%s'. Language parameter must be specified "
                           "in ISO-639-1 format." % lang, param="language")
        temp = one("temperature")
        temperature = 0.0
        if temp is not None:
            try:
                temperature = float(temp)
                if not 0 <= temperature <= 1 or math.isnan(temperature):
                    raise ValueError
            except ValueError:
                raise ApiError(400, "Invalid 'temperature': expected a number between 0 and "
                               "1, got '%s'." % temp, param="temperature",
                               code="invalid_value")
        fname = fpart["filename"] or ""
        ext = fname.rsplit(".", 1)[1].lower() if "." in fname else ""
        if ext not in AUDIO_EXTENSIONS:
            raise ApiError(400, "Invalid file format. Supported formats: %s" % AUDIO_EXTENSIONS)
        data = fpart["data"]
        ftype = sniff_type(data, ext)
        try:
            rate, chans, frames = sox_info(data, ftype)
            x = sox_decode(data=data, ftype=ftype)
        except ValueError:
            raise ApiError(400, "Audio file might be corrupted or unsupported", param="file",
                           code="invalid_value")
        duration = (frames / float(rate)) if frames is not None else len(x) / float(SR)
        with sim.lock:
            entry["file"].update({"rate": rate, "channels": chans,
                                  "duration_s": round(duration, 3)})
        if duration < 0.1:
            raise ApiError(400, "Audio file is too short. Minimum audio length is 0.1 seconds.",
                           param="file", code="audio_too_short")
        with sim.lock:
            manifest = sim.manifest
        found = recognise(manifest, x)
        quiet = loudest_rms(x) < QUIET_RMS
        req = {"model": model, "response_format": fmt, "language": lang,
               "granularities": grans, "temperature": temperature}
        ctype, out, summary = transcription_answer(req, found, duration, quiet)
        with sim.lock:
            entry["matched"] = [f["utterance"] for f in found]
            entry["response"] = summary
        truncate = fault is not None and fault["kind"] == "truncated"
        return 200, self.send(200, out, ctype=ctype, headers=self.common_headers(entry),
                              truncate=truncate)

    def chat(self, body, entry):
        sim = self.sim
        try:
            req = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            req = None
        with sim.lock:
            entry["body"] = req
        model = req.get("model") if isinstance(req, dict) else None
        fault = self.apply_fault("chat", entry, model if isinstance(model, str) else None)
        if req is None:
            raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This "
                           "likely means you aren't using your HTTP library correctly. The "
                           "OpenAI API expects a JSON payload, but what was sent was not "
                           "valid JSON. If you have trouble figuring out how to fix this, "
                           "please visit https://community.openai.com/c/api/7.)")
        p = validate_chat(req)
        with sim.lock:
            manifest = sim.manifest
        clip, matched = find_clip(manifest, p["messages"])
        if clip is not None:
            answer = dict(manifest.clips[clip].get("llm") or {})
            lang = manifest.clips[clip].get("lang")
        else:
            answer = unknown_answer(p["messages"])
            lang = None
        if p["rtype"] == "json_schema" and p["schema"] is not None:
            answer = shape_to_schema(answer, p["schema"], lang)
        content = json.dumps(answer, ensure_ascii=False)
        finish, refusal = "stop", None
        kind = fault["kind"] if fault else None
        if kind == "invalid_json":
            content = "Sure! Here is the summary you asked for: " + content[:len(content) // 2]
        elif kind == "length":
            content = content[:len(content) // 2]
            finish = "length"
        elif kind == "refusal":
            content, refusal = None, "I'm sorry, but I can't help with that request."
        ctoks = max(1, len((content or refusal).encode("utf-8")) // 4)
        if p["max_tokens"] is not None and ctoks > p["max_tokens"] and content is not None:
            content = content.encode("utf-8")[:p["max_tokens"] * 4].decode("utf-8", "ignore")
            ctoks = p["max_tokens"]
            finish = "length"
        ptoks = max(1, sum(len(message_text(m).encode("utf-8")) for m in p["messages"]) // 4
                    + 4 * len(p["messages"]))
        created = int(time.time())
        out = {"id": "chatcmpl-%s" % hashlib.sha256(entry["request_id"].encode()).hexdigest()[:29],
               "object": "chat.completion", "created": created, "model": p["model"],
               "choices": [{"index": i, "message": {"role": "assistant", "content": content,
                                                    "refusal": refusal, "annotations": []},
                            "logprobs": None, "finish_reason": finish}
                           for i in range(p["n"])],
               "usage": {"prompt_tokens": ptoks, "completion_tokens": ctoks * p["n"],
                         "total_tokens": ptoks + ctoks * p["n"],
                         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                         "completion_tokens_details": {"reasoning_tokens": 0,
                                                       "audio_tokens": 0,
                                                       "accepted_prediction_tokens": 0,
                                                       "rejected_prediction_tokens": 0}},
               "service_tier": "default", "system_fingerprint": "fp_openaisim"}
        with sim.lock:
            entry["matched"] = matched
            entry["clip"] = clip
            entry["response"] = {"content": content, "finish_reason": finish,
                                 "refusal": refusal}
        truncate = kind == "truncated"
        return 200, self.send(200, out, headers=self.common_headers(entry), truncate=truncate)


def main():
    ap = argparse.ArgumentParser(description="OpenAI API simulator for callpipe's tests")
    ap.add_argument("--listen", required=True, help="HOST:PORT")
    ap.add_argument("--api-key", required=True, help="the Bearer key clients must send")
    ap.add_argument("--manifest", required=True, help="make_audio.py's manifest.json")
    ap.add_argument("--pid-file")
    ap.add_argument("--retry-after-s", type=float, default=1.0,
                    help="retry-after of a rate_limit fault that names none (default 1)")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        ap.error("--listen must be HOST:PORT")
    if not args.api_key:
        ap.error("--api-key must not be empty")
    if args.retry_after_s < 0:
        ap.error("--retry-after-s must be >= 0")
    import shutil
    if shutil.which("sox") is None:
        ap.error("sox is not installed (apt-get install sox)")
    sim = Sim(args.api_key, args.retry_after_s)
    t0 = time.monotonic()
    try:
        info = sim.manifest.load(args.manifest)
    except (OSError, ValueError, KeyError, TypeError) as e:
        ap.error("cannot load --manifest %s: %s" % (args.manifest, e))
    log("manifest %s: %d clips, %d utterances (%.1f s)" % (
        info["path"], len(info["clips"]), info["utterances"], time.monotonic() - t0))
    Handler.sim = sim
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("listening on http://%s" % args.listen)
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
