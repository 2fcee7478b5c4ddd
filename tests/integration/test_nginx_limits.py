"""nginx's limits on /api/ and the status page's static files.

The site template (nginx/callpipe.conf.in through nginx/render.sh) is
rendered with low limits into a temporary directory and run by a second
nginx on a spare loopback port, with the stack's TLS certificate and
FastCGI socket (stack.env), so the stack's own limits (etc/dev.sh sets them
high for the whole suite) stay out of it:

- limit_req (API_RATE=1r/s, API_BURST=1): of a quick series of GET
  /api/calls the first two reach callpipe, the next ones are 429 with the
  API's JSON error, and a second later one passes again;
- limit_conn (API_CONN=2), against a FastCGI socket that accepts and never
  answers: while two requests are held there, a third is 429 at once;
- the page: / is index.html with its Content-Security-Policy and the other
  security headers, every file of nginx/html/ comes with its MIME type
  (JavaScript modules as text/javascript), every local src/href of
  index.html answers 200, dotfiles and the recordings prefix are 404.
"""

import http.client
import json
import os
import posixpath
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from cplib import check, eq

TIMEOUT = 120

# What the template's types block must answer for the page's files.
MIME = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".json": "application/json",
}
CSP = "default-src 'self'"
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
REF_RE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)


def media_type(r):
    return (r.header("content-type") or "").split(";")[0].strip().lower()


def spare_port():
    """A loopback TCP port nobody listens on now (the kernel's choice)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def nginx_binary():
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        p = os.path.join(d, "nginx")
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise AssertionError("no nginx binary on PATH or in /usr/sbin")


class Nginx:
    """A second nginx serving the site template rendered with `variables`
    (render.sh NAME=VALUE) on 127.0.0.1:<spare port>, in the foreground
    (daemon off), stopped by its own pid."""

    def __init__(self, stack, tmp, fcgi_socket, **variables):
        self.stack = stack
        self.dir = tmp
        self.port = spare_port()
        self.proc = None
        self.error_log = os.path.join(tmp, "error.log")
        cert = stack.env["CALLPIPE_CA_CERT"]
        key = stack.env.get("CALLPIPE_TLS_KEY") or os.path.join(
            os.path.dirname(cert), "key.pem")
        html = stack.env.get("CALLPIPE_HTML_DIR") or os.path.join(stack.src, "nginx", "html")
        self.html_dir = html
        cache = stack.cache_dir
        args = {
            "SERVER_NAME": "127.0.0.1", "LISTEN": "127.0.0.1:%d" % self.port,
            "SSL_CERT": cert, "SSL_KEY": key, "FCGI_SOCKET": fcgi_socket,
            "CACHE_DIR": cache, "HTML_DIR": html,
            "ACCESS_LOG": os.path.join(tmp, "access.log"),
        }
        args.update(variables)
        site = os.path.join(tmp, "callpipe.conf")
        render = os.path.join(stack.src, "nginx", "render.sh")
        p = subprocess.run(["bash", render, "-o", site] +
                           ["%s=%s" % kv for kv in sorted(args.items())],
                           capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "render.sh exit status (stderr %r)" % p.stderr)
        shutil.copy("/etc/nginx/fastcgi_params", os.path.join(tmp, "fastcgi_params"))
        temp = os.path.join(tmp, "temp")
        os.makedirs(temp, exist_ok=True)
        # Workers as root (the stack's run as www-data): this nginx's
        # temporary files and logs are in a private 0700 directory.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        self.conf = os.path.join(tmp, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(user + """worker_processes 1;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log notice;
events { worker_connections 64; }
http {
    default_type application/octet-stream;
    client_body_temp_path %(t)s/temp/body;
    fastcgi_temp_path %(t)s/temp/fastcgi;
    proxy_temp_path %(t)s/temp/proxy;
    uwsgi_temp_path %(t)s/temp/uwsgi;
    scgi_temp_path %(t)s/temp/scgi;
    include %(t)s/callpipe.conf;
}
""" % {"t": tmp})
        self.ssl = ssl.create_default_context(cafile=cert)

    def _cmd(self, *extra):
        return [nginx_binary(), "-p", self.dir + "/", "-c", self.conf,
                "-e", self.error_log] + list(extra)

    def start(self):
        p = subprocess.run(self._cmd("-t", "-q"), capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "nginx -t on the rendered site (%s)" % p.stderr.strip())
        self.proc = subprocess.Popen(self._cmd("-g", "daemon off;"),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            check(self.proc.poll() is None, "the second nginx exited at once: %s",
                  self.proc.stderr.read().decode("utf-8", "replace")[-500:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the second nginx does not listen on 127.0.0.1:%d" % self.port)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()     # SIGTERM: nginx's fast shutdown
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def conn(self, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl,
                                           timeout=timeout)

    def get(self, path, headers=None, conn=None, timeout=30):
        own = conn is None
        c = conn or self.conn(timeout)
        try:
            return self.stack.request(c, "GET", path, headers or {})
        finally:
            if own:
                c.close()


def check_too_many(r, what):
    eq(r.status, 429, "%s: status (%r)" % (what, r))
    eq(media_type(r), "application/json", "%s: Content-Type" % what)
    j = json.loads(r.body.decode("utf-8"))
    eq(j, {"success": False, "error": "too many requests"}, "%s: body" % what)
    check(r.header("retry-after"), "%s: no Retry-After: %r", what, r.headers_list)


def test_nginx_limit_req(stack):
    fcgi = stack.env.get("CALLPIPE_FCGI_SOCKET") or os.path.join(stack.run_dir, "fcgi.sock")
    auth = {"Authorization": "Bearer " + stack.token}
    with tempfile.TemporaryDirectory(prefix="nginx-limits-") as tmp:
        os.chmod(tmp, 0o755)
        # 1r/m: within the test no further request is allowed however slow
        # a loaded machine is (at 1r/s the series had to fit in a second).
        ng = Nginx(stack, tmp, fcgi, API_RATE="1r/m", API_BURST="1", API_CONN="2")
        try:
            ng.start()
            # One kept-alive connection.
            c = ng.conn()
            try:
                got = [ng.get("/api/calls", auth, conn=c) for _ in range(6)]
            finally:
                c.close()
            codes = [r.status for r in got]
            # 1 at the rate + 1 of burst reach callpipe (whatever it answers,
            # it is not nginx's 429 nor a gateway error).
            for i in (0, 1):
                check(codes[i] not in (429, 502, 504),
                      "request %d of the series: %d, want callpipe's answer (all: %r)",
                      i + 1, codes[i], codes)
            too_many = [r for r in got if r.status == 429]
            check(len(too_many) >= 3, "only %d of 6 quick requests were 429: %r",
                  len(too_many), codes)
            for r in too_many:
                check_too_many(r, "limit_req")
            # Another route of /api/ shares the same per-address bucket.
            check_too_many(ng.get("/api/calls/CA%s/download" % ("0" * 32), auth),
                           "download while over the rate")
            # The webhooks and /healthz have no limit: Twilio must always get through.
            for _ in range(3):
                r = ng.get("/healthz")
                check(r.status != 429, "/healthz limited: %r", r)
        finally:
            ng.stop()


class StallingFastCGI:
    """A unix socket that accepts FastCGI connections and never answers,
    so each request nginx passes to it stays in progress."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.accepted = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted.append(c)

    def count(self):
        with self.lock:
            return len(self.accepted)

    def close(self):
        self.stopping = True
        self.thread.join(5)
        with self.lock:
            for c in self.accepted:
                c.close()
        self.sock.close()


def test_nginx_limit_conn(stack):
    with tempfile.TemporaryDirectory(prefix="nginx-limits-") as tmp:
        os.chmod(tmp, 0o755)
        stall = StallingFastCGI(os.path.join(tmp, "stall.sock"))
        ng = Nginx(stack, tmp, stall.path, API_RATE="1000r/s", API_BURST="1000",
                   API_CONN="2")
        held = {}

        def hold(i):
            held[i] = ng.get("/api/calls", timeout=30)

        threads = [threading.Thread(target=hold, args=(i,), daemon=True) for i in (0, 1)]
        try:
            ng.start()
            for t in threads:
                t.start()
            deadline = time.monotonic() + 10
            while stall.count() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            eq(stall.count(), 2, "requests held at the stalling FastCGI socket")
            for i in range(2):
                t0 = time.monotonic()
                r = ng.get("/api/calls")
                check_too_many(r, "third request while two are in progress")
                check(time.monotonic() - t0 < 2, "the 429 took %.1f s", time.monotonic() - t0)
            eq(stall.count(), 2, "requests that reached the socket")
            # The page is not limited.
            r = ng.get("/")
            check(r.status != 429, "/ limited while the API is full: %r", r)
        finally:
            stall.close()    # nginx answers the held requests 502 now
            for t in threads:
                if t.ident is not None:    # started
                    t.join(10)
            ng.stop()
        for i in (0, 1):
            check(i in held and held[i].status == 502,
                  "held request %d: %r, want nginx's 502 once the socket closed",
                  i, held.get(i))


def page_files(html_dir):
    out = []
    for base, dirs, files in os.walk(html_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.startswith("."):
                out.append(os.path.relpath(os.path.join(base, f), html_dir))
    return sorted(out)


def test_nginx_status_page(stack):
    fcgi = stack.env.get("CALLPIPE_FCGI_SOCKET") or os.path.join(stack.run_dir, "fcgi.sock")
    with tempfile.TemporaryDirectory(prefix="nginx-page-") as tmp:
        os.chmod(tmp, 0o755)
        ng = Nginx(stack, tmp, fcgi)
        html = ng.html_dir
        files = page_files(html) if os.path.isdir(html) else []
        check("index.html" in files, "no index.html in %s (files: %r)", html, files)
        check(any(f.endswith((".js", ".mjs")) for f in files),
              "no JavaScript module in %s (files: %r)", html, files)
        try:
            ng.start()
            with open(os.path.join(html, "index.html"), "rb") as f:
                index = f.read()
            for path in ("/", "/index.html"):
                r = ng.get(path)
                eq(r.status, 200, "GET %s (%r)" % (path, r))
                eq(media_type(r), "text/html", "GET %s Content-Type" % path)
                eq(r.body, index, "GET %s body vs nginx/html/index.html" % path)
                for k, v in PAGE_HEADERS.items():
                    eq(r.header(k), v, "GET %s header %s" % (path, k))
            served = 0
            for rel in files:
                ext = os.path.splitext(rel)[1].lower()
                if ext not in MIME:
                    continue
                path = "/" + rel.replace(os.sep, "/")
                r = ng.get(path)
                eq(r.status, 200, "GET %s (%r)" % (path, r))
                eq(media_type(r), MIME[ext], "GET %s Content-Type" % path)
                eq(r.header("x-content-type-options"), "nosniff", "GET %s nosniff" % path)
                with open(os.path.join(html, rel), "rb") as f:
                    eq(r.body, f.read(), "GET %s body" % path)
                served += 1
            check(served >= 2, "only %d page files checked: %r", served, files)
            # What index.html loads is there, and nothing comes from another host.
            for ref in REF_RE.findall(index.decode("utf-8", "replace")):
                if ref.startswith(("#", "data:", "mailto:")):
                    continue
                check(not re.match(r"^([a-z][a-z0-9+.-]*:)?//", ref, re.I),
                      "index.html loads %s from another host", ref)
                path = posixpath.normpath("/" + ref.split("#")[0].split("?")[0])
                r = ng.get(path)
                eq(r.status, 200, "index.html's %s (%r)" % (ref, r))
            for path in ("/.git/config", "/.index.html.swp", "/no-such-file.js",
                         "/_recordings/x.wav"):
                r = ng.get(path)
                eq(r.status, 404, "GET %s" % path)
        finally:
            ng.stop()
