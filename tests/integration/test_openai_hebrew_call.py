"""A Hebrew 8 kHz call through the openai backends (issue 5, item 8).

run/audio/he_call.wav (espeak-ng's Hebrew voice: a caller asks for a
plumber, אינסטלטור, in Tel Aviv, בתל אביב; the agent answers) goes to the
demo business, which has no language of its own: stt.openai.language "he"
applies. It ends with all three stages completed, a Hebrew final_transcript
in the manifest's speaker order and times (within 0.3 s), transcript_language
"he" (verbose_json says "hebrew"), the LLM's Hebrew service and city stored
under the gazetteer's canonical names ("plumber", "Tel Aviv") and its
Hebrew summary. The rules backend, run by `callpipectl summarize` on the
same stored Hebrew transcript, finds the same service and city (Hebrew
names after the one-letter prefixes ב and ל).
"""

import json
import os
import tempfile

from cplib import check, eq, has_hebrew, norm_text, transcript_lines

BACKENDS = "openai"
TIMEOUT = 150

CLIP = "he_call"


def test_openai_hebrew_call(stack):
    sim = stack.openai_sim()
    info, clip = stack.clip_call(CLIP, language=None)
    sid = info["call_sid"]
    row = stack.wait_statuses(sid, timeout=120)
    eq(row["business_id"], stack.business_id, "business_id (the demo business)")
    eq(row["transcript_language"], "he", "transcript_language")
    stack.check_clip_transcript(row, clip)
    lines = transcript_lines(row["final_transcript"])
    eq([l for l, _ in lines][:2], ["Caller", "Agent"], "first speakers")
    check(all(has_hebrew(t) for _, t in lines), "a line of final_transcript is not Hebrew: %r",
          row["final_transcript"])

    ups = sim.uploads()
    eq(sorted(u["file"]["filename"] for u in ups), ["agent.wav", "caller.wav"], "uploads")
    for u in ups:
        eq(u["fields"].get("language"), "he", "language sent (stt.openai.language)")
        eq(u["file"]["rate"], 8000, "upload rate (upload_rate 0: as recorded)")

    eq(row["extracted_service"], "plumber", "extracted_service (the LLM said %r)"
       % clip["llm"]["service"])
    eq(row["extracted_city"], "Tel Aviv", "extracted_city (the LLM said %r)"
       % clip["llm"]["city"])
    check(has_hebrew(row["summary"]), "summary is not Hebrew: %r", row["summary"])
    eq(norm_text(row["summary"]), norm_text(clip["llm"]["summary"]), "summary")
    chats = sim.requests("chat")
    eq(len(chats), 1, "chat/completions requests")
    prompt = " ".join(str(m.get("content")) for m in (chats[0].get("body") or {}).get("messages", []))
    for t in clip["turns"]:
        check(norm_text(t["text"]) in norm_text(prompt),
              "the chat request does not hold the Hebrew turn %r", t["text"])

    # The same transcript through the rules backend (callpipectl summarize
    # with a copy of the config whose summary.backend is "rules").
    with tempfile.TemporaryDirectory(prefix="itest-rules-") as tmp:
        conf = stack.conf_copy({"summary.backend": "rules"}, tmp)
        txt = os.path.join(tmp, "he_call.txt")
        with open(txt, "w", encoding="utf-8") as f:
            f.write(row["final_transcript"])
        p = stack.ctl("summarize", txt, conf=conf)
    eq(p.returncode, 0, "callpipectl summarize (rules) exit status (stderr %r)"
       % p.stderr[-300:])
    got = json.loads(p.stdout)
    eq(got["service"], "plumber", "rules: service")
    eq(got["city"], "Tel Aviv", "rules: city")
    check(0 < got["confidence"] <= 1, "rules: confidence %r", got["confidence"])
    eq(len(sim.requests("chat")), 1, "chat requests after the rules run")
