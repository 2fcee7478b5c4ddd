"""nginx's TLS, headers, /metrics allow list, webhook limit and internal
recordings location (nginx/callpipe.conf.in).

On the stack's nginx:
- a TLS 1.1 (and 1.0) handshake is refused by the server (its
  protocol_version alert), TLS 1.2 and 1.3 succeed (python ssl with minimum_version/maximum_version; the client
  allows the old versions at @SECLEVEL=0, so the refusal is nginx's);
- Strict-Transport-Security on every kind of answer (the app's, the
  page's, the API's, nginx's own 404);
- the Server header is "nginx" without a version, error pages too;
- a direct GET of a file that is in the cache, under the internal
  recordings prefix, is 404;
- GET /metrics from 127.0.0.1 is 200.
On a second nginx rendered from the same template (test_nginx_limits'
helper) with METRICS_ALLOW=none, and with an allow list that leaves out
127.0.0.1: GET /metrics is 403; with WEBHOOK_RATE=1r/m WEBHOOK_BURST=1 a
quick series of webhooks gets 429 after the first two.
"""

import os
import socket
import ssl
import tempfile

from cplib import check, eq, new_sid
from test_nginx_limits import Nginx

TIMEOUT = 120

HSTS = "max-age=31536000; includeSubDomains"


def handshake(stack, version):
    """(ok, detail): a TLS handshake with exactly version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(stack.env["CALLPIPE_CA_CERT"])
    if version < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3 refuses TLS < 1.2 at its default security level; at 0
        # this client offers them, so a refusal comes from the server.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = version
    ctx.maximum_version = version
    raw = socket.create_connection((stack.https_host, stack.https_port), timeout=10)
    try:
        with ctx.wrap_socket(raw, server_hostname=stack.https_host) as s:
            return True, s.version()
    except ssl.SSLError as e:
        return False, "%s %s" % (e.reason, e)
    finally:
        raw.close()


def test_nginx_tls_versions(stack):
    for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        ok, got = handshake(stack, v)
        check(ok, "%s handshake failed: %s", name, got)
        eq(got, name, "negotiated version")
    for v, name in ((ssl.TLSVersion.TLSv1_1, "TLSv1.1"), (ssl.TLSVersion.TLSv1, "TLSv1")):
        ok, got = handshake(stack, v)
        check(not ok, "%s handshake succeeded (%s)", name, got)
        # The client had a protocol to offer: the server refused it.
        check("NO_PROTOCOLS_AVAILABLE" not in got and "NO_CIPHERS" not in got,
              "%s: the client refused itself, not the server: %s", name, got)
        # TLSV1_ALERT_PROTOCOL_VERSION: the server's protocol_version
        # alert (RFC 8446 §6.2), received by the client.
        check("ALERT_PROTOCOL_VERSION" in got, "%s: not the server's protocol_version "
              "alert: %s", name, got)


def test_nginx_headers_and_internal(stack):
    prefix = stack.conf_get("recording.nginx_internal_prefix")
    name = "hobs-internal-%d.wav" % os.getpid()
    path = os.path.join(stack.cache_dir, name)
    with open(path, "wb") as f:
        f.write(b"RIFF\x00\x00\x00\x00WAVE")
    try:
        answers = {
            "app /healthz": stack.https("GET", "/healthz"),
            "app webhook 405": stack.https("GET", "/webhook/incoming_call"),
            "API 401": stack.https("GET", "/api/calls"),
            "page /": stack.https("GET", "/"),
            "nginx 404 (internal)": stack.https("GET", prefix + name),
            "metrics": stack.https("GET", "/metrics"),
        }
    finally:
        os.unlink(path)
    eq(answers["nginx 404 (internal)"].status, 404,
       "direct GET of %s%s, a file in the cache" % (prefix, name))
    check(b"RIFF" not in answers["nginx 404 (internal)"].body, "the file's bytes leaked")
    eq(answers["metrics"].status, 200, "GET /metrics from 127.0.0.1")
    eq(answers["page /"].status, 200, "GET /")
    eq(answers["API 401"].status, 401, "GET /api/calls without a token")
    for what, r in answers.items():
        eq(r.header("strict-transport-security"), HSTS, "%s: HSTS" % what)
        eq(r.header("server"), "nginx", "%s: Server header" % what)
    body = answers["nginx 404 (internal)"].body.decode("utf-8", "replace")
    check("nginx/" not in body, "nginx's 404 page names its version: %r", body)


def test_nginx_metrics_allow_list_and_webhook_limit(stack):
    fcgi = stack.env.get("CALLPIPE_FCGI_SOCKET") or os.path.join(stack.run_dir, "fcgi.sock")
    for allow in ("none", "10.0.0.0/8 192.0.2.1 2001:db8::/32"):
        with tempfile.TemporaryDirectory(prefix="nginx-metrics-") as tmp:
            os.chmod(tmp, 0o755)
            ng = Nginx(stack, tmp, fcgi, METRICS_ALLOW=allow)
            try:
                ng.start()
                r = ng.get("/metrics")
                eq(r.status, 403, "GET /metrics with METRICS_ALLOW=%r" % allow)
                eq(r.header("strict-transport-security"), HSTS, "403: HSTS")
                r = ng.get("/healthz")
                eq(r.status, 200, "GET /healthz beside it")
            finally:
                ng.stop()
    with tempfile.TemporaryDirectory(prefix="nginx-webhook-") as tmp:
        os.chmod(tmp, 0o755)
        ng = Nginx(stack, tmp, fcgi, WEBHOOK_RATE="1r/m", WEBHOOK_BURST="1")
        try:
            ng.start()
            c = ng.conn()
            codes = []
            try:
                for _ in range(5):
                    # Unsigned: callpipe answers 403 without touching the
                    # database; what counts is whether nginx let it in.
                    body = "CallSid=%s" % new_sid("CA")
                    r = ng.stack.request(c, "POST", "/webhook/call_status", {
                        "Content-Type": "application/x-www-form-urlencoded"},
                        body.encode())
                    codes.append(r.status)
            finally:
                c.close()
            eq(codes[:2], [403, 403], "the first two webhooks reach callpipe (all: %r)" % codes)
            eq(codes[2:], [429, 429, 429], "past rate and burst: 429 (all: %r)" % codes)
        finally:
            ng.stop()
