"""GET /api/calls: newest first, keyset pagination, the filters, and a 400
naming the parameter for every bad one (issue 6, "JSON API").

Each test makes a business of its own (callpipectl business create, token
create) and inserts its call_log rows straight into the database, so the
expected answer is known exactly: order (created_at DESC, id DESC, ties
included), the pages while new calls arrive, each filter and limit.
"""

import datetime
import secrets
import urllib.parse

from cplib import check, eq, iso_ms, json_error

LEAD = "+97250%07d"


def new_phone():
    return LEAD % secrets.randbelow(10 ** 7)


def expected_order(stack, bid, where="", args=()):
    """call_sids of the business in the API's order, from the database."""
    rows = stack.query("SELECT call_sid FROM call_log WHERE business_id = %%s %s "
                       "ORDER BY created_at DESC, id DESC" % where, (bid,) + tuple(args))
    return [r["call_sid"] for r in rows]


def sids(calls):
    return [c["call_sid"] for c in calls]


def seed(stack, biz, n=25, tie_at=10, ties=3):
    """n calls one second apart an hour ago, `ties` of them sharing one
    created_at (so that a page boundary can fall inside equal times)."""
    t0 = stack.db_now().replace(microsecond=123000) - datetime.timedelta(hours=1)
    rows = []
    for i in range(n):
        k = tie_at if tie_at <= i < tie_at + ties else i
        rows.append({"created_at": t0 + datetime.timedelta(seconds=k),
                     "to_number": biz["numbers"][0]})
    return stack.insert_calls(biz["id"], rows)


def test_api_list_order_and_fields(stack):
    biz = stack.new_business()
    seed(stack, biz)
    want = expected_order(stack, biz["id"])
    eq(len(want), 25, "rows seeded")
    got = stack.list_calls(biz["token"], limit=200)
    eq(sids(got["calls"]), want, "order of GET /api/calls (created_at DESC, id DESC)")
    check(got["next_cursor"] is None, "next_cursor %r with every call on one page",
          got["next_cursor"])

    # One call's fields against its row.
    sid = stack.insert_calls(biz["id"], [{
        "direction": "outbound-api", "from_number": biz["numbers"][0],
        "to_number": "+972501112233", "call_status": "completed", "call_duration": 37,
        "ended_at": stack.db_now(), "recording_status": "completed",
        "transcript_status": "failed", "summary_status": "pending",
        "last_error": "transcribe: HTTP 400 from the service", "retry_count": 2,
        "extracted_service": "plumber", "extracted_city": "Haifa",
        "extraction_confidence": "0.875"}])[0]
    row = stack.row(sid)
    c = stack.list_calls(biz["token"], limit=1)["calls"][0]
    eq(c["call_sid"], sid, "the newest call is first")
    for k in ("direction", "from_number", "to_number", "call_status", "call_duration",
              "recording_status", "transcript_status", "summary_status", "last_error",
              "retry_count", "extracted_service", "extracted_city"):
        eq(c[k], row[k], "%s of the listed call" % k)
    eq(c["created_at"], iso_ms(row["created_at"]), "created_at")
    eq(c["ended_at"], iso_ms(row["ended_at"]), "ended_at")
    check(abs(c["extraction_confidence"] - 0.875) < 1e-9, "extraction_confidence %r",
          c["extraction_confidence"])
    eq(c["has_recording"], True, "has_recording")

    # NULLs are null.
    sid = stack.insert_calls(biz["id"], [{
        "call_status": None, "call_duration": None, "recording_status": "pending",
        "transcript_status": "pending", "summary_status": "pending"}])[0]
    c = stack.list_calls(biz["token"], limit=1)["calls"][0]
    eq(c["call_sid"], sid, "the newest call is first")
    for k in ("call_duration", "ended_at", "last_error", "extracted_service",
              "extracted_city", "extraction_confidence", "call_status"):
        check(c[k] is None, "%s of a call without it: %r, want null", k, c[k])
    eq(c["has_recording"], False, "has_recording of a pending recording")


def test_api_list_pagination_stable(stack):
    biz = stack.new_business()
    seed(stack, biz)
    old = expected_order(stack, biz["id"])
    # limit 7: the boundary after the second page falls inside the three
    # calls that share one created_at (positions 12..14).
    pages, cursor, seen_new = [], None, []
    for n in range(10):
        j = stack.list_calls(biz["token"], limit=7, cursor=cursor)
        pages.append(sids(j["calls"]))
        check(len(j["calls"]) <= 7, "page %d has %d calls (limit 7)", n + 1, len(j["calls"]))
        cursor = j["next_cursor"]
        if cursor is None:
            break
        # New calls arrive between the pages: newer than everything.
        seen_new += stack.insert_calls(biz["id"], [{}, {}])
    else:
        raise AssertionError("no last page after 10 pages")
    flat = [s for p in pages for s in p]
    eq(len(flat), len(set(flat)), "calls listed twice across the pages %r" % pages)
    eq([s for s in flat if s in old], old, "the old calls across the pages, in order")
    newer = [s for s in flat[7:] if s in seen_new]
    check(not newer, "calls that arrived after page 1 showed on later pages: %r", newer)
    eq(len(pages[0]), 7, "first page size")
    eq(flat, old, "the pages are the calls that existed when paging began")

    # The next page of an old cursor is the same whatever arrived since.
    j1 = stack.list_calls(biz["token"], limit=5)
    again = stack.list_calls(biz["token"], limit=5, cursor=j1["next_cursor"])
    stack.insert_calls(biz["id"], [{}, {}, {}])
    again2 = stack.list_calls(biz["token"], limit=5, cursor=j1["next_cursor"])
    eq(sids(again2["calls"]), sids(again["calls"]), "a cursor's page after more calls arrived")


def test_api_list_filters(stack):
    biz = stack.new_business()
    me = biz["numbers"][0]
    lead, other = new_phone(), new_phone()
    t0 = stack.db_now().replace(microsecond=0) - datetime.timedelta(minutes=30)
    ts = [t0 + datetime.timedelta(seconds=10 * i) for i in range(12)]
    spec = [
        # (from, to, recording, transcript, summary)
        (lead, me, "completed", "completed", "completed"),
        (me, lead, "completed", "completed", "completed"),      # outbound to the lead
        (other, me, "completed", "completed", "completed"),
        (lead, me, "completed", "failed", "pending"),
        (other, me, "failed", "pending", "pending"),
        (other, me, "completed", "completed", "failed"),
        (lead, me, "recording", "pending", "pending"),
        (other, me, "completed", "processing", "pending"),
        (other, me, "completed", "completed", "processing"),
        (lead, me, "pending", "pending", "pending"),
        (other, me, "completed", "completed", "completed"),
        (other, me, "completed", "failed", "pending"),
    ]
    rows = [{"from_number": f, "to_number": t, "recording_status": r,
             "transcript_status": tr, "summary_status": s, "created_at": ts[i],
             "direction": "outbound-api" if f == me else "inbound"}
            for i, (f, t, r, tr, s) in enumerate(spec)]
    stack.insert_calls(biz["id"], rows)
    tok = biz["token"]
    by_sid = {r["call_sid"]: r for r in stack.query(
        "SELECT * FROM call_log WHERE business_id = %s", (biz["id"],))}
    order = expected_order(stack, biz["id"])

    def want(pred):
        return [s for s in order if pred(by_sid[s])]

    def st(r, stage):
        return r[stage + "_status"]

    stages = ("recording", "transcript", "summary")
    cases = [
        ({"phone": lead}, lambda r: lead in (r["from_number"], r["to_number"])),
        ({"phone": other}, lambda r: other in (r["from_number"], r["to_number"])),
        ({"phone": "+15550000000"}, lambda r: False),
        ({"state": "failed"}, lambda r: any(st(r, x) == "failed" for x in stages)),
        ({"state": "completed"}, lambda r: all(st(r, x) == "completed" for x in stages)),
        ({"state": "in_progress"}, lambda r: not any(st(r, x) == "failed" for x in stages)
         and not all(st(r, x) == "completed" for x in stages)),
        ({"state": "failed", "stage": "transcript"}, lambda r: st(r, "transcript") == "failed"),
        ({"state": "failed", "stage": "recording"}, lambda r: st(r, "recording") == "failed"),
        ({"state": "failed", "stage": "summary"}, lambda r: st(r, "summary") == "failed"),
        ({"state": "completed", "stage": "recording"},
         lambda r: st(r, "recording") == "completed"),
        ({"state": "completed", "stage": "transcript"},
         lambda r: st(r, "transcript") == "completed"),
        ({"state": "in_progress", "stage": "summary"},
         lambda r: st(r, "summary") not in ("failed", "completed")),
        ({"since": iso_ms(ts[7])}, lambda r: r["created_at"] >= ts[7]),
        ({"since": iso_ms(ts[7] + datetime.timedelta(milliseconds=1))},
         lambda r: r["created_at"] > ts[7]),
        ({"phone": lead, "state": "failed"},
         lambda r: lead in (r["from_number"], r["to_number"]) and
         any(st(r, x) == "failed" for x in stages)),
        ({"phone": lead, "since": iso_ms(ts[3])},
         lambda r: lead in (r["from_number"], r["to_number"]) and r["created_at"] >= ts[3]),
    ]
    for params, pred in cases:
        got = sids(stack.list_all(tok, limit=200, **params))
        w = want(pred)
        eq(got, w, "GET /api/calls?%s" % urllib.parse.urlencode(params))
        check(w or params.get("phone") == "+15550000000",
              "case %r selects nothing: the test data is wrong", params)
    # Paging under a filter keeps the filter.
    got = sids(stack.list_all(tok, limit=2, state="failed"))
    eq(got, want(lambda r: any(st(r, x) == "failed" for x in stages)),
       "state=failed paged two at a time")
    # The "+" must be sent as %2B: check that the query really carried it.
    r = stack.api("GET", "/api/calls?phone=%s" % urllib.parse.quote(lead, safe=""), token=tok)
    eq(r.status, 200, "phone=%%2B... (%r)" % r)
    eq(sids(r.json()["calls"]), want(lambda r: lead in (r["from_number"], r["to_number"])),
       "phone with %2B written by hand")

    # limit: exactly that many and a cursor; the default is 50.
    j = stack.list_calls(tok, limit=3)
    eq(sids(j["calls"]), order[:3], "limit=3")
    check(j["next_cursor"] is not None, "limit=3 of 12: no next_cursor")
    j = stack.list_calls(tok, limit=1)
    eq(sids(j["calls"]), order[:1], "limit=1")
    stack.insert_calls(biz["id"], [{"created_at": t0 - datetime.timedelta(seconds=i + 1)}
                                   for i in range(50)])
    j = stack.list_calls(tok)
    eq(len(j["calls"]), 50, "calls without a limit (default 50, 62 exist)")
    check(j["next_cursor"] is not None, "default limit: no next_cursor with 62 calls")
    eq(len(stack.list_calls(tok, limit=200)["calls"]), 62, "limit=200 with 62 calls")


def test_api_list_bad_parameters(stack):
    biz = stack.new_business()
    stack.insert_calls(biz["id"], [{}])
    tok = biz["token"]
    bad = [
        ("limit", "0"), ("limit", "201"), ("limit", "-1"), ("limit", "abc"), ("limit", "1.5"),
        ("limit", ""), ("limit", "10x"), ("limit", "99999999999999999999"),
        ("state", "done"), ("state", "FAILED"), ("state", ""),
        ("stage", "transcription"), ("stage", ""),
        ("since", "yesterday"), ("since", "2026-13-01T00:00:00.000Z"),
        ("since", "2026-02-30T00:00:00.000Z"), ("since", ""),
        ("cursor", "not-a-cursor!"), ("cursor", ""),
        ("phone", "97250123"), ("phone", "+12ab"), ("phone", ""),
    ]
    for name, value in bad:
        q = "%s=%s" % (name, urllib.parse.quote(value, safe=""))
        r = stack.api("GET", "/api/calls?" + q, token=tok)
        json_error(r, 400, "GET /api/calls?%s" % q, names=(name,))
    # stage needs a known value even with a good state.
    json_error(stack.api("GET", "/api/calls?state=failed&stage=bogus", token=tok), 400,
               "stage=bogus with state=failed", names=("stage",))
    # The bad one among good ones is the one named.
    json_error(stack.api("GET", "/api/calls?state=failed&limit=500", token=tok), 400,
               "limit=500 after a good state", names=("limit",))
    for name in ("foo", "Limit", "limits", "page"):
        r = stack.api("GET", "/api/calls?limit=5&%s=1" % name, token=tok)
        err = json_error(r, 400, "unknown parameter %s" % name, names=(name,))
        check("unknown" in err.lower(), "the error for %s does not say unknown: %r", name, err)
    # Credentials come first: a bad parameter without a token is 401.
    r = stack.api("GET", "/api/calls?limit=0", token=None)
    json_error(r, 401, "no token, bad limit")
    check((r.header("www-authenticate") or "").startswith("Bearer"),
          "401 without WWW-Authenticate Bearer: %r", r.headers_list)
    eq(r.header("www-authenticate"), 'Bearer realm="callpipe"', "WWW-Authenticate")
    json_error(stack.api("GET", "/api/calls", token="x" * 43), 401, "unknown token")
    json_error(stack.api("POST", "/api/calls", token=tok, body={}), 405, "POST /api/calls")
