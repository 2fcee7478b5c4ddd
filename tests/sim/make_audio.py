#!/usr/bin/python3
"""Make the test calls' audio: dual-channel 16 kHz 16-bit PCM WAV files.

    /usr/bin/python3 tests/sim/make_audio.py --out-dir run/audio [--check]

Writes, in --out-dir:
  demo.wav   ~12 s: the caller (channel 1, flite voice slt) asks for a plumber
             in Tel Aviv; the agent (channel 2, flite voice rms) answers.
  short.wav  ~4 s: the caller asks for an electrician in Jerusalem; the agent
             says "Okay."
  demo.txt, short.txt    the exact sentences, one "speaker: text" line a turn.
  demo.json, short.json  the same plus what a transcript must yield (service,
             city, the words the stock pocketsphinx model recognised when the
             sentences were chosen) and each turn's channel and start/end in
             seconds.

Channel 1 is the caller and channel 2 the agent, as in a Twilio dual-channel
recording of an inbound call (TWILIO.md: "the first channel is the parent
call"). While one party speaks the other channel is digital silence.

The sentences were chosen by running them through the stock offline model
(see README.md, "Test audio"); --check repeats that: it runs
pocketsphinx_continuous on each channel of each file and fails unless the
service word and the city are recognised on the caller's channel.

The output is deterministic: fixed sentences, fixed voices, no dither, WAV
written by Python's wave module. A missing flite or sox (or a missing voice)
is an error, not a silent fallback.
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


def die(msg):
    sys.stderr.write("make_audio: %s\n" % msg)
    sys.exit(1)


def need_tools():
    for tool in ("flite", "sox"):
        if shutil.which(tool) is None:
            die("%s is not installed (apt-get install flite sox)" % tool)
    out = subprocess.run(["flite", "-lv"], capture_output=True, text=True)
    voices = (out.stdout + out.stderr).split()
    for v in (CALLER_VOICE, AGENT_VOICE):
        if v not in voices:
            die("flite has no voice %r (flite -lv: %s)" % (v, " ".join(voices)))


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--check", action="store_true",
                    help="run pocketsphinx on each channel and fail unless "
                         "the service and the city are recognised")
    args = ap.parse_args()
    need_tools()
    os.makedirs(args.out_dir, exist_ok=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="make_audio.") as tmpdir:
        for name, spec in CALLS.items():
            path, duration = build(name, spec, tmpdir, args.out_dir)
            print("%s: %.2f s, 2 channels, %d Hz, 16-bit" % (path, duration, RATE))
            if args.check:
                ok = check(name, spec, path, tmpdir) and ok
    if not ok:
        die("recognition check failed")


if __name__ == "__main__":
    main()
