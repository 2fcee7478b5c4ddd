"""callpipectl's API tokens and signed URLs (issue 6, item 7).

token create / list / revoke round trip: a new token of the demo business
downloads a completed call's recording, `token list` shows it with its
last use, `token revoke` ends it (GET /api/calls/<sid>/download then
answers 401 with WWW-Authenticate: Bearer), and a second revoke, an
unknown id and a malformed one are refused. `url CALL_SID` prints a
relative and an absolute URL whose sig is recomputed here with Python's
hmac over the contract's message ("GET\\n<path>\\n<sid>\\n<format>\\n
<expires>\\n<business_id>") under run/callpipe.conf's api.signing_key, and
nginx serves it without any header. `--help` works on every command
without -c.
"""

import hashlib
import hmac
import re
import secrets
import subprocess
import time
import urllib.parse

from cplib import check, eq, new_sid

URL_RE = re.compile(r"^/api/calls/(CA[0-9a-f]{32})/download\?format=(wav|mp3)"
                    r"&expires=([0-9]+)&sig=([0-9a-f]{64})$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LIST_HEADER = ["id", "business", "name", "created", "last_used", "revoked"]


def token_rows(stack):
    """`token list` as {id: {column: value}}, header checked."""
    p = stack.ctl("token", "list")
    eq(p.returncode, 0, "token list exit status (stderr %r)" % p.stderr)
    lines = p.stdout.rstrip("\n").split("\n")
    eq(lines[0].split("\t"), LIST_HEADER, "token list header")
    rows = {}
    for line in lines[1:]:
        f = line.split("\t")
        eq(len(f), len(LIST_HEADER), "fields of token list line %r" % line)
        rows[int(f[0])] = dict(zip(LIST_HEADER, f))
    return rows


def expected_sig(key, sid, fmt, expires, business_id):
    msg = "GET\n/api/calls/%s/download\n%s\n%s\n%d\n%d" % (sid, sid, fmt, expires,
                                                          business_id)
    return hmac.new(key.encode("utf-8"), msg.encode("ascii"), hashlib.sha256).hexdigest()


def check_url(stack, out, sid, fmt, ttl, before, after):
    """url's stdout: the relative URL, then public_base_url + it; its
    fields and signature. Returns the relative URL."""
    lines = out.rstrip("\n").split("\n")
    eq(len(lines), 2, "lines printed by url (%r)" % out)
    rel, absolute = lines
    m = URL_RE.match(rel)
    check(m, "url printed %r, not /api/calls/<sid>/download?format=&expires=&sig=", rel)
    eq(m.group(1), sid, "sid in the URL")
    eq(m.group(2), fmt, "format in the URL")
    expires = int(m.group(3))
    check(before + ttl <= expires <= after + ttl,
          "expires %d is not now + %d s (%d .. %d)", expires, ttl, before + ttl, after + ttl)
    eq(absolute, stack.conf_get("public_base_url") + rel, "absolute URL")
    key = stack.conf_get("api.signing_key")
    check(isinstance(key, str) and key, "run/callpipe.conf has no api.signing_key")
    want = expected_sig(key, sid, fmt, expires, stack.business_id)
    check(hmac.compare_digest(m.group(4), want),
          "sig %s is not HMAC-SHA256 under api.signing_key (want %s)", m.group(4), want)
    return rel


def test_ctl_token_round_trip(stack):
    info, st, row = stack.completed_call("short")
    sid = info["call_sid"]
    name = "itest tokens " + secrets.token_hex(4)

    p = stack.ctl("token", "create", "--business", str(stack.business_id), "--name", name)
    eq(p.returncode, 0, "token create exit status (stderr %r)" % p.stderr)
    tok = p.stdout.strip()
    check(re.match(r"^cp_[0-9a-f]{64}$", tok), "token create printed %r", p.stdout)

    mine = [r for r in token_rows(stack).values() if r["name"] == name]
    eq(len(mine), 1, "token list rows named %r" % name)
    t = mine[0]
    tid = int(t["id"])
    eq(int(t["business"]), stack.business_id, "business of the new token")
    check(ISO_RE.match(t["created"]), "created %r is not ISO-8601 UTC with ms", t["created"])
    eq(t["last_used"], "-", "last_used of an unused token")
    eq(t["revoked"], "-", "revoked of a new token")
    db = stack.query("SELECT business_id, name, token_sha256, revoked_at FROM api_tokens "
                     "WHERE id = %s", (tid,))
    eq(db[0]["token_sha256"], hashlib.sha256(tok.encode()).hexdigest(),
       "api_tokens keeps the token's SHA-256")

    r = stack.download(sid, token=tok)
    eq(r.status, 200, "download with the new token (%r)" % r)
    t = token_rows(stack)[tid]
    check(ISO_RE.match(t["last_used"]), "last_used after a download: %r", t["last_used"])
    eq(t["revoked"], "-", "revoked after a download")

    # --business filters; another business's list lacks the token.
    other_bid, _ = stack.other_business_token()
    p = stack.ctl("token", "list", "--business", str(other_bid))
    eq(p.returncode, 0, "token list --business exit status (stderr %r)" % p.stderr)
    ids = [int(l.split("\t")[0]) for l in p.stdout.strip().split("\n")[1:] if l]
    check(tid not in ids, "token %d listed under business %d", tid, other_bid)
    check(ids, "business %d lists none of its tokens", other_bid)

    p = stack.ctl("token", "revoke", str(tid))
    eq(p.returncode, 0, "token revoke exit status (stderr %r)" % p.stderr)
    t = token_rows(stack)[tid]
    check(ISO_RE.match(t["revoked"]), "revoked after revoke: %r", t["revoked"])

    r = stack.download(sid, token=tok)
    eq(r.status, 401, "download with the revoked token (%r)" % r)
    eq(r.header("www-authenticate"), 'Bearer realm="callpipe"', "WWW-Authenticate")
    eq(r.json().get("success"), False, "401 body success")
    eq(stack.download(sid).status, 200, "the demo token still downloads")

    p = stack.ctl("token", "revoke", str(tid))
    eq(p.returncode, 1, "second revoke exit status")
    check("no active token %d" % tid in p.stderr, "second revoke stderr %r", p.stderr)
    p = stack.ctl("token", "revoke", "999999999999")
    eq(p.returncode, 1, "revoke of an unknown id exit status")
    check("no active token" in p.stderr, "unknown id stderr %r", p.stderr)
    p = stack.ctl("token", "revoke", "abc")
    eq(p.returncode, 2, "revoke of a malformed id exit status")
    p = stack.ctl("token", "create", "--business", "999999999999", "--name", "x")
    eq(p.returncode, 1, "token create for an unknown business exit status")
    check("no business" in p.stderr, "unknown business stderr %r", p.stderr)


def test_ctl_url_signature(stack):
    info, st, row = stack.completed_call("short")
    sid = info["call_sid"]
    ttl_max = stack.conf_get("api.signed_url_ttl_s")

    before = int(time.time())
    p = stack.ctl("url", sid)
    after = int(time.time())
    eq(p.returncode, 0, "url exit status (stderr %r)" % p.stderr)
    rel = check_url(stack, p.stdout, sid, "wav", ttl_max, before, after)

    # nginx serves the signed URL with no Authorization header at all.
    r = stack.https("GET", rel)
    eq(r.status, 200, "GET of the signed URL (%r)" % r)
    eq(r.body, stack.download(sid).body, "signed URL bytes = Bearer download bytes")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(rel).query)
    bad = rel[:-1] + ("0" if q["sig"][0][-1] != "0" else "1")
    eq(stack.https("GET", bad).status, 403, "GET with one sig digit changed")

    before = int(time.time())
    p = stack.ctl("url", "--format", "mp3", sid, "--ttl", "10")
    after = int(time.time())
    eq(p.returncode, 0, "url --ttl 10 --format mp3 exit status (stderr %r)" % p.stderr)
    check_url(stack, p.stdout, sid, "mp3", 10, before, after)

    for args, what in ((["--ttl", "0"], "--ttl 0"),
                       (["--ttl", str(ttl_max + 1)], "--ttl past api.signed_url_ttl_s"),
                       (["--ttl", "x"], "--ttl x"),
                       (["--format", "ogg"], "--format ogg")):
        p = stack.ctl("url", sid, *args)
        eq(p.returncode, 2, "url %s exit status" % what)
        eq(p.stdout, "", "url %s stdout" % what)
    p = stack.ctl("url", "--ttl", "0", sid)
    check("api.signed_url_ttl_s" in p.stderr, "--ttl 0 stderr %r", p.stderr)
    p = stack.ctl("url", "CA123")
    eq(p.returncode, 2, "url of a malformed sid")
    p = stack.ctl("url", new_sid("CA"))
    eq(p.returncode, 1, "url of an unknown call")
    check("no call" in p.stderr, "unknown call stderr %r", p.stderr)


def test_ctl_help(stack):
    cmds = ("migrate", "business", "token", "url", "transcribe", "summarize", "retry")
    for argv in [["--help"], ["help"]] + [[c, "--help"] for c in cmds] + \
            [["token", "revoke", "--help"], ["help", "url"]]:
        # No -c: help needs no configuration.
        p = subprocess.run([stack.ctl_bin] + argv, capture_output=True, text=True,
                           timeout=30, env=stack.ctl_env())
        eq(p.returncode, 0, "callpipectl %s exit status (stderr %r)" % (" ".join(argv),
                                                                        p.stderr))
        check(p.stdout.startswith("usage: callpipectl"), "callpipectl %s stdout %r",
              " ".join(argv), p.stdout)
        # The command asked about (none for the whole usage).
        word = argv[0] if argv[0] not in ("--help", "help") else \
            (argv[1] if len(argv) > 1 else None)
        if word is not None:
            check("\n  %s " % word in p.stdout, "callpipectl %s does not show %s: %r",
                  " ".join(argv), word, p.stdout)
            others = [c for c in cmds if c != word and "\n  %s " % c in p.stdout]
            check(not others, "callpipectl %s shows other commands too: %r",
                  " ".join(argv), others)
    p = stack.ctl("url", "--help")
    eq(p.returncode, 0, "url --help with -c")
    check("--ttl" in p.stdout and "--format" in p.stdout, "url --help: %r", p.stdout)
    p = stack.ctl("frobnicate")
    eq(p.returncode, 2, "an unknown command's exit status")
    check("usage:" in p.stderr, "an unknown command's stderr %r", p.stderr)
