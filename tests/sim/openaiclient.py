#!/usr/bin/python3
"""A small stdlib client of tests/sim/openai_sim.py (tests/sim/README.md).

    import openaiclient
    sim = openaiclient.OpenAISim("http://127.0.0.1:8090")
    sim.reset()
    sim.fault("transcriptions", "rate_limit", count=2, retry_after_ms=500)
    ...
    for r in sim.requests("transcriptions"):
        print(r["status"], r["fault"], r["file"]["filename"], r["matched"])

The control API needs no key. transcribe() and chat() call the simulated
OpenAI API itself (Bearer key), for the simulator's own self-check and for
tests that want to see exactly what the service answers; they return
Response(status, headers, body bytes) and never raise on an HTTP error.
"""

import json
import os
import secrets
import urllib.error
import urllib.request


class SimError(Exception):
    def __init__(self, status, message):
        super().__init__("openai-sim answered %s: %s" % (status, message))
        self.status = status
        self.message = message


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # dict, lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:200])


def multipart(fields, files):
    """(body, content type) of a multipart/form-data request.

    fields: list of (name, value) (repeat a name for several values, e.g.
    ("timestamp_granularities[]", "word")); files: list of (name, filename,
    content_type, data bytes); filename None = a part without a filename.
    """
    boundary = "----openaisim" + secrets.token_hex(12)
    out = []
    for name, value in fields:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                    % (boundary, name)).encode("utf-8"))
        out.append(str(value).encode("utf-8") + b"\r\n")
    for name, filename, ctype, data in files:
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        head = "--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp)
        if ctype:
            head += "Content-Type: %s\r\n" % ctype
        out.append((head + "\r\n").encode("utf-8"))
        out.append(data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode("utf-8"))
    return b"".join(out), "multipart/form-data; boundary=%s" % boundary


class OpenAISim:
    def __init__(self, base_url=None, timeout=30.0):
        """base_url defaults to $OPENAI_SIM_URL, then http://127.0.0.1:8090."""
        self.base_url = (base_url or os.environ.get("OPENAI_SIM_URL")
                         or "http://127.0.0.1:8090").rstrip("/")
        self.timeout = timeout

    # ---- control API ------------------------------------------------------

    def _control(self, method, path, body=None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                msg = json.loads(raw).get("error", raw.decode("utf-8", "replace"))
            except ValueError:
                msg = raw.decode("utf-8", "replace")
            raise SimError(e.code, msg) from None

    def health(self):
        return self._control("GET", "/_sim/health")

    def reset(self):
        """Clears the fault queues and the request log (not the manifest)."""
        return self._control("POST", "/_sim/reset", {})

    def fault(self, endpoint, kind, count=1, **kw):
        """Queue a fault: endpoint "transcriptions"|"chat"; kind rate_limit,
        insufficient_quota, server_error, overloaded, stall, truncated,
        bad_request (chat also invalid_json, length, refusal); count N or -1
        (every request); kw: retry_after_ms, retry_after_s, stall_s."""
        body = dict(kw, endpoint=endpoint, kind=kind, count=count)
        return self._control("POST", "/_sim/faults", body)

    def faults(self):
        return self._control("GET", "/_sim/faults")["faults"]

    def requests(self, endpoint=None):
        path = "/_sim/requests"
        if endpoint:
            path += "?endpoint=" + endpoint
        return self._control("GET", path)["requests"]

    def load_manifest(self, path):
        """Merge another manifest (e.g. make_audio.py --long's) into the known clips."""
        return self._control("POST", "/_sim/manifest", {"path": os.path.abspath(path)})

    def manifest(self):
        return self._control("GET", "/_sim/manifest")

    # ---- the simulated API ----------------------------------------------------

    def _api(self, path, body, ctype, key, timeout):
        headers = {"Content-Type": ctype}
        if key is not None:
            headers["Authorization"] = "Bearer " + key
        req = urllib.request.Request(self.base_url + path, data=body, headers=headers,
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()},
                                resp.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())

    def transcribe(self, key, audio, filename="call.wav", content_type="audio/wav",
                   fields=(("model", "whisper-1"),), timeout=None):
        """POST /v1/audio/transcriptions; audio bytes or None for no file part."""
        files = [] if audio is None else [("file", filename, content_type, audio)]
        body, ctype = multipart(list(fields), files)
        return self._api("/v1/audio/transcriptions", body, ctype, key, timeout)

    def chat(self, key, request, timeout=None):
        """POST /v1/chat/completions; request a dict (or bytes sent as they are)."""
        body = request if isinstance(request, bytes) else \
            json.dumps(request, ensure_ascii=False).encode("utf-8")
        return self._api("/v1/chat/completions", body, "application/json", key, timeout)
