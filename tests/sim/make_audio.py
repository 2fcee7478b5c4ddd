#!/usr/bin/python3
"""Make the test calls' audio (16-bit PCM WAV) and the manifest of what is said.

    /usr/bin/python3 tests/sim/make_audio.py --out-dir run/audio [--check]
    /usr/bin/python3 tests/sim/make_audio.py --long OUT.wav --minutes 30 \
        [--rate 8000] --manifest OUT.json

Writes, in --out-dir:
  demo.wav   ~12 s, 16 kHz dual: the caller (channel 1, flite voice slt) asks
             for a plumber in Tel Aviv; the agent (channel 2, flite voice rms)
             answers. English, for pocketsphinx and the offline demo.
  short.wav  ~4 s, 16 kHz dual: the caller asks for an electrician in
             Jerusalem; the agent says "Okay."
  he_call.wav       8 kHz dual, Hebrew (espeak-ng voices he+f3 / he): the
                    caller asks for a plumber (אינסטלטור) in Tel Aviv (בתל
                    אביב), the agent answers.
  en_call.wav       8 kHz dual, English (flite): a locksmith in Jerusalem.
  silent_agent.wav  8 kHz dual, English: the caller asks for an electrician
                    in Haifa; the agent channel holds only low line noise
                    (deterministic, RMS about 40 of 32767: below callpipe's
                    silence threshold of 100, as a real idle line is; not
                    digital zero, so a client that skips only all-zero
                    channels fails the test).
  long25.wav        ~25 s, 8 kHz dual, English: six turns with >= 1 s of
                    silence on both channels between turns and around 10 s
                    and 20 s (quiet cut points for a 10 s chunker).
  NAME.txt   the exact sentences, one "speaker: text" line a turn.
  demo.json, short.json  (as before) the turns with placement times and what
             the stock pocketsphinx model recognised when they were chosen.
  manifest.json  what tests/sim/openai_sim.py knows about every clip:
      {"clips": {NAME: {"file", "rate", "channels", "duration", "lang",
                        "service", "city",
                        "llm": {"service", "city", "confidence", "summary"},
                        "turns": [{"channel", "speaker", "lang", "text",
                                   "start", "end", "utterance"}]}},
       "utterances": {ID: {"lang", "text", "speaker", "voice",
                           "file", "channel", "start", "end", "rate"}}}
      Turn start/end are where the speech really starts and ends in the file
      (the TTS output's own leading and trailing silence is trimmed, or for
      demo/short measured), in seconds. "service"/"city" are the gazetteer's
      canonical names; "llm" is what the chat simulator answers for the clip,
      in the clip's language. An utterance's file/channel/start/end is the
      audio the simulator takes its recognition template from.

--long writes one long mono WAV (for the 30-minute test) made by placing the
English clips' utterances again and again with 1.0-2.5 s gaps (seeded, so
deterministic), and a manifest of the same shape for it (one clip named
after OUT's stem, utterance templates taken from their first occurrence in
OUT). tests/sim/openai_sim.py loads it with POST /_sim/manifest.

Channel 1 is the caller and channel 2 the agent, as in a Twilio dual-channel
recording of an inbound call (TWILIO.md: "the first channel is the parent
call"). While one party speaks the other channel is digital silence.

The English sentences of demo/short were chosen by running them through the
stock offline model (see README.md, "Test audio"); --check repeats that: it
runs pocketsphinx_continuous on each channel of demo.wav and short.wav and
fails unless the service word and the city are recognised on the caller's
channel.

The output is deterministic: fixed sentences, fixed voices, no dither, WAV
written by Python's wave module, manifest written with fixed key order. A
missing flite, espeak-ng or sox (or a missing voice) is an error, not a
silent fallback.
"""

import argparse
import array
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave

RATE = 16000          # samples per second, per channel
WIDTH = 2             # bytes per sample (16-bit PCM)

CALLER_VOICE = "slt"  # flite's US English female voice
AGENT_VOICE = "rms"   # flite's US English male voice

# Each call: its turns in order. "gap_s" is the silence before the turn on
# both channels; "tail_s" the silence after the last turn.
CALLS = {
    "demo": {
        "service": "plumber",
        "city": "Tel Aviv",
        "turns": [
            {"speaker": "caller", "gap_s": 0.5,
             "text": "Hello. I need a plumber, in Tel Aviv, please. "
                     "My kitchen sink is leaking."},
            {"speaker": "agent", "gap_s": 0.4,
             "text": "Sure. I will send a plumber to Tel Aviv today. "
                     "What is your address?"},
        ],
        "tail_s": 0.4,
    },
    "short": {
        "service": "electrician",
        "city": "Jerusalem",
        "turns": [
            {"speaker": "caller", "gap_s": 0.3,
             "text": "I need an electrician in Jerusalem please."},
            {"speaker": "agent", "gap_s": 0.2, "text": "Okay."},
        ],
        "tail_s": 0.2,
    },
}

# Longest file the integration tests may rely on (the brief: <= 15 s).
MAX_SECONDS = {"demo": 15.0, "short": 5.0}

# What the stock model recognised per channel when the sentences were chosen
# (pocketsphinx 0.8+5prealpha, Debian 12 en-us model, see README.md). Kept in
# the .json so a failing transcript test can show what was expected.
RECOGNISED = {
    "demo": {
        "caller": "hello i need a plumber in tel aviv please my kitchen sink is leaking",
        "agent": "sure i will send a plumber to tel aviv to date what is your address",
    },
    "short": {
        "caller": "i need an electrician in jerusalem please",
        "agent": "okay",
    },
}

PS_MODEL = "/usr/share/pocketsphinx/model/en-us/"

# ---- the telephone-rate clips (manifest.json) -----------------------------

TEL_RATE = 8000       # Twilio records at 8 kHz
TRIM_LEVEL = 64       # |sample| below this at either end of a TTS utterance
                      # is its leading/trailing silence (trimmed / not speech)
MIN_TURN_GAP_S = 1.0  # long25: silence between consecutive turns, at least

# (engine, voice) per language and speaker. espeak-ng has one Hebrew voice;
# the caller gets its female variant f3 so the two parties sound different.
VOICES = {
    "en": {"caller": ("flite", "slt"), "agent": ("flite", "rms")},
    "he": {"caller": ("espeak-ng", "he+f3"), "agent": ("espeak-ng", "he")},
}
ESPEAK_SPEED = 150    # words per minute (espeak-ng's default 175 is hurried)

# What the chat simulator answers for demo/short (they predate the manifest).
LEGACY = {
    "demo": {"lang": "en", "llm": {
        "service": "plumber", "city": "Tel Aviv", "confidence": 0.95,
        "summary": "The caller's kitchen sink is leaking and they need a plumber "
                   "in Tel Aviv; the agent will send one today and asked for the "
                   "address."}},
    "short": {"lang": "en", "llm": {
        "service": "electrician", "city": "Jerusalem", "confidence": 0.9,
        "summary": "The caller needs an electrician in Jerusalem; the agent "
                   "agreed."}},
}

# Each clip: turns in order. "gap_s" is the silence before the turn (both
# channels), or "at_s" its absolute start; "tail_s" the silence after the
# last turn. "quiet_at": times (s) that must lie in silence on both channels,
# at least 0.5 s from any speech (long25's chunk boundaries).
CLIPS = {
    "he_call": {
        "lang": "he", "rate": TEL_RATE,
        "service": "plumber", "city": "Tel Aviv",
        "llm": {"service": "אינסטלטור", "city": "תל אביב", "confidence": 0.93,
                "summary": "המתקשר צריך אינסטלטור בתל אביב בגלל נזילה במטבח. "
                           "הנציג ישלח אינסטלטור היום וביקש את הכתובת."},
        "turns": [
            {"speaker": "caller", "gap_s": 0.5,
             "text": "שלום, אני צריך אינסטלטור בתל אביב. יש לי נזילה במטבח."},
            {"speaker": "agent", "gap_s": 0.6,
             "text": "בסדר, אשלח אינסטלטור לתל אביב היום. מה הכתובת שלך?"},
        ],
        "tail_s": 0.5,
    },
    "en_call": {
        "lang": "en", "rate": TEL_RATE,
        "service": "locksmith", "city": "Jerusalem",
        "llm": {"service": "locksmith", "city": "Jerusalem", "confidence": 0.92,
                "summary": "The caller is locked out of their apartment in "
                           "Jerusalem and needs a locksmith; the agent will send "
                           "one within the hour and asked for the street."},
        "turns": [
            {"speaker": "caller", "gap_s": 0.5,
             "text": "Hi. I am locked out of my apartment, and I need a "
                     "locksmith in Jerusalem."},
            {"speaker": "agent", "gap_s": 0.6,
             "text": "No problem. A locksmith can be with you within the hour. "
                     "What is the street?"},
        ],
        "tail_s": 0.5,
    },
    "silent_agent": {
        "lang": "en", "rate": TEL_RATE,
        "service": "electrician", "city": "Haifa",
        "llm": {"service": "electrician", "city": "Haifa", "confidence": 0.85,
                "summary": "The caller needs an electrician in Haifa because the "
                           "power in their kitchen is out; nobody answered."},
        "turns": [
            {"speaker": "caller", "gap_s": 0.5,
             "text": "Hello, I need an electrician in Haifa. The power in my "
                     "kitchen is out."},
        ],
        "tail_s": 1.5,
        "agent_noise_rms": 40,
    },
    "long25": {
        "lang": "en", "rate": TEL_RATE,
        "service": "painter", "city": "Netanya",
        "llm": {"service": "painter", "city": "Netanya", "confidence": 0.88,
                "summary": "The caller lives in Netanya and wants their living "
                           "room painted; a painter will come on Sunday morning."},
        "turns": [
            {"speaker": "caller", "at_s": 0.5,
             "text": "Hello. I would like to paint my living room."},
            {"speaker": "agent", "at_s": 5.0,
             "text": "Of course. Which city are you in?"},
            {"speaker": "caller", "at_s": 10.6,
             "text": "I live in Netanya, near the beach."},
            {"speaker": "agent", "at_s": 14.6,
             "text": "A painter can come on Sunday morning."},
            {"speaker": "caller", "at_s": 20.6,
             "text": "Sunday is fine. Thank you."},
            {"speaker": "agent", "at_s": 23.6,
             "text": "Great. See you then."},
        ],
        "tail_s": 0.6,
        "quiet_at": [10.0, 20.0],
        "min_gap_s": MIN_TURN_GAP_S,
    },
}

# --long: the English clips whose utterances are placed again and again.
LONG_SOURCES = ("en_call", "silent_agent", "long25")
LONG_SEED = 20260501
LONG_GAP_S = (1.0, 2.5)
LONG_LLM = {"service": "locksmith", "city": "Jerusalem", "confidence": 0.6,
            "summary": "A long call in which the same requests come up again and "
                       "again: a locksmith in Jerusalem, an electrician in Haifa "
                       "and a painter in Netanya."}


def die(msg):
    sys.stderr.write("make_audio: %s\n" % msg)
    sys.exit(1)


def need_tools():
    for tool, pkg in (("flite", "flite"), ("sox", "sox"), ("espeak-ng", "espeak-ng")):
        if shutil.which(tool) is None:
            die("%s is not installed (apt-get install %s)" % (tool, pkg))
    out = subprocess.run(["flite", "-lv"], capture_output=True, text=True)
    voices = (out.stdout + out.stderr).split()
    for v in (CALLER_VOICE, AGENT_VOICE):
        if v not in voices:
            die("flite has no voice %r (flite -lv: %s)" % (v, " ".join(voices)))
    out = subprocess.run(["espeak-ng", "--voices=he"], capture_output=True, text=True)
    if not any(line.split()[1:2] == ["he"] for line in out.stdout.splitlines()[1:]):
        die("espeak-ng has no Hebrew voice (espeak-ng --voices=he)")
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True)
    if "!v/f3" not in out.stdout.split():
        die("espeak-ng has no voice variant f3")


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        die("%s failed (exit %d): %s" % (argv[0], r.returncode, r.stderr.strip()))
    return r


def synth(voice, text, tmpdir, name):
    """Speak text with flite; returns mono 16 kHz 16-bit samples (array 'h')."""
    raw = os.path.join(tmpdir, name + ".flite.wav")
    norm = os.path.join(tmpdir, name + ".wav")
    run(["flite", "-voice", voice, "-t", text, "-o", raw])
    # -D: no dither, so the same input always gives the same bytes.
    run(["sox", "-D", raw, "-r", str(RATE), "-b", "16", "-c", "1",
         "-e", "signed-integer", norm])
    with wave.open(norm, "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, WIDTH, RATE):
            die("sox gave an unexpected format for %s" % norm)
        data = w.readframes(w.getnframes())
    samples = array.array("h")
    samples.frombytes(data)
    if sys.byteorder == "big":
        samples.byteswap()
    if len(samples) == 0:
        die("flite produced no audio for %r" % text)
    return samples


def build(name, spec, tmpdir, out_dir):
    caller = array.array("h")
    agent = array.array("h")
    turns = []
    for i, turn in enumerate(spec["turns"]):
        gap = array.array("h", bytes(int(turn["gap_s"] * RATE) * WIDTH))
        caller.extend(gap)
        agent.extend(gap)
        voice = CALLER_VOICE if turn["speaker"] == "caller" else AGENT_VOICE
        speech = synth(voice, turn["text"], tmpdir, "%s-%d" % (name, i))
        silence = array.array("h", bytes(len(speech) * WIDTH))
        start = len(caller) / RATE
        if turn["speaker"] == "caller":
            caller.extend(speech)
            agent.extend(silence)
        else:
            caller.extend(silence)
            agent.extend(speech)
        turns.append({"speaker": turn["speaker"],
                      "channel": 1 if turn["speaker"] == "caller" else 2,
                      "voice": voice, "text": turn["text"],
                      "start_s": round(start, 3),
                      "end_s": round(len(caller) / RATE, 3)})
    tail = array.array("h", bytes(int(spec["tail_s"] * RATE) * WIDTH))
    caller.extend(tail)
    agent.extend(tail)

    frames = array.array("h", bytes(len(caller) * 2 * WIDTH))
    frames[0::2] = caller
    frames[1::2] = agent
    if sys.byteorder == "big":
        frames.byteswap()
    duration = len(caller) / RATE
    if duration > MAX_SECONDS[name]:
        die("%s.wav would last %.2f s, more than %.0f s" % (name, duration, MAX_SECONDS[name]))

    wav_path = os.path.join(out_dir, name + ".wav")
    tmp_path = wav_path + ".tmp"
    with wave.open(tmp_path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(WIDTH)
        w.setframerate(RATE)
        w.writeframes(frames.tobytes())
    os.replace(tmp_path, wav_path)

    with open(os.path.join(out_dir, name + ".txt"), "w", encoding="utf-8") as f:
        for t in spec["turns"]:
            f.write("%s: %s\n" % (t["speaker"], t["text"]))
    meta = {"file": name + ".wav", "channels": 2, "sample_rate": RATE,
            "bits": 16, "duration_s": round(duration, 3),
            "service": spec["service"], "city": spec["city"],
            "channel_1": "caller", "channel_2": "agent",
            "recognised_when_chosen": RECOGNISED[name], "turns": turns}
    with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return wav_path, duration


def recognise(mono_wav):
    r = run(["pocketsphinx_continuous", "-infile", mono_wav,
             "-hmm", PS_MODEL + "en-us", "-lm", PS_MODEL + "en-us.lm.bin",
             "-dict", PS_MODEL + "cmudict-en-us.dict",
             "-remove_silence", "no", "-samprate", str(RATE)])
    return " ".join(r.stdout.split())


def check(name, spec, wav_path, tmpdir):
    """Run the stock model on each channel; the caller's must name both."""
    if shutil.which("pocketsphinx_continuous") is None:
        die("--check needs pocketsphinx_continuous (apt-get install pocketsphinx pocketsphinx-en-us)")
    ok = True
    for ch, who in ((1, "caller"), (2, "agent")):
        mono = os.path.join(tmpdir, "%s-ch%d.wav" % (name, ch))
        run(["sox", "-D", wav_path, mono, "remix", str(ch)])
        hyp = recognise(mono)
        print("%s.wav channel %d (%s): %s" % (name, ch, who, hyp))
        if who == "caller":
            padded = " %s " % hyp
            for word in (spec["service"], spec["city"]):
                if " %s " % word.lower() not in padded:
                    sys.stderr.write("make_audio: %s.wav channel 1: %r not recognised\n"
                                     % (name, word))
                    ok = False
    return ok


# ---- telephone-rate clips and the manifest --------------------------------

def read_mono(path, rate):
    with wave.open(path, "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, WIDTH, rate):
            die("sox gave an unexpected format for %s" % path)
        data = w.readframes(w.getnframes())
    samples = array.array("h")
    samples.frombytes(data)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def speech_bounds(samples, lo=0, hi=None):
    """First and one-past-last index in [lo, hi) with |sample| >= TRIM_LEVEL."""
    hi = len(samples) if hi is None else hi
    first = next((i for i in range(lo, hi) if abs(samples[i]) >= TRIM_LEVEL), None)
    if first is None:
        return None
    last = next(i for i in range(hi - 1, first - 1, -1) if abs(samples[i]) >= TRIM_LEVEL)
    return first, last + 1


class TTS:
    """Speaks sentences at a given rate; trimmed mono 16-bit samples, cached."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.cache = {}

    def say(self, lang, speaker, text, rate):
        engine, voice = VOICES[lang][speaker]
        key = (engine, voice, text, rate)
        if key in self.cache:
            return self.cache[key], voice
        n = len(self.cache)
        raw = os.path.join(self.tmpdir, "tts-%d.raw.wav" % n)
        norm = os.path.join(self.tmpdir, "tts-%d.wav" % n)
        if engine == "flite":
            run(["flite", "-voice", voice, "-t", text, "-o", raw])
        else:
            run(["espeak-ng", "-v", voice, "-s", str(ESPEAK_SPEED), "-w", raw, text])
        run(["sox", "-D", raw, "-r", str(rate), "-b", "16", "-c", "1",
             "-e", "signed-integer", norm])
        samples = read_mono(norm, rate)
        b = speech_bounds(samples)
        if b is None:
            die("%s produced no audio for %r" % (engine, text))
        samples = samples[b[0]:b[1]]
        self.cache[key] = samples
        return samples, voice


def write_wav(path, channels, rate, chans):
    """chans: list of array('h') of equal length, interleaved into one file."""
    n = len(chans[0])
    if channels == 1:
        frames = array.array("h", chans[0])
    else:
        frames = array.array("h", bytes(n * channels * WIDTH))
        for c in range(channels):
            frames[c::channels] = chans[c]
    if sys.byteorder == "big":
        frames.byteswap()
    tmp = path + ".tmp"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(WIDTH)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    os.replace(tmp, path)


def build_clip(name, spec, tts, out_dir):
    """A dual-channel clip from CLIPS; returns (clip entry, utterances)."""
    rate, lang = spec["rate"], spec["lang"]
    caller, agent = array.array("h"), array.array("h")
    turns, utterances = [], {}
    prev_end = 0
    for i, turn in enumerate(spec["turns"]):
        speech, voice = tts.say(lang, turn["speaker"], turn["text"], rate)
        if "at_s" in turn:
            start = int(round(turn["at_s"] * rate))
            gap = (start - prev_end) / rate
            if i > 0 and gap < spec.get("min_gap_s", 0):
                die("%s turn %d starts %.2f s after the previous one ends (< %.1f s)"
                    % (name, i + 1, gap, spec["min_gap_s"]))
            if start < len(caller):
                die("%s turn %d overlaps the previous one" % (name, i + 1))
        else:
            start = len(caller) + int(round(turn["gap_s"] * rate))
        pad = array.array("h", bytes((start - len(caller)) * WIDTH))
        caller.extend(pad)
        agent.extend(pad)
        silence = array.array("h", bytes(len(speech) * WIDTH))
        (caller if turn["speaker"] == "caller" else agent).extend(speech)
        (agent if turn["speaker"] == "caller" else caller).extend(silence)
        prev_end = len(caller)
        uid = "%s.%d" % (name, i + 1)
        channel = 1 if turn["speaker"] == "caller" else 2
        t = {"channel": channel, "speaker": turn["speaker"], "lang": lang,
             "text": turn["text"], "start": round(start / rate, 3),
             "end": round(prev_end / rate, 3), "utterance": uid}
        turns.append(t)
        utterances[uid] = {"lang": lang, "text": turn["text"],
                           "speaker": turn["speaker"], "voice": voice,
                           "file": name + ".wav", "channel": channel,
                           "start": t["start"], "end": t["end"], "rate": rate}
    tail = array.array("h", bytes(int(round(spec["tail_s"] * rate)) * WIDTH))
    caller.extend(tail)
    agent.extend(tail)
    if spec.get("agent_noise_rms"):
        # Uniform noise in [-a, a] has RMS a / sqrt(3); a fixed LCG
        # (Numerical Recipes' constants) keeps the file byte-identical.
        a = int(round(spec["agent_noise_rms"] * 3 ** 0.5))
        x = 12345
        for k in range(len(agent)):
            x = (1664525 * x + 1013904223) & 0xFFFFFFFF
            agent[k] += (x >> 16) % (2 * a + 1) - a
    for q in spec.get("quiet_at", ()):
        for t in turns:
            if t["start"] - 0.5 < q < t["end"] + 0.5:
                die("%s: speech (%s %.2f-%.2f s) within 0.5 s of %.1f s"
                    % (name, t["speaker"], t["start"], t["end"], q))
    write_wav(os.path.join(out_dir, name + ".wav"), 2, rate, [caller, agent])
    write_txt(out_dir, name, spec["turns"])
    duration = len(caller) / rate
    clip = {"file": name + ".wav", "rate": rate, "channels": 2,
            "duration": round(duration, 3), "lang": lang,
            "service": spec["service"], "city": spec["city"],
            "llm": dict(spec["llm"]), "turns": turns}
    return clip, utterances


def write_txt(out_dir, name, turns):
    with open(os.path.join(out_dir, name + ".txt"), "w", encoding="utf-8") as f:
        for t in turns:
            f.write("%s: %s\n" % (t["speaker"], t["text"]))


def legacy_clip(name, spec, out_dir):
    """The manifest entry of demo/short, measured in the file make() wrote."""
    path = os.path.join(out_dir, name + ".wav")
    with wave.open(path, "rb") as w:
        nch, rate, n = w.getnchannels(), w.getframerate(), w.getnframes()
        data = w.readframes(n)
    frames = array.array("h")
    frames.frombytes(data)
    if sys.byteorder == "big":
        frames.byteswap()
    chans = [frames[c::nch] for c in range(nch)]
    with open(os.path.join(out_dir, name + ".json"), encoding="utf-8") as f:
        meta = json.load(f)
    lang = LEGACY[name]["lang"]
    turns, utterances = [], {}
    for i, t in enumerate(meta["turns"]):
        ch = t["channel"]
        lo, hi = int(round(t["start_s"] * rate)), int(round(t["end_s"] * rate))
        b = speech_bounds(chans[ch - 1], lo, min(hi, n))
        if b is None:
            die("%s turn %d: no speech found in channel %d" % (name, i + 1, ch))
        uid = "%s.%d" % (name, i + 1)
        turn = {"channel": ch, "speaker": t["speaker"], "lang": lang,
                "text": t["text"], "start": round(b[0] / rate, 3),
                "end": round(b[1] / rate, 3), "utterance": uid}
        turns.append(turn)
        utterances[uid] = {"lang": lang, "text": t["text"], "speaker": t["speaker"],
                           "voice": t["voice"], "file": name + ".wav", "channel": ch,
                           "start": turn["start"], "end": turn["end"], "rate": rate}
    clip = {"file": name + ".wav", "rate": rate, "channels": nch,
            "duration": round(n / rate, 3), "lang": lang,
            "service": spec["service"], "city": spec["city"],
            "llm": dict(LEGACY[name]["llm"]), "turns": turns}
    return clip, utterances


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def build_long(out_wav, minutes, rate, manifest_path, tts):
    """One long mono file of the English clips' utterances, and its manifest."""
    import random
    rng = random.Random(LONG_SEED)
    total = int(round(minutes * 60 * rate))
    pool = []
    for clip in LONG_SOURCES:
        spec = CLIPS[clip]
        for i, turn in enumerate(spec["turns"]):
            speech, voice = tts.say(spec["lang"], turn["speaker"], turn["text"], rate)
            pool.append(("%s.%d" % (clip, i + 1), spec["lang"], turn, speech, voice))
    out = array.array("h")
    lead = int(0.5 * rate)
    tail = int(0.5 * rate)
    out.extend(array.array("h", bytes(lead * WIDTH)))
    turns, utterances = [], {}
    name = os.path.splitext(os.path.basename(out_wav))[0]
    fname = os.path.relpath(os.path.abspath(out_wav),
                            os.path.dirname(os.path.abspath(manifest_path)))
    k = 0
    while True:
        uid, lang, turn, speech, voice = pool[k % len(pool)]
        if len(out) + len(speech) + tail > total:
            break
        start = len(out)
        out.extend(speech)
        t = {"channel": 1, "speaker": turn["speaker"], "lang": lang,
             "text": turn["text"], "start": round(start / rate, 3),
             "end": round(len(out) / rate, 3), "utterance": uid}
        turns.append(t)
        if uid not in utterances:
            utterances[uid] = {"lang": lang, "text": turn["text"],
                               "speaker": turn["speaker"], "voice": voice,
                               "file": fname, "channel": 1, "start": t["start"],
                               "end": t["end"], "rate": rate}
        gap = int(round(round(rng.uniform(*LONG_GAP_S), 3) * rate))
        out.extend(array.array("h", bytes(min(gap, max(total - len(out), 0)) * WIDTH)))
        k += 1
    if not turns:
        die("--minutes %.3f is too short for one utterance" % minutes)
    out.extend(array.array("h", bytes(max(total - len(out), 0) * WIDTH)))
    write_wav(out_wav, 1, rate, [out])
    manifest = {"clips": {name: {
        "file": fname, "rate": rate, "channels": 1,
        "duration": round(len(out) / rate, 3), "lang": "en",
        "service": None, "city": None, "llm": dict(LONG_LLM), "turns": turns}},
        "utterances": utterances}
    write_json(manifest_path, manifest)
    return len(out) / rate, len(turns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", help="write the test clips and manifest.json here")
    ap.add_argument("--check", action="store_true",
                    help="run pocketsphinx on each channel of demo/short and fail "
                         "unless the service and the city are recognised")
    ap.add_argument("--long", metavar="OUT.wav",
                    help="write one long mono file instead (with --manifest)")
    ap.add_argument("--minutes", type=float, default=30.0,
                    help="length of the --long file (default 30)")
    ap.add_argument("--rate", type=int, default=TEL_RATE,
                    help="sample rate of the --long file (default 8000)")
    ap.add_argument("--manifest", metavar="OUT.json",
                    help="the --long file's manifest")
    args = ap.parse_args()
    if args.long:
        if not args.manifest:
            ap.error("--long needs --manifest")
        if args.out_dir or args.check:
            ap.error("--long does not go with --out-dir or --check")
        if not 4000 <= args.rate <= 48000:
            ap.error("--rate must be 4000..48000")
        if not 0 < args.minutes <= 600:
            ap.error("--minutes must be > 0 and <= 600")
        need_tools()
        with tempfile.TemporaryDirectory(prefix="make_audio.") as tmpdir:
            secs, nturns = build_long(args.long, args.minutes, args.rate,
                                      args.manifest, TTS(tmpdir))
        print("%s: %.2f s, 1 channel, %d Hz, 16-bit, %d utterances; manifest %s"
              % (args.long, secs, args.rate, nturns, args.manifest))
        return
    if not args.out_dir:
        ap.error("--out-dir is required (or --long)")
    need_tools()
    os.makedirs(args.out_dir, exist_ok=True)
    ok = True
    manifest = {"clips": {}, "utterances": {}}
    with tempfile.TemporaryDirectory(prefix="make_audio.") as tmpdir:
        for name, spec in CALLS.items():
            path, duration = build(name, spec, tmpdir, args.out_dir)
            print("%s: %.2f s, 2 channels, %d Hz, 16-bit" % (path, duration, RATE))
            if args.check:
                ok = check(name, spec, path, tmpdir) and ok
            clip, utts = legacy_clip(name, spec, args.out_dir)
            manifest["clips"][name] = clip
            manifest["utterances"].update(utts)
        tts = TTS(tmpdir)
        for name, spec in CLIPS.items():
            clip, utts = build_clip(name, spec, tts, args.out_dir)
            print("%s: %.2f s, 2 channels, %d Hz, 16-bit"
                  % (os.path.join(args.out_dir, clip["file"]), clip["duration"],
                     clip["rate"]))
            manifest["clips"][name] = clip
            manifest["utterances"].update(utts)
    write_json(os.path.join(args.out_dir, "manifest.json"), manifest)
    print("%s: %d clips, %d utterances" % (os.path.join(args.out_dir, "manifest.json"),
                                          len(manifest["clips"]),
                                          len(manifest["utterances"])))
    if not ok:
        die("recognition check failed")


if __name__ == "__main__":
    main()
