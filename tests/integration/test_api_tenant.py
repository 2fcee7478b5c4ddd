"""Tenant isolation of the JSON API (issue 6: "Another business's call =
404 everywhere"): list, detail, retry, download-url and download, with
Bearer tokens of two businesses. Business B's token sees business A's
calls as 404 (the same answer as an unknown sid, so nothing tells them
apart) and its list never shows them, with or without filters; A's token
likewise never sees B's calls; a failed call of A is not retried by B.
"""

from cplib import check, eq, json_error, new_sid


def all_sids(stack, token, **params):
    return [c["call_sid"] for c in stack.list_all(token, **params)]


def test_api_tenant_isolation(stack):
    info, row_a = stack.api_call()
    a_sid = info["call_sid"]
    b = stack.new_business()
    b_tok = b["token"]
    # B's own calls, one of them from the same caller number as A's call.
    b_sids = stack.insert_calls(b["id"], [
        {"from_number": row_a["from_number"], "to_number": b["numbers"][0]},
        {"from_number": "+15557654321", "to_number": b["numbers"][0],
         "transcript_status": "failed",
         "summary_status": "pending", "last_error": "itest"}])

    # The owner sees its call (the control).
    eq(stack.call_detail(a_sid)["call_sid"], a_sid, "A's detail with A's token")
    check(a_sid in all_sids(stack, "default", phone=row_a["from_number"]),
          "A's call is not in A's list by phone")

    # Lists: never the other business's calls, whatever the filter.
    for params in ({}, {"phone": row_a["from_number"]}, {"state": "completed"},
                   {"state": "failed"}, {"since": "2000-01-01T00:00:00.000Z"}):
        got = all_sids(stack, b_tok, **params)
        check(a_sid not in got, "B's list %r shows A's call %s", params, a_sid)
        check(set(got) <= set(b_sids), "B's list %r shows calls not B's: %r", params,
              sorted(set(got) - set(b_sids)))
        got = all_sids(stack, "default", **params)
        check(not set(got) & set(b_sids), "A's list %r shows B's calls", params)
    eq(all_sids(stack, b_tok, phone=row_a["from_number"]), [b_sids[0]],
       "B's list by the shared caller number")

    # Every per-call route: 404, the same error as an unknown sid.
    unknown = new_sid("CA")
    routes = [
        ("GET", "/api/calls/%s", None),
        ("POST", "/api/calls/%s/retry", {"stage": "transcript"}),
        ("POST", "/api/calls/%s/download-url", None),
        ("POST", "/api/calls/%s/download-url", {"format": "mp3", "ttl_s": 60}),
        ("GET", "/api/calls/%s/download", None),
        ("GET", "/api/calls/%s/download?format=mp3", None),
        ("HEAD", "/api/calls/%s/download", None),
    ]
    for method, pattern, body in routes:
        for sid, tok, who in ((a_sid, b_tok, "B on A's call"), (b_sids[1], "default",
                                                               "A on B's call")):
            r = stack.api(method, pattern % sid, token=tok, body=body)
            r0 = stack.api(method, pattern % unknown, token=tok, body=body)
            what = "%s %s (%s)" % (method, pattern % sid, who)
            if method == "HEAD":
                eq(r.status, 404, what)
                eq(r0.status, 404, what + ", unknown sid")
                continue
            err = json_error(r, 404, what)
            err0 = json_error(r0, 404, what + ", unknown sid")
            eq(err, err0, "%s: error text vs an unknown sid's" % what)

    # Nothing of B's failed call moved after A's retry attempt.
    row = stack.row(b_sids[1])
    eq((row["transcript_status"], row["retry_count"]), ("failed", 0),
       "B's failed call after A's retry")
    # The owner may: B retries its own failed call (202).
    r = stack.api("POST", "/api/calls/%s/retry" % b_sids[1], token=b_tok,
                  body={"stage": "transcript"})
    eq(r.status, 202, "B retries its own failed call (%r)" % r)
    eq(stack.row(b_sids[1])["retry_count"], 1, "retry_count of B's call after B's retry")
    # A's call is untouched by all of B's requests.
    row = stack.row(a_sid)
    for k in ("recording_status", "transcript_status", "summary_status", "retry_count"):
        eq(row[k], row_a[k], "A's %s after B's requests" % k)
