#!/bin/sh
# tests/browser/run.sh: the status page's browser tests against the running
# stack (etc/dev.sh up --backends openai; dev.sh check runs this in its
# openai phase after `npm ci` here).
#
#   tests/browser/run.sh            all tests
#   BROWSER_TESTS=a,b run.sh        only those (names as printed)
#
# Reads run/stack.env ($CALLPIPE_STACK_ENV, else <repo>/run/stack.env),
# makes the calls the tests look at with fixture.py (Twilio and OpenAI
# simulators), then drives Debian's chromium ($CHROMIUM, default
# /usr/bin/chromium) with playwright-core from node_modules. Prints
# "PASS name" / "FAIL name: reason" per test and last "N passed, N failed";
# exit status 1 on any failure. Screenshots go to run/artifacts/
# (list-he.png, list-en.png, call-he.png, call-en.png).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
stack_env=${CALLPIPE_STACK_ENV:-$repo/run/stack.env}
chromium=${CHROMIUM:-/usr/bin/chromium}

fail() {
	echo "FAIL setup: $*"
	echo "0 passed, 1 failed"
	exit 1
}

[ -r "$stack_env" ] || fail "no $stack_env: start the stack (etc/dev.sh up --backends openai)"
run_dir=$(sed -n 's/^CALLPIPE_RUN=//p' "$stack_env" | tail -n 1)
[ -n "$run_dir" ] || run_dir=$repo/run
[ -x "$chromium" ] || fail "no $chromium (apt-get install chromium fonts-dejavu-core)"
command -v node >/dev/null 2>&1 || fail "no node (apt-get install nodejs npm)"
[ -d "$here/node_modules/playwright-core" ] || fail "no node_modules/playwright-core: run 'npm ci' in $here"

artifacts=$run_dir/artifacts
mkdir -p "$artifacts"
fixture=$artifacts/browser-fixture.json
rm -f "$fixture"

echo "browser: making the fixture's calls (fixture.py)"
/usr/bin/python3 "$here/fixture.py" "$stack_env" "$fixture" || fail "fixture.py failed"

export CHROMIUM="$chromium"
cd "$here"
exec node "$here/test.mjs" "$fixture" "$artifacts"
