"""A whole inbound call (run/audio/demo.wav) goes through every stage.

The simulator plays Twilio: voice webhook, <Start><Recording> callbacks,
stream end, call status, recording completed. callpipe must store the
recording (2 channels), transcribe it with the caller's words on "Caller:"
lines and the agent's on "Agent:" lines, extract the service and the city,
summarise, and serve the exact bytes Twilio has through nginx (Range too).
"""

import json
import re
import xml.etree.ElementTree as ET

from cplib import check, eq

TIMEOUT = 180

STOPWORDS = {"the", "a", "an", "in", "to", "is", "my", "i", "you", "can",
             "of", "and", "what", "your", "come"}


def words(text):
    return re.findall(r"[a-z]+", text.lower())


def key_words(text):
    return [w for w in words(text) if w not in STOPWORDS and len(w) >= 3]


def spoken_lines(stack, name):
    """{'caller': text, 'agent': text} from run/audio/<name>.txt."""
    out = {"caller": "", "agent": ""}
    with open("%s/%s.txt" % (stack.audio_dir, name), encoding="utf-8") as f:
        for line in f:
            who, _, text = line.partition(":")
            out[who.strip().lower()] += " " + text.strip()
    return out


def lines_of(transcript, label):
    return " ".join(l.split(":", 1)[1] for l in transcript.splitlines()
                    if l.startswith(label + ":"))


def share(expected, got_text):
    got = set(words(got_text))
    exp = sorted(set(expected))
    found = [w for w in exp if w in got]
    return len(found) / max(1, len(exp)), found, exp


def test_full_call(stack):
    meta = stack.audio_meta("demo")
    info, st = stack.run_call("demo", timeout=60)
    sid, re_sid = info["call_sid"], info["recording_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))
    check(not st.get("errors"), "sim reported errors: %r", st.get("errors"))

    # The TwiML callpipe answered: recording starts before the stream.
    root = ET.fromstring(st["twiml"])
    eq(root.tag, "Response", "TwiML root element")
    tags = [c.tag for c in root]
    check("Start" in tags and "Connect" in tags, "TwiML verbs %r lack Start or Connect", tags)
    start_i = tags.index("Start")
    check(root[start_i].find("Recording") is not None,
          "<Start> holds no <Recording>: %s", st["twiml"])
    check(start_i < tags.index("Connect"), "<Start><Recording> is not before <Connect>: %r", tags)
    check(not any(e.tag == "Record" for e in root.iter()), "TwiML has a <Record> verb: %s",
          st["twiml"])
    for ev in st.get("events", []):
        check(ev.get("status") in (200, 204), "webhook %s answered %r: %r",
              ev.get("url"), ev.get("status"), (ev.get("body") or "")[:200])

    row = stack.wait_statuses(sid, timeout=150)
    eq(row["business_id"], stack.business_id, "business_id")
    eq(row["direction"], "inbound", "direction")
    eq(row["to_number"], stack.business_number, "to_number")
    eq(row["call_status"], "completed", "call_status")
    eq(row["recording_sid"], re_sid, "recording_sid")
    eq(row["recording_channels"], 2, "recording_channels")
    check(row["recording_url"] and re_sid in row["recording_url"],
          "recording_url %r does not name %s", row["recording_url"], re_sid)
    check(row["ended_at"] is not None, "ended_at is NULL")

    # Transcript: the caller's words on Caller: lines, the agent's on Agent:.
    ft = row["final_transcript"] or ""
    check(re.search(r"^Caller:", ft, re.M), "no 'Caller:' line in %r", ft)
    check(re.search(r"^Agent:", ft, re.M), "no 'Agent:' line in %r", ft)
    spoken = spoken_lines(stack, "demo")
    caller_txt, agent_txt = lines_of(ft, "Caller"), lines_of(ft, "Agent")
    frac, found, exp = share(key_words(spoken["caller"]), caller_txt)
    check(frac >= 0.6, "Caller lines hold %d%% of the caller's key words (%r of %r): %r",
          frac * 100, found, exp, ft)
    frac, found, exp = share(key_words(spoken["agent"]), agent_txt)
    check(frac >= 0.4, "Agent lines hold %d%% of the agent's key words (%r of %r): %r",
          frac * 100, found, exp, ft)
    service, city = meta["service"], meta["city"]
    check(service in caller_txt.lower(), "service %r not on a Caller line: %r", service, ft)
    check(city.lower() in " ".join(words(caller_txt)), "city %r not on a Caller line: %r",
          city, ft)

    segs = json.loads(row["transcript_segments"])
    if isinstance(segs, dict):
        segs = segs.get("segments")
    check(isinstance(segs, list) and segs, "transcript_segments is not a list: %r", segs)
    speakers = set()
    for s in segs:
        for k in ("speaker", "start", "end", "text"):
            check(k in s, "segment %r lacks %r", s, k)
        check(isinstance(s["start"], (int, float)) and isinstance(s["end"], (int, float)),
              "segment times are not numbers: %r", s)
        check(0 <= s["start"] <= s["end"] <= meta["duration_s"] + 1,
              "segment times out of the call: %r", s)
        speakers.add(str(s["speaker"]).lower())
    check({"caller", "agent"} <= speakers, "segment speakers %r lack caller or agent", speakers)
    trans = json.loads(row["transcription"])
    check(isinstance(trans, dict) and trans, "transcription is not a JSON object: %r",
          row["transcription"])

    eq(row["extracted_service"], service, "extracted_service")
    eq(row["extracted_city"], city, "extracted_city")
    summ = row["summary"] or ""
    check(service in summ.lower() and city.lower() in summ.lower(),
          "summary names neither %r nor %r: %r", service, city, summ)

    # Exactly the bytes Twilio holds, through nginx, with the right headers.
    want = stack.sim.recording_media(re_sid, "wav").body
    eq(row["recording_bytes"], len(want), "recording_bytes")
    r = stack.download(sid)
    eq(r.status, 200, "download status (%r)" % r)
    eq((r.header("content-type") or "").split(";")[0].strip(), "audio/wav", "Content-Type")
    check("private" in (r.header("cache-control") or ""), "Cache-Control %r is not private",
          r.header("cache-control"))
    check(r.body[:4] == b"RIFF" and r.body[8:12] == b"WAVE", "download is not a WAV: %r",
          r.body[:16])
    eq(len(r.body), len(want), "download length")
    check(r.body == want, "downloaded bytes differ from the simulator's recording")

    lo, hi = 100, 1099
    r = stack.download(sid, headers={"Range": "bytes=%d-%d" % (lo, hi)})
    eq(r.status, 206, "Range download status")
    eq(r.header("content-range"), "bytes %d-%d/%d" % (lo, hi, len(want)), "Content-Range")
    check(r.body == want[lo:hi + 1], "Range bytes differ (%d bytes)", len(r.body))
