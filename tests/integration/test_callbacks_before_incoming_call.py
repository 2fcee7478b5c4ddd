"""Status and recording callbacks that arrive before the voice webhook.

The simulator's order callbacks_first sends call_status completed and the
recording callbacks before the incoming_call webhook. The callbacks create
the row with business_id NULL (they carry no To); the stages still complete
and the voice webhook, when it comes, fills business_id, direction and the
numbers, without moving any stage backwards.
"""

from cplib import check, eq


def test_callbacks_before_incoming_call(stack):
    info, st = stack.run_call("short", order="callbacks_first")
    sid = info["call_sid"]
    eq(st["state"], "completed", "sim call state (errors %r)" % st.get("errors"))

    # The scenario really happened: a recording callback came first.
    urls = [e.get("url", "") for e in st.get("events", [])]
    voice = [i for i, u in enumerate(urls) if u.endswith("/webhook/incoming_call")]
    rec = [i for i, u in enumerate(urls) if u.endswith("/webhook/handle_recording")]
    check(voice and rec, "events lack the voice webhook or a recording callback: %r", urls)
    check(min(rec) < voice[0], "the voice webhook was not last: %r", urls)
    for e in st.get("events", []):
        check(e.get("status") in (200, 204), "webhook %s answered %r", e.get("url"),
              e.get("status"))

    row = stack.wait_statuses(sid, timeout=90)
    row = stack.wait_row(sid, lambda r: r["business_id"] is not None, 10,
                         "business_id filled")
    eq(row["business_id"], stack.business_id, "business_id")
    eq(row["direction"], "inbound", "direction")
    eq(row["to_number"], stack.business_number, "to_number")
    check(row["from_number"], "from_number empty")
    eq(row["call_status"], "completed", "call_status (a late ringing must not win)")
    eq(row["recording_sid"], info["recording_sid"], "recording_sid")
    check(row["final_transcript"], "final_transcript empty")
    for k in ("recording_status", "transcript_status", "summary_status"):
        eq(row[k], "completed", k)

    # With its business known the owner can download it.
    r = stack.download(sid)
    eq(r.status, 200, "download by the owning business (%r)" % r)
