"""callpipectl transcribe cuts a channel into chunks; times stay right.

`callpipectl -c COPY transcribe run/audio/long25.wav` with a copy of the
stack's configuration where stt.openai.chunk_seconds = 10 (the minimum) and
language "en": each ~25.5 s channel is cut into three chunks of about equal
length (the chunker aims at equal lengths and cuts in the longest quiet
stretch near each aim; long25 has >= 1 s of silence between turns), so each
is uploaded in several chunks (caller.wav, caller-2.wav, ...) of at most
10 s, and every segment's time, offset back to call time, is within 0.3 s
of the manifest's, on both sides of each boundary.
"""

import re
import tempfile

from cplib import check, eq, match_turns, parse_ctl_transcript

BACKENDS = "openai"
TIMEOUT = 120

CLIP = "long25"
CHUNK_S = 10


def test_ctl_transcribe_chunked(stack):
    sim = stack.openai_sim()
    clip = stack.clip(CLIP)
    with tempfile.TemporaryDirectory(prefix="itest-chunk-") as tmp:
        conf = stack.conf_copy({"stt.openai.chunk_seconds": CHUNK_S,
                                "stt.openai.language": "en"}, tmp)
        p = stack.ctl("transcribe", stack.audio(CLIP), conf=conf, timeout=90)
    eq(p.returncode, 0, "callpipectl transcribe exit status (stderr %r)" % p.stderr[-500:])
    segs, lang = parse_ctl_transcript(p.stdout)
    eq(lang, "en", "language line")
    check(segs, "no segment lines in %r", p.stdout)
    match_turns(segs, clip["turns"])

    ups = sim.uploads()
    by_channel = {}
    for u in ups:
        eq(u["status"], 200, "status of %s" % u["file"]["filename"])
        m = re.match(r"^(caller|agent)(?:-(\d+))?\.wav$", u["file"]["filename"])
        check(m, "upload file name %r", u["file"]["filename"])
        by_channel.setdefault(m.group(1), []).append(int(m.group(2) or 1))
        check(u["file"]["duration_s"] <= CHUNK_S + 0.01,
              "%s lasts %.2f s with chunk_seconds %d", u["file"]["filename"],
              u["file"]["duration_s"], CHUNK_S)
    for ch in ("caller", "agent"):
        n = sorted(by_channel.get(ch, []))
        check(len(n) >= 2, "%s: %d upload(s) of a ~26 s channel with chunk_seconds %d",
              ch, len(n), CHUNK_S)
        eq(n, list(range(1, len(n) + 1)), "%s chunk numbers" % ch)
    total = sum(u["file"]["duration_s"] for u in ups if u["file"]["filename"].startswith("caller"))
    check(abs(total - clip["duration"]) < 0.1,
          "the caller's chunks last %.2f s together, the file %.2f s", total, clip["duration"])
    print("    %s: %s" % (CLIP, ", ".join("%s %.2f s" % (u["file"]["filename"],
                                                       u["file"]["duration_s"]) for u in ups)))
