"""log.format = "json" / "logfmt" with log.timestamps = false: every line
callpipe-fcgi writes is one record of that format without a time, and the
access line of a request about a call carries its call_sid.

A callpipe-fcgi of our own (the stack's config with the log keys changed)
answers GET /api/calls/<CallSid> (Bearer token: 404, no such call) and a
request for no route; its log (stderr) is read back.
"""

import json
import re

from cplib import check, eq, new_sid

TIMEOUT = 120

LOGFMT_PAIR = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "=]+)(?: |$)')


def requests(stack, inst):
    sid = new_sid("CA")
    r = inst.request("GET", "/api/calls/" + sid,
                     headers={"Authorization": "Bearer " + stack.token})
    eq(r.status, 404, "GET /api/calls/<unknown sid> (%r)" % r)
    r = inst.request("GET", "/no-such-route")
    eq(r.status, 404, "GET /no-such-route")
    return sid


def parse_logfmt(line):
    out, pos = {}, 0
    for m in LOGFMT_PAIR.finditer(line):
        check(m.start() == pos, "logfmt line not key=value pairs at %d: %r", pos, line)
        v = m.group(2)
        if v.startswith('"'):
            v = json.loads(v)        # the escapes used are JSON's subset
        out[m.group(1)] = v
        pos = m.end()
    eq(pos, len(line), "logfmt line parsed to its end: %r" % line)
    return out


def check_records(recs, sid, what):
    check(recs, "%s: no log lines", what)
    for rec in recs:
        check("ts" not in rec, "%s: a timestamp with log.timestamps = false: %r", what, rec)
        for k in ("level", "prog", "pid", "msg"):
            check(k in rec, "%s: no %s in %r", what, k, rec)
        eq(rec["prog"], "callpipe-fcgi", "%s: prog" % what)
    access = [r for r in recs if r["msg"].startswith("GET /api/calls/")]
    eq(len(access), 1, "%s: access lines of the API request (%r)" % (what, recs))
    eq(access[0].get("call_sid"), sid, "%s: call_sid of the API request's line" % what)
    other = [r for r in recs if r["msg"].startswith("GET /no-such-route")]
    eq(len(other), 1, "%s: access line of the request for no route" % what)
    check("call_sid" not in other[0], "%s: the context leaked into the next request: %r",
          what, other[0])


def test_log_format_json(stack):
    with stack.fcgi_instance({"log.format": "json", "log.timestamps": False},
                             children=1) as inst:
        sid = requests(stack, inst)
        lines = [l for l in inst.log().splitlines() if l.strip()]
        recs = []
        for l in lines:
            try:
                recs.append(json.loads(l))
            except ValueError:
                raise AssertionError("a log line is no JSON: %r" % l)
        check_records(recs, sid, "json")


def test_log_format_logfmt(stack):
    with stack.fcgi_instance({"log.format": "logfmt", "log.timestamps": False},
                             children=1) as inst:
        sid = requests(stack, inst)
        lines = [l for l in inst.log().splitlines() if l.strip()]
        check_records([parse_logfmt(l) for l in lines], sid, "logfmt")
