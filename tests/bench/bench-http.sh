#!/usr/bin/env bash
# bench-http.sh: throughput and latency of callpipe through the real nginx
# (TLS) of the local stack, with wrk (Debian package wrk).
#
#   etc/dev.sh up && tests/bench/bench-http.sh [SECONDS] && etc/dev.sh down
#
# 1. POST /webhook/call_status: a correctly signed Twilio status callback
#    (signature check, form parsing, one upsert transaction in MariaDB).
# 2. GET /healthz: the FastCGI round trip plus a database ping.
# Targets (this machine: 2 cores, everything on loopback): the webhook
# should sustain well over 200 requests/s with p99 under 100 ms; these are
# figures to compare between changes, not a pass/fail test. Requests are
# bounded by time (default 10 s each) and go to 127.0.0.1 only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENV=${CALLPIPE_STACK_ENV:-$ROOT/run/stack.env}
SECS=${1:-10}
[ -f "$ENV" ] || { echo "bench-http: $ENV missing: run etc/dev.sh up first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench-http: wrk not found: apt-get install wrk" >&2; exit 1; }
set -a
# shellcheck disable=SC1090
. "$ENV"
set +a
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A signed call_status body, made by Twilio's own helper library.
/usr/bin/python3 - "$tmp/post.lua" <<'PY'
import os, sys, secrets, urllib.parse
from twilio.request_validator import RequestValidator
base = os.environ["CALLPIPE_BASE_URL"]
url = base + "/webhook/call_status"
params = {"AccountSid": os.environ["TWILIO_ACCOUNT_SID"],
          "CallSid": "CA" + secrets.token_hex(16), "CallStatus": "in-progress",
          "From": "+15550001111", "To": os.environ["CALLPIPE_BUSINESS_NUMBER"],
          "ApiVersion": "2010-04-01", "Direction": "inbound"}
sig = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
body = urllib.parse.urlencode(params)
with open(sys.argv[1], "w") as f:
    f.write('wrk.method = "POST"\n')
    f.write('wrk.body = "%s"\n' % body)
    f.write('wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
    f.write('wrk.headers["X-Twilio-Signature"] = "%s"\n' % sig)
    f.write('done = function(summary, latency, requests)\n'
            '  io.write(string.format("non-2xx or errors: %d\\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\n'
            'end\n')
PY

echo "== POST /webhook/call_status (signed), ${SECS}s, 2 threads, 8 connections"
wrk -t2 -c8 -d"${SECS}s" --latency -s "$tmp/post.lua" "$CALLPIPE_BASE_URL/webhook/call_status"
echo
echo "== GET /healthz, ${SECS}s, 2 threads, 8 connections"
wrk -t2 -c8 -d"${SECS}s" --latency "$CALLPIPE_BASE_URL/healthz"
