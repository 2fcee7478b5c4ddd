"""An English 8 kHz call through the openai backends, to an English business.

The business is created with `callpipectl business create --language en`,
so its language wins over stt.openai.language ("he"). The Twilio simulator
serves run/audio/en_call.wav at 8 kHz (Twilio's rate); each channel is
uploaded to the OpenAI simulator on its own (caller.wav, agent.wav, mono
8 kHz, language=en, verbose_json with segment timestamps), then the
transcript goes to /chat/completions. The call ends with all three stages
completed, the turns in the manifest's order and within 0.3 s of its
times, transcript_language "en", and the service, city and summary the
LLM (simulator) answered.
"""

from cplib import check, eq, norm_text

BACKENDS = "openai"
TIMEOUT = 150

CLIP = "en_call"


def test_openai_english_call(stack):
    sim = stack.openai_sim()
    bid, number = stack.business_with_language("en")
    info, clip = stack.clip_call(CLIP)
    sid = info["call_sid"]
    row = stack.wait_statuses(sid, timeout=120)
    eq(row["business_id"], bid, "business_id (the --language en business)")
    eq(row["to_number"], number, "to_number")
    eq(row["recording_channels"], 2, "recording_channels")
    eq(row["transcript_language"], "en", "transcript_language")
    stack.check_clip_transcript(row, clip)

    ups = sim.uploads()
    eq(sorted(u["file"]["filename"] for u in ups), ["agent.wav", "caller.wav"],
       "files uploaded to /audio/transcriptions")
    for u in ups:
        f, fields = u["file"], u["fields"]
        eq(u["status"], 200, "status of the %s upload" % f["filename"])
        eq((f["rate"], f["channels"]), (8000, 1), "rate and channels of %s" % f["filename"])
        eq(fields.get("language"), "en", "language sent with %s" % f["filename"])
        eq(fields.get("model"), "whisper-1", "model")
        eq(fields.get("response_format"), "verbose_json", "response_format")
        tg = fields.get("timestamp_granularities[]")
        eq(tg if isinstance(tg, list) else [tg], ["segment"], "timestamp_granularities[]")
        check("prompt" not in fields, "an empty prompt was sent: %r", fields)
        want = sorted(t["utterance"] for t in clip["turns"]
                      if t["speaker"] == f["filename"][:-4])
        eq(sorted(u.get("matched") or []), want, "utterances the simulator heard in %s"
           % f["filename"])

    chats = sim.requests("chat")
    eq(len(chats), 1, "chat/completions requests")
    body = chats[0].get("body") or {}
    eq(body.get("model"), "gpt-4o-mini", "chat model")
    rf = body.get("response_format") or {}
    eq(rf.get("type"), "json_schema", "response_format type")
    eq((rf.get("json_schema") or {}).get("name"), "call_summary", "json_schema name")
    prompt = " ".join(str(m.get("content")) for m in body.get("messages", []))
    for t in clip["turns"]:
        check(norm_text(t["text"]) in norm_text(prompt),
              "the chat request does not hold the turn %r", t["text"])

    llm = clip["llm"]
    eq(row["extracted_service"], clip["service"], "extracted_service")
    eq(row["extracted_city"], clip["city"], "extracted_city")
    eq(norm_text(row["summary"]), norm_text(llm["summary"]), "summary")
    check(row["extraction_confidence"] is not None and
          abs(float(row["extraction_confidence"]) - llm["confidence"]) < 0.01,
          "extraction_confidence %r, the LLM said %r", row["extraction_confidence"],
          llm["confidence"])
    check(row["last_error"] is None, "last_error after success: %r", row["last_error"])
