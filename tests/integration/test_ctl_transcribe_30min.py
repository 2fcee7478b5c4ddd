"""A 30-minute 8 kHz recording: chunked at 600 s, times monotonic, RSS shown.

make_audio.py --long makes a 30-minute mono 8 kHz WAV (the English
utterances again and again) and its manifest (kept in run/audio/long30.*,
made again when make_audio.py changes); the OpenAI simulator loads it with
POST /_sim/manifest (and the stack's manifest again afterwards).
`callpipectl -c COPY transcribe` with the default chunk_seconds (600)
uploads at least 3 chunks (call.wav, call-2.wav, ...), each under 25 MiB;
the segment times are monotonic and match the manifest within 0.3 s.
callpipectl's peak RSS (ru_maxrss) is printed.
"""

import os
import subprocess
import sys
import tempfile

from cplib import check, eq, match_turns, parse_ctl_transcript

BACKENDS = "openai"
TIMEOUT = 600

NAME = "long30"
MINUTES = 30
MAX_UPLOAD = 25 * 1024 * 1024


def long_audio(stack):
    wav = os.path.join(stack.audio_dir, NAME + ".wav")
    man = os.path.join(stack.audio_dir, NAME + ".json")
    gen = os.path.join(stack.src, "tests", "sim", "make_audio.py")
    fresh = all(os.path.exists(p) and os.path.getmtime(p) >= os.path.getmtime(gen)
                for p in (wav, man))
    if not fresh:
        p = subprocess.run([sys.executable, gen, "--long", wav, "--minutes", str(MINUTES),
                            "--rate", "8000", "--manifest", man],
                           capture_output=True, text=True, timeout=300)
        eq(p.returncode, 0, "make_audio.py --long (stderr %r)" % p.stderr[-500:])
    return wav, man


def test_ctl_transcribe_30min(stack):
    sim = stack.openai_sim()
    wav, man = long_audio(stack)
    clips = stack.manifest(man)["clips"]
    check(len(clips) == 1, "%s has clips %r", man, sorted(clips))
    clip = list(clips.values())[0]
    check(clip["duration"] >= MINUTES * 60 - 1, "%s lasts %.1f s", wav, clip["duration"])
    chunk = stack.conf_get("stt.openai.chunk_seconds")
    eq(chunk, 600, "stt.openai.chunk_seconds (the default)")
    sim.load_manifest(man)
    try:
        with tempfile.TemporaryDirectory(prefix="itest-long-") as tmp:
            conf = stack.conf_copy({"stt.openai.language": "en",
                                    "stt.openai.timeout_ms": 120000}, tmp)
            p, rss_kib = stack.ctl_measured("transcribe", wav, conf=conf, timeout=500)
        ups = sim.uploads()
    finally:
        sim.load_manifest(stack.manifest_path)
    print("    callpipectl transcribe %s (%.0f s, 8 kHz mono): peak RSS %d KiB (%.1f MiB), "
          "%d uploads" % (os.path.basename(wav), clip["duration"], rss_kib, rss_kib / 1024.0,
                          len(ups)))
    eq(p.returncode, 0, "callpipectl transcribe exit status (stderr %r)" % p.stderr[-500:])
    segs, lang = parse_ctl_transcript(p.stdout)
    eq(lang, "en", "language line")

    names = [u["file"]["filename"] for u in ups]
    check(len(ups) >= 3, "%d uploads of a %d-minute channel with chunk_seconds %d: %r",
          len(ups), MINUTES, chunk, names)
    eq(sorted(names, key=lambda n: int(n[5:-4] or 1) if n.startswith("call-") else 1),
       ["call.wav"] + ["call-%d.wav" % i for i in range(2, len(ups) + 1)], "upload names")
    for u in ups:
        eq(u["status"], 200, "status of %s" % u["file"]["filename"])
        check(u["file"]["bytes"] < MAX_UPLOAD, "%s is %d bytes", u["file"]["filename"],
              u["file"]["bytes"])
        check(u["file"]["duration_s"] <= chunk + 0.01, "%s lasts %.1f s",
              u["file"]["filename"], u["file"]["duration_s"])

    check(segs, "no segments")
    prev = None
    for s in segs:
        check(0 <= s["start"] <= s["end"] <= clip["duration"] + 0.5, "segment times %r", s)
        if prev is not None:
            check(s["start"] >= prev["start"] and s["start"] >= prev["end"] - 0.05,
                  "segment times not monotonic: %r then %r", prev, s)
        prev = s
    match_turns(segs, clip["turns"], speaker_of=lambda t: "call")
