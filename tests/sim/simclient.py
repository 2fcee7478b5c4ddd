#!/usr/bin/python3
"""A small client of the Twilio simulator's control API (tests/sim/README.md).

    import simclient
    sim = simclient.SimClient("http://127.0.0.1:8089")
    c = sim.start_call(audio="/abs/run/audio/demo.wav", to="+15005550006")
    st = sim.wait_call(c["call_sid"], "completed", timeout=30)

Standard library only. Every error of the simulator (HTTP 4xx/5xx) raises
SimError with the status and the simulator's message.
"""

import json
import os
import time
import urllib.error
import urllib.request


class SimError(Exception):
    def __init__(self, status, message):
        super().__init__("twilio-sim answered %s: %s" % (status, message))
        self.status = status
        self.message = message


class SimClient:
    def __init__(self, base_url=None, timeout=10.0):
        """base_url defaults to $TWILIO_SIM_URL, then http://127.0.0.1:8089."""
        self.base_url = (base_url or os.environ.get("TWILIO_SIM_URL")
                         or "http://127.0.0.1:8089").rstrip("/")
        self.timeout = timeout

    def _request(self, method, path, body=None):
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base_url + path, data=data,
                                     headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                msg = json.loads(raw).get("error", raw.decode("utf-8", "replace"))
            except ValueError:
                msg = raw.decode("utf-8", "replace")
            raise SimError(e.code, msg) from None
        return json.loads(raw) if raw else None

    def health(self):
        return self._request("GET", "/sim/health")

    def start_call(self, **opts):
        """POST /sim/calls; returns {"call_sid", "recording_sid", "account_sid"}.

        Options are the control API's ("from" is a Python keyword: pass
        from_="+1..." or **{"from": "+1..."}).
        """
        if "from_" in opts:
            opts["from"] = opts.pop("from_")
        return self._request("POST", "/sim/calls", opts)

    def get_call(self, call_sid):
        """GET /sim/calls/<CallSid>: the call's full state."""
        return self._request("GET", "/sim/calls/" + call_sid)

    def wait_call(self, call_sid, state="completed", timeout=60.0, interval=0.1):
        """Poll until the call reaches state (or "failed"); returns its state.

        Raises TimeoutError after timeout seconds, and SimError (status None)
        when the call failed while another state was awaited.
        """
        deadline = time.monotonic() + timeout
        while True:
            st = self.get_call(call_sid)
            if st["state"] == state:
                return st
            if st["state"] == "failed":
                raise SimError(None, "call %s failed: %s" % (
                    call_sid, "; ".join(st["errors"])))
            if time.monotonic() >= deadline:
                raise TimeoutError("call %s still %s after %.1f s" % (
                    call_sid, st["state"], timeout))
            time.sleep(interval)

    def set_media(self, recording_sid, **settings):
        """POST /sim/recordings/<RecordingSid>/media: media_status,
        media_delay_s, media_404_seconds, audio_kind, media_rate."""
        return self._request("POST", "/sim/recordings/%s/media" % recording_sid,
                             settings)

    def events(self, call_sid, kind=None):
        """The requests the simulator sent for a call, optionally of one kind
        (voice, recording:in-progress, recording:completed, connect_action,
        call_status)."""
        evs = self.get_call(call_sid)["events"]
        return [e for e in evs if kind is None or e["kind"] == kind]
