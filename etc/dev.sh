#!/usr/bin/env bash
# etc/dev.sh: callpipe's local stack on one Debian 12 machine, as root.
#
#   etc/dev.sh deps            install the Debian packages that are missing
#   etc/dev.sh build           configure (once) and build out of tree in run/build
#   etc/dev.sh up [--backends offline|openai]
#                              build when stale, start MariaDB, callpipe-fcgi, nginx
#                              (the API and the status page of nginx/html/ at /)
#                              and the Twilio simulator under run/ and write
#                              run/stack.env; openai: also the OpenAI simulator on
#                              127.0.0.1:8090, both backends pointed at it
#   etc/dev.sh down            stop what up started (sims, nginx, callpipe-fcgi, MariaDB)
#                              and remove /run/callpipe-dev-<hash>/
#   etc/dev.sh demo [--keep] [--backends openai]
#                              deps, build, up, tests/sim/demo.py, down (unless
#                              --keep: then it prints the status page's URL and
#                              a token to sign in with); openai: the Hebrew call
#   etc/dev.sh check           deps, build, unit tests, up, DB test, offline
#                              integration tests, the fault suite (tests/fault),
#                              then callpipe-fcgi restarted with
#                              the openai backends, their integration tests and
#                              the browser tests (tests/browser/run.sh, chromium),
#                              down; last line "N passed, N failed"
#   etc/dev.sh env             print run/stack.env
#   etc/dev.sh db              MariaDB, database, user and run/callpipe.conf only
#                              (for working on the DB code before the programs run)
#   etc/dev.sh mariadb-restart stop and start MariaDB alone (same datadir/socket)
#
# CALLPIPE_CONFIGURE_FLAGS=--enable-sanitizers etc/dev.sh check runs the
# whole check (unit tests, stack, integration) on an ASan/UBSan build.
#
# up passes CALLPIPE_STT_BACKEND, CALLPIPE_STT_BASE_URL, CALLPIPE_STT_MODEL,
# CALLPIPE_STT_LANGUAGE, CALLPIPE_STT_API_KEY, CALLPIPE_SUMMARY_BACKEND,
# CALLPIPE_SUMMARY_BASE_URL, CALLPIPE_SUMMARY_MODEL and
# CALLPIPE_SUMMARY_API_KEY through to callpipe-fcgi and its workers (they win
# over run/callpipe.conf, e.g. to try a real service) and names those set;
# check and demo unset them, so tests always reach the simulators.
#
# Everything root alone uses lives under run/ of this checkout (git-ignored):
# the stack contract is in the project's shared notes, and run/stack.env
# tells the tests where everything is. callpipe-fcgi is started as root with
# process.user = "callpipe" (a system user "up" creates) and drops to it;
# nginx's workers run as www-data. A checkout may sit where those users
# cannot go (a 0700 home, as where CI clones), so what they reach lives in
# /run/callpipe-dev-<12 hex of sha256(checkout path)>/ (SVC_DIR):
#   callpipe.conf  0640 root:callpipe (run/callpipe.conf links to it)
#   bin/           callpipe-fcgi, callpipe-worker copied from run/build
#   html/          the status page, copied from nginx/html
#   fcgi/          callpipe:www-data 0750; fcgi.sock callpipe:www-data 0660
#   cache/         recording.cache_dir: callpipe:www-data 2750 (callpipe-fcgi
#                  makes it so itself, as root, before it drops)
#   mysql/         mysqld.sock (MariaDB runs as root; datadir in run/mysql)
#   nginx/         nginx's temporary files (its workers write there)
# "down" removes it. Nothing here uses the system's MariaDB or nginx
# services: our MariaDB has its own datadir and socket and no TCP, our nginx
# listens on 127.0.0.1:8443 only (plus CALLPIPE_DEV_PORT_OFFSET), so a Debian postinst that started the system
# services on /run/mysqld/mysqld.sock or port 80 collides with nothing.
# Processes are started with setsid (their own session, so stopping a shell's
# job does not take the stack down) and stopped by the pids recorded in
# run/pids/, never by name.
set -euo pipefail
umask 022
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RUN=$ROOT/run
SVC_DIR=/run/callpipe-dev-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
# "down" runs rm -rf on it: only ever this exact shape.
[[ $SVC_DIR =~ ^/run/callpipe-dev-[0-9a-f]{12}$ ]] ||
	{ printf 'dev.sh: error: bad service directory %s\n' "$SVC_DIR" >&2; exit 1; }
SVC_USER=callpipe
NGINX_USER=www-data
SVC_BIN=$SVC_DIR/bin
BUILD=$RUN/build
LOG=$RUN/log
PIDS=$RUN/pids
SECRETS=$RUN/secrets
STACK_ENV=$RUN/stack.env
CONF=$SVC_DIR/callpipe.conf
CONF_LINK=$RUN/callpipe.conf
SAMPLE_CONF=$ROOT/etc/callpipe.conf
TLS_CERT=$RUN/tls/cert.pem
TLS_KEY=$RUN/tls/key.pem
MYSQL_DIR=$RUN/mysql
MYSQL_DATA=$MYSQL_DIR/data
MYSQL_SOCK=$SVC_DIR/mysql/mysqld.sock
MYSQL_PIDFILE=$MYSQL_DIR/mysqld.pid
MYSQL_DATABASE=callpipe
MYSQL_USER=callpipe
NGINX_DIR=$RUN/nginx
NGINX_TMP=$SVC_DIR/nginx
FCGI_SOCK=$SVC_DIR/fcgi/fcgi.sock
CACHE_DIR=$SVC_DIR/cache
HTML_SRC=$ROOT/nginx/html
HTML_DIR=$SVC_DIR/html
BROWSER_DIR=$ROOT/tests/browser
RECORDINGS_PREFIX=/_recordings/
AUDIO_DIR=$RUN/audio
SIM_STATE=$RUN/sim
TEST_OUT=$RUN/test-output

BIN_FCGI=$BUILD/fcgi-app/callpipe-fcgi/callpipe-fcgi
BIN_WORKER=$BUILD/fcgi-app/callpipe-worker/callpipe-worker
BIN_CTL=$BUILD/fcgi-app/callpipectl/callpipectl
# What callpipe-fcgi runs from (svc_install copies them): after the drop it
# execs the worker as callpipe, who may not reach run/build.
SVC_FCGI=$SVC_BIN/callpipe-fcgi
SVC_WORKER=$SVC_BIN/callpipe-worker

HTTPS_HOST=127.0.0.1
# CALLPIPE_DEV_PORT_OFFSET (default 0) shifts the three ports, so a second
# checkout can run its own stack beside this one (its MariaDB is a socket).
PORT_OFFSET=${CALLPIPE_DEV_PORT_OFFSET:-0}
case $PORT_OFFSET in ''|*[!0-9]*) echo "dev.sh: CALLPIPE_DEV_PORT_OFFSET must be a number" >&2; exit 2 ;; esac
HTTPS_PORT=$((8443 + PORT_OFFSET))
BASE_URL=https://$HTTPS_HOST:$HTTPS_PORT
SIM_LISTEN=127.0.0.1:$((8089 + PORT_OFFSET))
SIM_URL=http://$SIM_LISTEN
OPENAI_SIM_LISTEN=127.0.0.1:$((8090 + PORT_OFFSET))
OPENAI_SIM_URL=http://$OPENAI_SIM_LISTEN
MANIFEST=$AUDIO_DIR/manifest.json
# What make_audio.py writes (tests/sim/README.md): the 16 kHz English clips of
# pocketsphinx and the offline demo, and the 8 kHz clips of the openai
# backends with the manifest the OpenAI simulator recognises them by.
AUDIO_OFFLINE=(demo.wav short.wav)
AUDIO_OPENAI=(he_call.wav en_call.wav silent_agent.wav long25.wav manifest.json)
# nginx's per-address limits on /api/ (nginx/render.sh; a real host keeps
# its defaults, 10r/s, burst 50, 16 at once): the whole suite, browser
# included, comes from 127.0.0.1, so the local stack allows far more.
NGINX_API_RATE=200r/s
NGINX_API_BURST=1000
NGINX_API_CONN=64
# The same for /webhook/ (a real host: 100r/s, burst 500): the benchmarks
# and the suite send every webhook from 127.0.0.1.
NGINX_WEBHOOK_RATE=50000r/s
NGINX_WEBHOOK_BURST=50000
# The browser tests' runner (tests/browser/run.sh) has this long at most.
BROWSER_TIMEOUT_S=600
# The fault suite's runner (tests/fault/run.py) keeps to 360 s itself; this
# is the hard stop, with room for a timed-out test to put the stack back.
FAULT_TIMEOUT_S=420
DEMO_NAME="Demo Plumbing"
DEMO_NUMBER=+15005550006
PY=/usr/bin/python3

# Debian 12 packages: the build, the stack, the simulator and the tests.
# nginx is checked apart: any of Debian's nginx flavours will do.
PKGS=(build-essential autoconf automake pkg-config
	libfcgi-dev libcurl4-openssl-dev libmariadb-dev libjson-c-dev
	libconfig-dev libssl-dev libsndfile1-dev check
	libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
	pocketsphinx-testdata pocketsphinx libsoxr-dev
	mariadb-server mariadb-client
	python3 python3-twilio python3-pymysql python3-numpy python3-prometheus-client
	flite espeak-ng sox libsox-fmt-mp3
	openssl curl ca-certificates valgrind procps psmisc util-linux
	chromium fonts-dejavu-core systemd mandoc)
# chromium is the browser tests' browser (driven by playwright-core from
# npm); DejaVu Sans has the Hebrew glyphs of the page's Hebrew mode (a
# minimal system may have no font with them, and chromium draws boxes).
# nodejs and npm only when no node is on PATH: a newer Node installed
# another way (nodesource, nvm) must not be replaced by Debian's.
NODE_PKGS=(nodejs npm)
NGINX_FLAVOURS=(nginx-light nginx-core nginx-full nginx-extras nginx)

# The environment wins over callpipe.conf for these (etc/callpipe.conf):
# a value left in the caller's shell would silently disagree with the
# simulator's account and the generated database password.
unset CALLPIPE_TWILIO_AUTH_TOKEN CALLPIPE_TWILIO_ACCOUNT_SID CALLPIPE_DB_USER \
	CALLPIPE_DB_PASSWORD CALLPIPE_SIGNING_KEY CALLPIPE_OPENAI_API_KEY
export CALLPIPE_STACK_ENV=$STACK_ENV
# ... and for these, which "up" passes through to callpipe-fcgi on purpose
# (to point the local stack at a real service); check and demo unset them.
PASS_ENV=(CALLPIPE_STT_BACKEND CALLPIPE_STT_BASE_URL CALLPIPE_STT_MODEL
	CALLPIPE_STT_LANGUAGE CALLPIPE_STT_API_KEY CALLPIPE_SUMMARY_BACKEND
	CALLPIPE_SUMMARY_BASE_URL CALLPIPE_SUMMARY_MODEL CALLPIPE_SUMMARY_API_KEY)

# The backends "up" configures: offline (pocketsphinx, rules) or openai (both
# OpenAI-compatible, at the OpenAI simulator). Set by --backends.
BACKENDS=offline
DEPS_DONE=0         # cmd_deps ran in this invocation

# State of the EXIT handler (on_exit).
DOWN_ON_EXIT=0      # stop the stack when the script ends
CHECK_MODE=0        # print the "N passed, N failed" line at the end
TESTS_TOTAL=0
TESTS_FAILED=0

say() { printf '==> %s\n' "$*"; }
warn() { printf 'dev.sh: warning: %s\n' "$*" >&2; }
die() { printf 'dev.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '4,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# run/ paths go into nginx directives, libconfig strings and KEY=value lines
# unquoted; unix socket paths are limited to 107 bytes (sun_path).
check_paths() {
	[[ $ROOT =~ ^[A-Za-z0-9_./+@,:-]+$ ]] ||
		die "the checkout path '$ROOT' has characters (spaces, quotes, ...) the generated configs cannot hold: clone it elsewhere"
	local s
	for s in "$MYSQL_SOCK" "$FCGI_SOCK"; do
		[ ${#s} -le 100 ] || die "socket path $s is longer than 100 bytes (unix sockets allow 107): clone the checkout to a shorter path"
	done
}

# ---------------------------------------------------------------- processes

# Prints the pid recorded in run/pids/NAME.pid; fails when there is none.
pid_of() {
	local f=$PIDS/$1.pid p
	[ -r "$f" ] || return 1
	p=$(tr -dc '0-9' <"$f")
	[ -n "$p" ] || return 1
	printf '%s\n' "$p"
}

# True when PID is a live (not zombie) process whose command line contains
# PATTERN (when given): a pid file can outlive its process and the pid be
# reused by something else, which must never be signalled.
proc_alive() {
	local pid=$1 pat=${2:-} stat state
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	case $state in Z|X|x) return 1 ;; esac
	[ -z "$pat" ] && return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pat"
}

svc_running() {
	local pid
	pid=$(pid_of "$1") || return 1
	proc_alive "$pid" "$2"
}

# Waits up to TENTHS tenths of a second for PID to end.
wait_gone() {
	local pid=$1 n=$2
	while [ "$n" -gt 0 ] && proc_alive "$pid"; do
		sleep 0.1
		n=$((n - 1))
	done
	! proc_alive "$pid"
}

# True when a live process is in process group PGID.
group_alive() {
	local p
	for p in $(pgrep -g "$1" 2>/dev/null); do
		proc_alive "$p" && return 0
	done
	return 1
}

# start_bg NAME LOGFILE COMMAND...: runs COMMAND in its own session (setsid),
# standard input from /dev/null, output appended to LOGFILE; its pid goes to
# run/pids/NAME.pid, written by the process itself before exec so it is the
# program's pid whether or not setsid had to fork.
start_bg() {
	local name=$1 log=$2 n=50
	shift 2
	rm -f "$PIDS/$name.pid"
	# shellcheck disable=SC2016
	setsid sh -c 'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"' \
		"$PIDS/$name.pid" "$@" </dev/null >>"$log" 2>&1 &
	# Out of the job table: bash would report its end ("Terminated") later.
	disown $!
	while [ "$n" -gt 0 ] && [ ! -s "$PIDS/$name.pid" ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ -s "$PIDS/$name.pid" ] || die "$name did not start (no pid file after 5 s): see $log"
}

# stop_svc NAME PATTERN: TERM, up to 15 s, then KILL; then whatever is left
# of its process group (each service leads its own: setsid, or nginx's own
# daemon) gets the same. Harmless when it is not running.
stop_svc() {
	local name=$1 pat=$2 pid
	if ! pid=$(pid_of "$name"); then
		return 0
	fi
	if ! proc_alive "$pid"; then
		rm -f "$PIDS/$name.pid"
		return 0
	fi
	if ! proc_alive "$pid" "$pat"; then
		warn "$name: pid $pid in $PIDS/$name.pid is not '$pat' any more; leaving it alone"
		rm -f "$PIDS/$name.pid"
		return 0
	fi
	say "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" 150; then
		warn "$name (pid $pid) still running 15 s after TERM: sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" 50 || warn "$name (pid $pid) survived KILL"
	fi
	if group_alive "$pid"; then
		warn "$name left processes in its group $pid: TERM, then KILL"
		kill -TERM -- "-$pid" 2>/dev/null || true
		local n=50
		while [ "$n" -gt 0 ] && group_alive "$pid"; do
			sleep 0.1
			n=$((n - 1))
		done
		if group_alive "$pid"; then
			kill -KILL -- "-$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$PIDS/$name.pid"
}

tail_log() {
	local f=$1 n=${2:-30}
	[ -f "$f" ] || return 0
	printf -- '----- last %s lines of %s\n' "$n" "$f" >&2
	tail -n "$n" "$f" >&2
	printf -- '-----\n' >&2
}

# ---------------------------------------------------------------- secrets

# run/secrets: KEY=value lines (mode 0600), generated once and kept, so the
# account SID, passwords and the demo token survive down/up.
secret_get() {
	[ -f "$SECRETS" ] || return 0
	sed -n "s/^$1=//p" "$SECRETS" | tail -n 1
}

secret_set() {
	local tmp=$SECRETS.tmp.$$
	(
		umask 077
		if [ -f "$SECRETS" ]; then
			grep -v "^$1=" "$SECRETS" >"$tmp" || true
		fi
		printf '%s=%s\n' "$1" "$2" >>"$tmp"
		chmod 600 "$tmp"
	)
	mv -f "$tmp" "$SECRETS"
}

# secret_ensure KEY HEXBYTES [PREFIX]: the kept value, or a new random one.
secret_ensure() {
	local v
	v=$(secret_get "$1")
	if [ -z "$v" ]; then
		v=${3:-}$(openssl rand -hex "$2")
		secret_set "$1" "$v"
	fi
	printf '%s\n' "$v"
}

# ---------------------------------------------------------------- deps

pkg_installed() {
	dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

cmd_deps() {
	local missing=() p have_nginx=0
	[ "$DEPS_DONE" = 0 ] || return 0
	DEPS_DONE=1
	command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects Debian 12"
	for p in "${PKGS[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	for p in "${NGINX_FLAVOURS[@]}"; do
		pkg_installed "$p" && have_nginx=1
	done
	[ "$have_nginx" = 1 ] || missing+=(nginx-light)
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		for p in "${NODE_PKGS[@]}"; do
			pkg_installed "$p" || missing+=("$p")
		done
	fi
	if [ ${#missing[@]} -eq 0 ]; then
		say "deps: all Debian packages present"
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		die "missing Debian packages: ${missing[*]}; run this as root (no sudo is used) or install them: apt-get install ${missing[*]}"
	fi
	say "deps: installing ${missing[*]}"
	apt-get update
	# mariadb-server's and nginx's postinst may start the system services
	# (default socket, port 80); the local stack does not use or collide
	# with them.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	for p in "${missing[@]}"; do
		pkg_installed "$p" || die "package $p is still not installed after apt-get install"
	done
}

# ---------------------------------------------------------------- build

cmd_build() {
	command -v make >/dev/null || die "make not found: run 'etc/dev.sh deps' first"
	if [ ! -x "$ROOT/configure" ]; then
		say "build: generating configure (autogen.sh)"
		(cd "$ROOT" && ./autogen.sh) || die "autogen.sh failed"
	fi
	if [ -f "$ROOT/config.status" ]; then
		die "the source tree $ROOT is configured in place (config.status); the out-of-tree build in run/build needs it clean: run 'make distclean' there"
	fi
	mkdir -p "$BUILD"
	# CALLPIPE_CONFIGURE_FLAGS adds configure options, e.g.
	# --enable-sanitizers to run the whole check under ASan/UBSan; a change
	# of flags configures the build directory again.
	local flags="--enable-werror ${CALLPIPE_CONFIGURE_FLAGS:-}"
	if [ ! -f "$BUILD/Makefile" ] || [ "$(cat "$BUILD/.configure-flags" 2>/dev/null)" != "$flags" ]; then
		say "build: configure $flags in $BUILD"
		# shellcheck disable=SC2086
		(cd "$BUILD" && "$ROOT/configure" $flags -q) ||
			die "configure failed: see $BUILD/config.log"
		printf '%s\n' "$flags" >"$BUILD/.configure-flags"
		make -C "$BUILD" clean >/dev/null
	fi
	say "build: make -j2 in $BUILD"
	make -C "$BUILD" -j2 || die "build failed: the compiler's messages are above"
	local b
	for b in "$BIN_FCGI" "$BIN_WORKER" "$BIN_CTL"; do
		[ -x "$b" ] || die "build finished but $b is missing"
	done
	say "build: ok"
}

# True (and names why) when a program is missing or a source of the programs
# (fcgi-app/, configure.ac, Makefile.am) is newer than one of them: "up"
# builds first then, so it works in a fresh clone and after an edit.
build_stale() {
	local b newer
	for b in "$BIN_FCGI" "$BIN_WORKER" "$BIN_CTL"; do
		if [ ! -x "$b" ]; then
			say "build: $b is missing"
			return 0
		fi
		newer=$(find "$ROOT/fcgi-app" "$ROOT/configure.ac" "$ROOT/Makefile.am" \
			-type f -newer "$b" -print -quit 2>/dev/null) || true
		if [ -n "$newer" ]; then
			say "build: ${newer#"$ROOT"/} is newer than $(basename "$b")"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- TLS

tls_ensure() {
	mkdir -p "$RUN/tls"
	if [ -s "$TLS_CERT" ] && [ -s "$TLS_KEY" ] &&
		openssl x509 -checkend 86400 -noout -in "$TLS_CERT" >/dev/null 2>&1; then
		return 0
	fi
	say "TLS: self-signed certificate for 127.0.0.1 (30 days)"
	(
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
			-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
			-keyout "$TLS_KEY.tmp" -out "$TLS_CERT.tmp" >"$LOG/openssl.log" 2>&1
	) || { tail_log "$LOG/openssl.log"; die "openssl req failed"; }
	chmod 644 "$TLS_CERT.tmp"
	mv -f "$TLS_KEY.tmp" "$TLS_KEY"
	mv -f "$TLS_CERT.tmp" "$TLS_CERT"
	# A running nginx keeps the old certificate until it reloads.
	if svc_running nginx nginx; then
		nginx_cmd -s reload || warn "nginx reload failed"
	fi
}

# ---------------------------------------------------------------- MariaDB

sql_root() {
	mariadb --no-defaults --socket="$MYSQL_SOCK" -u root --batch --skip-column-names "$@"
}

mariadb_init() {
	# The marker is written only after a complete initialisation, so an
	# install-db that was interrupted is redone from scratch.
	[ -f "$MYSQL_DIR/.initialized" ] && return 0
	say "MariaDB: initialising $MYSQL_DATA"
	rm -rf "$MYSQL_DATA"
	mkdir -p "$MYSQL_DATA"
	# --user=root: we run as root and the datadir stays root's; root logs in
	# through unix_socket authentication (no password anywhere).
	# --force --skip-name-resolve: a minimal machine may have no /etc/hosts
	# entry for localhost, and install-db then refuses ("Neither host ...
	# could be looked up with resolveip"); we only ever use the unix socket.
	mariadb-install-db --no-defaults --user=root --datadir="$MYSQL_DATA" \
		--auth-root-authentication-method=socket --skip-test-db \
		--force --skip-name-resolve \
		>"$LOG/mariadb-install.log" 2>&1 ||
		{ tail_log "$LOG/mariadb-install.log"; die "mariadb-install-db failed"; }
	touch "$MYSQL_DIR/.initialized"
}

mariadb_start() {
	mkdir -p "$MYSQL_DIR" "$LOG" "$PIDS" "$(dirname "$MYSQL_SOCK")"
	if svc_running mariadb mariadbd; then
		say "MariaDB: already running (pid $(pid_of mariadb))"
	else
		mariadb_init
		rm -f "$MYSQL_SOCK" "$MYSQL_PIDFILE"
		say "MariaDB: starting on $MYSQL_SOCK (no TCP)"
		# --no-defaults: nothing from /etc/mysql (its socket, port, datadir);
		# the character set is the one Debian's config would have given.
		start_bg mariadb "$LOG/mariadb.log" mariadbd --no-defaults --user=root \
			--datadir="$MYSQL_DATA" --socket="$MYSQL_SOCK" \
			--pid-file="$MYSQL_PIDFILE" --skip-networking --skip-name-resolve \
			--log-error="$LOG/mariadb.log" \
			--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
			--innodb-buffer-pool-size=64M
	fi
	local deadline=$((SECONDS + 60)) pid
	pid=$(pid_of mariadb)
	until mariadb-admin --no-defaults --socket="$MYSQL_SOCK" -u root ping >/dev/null 2>&1; do
		if ! proc_alive "$pid"; then
			tail_log "$LOG/mariadb.log"
			die "mariadbd exited during start-up: see $LOG/mariadb.log"
		fi
		[ "$SECONDS" -lt "$deadline" ] || { tail_log "$LOG/mariadb.log"; die "MariaDB did not answer on $MYSQL_SOCK within 60 s"; }
		sleep 0.1
	done
}

# The database and its user; the password is generated once (run/secrets)
# and set again each time, so a lost datadir or secrets file heals itself.
mariadb_setup() {
	local pw
	pw=$(secret_ensure DB_PASSWORD 16)
	# callpipe_* databases too: scratch schemas of DB tests.
	sql_root <<-SQL || die "creating the database and user failed"
		CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`
		  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
		CREATE USER IF NOT EXISTS '$MYSQL_USER'@'localhost' IDENTIFIED BY '$pw';
		ALTER USER '$MYSQL_USER'@'localhost' IDENTIFIED BY '$pw';
		GRANT ALL PRIVILEGES ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'localhost';
		GRANT ALL PRIVILEGES ON \`callpipe\\_%\`.* TO '$MYSQL_USER'@'localhost';
	SQL
}

# ---------------------------------------------------------------- config

# The local stack's values of run/callpipe.conf, "key<TAB>value" lines
# (libconfig values: strings quoted). With the openai backends both point at
# the OpenAI simulator, with its key and short timeouts (timeout_ms 5000; the
# simulator says retry-after 1 s) so that the retry tests stay quick.
conf_overrides() {
	local sid tok pw key okey level=${CALLPIPE_LOG_LEVEL:-info}
	sid=$(secret_ensure TWILIO_ACCOUNT_SID 16 AC)
	tok=$(secret_ensure TWILIO_AUTH_TOKEN 16)
	pw=$(secret_ensure DB_PASSWORD 16)
	key=$(secret_ensure SIGNING_KEY 32)
	cat <<-EOF
		public_base_url	"$BASE_URL"
		database.socket	"$MYSQL_SOCK"
		database.host	""
		database.user	"$MYSQL_USER"
		database.password	"$pw"
		database.name	"$MYSQL_DATABASE"
		twilio.account_sid	"$sid"
		twilio.auth_token	"$tok"
		twilio.api_base	"$SIM_URL"
		stream.url	"wss://$HTTPS_HOST:$HTTPS_PORT/agent-stream"
		recording.cache_dir	"$CACHE_DIR"
		recording.nginx_internal_prefix	"$RECORDINGS_PREFIX"
		fcgi.socket	"$FCGI_SOCK"
		fcgi.socket_mode	"0660"
		fcgi.children	2
		fcgi.max_requests	50
		worker.processes	2
		worker.binary	"$SVC_WORKER"
		fcgi.socket_group	"$NGINX_USER"
		recording.cache_group	"$NGINX_USER"
		process.user	"$SVC_USER"
		worker.lease_seconds	60
		worker.max_attempts	4
		worker.backoff_base_ms	500
		worker.backoff_max_ms	4000
		worker.reconcile_delay_s	4
		worker.sweep_interval_s	2
		worker.sweep_after_s	8
		api.signing_key	"$key"
		log.level	"$level"
	EOF
	if [ "$BACKENDS" = openai ]; then
		okey=$(secret_ensure OPENAI_SIM_API_KEY 24 sk-sim-)
		cat <<-EOF
			stt.backend	"openai"
			stt.openai.base_url	"$OPENAI_SIM_URL/v1"
			stt.openai.api_key	"$okey"
			stt.openai.timeout_ms	5000
			summary.backend	"openai"
			summary.openai.base_url	"$OPENAI_SIM_URL/v1"
			summary.openai.api_key	"$okey"
			summary.openai.timeout_ms	5000
		EOF
	fi
}

# Writes run/callpipe.conf: etc/callpipe.conf (every key, the gazetteers,
# the comments) with the local stack's values put in, so the two never drift
# apart. A key of conf_overrides that the sample lacks stops here, loudly.
conf_write() {
	local ov tmp=$CONF.tmp.$$
	[ -r "$SAMPLE_CONF" ] || die "$SAMPLE_CONF is missing"
	ov=$(conf_overrides) || die "could not make the settings of $CONF"
	(
		umask 077
		{
			printf '# Generated by etc/dev.sh from etc/callpipe.conf for the local stack\n'
			printf '# (run/): rewritten at every "up"; edit etc/dev.sh, not this file.\n\n'
			awk -v tab='\t' '
			FNR == NR { i = index($0, tab); ov[substr($0, 1, i - 1)] = substr($0, i + 1); next }
			/^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*=[ \t]*\{/ {
				k = $0; sub(/^[ \t]*/, "", k); sub(/[ \t]*=.*/, "", k)
				group[++depth] = k; print; next
			}
			/^[ \t]*\}[ \t]*;/ { if (depth > 0) depth--; print; next }
			match($0, /^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*=[ \t]*("[^"]*"|[-+.0-9A-Za-z_]+)[ \t]*;/) {
				head = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
				k = head; sub(/^[ \t]*/, "", k); sub(/[ \t]*=.*/, "", k)
				path = k
				for (i = depth; i >= 1; i--) path = group[i] "." path
				if (path in ov) {
					indent = head; sub(/[^ \t].*/, "", indent)
					print indent k " = " ov[path] ";" rest
					done[path] = 1
					next
				}
			}
			{ print }
			END {
				bad = 0
				for (p in ov) if (!(p in done)) {
					print "dev.sh: etc/callpipe.conf has no key " p " (or not as \"key = value;\" on one line)" > "/dev/stderr"
					bad = 1
				}
				exit bad
			}' - "$SAMPLE_CONF" <<<"$ov"
		} >"$tmp"
	) || { rm -f "$tmp"; die "could not write $CONF from $SAMPLE_CONF"; }
	# It holds secrets: the service user's group reads it, nobody else
	# (callpipe-fcgi refuses a world-readable one; its workers, already
	# callpipe, read it again). run/callpipe.conf points to it.
	chown "root:$SVC_USER" "$tmp" && chmod 0640 "$tmp" ||
		{ rm -f "$tmp"; die "could not give $tmp to root:$SVC_USER 0640"; }
	ln -sfn "$CONF" "$CONF_LINK"
	if [ -f "$CONF" ] && cmp -s "$tmp" "$CONF"; then
		rm -f "$tmp"
		return 0
	fi
	mv -f "$tmp" "$CONF"
	say "config: wrote $CONF ($BACKENDS backends; 0640 root:$SVC_USER)"
	# A running callpipe-fcgi is restarted by fcgi_start (its start stamp
	# names the configuration it read).
}

# ---------------------------------------------------------------- callpipectl

need_programs() {
	local b
	for b in "$BIN_FCGI" "$BIN_WORKER" "$BIN_CTL"; do
		[ -x "$b" ] || die "$b is missing: run 'etc/dev.sh build' first (or the build failed)"
	done
}

ctl() {
	"$BIN_CTL" -c "$CONF" "$@"
}

ctl_migrate() {
	say "callpipectl migrate"
	ctl migrate || die "'callpipectl -c $CONF migrate' failed (exit $?): the messages above are callpipectl's"
}

# The demo business, created once: the database is the record of whether it
# exists (its number maps to it), so a fresh datadir gets a fresh one.
# Prints the id (standard output is the result: messages go to stderr).
demo_business() {
	local bid out
	bid=$(sql_root -e "SELECT business_id FROM \`$MYSQL_DATABASE\`.business_numbers WHERE number='$DEMO_NUMBER'") ||
		die "could not query business_numbers (did migrate create it?)"
	if [ -z "$bid" ]; then
		say "callpipectl business create --name '$DEMO_NAME' --number $DEMO_NUMBER" >&2
		out=$(ctl business create --name "$DEMO_NAME" --number "$DEMO_NUMBER") ||
			die "'callpipectl business create' failed (exit $?)"
		bid=$(printf '%s\n' "$out" | awk 'NF { l = $0 } END { print l }' | tr -d '[:space:]')
		[[ $bid =~ ^[0-9]+$ ]] ||
			die "'callpipectl business create' printed '$out'; expected the new business id"
		local check
		check=$(sql_root -e "SELECT business_id FROM \`$MYSQL_DATABASE\`.business_numbers WHERE number='$DEMO_NUMBER'")
		[ "$check" = "$bid" ] ||
			die "'callpipectl business create' printed id $bid but business_numbers maps $DEMO_NUMBER to '${check:-nothing}'"
	fi
	printf '%s\n' "$bid"
}

# The demo API token: shown once by callpipectl and kept in run/secrets; the
# database keeps only its SHA-256 (hex), which tells whether the kept token
# still works after a datadir was recreated.
demo_token() {
	local bid=$1 tok out n
	tok=$(secret_get API_TOKEN)
	if [ -n "$tok" ]; then
		n=$(sql_root -e "SELECT COUNT(*) FROM \`$MYSQL_DATABASE\`.api_tokens WHERE business_id=$bid AND revoked_at IS NULL AND token_sha256='$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)'")
		[ "$n" = 1 ] || tok=""
	fi
	if [ -z "$tok" ]; then
		say "callpipectl token create --business $bid --name demo" >&2
		out=$(ctl token create --business "$bid" --name demo) ||
			die "'callpipectl token create' failed (exit $?)"
		tok=$(printf '%s\n' "$out" | awk 'NF { l = $0 } END { print l }' | tr -d '[:space:]')
		[[ $tok =~ ^[A-Za-z0-9._~+/=-]{16,}$ ]] ||
			die "'callpipectl token create' printed '$out'; expected one token (16+ characters, no spaces)"
		secret_set API_TOKEN "$tok"
		n=$(sql_root -e "SELECT COUNT(*) FROM \`$MYSQL_DATABASE\`.api_tokens WHERE business_id=$bid AND token_sha256='$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)'")
		[ "$n" = 1 ] || warn "api_tokens has no row with the SHA-256 of the printed token: the next 'up' will create another"
	fi
	printf '%s\n' "$tok"
}

# ---------------------------------------------------------------- callpipe-fcgi

# Names the variables of PASS_ENV that are set (names only: the values may
# be keys).
pass_env_names() {
	local v names=()
	for v in "${PASS_ENV[@]}"; do
		[ -n "${!v+x}" ] && names+=("$v")
	done
	printf '%s\n' "${names[*]}"
}

# What a callpipe-fcgi master was started with, one "what checksum" line
# each: its configuration, the PASS_ENV values it inherited (salted, so the
# file says nothing about a key) and its programs. Kept beside its pid file.
fcgi_stamp() {
	local salt v
	salt=$(secret_ensure STAMP_SALT 16)
	printf 'config %s\n' "$(sha256sum <"$CONF" | cut -d' ' -f1)"
	printf 'environment %s\n' "$(
		{
			printf '%s\n' "$salt"
			for v in "${PASS_ENV[@]}"; do
				if [ -n "${!v+x}" ]; then printf '%s=%s\n' "$v" "${!v}"; fi
			done
		} | sha256sum | cut -d' ' -f1)"
	printf 'programs %s\n' "$(stat -c '%n %s %Y' "$BIN_FCGI" "$BIN_WORKER" | sha256sum | cut -d' ' -f1)"
}

fcgi_start() {
	local stamp_file=$PIDS/callpipe-fcgi.stamp stamp what names
	stamp=$(fcgi_stamp)
	names=$(pass_env_names)
	if [ -n "$names" ]; then
		say "callpipe-fcgi: from the environment (they win over $CONF): $names"
	fi
	if svc_running callpipe-fcgi callpipe-fcgi; then
		if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
			say "callpipe-fcgi: already running (pid $(pid_of callpipe-fcgi))"
			return 0
		fi
		what=$(diff <(cat "$stamp_file" 2>/dev/null) <(printf '%s\n' "$stamp") |
			sed -n 's/^> \([a-z]*\) .*/\1/p' | paste -sd, -) || true
		say "callpipe-fcgi: restarting (changed since it started: ${what:-unknown})"
		stop_svc callpipe-fcgi callpipe-fcgi
	fi
	rm -f "$stamp_file"
	# A socket left by a killed master would make its bind() fail.
	rm -f "$FCGI_SOCK"
	say "callpipe-fcgi: starting as root, dropping to $SVC_USER ($FCGI_SOCK, log $LOG/callpipe-fcgi.log)"
	start_bg callpipe-fcgi "$LOG/callpipe-fcgi.log" "$SVC_FCGI" -c "$CONF"
	local deadline=$((SECONDS + 20)) pid
	pid=$(pid_of callpipe-fcgi)
	until [ -S "$FCGI_SOCK" ]; do
		if ! proc_alive "$pid"; then
			tail_log "$LOG/callpipe-fcgi.log"
			rm -f "$PIDS/callpipe-fcgi.pid"
			die "callpipe-fcgi exited during start-up: see $LOG/callpipe-fcgi.log"
		fi
		[ "$SECONDS" -lt "$deadline" ] || { tail_log "$LOG/callpipe-fcgi.log"; die "callpipe-fcgi did not create $FCGI_SOCK within 20 s"; }
		sleep 0.1
	done
	printf '%s\n' "$stamp" >"$stamp_file"
}

# ---------------------------------------------------------------- nginx

nginx_cmd() {
	nginx -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -e "$LOG/nginx-error.log" "$@"
}

# replace_if_changed NEW DEST: moves NEW over DEST unless they are equal;
# true when DEST changed.
replace_if_changed() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		rm -f "$1"
		return 1
	fi
	mv -f "$1" "$2"
}

# Renders nginx/callpipe.conf.in (the site a real host installs) and wraps it
# in a minimal main config. True when a file changed.
nginx_render() {
	local changed=1 tmp
	mkdir -p "$NGINX_DIR" "$LOG" "$PIDS"
	[ -r /etc/nginx/fastcgi_params ] || die "/etc/nginx/fastcgi_params missing (Debian's nginx-common ships it)"
	# The site says "include fastcgi_params;", which nginx resolves beside
	# the main config: run/nginx/fastcgi_params.
	cp /etc/nginx/fastcgi_params "$NGINX_DIR/fastcgi_params.tmp"
	replace_if_changed "$NGINX_DIR/fastcgi_params.tmp" "$NGINX_DIR/fastcgi_params" && changed=0
	"$ROOT/nginx/render.sh" -o "$NGINX_DIR/callpipe.conf.tmp" \
		SERVER_NAME="$HTTPS_HOST" LISTEN="$HTTPS_HOST:$HTTPS_PORT" \
		SSL_CERT="$TLS_CERT" SSL_KEY="$TLS_KEY" FCGI_SOCKET="$FCGI_SOCK" \
		CACHE_DIR="$CACHE_DIR" RECORDINGS_PREFIX="$RECORDINGS_PREFIX" \
		HTML_DIR="$HTML_DIR" API_RATE="$NGINX_API_RATE" \
		API_BURST="$NGINX_API_BURST" API_CONN="$NGINX_API_CONN" \
		WEBHOOK_RATE="$NGINX_WEBHOOK_RATE" WEBHOOK_BURST="$NGINX_WEBHOOK_BURST" \
		ACCESS_LOG="$LOG/nginx-access.log" || die "nginx/render.sh failed"
	replace_if_changed "$NGINX_DIR/callpipe.conf.tmp" "$NGINX_DIR/callpipe.conf" && changed=0
	tmp=$NGINX_DIR/nginx.conf.tmp
	cat >"$tmp" <<-EOF
		# Generated by etc/dev.sh: the local stack's nginx main config, rewritten
		# at every "up". It wraps run/nginx/callpipe.conf, rendered from
		# nginx/callpipe.conf.in: the same site a real host installs
		# (nginx/README.md).

		# Workers run as $NGINX_USER, as on a real host: they reach the socket
		# (group $NGINX_USER), the cache (group $NGINX_USER, setgid) and the page
		# under $SVC_DIR, never the checkout (which may be 0700).
		# The master (root) reads this file, the TLS key and opens the logs.
		user $NGINX_USER;
		worker_processes 1;
		pid $PIDS/nginx.pid;
		error_log $LOG/nginx-error.log notice;

		events {
		    worker_connections 256;
		}

		http {
		    sendfile on;
		    tcp_nopush on;
		    default_type application/octet-stream;
		    # Nothing under /var/lib/nginx: the workers' temporary files go to
		    # $NGINX_TMP (nginx makes each directory, owned by its user).
		    client_body_temp_path $NGINX_TMP/body;
		    fastcgi_temp_path $NGINX_TMP/fastcgi;
		    proxy_temp_path $NGINX_TMP/proxy;
		    uwsgi_temp_path $NGINX_TMP/uwsgi;
		    scgi_temp_path $NGINX_TMP/scgi;

		    include $NGINX_DIR/callpipe.conf;
		}
	EOF
	replace_if_changed "$tmp" "$NGINX_DIR/nginx.conf" && changed=0
	return $changed
}

nginx_start() {
	local changed=0 n=50
	[ -f "$HTML_DIR/index.html" ] ||
		warn "$HTML_DIR/index.html is missing: the status page at $BASE_URL/ answers 404"
	nginx_render && changed=1
	if ! nginx_cmd -t -q 2>"$LOG/nginx-test.log"; then
		cat "$LOG/nginx-test.log" >&2
		die "nginx -t rejected $NGINX_DIR/nginx.conf"
	fi
	if svc_running nginx nginx; then
		if [ "$changed" = 1 ]; then
			say "nginx: configuration changed, reloading"
			nginx_cmd -s reload || die "nginx reload failed: see $LOG/nginx-error.log"
		else
			say "nginx: already running (pid $(pid_of nginx))"
		fi
		return 0
	fi
	rm -f "$PIDS/nginx.pid"
	say "nginx: starting on $BASE_URL"
	# nginx daemonises itself (its own session) and writes run/pids/nginx.pid.
	if ! nginx_cmd </dev/null >"$LOG/nginx-start.log" 2>&1; then
		cat "$LOG/nginx-start.log" >&2
		die "nginx did not start (is $HTTPS_HOST:$HTTPS_PORT taken?)"
	fi
	while [ "$n" -gt 0 ] && ! svc_running nginx nginx; do
		sleep 0.1
		n=$((n - 1))
	done
	svc_running nginx nginx || { tail_log "$LOG/nginx-error.log"; die "nginx did not write $PIDS/nginx.pid"; }
}

# ---------------------------------------------------------------- simulator

# The files of run/audio this stack needs: the offline clips, and with the
# openai backends the 8 kHz clips and manifest.json too.
audio_needed() {
	printf '%s\n' "${AUDIO_OFFLINE[@]}"
	[ "$BACKENDS" != openai ] || printf '%s\n' "${AUDIO_OPENAI[@]}"
}

# Runs make_audio.py when a needed file is missing or make_audio.py is newer
# than one (it writes them all, deterministically).
audio_ensure() {
	local f why="" missing=()
	local gen=$ROOT/tests/sim/make_audio.py
	while read -r f; do
		if [ ! -s "$AUDIO_DIR/$f" ]; then
			why="$f is missing"
		elif [ "$gen" -nt "$AUDIO_DIR/$f" ]; then
			why="tests/sim/make_audio.py is newer than $f"
		fi
	done < <(audio_needed)
	[ -n "$why" ] || return 0
	[ -f "$gen" ] || die "tests/sim/make_audio.py is missing: cannot make the test audio"
	say "audio: tests/sim/make_audio.py --out-dir $AUDIO_DIR ($why)"
	mkdir -p "$AUDIO_DIR"
	"$PY" "$gen" --out-dir "$AUDIO_DIR" >"$LOG/make-audio.log" 2>&1 ||
		{ tail_log "$LOG/make-audio.log"; die "tests/sim/make_audio.py failed: see $LOG/make-audio.log"; }
	while read -r f; do
		[ -s "$AUDIO_DIR/$f" ] || missing+=("$f")
	done < <(audio_needed)
	[ ${#missing[@]} -eq 0 ] ||
		die "tests/sim/make_audio.py did not write ${missing[*]} in $AUDIO_DIR"
}

# stale_svc NAME FILE...: true when the service NAME was started before one
# of FILEs changed (its pid file is older): a simulator edited or a manifest
# made again since is restarted by "up".
stale_svc() {
	local name=$1 f
	shift
	for f in "$@"; do
		[ "$f" -nt "$PIDS/$name.pid" ] && return 0
	done
	return 1
}

sim_start() {
	if svc_running twilio-sim twilio_sim.py; then
		if ! stale_svc twilio-sim "$ROOT/tests/sim/twilio_sim.py"; then
			say "Twilio simulator: already running (pid $(pid_of twilio-sim))"
			return 0
		fi
		say "Twilio simulator: tests/sim/twilio_sim.py changed since it started: restarting"
		stop_svc twilio-sim twilio_sim.py
	fi
	[ -f "$ROOT/tests/sim/twilio_sim.py" ] || die "tests/sim/twilio_sim.py is missing: cannot start the Twilio simulator"
	mkdir -p "$SIM_STATE"
	say "Twilio simulator: starting on $SIM_URL (log $LOG/twilio-sim.log)"
	start_bg twilio-sim "$LOG/twilio-sim.log" "$PY" "$ROOT/tests/sim/twilio_sim.py" \
		--listen "$SIM_LISTEN" --account-sid "$(secret_get TWILIO_ACCOUNT_SID)" \
		--auth-token "$(secret_get TWILIO_AUTH_TOKEN)" --base-url "$BASE_URL" \
		--ca-cert "$TLS_CERT" --state-dir "$SIM_STATE"
}

# The OpenAI simulator (tests/sim/openai_sim.py), with the openai backends
# only: both endpoints on 127.0.0.1:8090 under /v1, the key of run/secrets,
# the clips of run/audio/manifest.json, retry-after 1 s.
openai_sim_start() {
	local gen=$ROOT/tests/sim/openai_sim.py
	if svc_running openai-sim openai_sim.py; then
		if ! stale_svc openai-sim "$gen" "$MANIFEST"; then
			say "OpenAI simulator: already running (pid $(pid_of openai-sim))"
			return 0
		fi
		say "OpenAI simulator: openai_sim.py or manifest.json changed since it started: restarting"
		stop_svc openai-sim openai_sim.py
	fi
	[ -f "$gen" ] || die "tests/sim/openai_sim.py is missing: cannot start the OpenAI simulator"
	[ -s "$MANIFEST" ] || die "$MANIFEST is missing (tests/sim/make_audio.py writes it)"
	say "OpenAI simulator: starting on $OPENAI_SIM_URL (log $LOG/openai-sim.log)"
	start_bg openai-sim "$LOG/openai-sim.log" "$PY" "$gen" \
		--listen "$OPENAI_SIM_LISTEN" --api-key "$(secret_ensure OPENAI_SIM_API_KEY 24 sk-sim-)" \
		--manifest "$MANIFEST" --retry-after-s 1
}

# ---------------------------------------------------------------- readiness

# Waits until nginx passes a request to callpipe and callpipe answers: a GET
# on a webhook is the app's 405; 502/504 are nginx's own (no socket, no
# answer), 000 is no TLS connection at all.
wait_app() {
	local deadline=$((SECONDS + 30)) code=000
	while [ "$SECONDS" -lt "$deadline" ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
			--cacert "$TLS_CERT" "$BASE_URL/webhook/incoming_call" 2>/dev/null) || true
		case $code in 000|502|504) ;; *) say "callpipe answers through nginx (GET /webhook/incoming_call: $code)"; return 0 ;; esac
		svc_running callpipe-fcgi callpipe-fcgi || { tail_log "$LOG/callpipe-fcgi.log"; die "callpipe-fcgi exited: see $LOG/callpipe-fcgi.log"; }
		sleep 0.2
	done
	tail_log "$LOG/nginx-error.log" 10
	tail_log "$LOG/callpipe-fcgi.log" 10
	die "no answer from callpipe through $BASE_URL within 30 s (last status $code)"
}

# wait_health NAME PROCESS URL LABEL: waits until URL answers 2xx, while the
# service NAME (pid file) is alive; dies naming LABEL and its log otherwise.
wait_health() {
	local name=$1 proc=$2 url=$3 label=$4 deadline=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if curl -fs -o /dev/null --max-time 3 "$url"; then
			say "$label answers $url"
			return 0
		fi
		svc_running "$name" "$proc" || { tail_log "$LOG/$name.log"; die "the $label exited: see $LOG/$name.log"; }
		sleep 0.2
	done
	tail_log "$LOG/$name.log"
	die "the $label did not answer $url within 30 s"
}

wait_sim() { wait_health twilio-sim twilio_sim.py "$SIM_URL/sim/health" "Twilio simulator"; }
wait_openai_sim() { wait_health openai-sim openai_sim.py "$OPENAI_SIM_URL/_sim/health" "OpenAI simulator"; }

write_stack_env() {
	local bid=$1 tok=$2 tmp=$STACK_ENV.tmp.$$
	(
		umask 077
		cat >"$tmp" <<-EOF
			CALLPIPE_BASE_URL=$BASE_URL
			CALLPIPE_CONF=$CONF
			CALLPIPE_CA_CERT=$TLS_CERT
			CALLPIPE_TLS_KEY=$TLS_KEY
			CALLPIPE_HTML_DIR=$HTML_DIR
			CALLPIPE_API_TOKEN=$tok
			CALLPIPE_BUSINESS_ID=$bid
			CALLPIPE_BUSINESS_NUMBER=$DEMO_NUMBER
			CALLPIPE_BUILD=$BUILD
			CALLPIPE_RUN=$RUN
			CALLPIPE_SRC=$ROOT
			CALLPIPE_DEV_SH=$ROOT/etc/dev.sh
			CALLPIPE_FCGI_SOCKET=$FCGI_SOCK
			CALLPIPE_CACHE_DIR=$CACHE_DIR
			CALLPIPE_SERVICE_DIR=$SVC_DIR
			CALLPIPE_SERVICE_USER=$SVC_USER
			CALLPIPE_NGINX_USER=$NGINX_USER
			CALLPIPE_BIN_DIR=$SVC_BIN
			CALLPIPE_LOG_DIR=$LOG
			CALLPIPE_AUDIO_DIR=$AUDIO_DIR
			CALLPIPE_SIGNING_KEY=$(secret_get SIGNING_KEY)
			TWILIO_ACCOUNT_SID=$(secret_get TWILIO_ACCOUNT_SID)
			TWILIO_AUTH_TOKEN=$(secret_get TWILIO_AUTH_TOKEN)
			TWILIO_SIM_URL=$SIM_URL
			MYSQL_SOCKET=$MYSQL_SOCK
			MYSQL_DATABASE=$MYSQL_DATABASE
			MYSQL_USER=$MYSQL_USER
			MYSQL_PASSWORD=$(secret_get DB_PASSWORD)
			MARIADB_PID_FILE=$PIDS/mariadb.pid
			NGINX_PID_FILE=$PIDS/nginx.pid
			CALLPIPE_FCGI_PID_FILE=$PIDS/callpipe-fcgi.pid
			TWILIO_SIM_PID_FILE=$PIDS/twilio-sim.pid
			CALLPIPE_BACKENDS=$BACKENDS
		EOF
		if [ "$BACKENDS" = openai ]; then
			cat >>"$tmp" <<-EOF
				OPENAI_SIM_URL=$OPENAI_SIM_URL
				OPENAI_SIM_API_KEY=$(secret_get OPENAI_SIM_API_KEY)
				OPENAI_SIM_PID_FILE=$PIDS/openai-sim.pid
				OPENAI_SIM_MANIFEST=$MANIFEST
			EOF
		fi
	)
	mv -f "$tmp" "$STACK_ENV"
}

# ---------------------------------------------------------------- commands

run_dirs() {
	mkdir -p "$RUN" "$LOG" "$PIDS" "$SIM_STATE" "$NGINX_DIR"
	svc_user_ensure
	svc_dirs
}

# The service user callpipe-fcgi drops to: a system user with its own group,
# no home and no login shell (useradd(8) --system). nginx's www-data comes
# with Debian (base-passwd).
svc_user_ensure() {
	[ "$(id -u)" = 0 ] || die "the local stack runs as root: it creates the $SVC_USER user and starts callpipe-fcgi as root, which drops to it"
	getent passwd "$NGINX_USER" >/dev/null || die "no user $NGINX_USER (Debian's base-passwd has it)"
	getent group "$NGINX_USER" >/dev/null || die "no group $NGINX_USER (Debian's base-passwd has it)"
	if ! getent passwd "$SVC_USER" >/dev/null; then
		say "creating the system user $SVC_USER (no home, no login shell)"
		# A group of that name left behind (userdel keeps a shared one)
		# makes --user-group fail: join it instead. Another checkout's
		# "up" may create the user at the same moment: then it exists.
		local grp_opt=--user-group
		getent group "$SVC_USER" >/dev/null && grp_opt="--gid=$SVC_USER"
		useradd --system "$grp_opt" --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "callpipe service" "$SVC_USER" ||
			getent passwd "$SVC_USER" >/dev/null ||
			die "useradd $SVC_USER failed"
	fi
}

# SVC_DIR and what root makes in it (see the top of this file); the cache
# is callpipe-fcgi's own to make. install -d also fixes modes and owners.
svc_dirs() {
	install -d -m 0755 -o root -g root "$SVC_DIR" "$SVC_BIN" "$SVC_DIR/mysql" "$NGINX_TMP" ||
		die "could not create $SVC_DIR"
	install -d -m 0750 -o "$SVC_USER" -g "$NGINX_USER" "$SVC_DIR/fcgi" ||
		die "could not create $SVC_DIR/fcgi"
}

# replace_tree_if_changed SRC DEST: DEST becomes a world-readable copy of
# the directory SRC unless it is one already.
replace_tree_if_changed() {
	local src=$1 dest=$2
	[ -d "$dest" ] && diff -rq "$src" "$dest" >/dev/null 2>&1 && return 0
	rm -rf "$dest.tmp"
	cp -R "$src" "$dest.tmp" && chmod -R u=rwX,go=rX "$dest.tmp" ||
		die "could not copy $src to $dest"
	rm -rf "$dest"
	mv "$dest.tmp" "$dest"
}

# The programs callpipe-fcgi runs (it execs the worker as $SVC_USER) and the
# status page nginx's workers serve, copied out of the checkout. A copy is
# replaced by rename, so a running master keeps the file it was started from.
svc_install() {
	local b dest
	for b in "$BIN_FCGI" "$BIN_WORKER"; do
		dest=$SVC_BIN/$(basename "$b")
		cmp -s "$b" "$dest" && continue
		cp "$b" "$dest.tmp" && chmod 0755 "$dest.tmp" && mv -f "$dest.tmp" "$dest" ||
			die "could not install $b as $dest"
	done
	if [ -d "$HTML_SRC" ]; then
		replace_tree_if_changed "$HTML_SRC" "$HTML_DIR"
	fi
}

cmd_db() {
	check_paths
	run_dirs
	mariadb_start
	mariadb_setup
	conf_write
	say "MariaDB is up: socket $MYSQL_SOCK, database $MYSQL_DATABASE, user $MYSQL_USER (password in $SECRETS); config $CONF"
}

cmd_up() {
	local bid tok
	check_paths
	run_dirs
	cmd_deps
	if build_stale; then
		cmd_build
	fi
	need_programs
	svc_install
	tls_ensure
	mariadb_start
	mariadb_setup
	conf_write
	ctl_migrate
	bid=$(demo_business)
	tok=$(demo_token "$bid")
	audio_ensure
	if [ "$BACKENDS" = openai ]; then
		# Before callpipe-fcgi: its workers may pick up a queued job at once.
		openai_sim_start
		wait_openai_sim
	else
		stop_svc openai-sim openai_sim.py
	fi
	fcgi_start
	nginx_start
	sim_start
	wait_app
	wait_sim
	write_stack_env "$bid" "$tok"
	say "stack is up with the $BACKENDS backends: $BASE_URL (business $bid, number $DEMO_NUMBER); settings in $STACK_ENV, logs in $LOG"
}

cmd_down() {
	stop_svc openai-sim openai_sim.py
	stop_svc twilio-sim twilio_sim.py
	stop_svc nginx nginx
	stop_svc callpipe-fcgi callpipe-fcgi
	stop_svc mariadb mariadbd
	rm -f "$FCGI_SOCK" "$PIDS/callpipe-fcgi.stamp"
	# The service directory (config, copies, sockets, cache) goes with it;
	# --one-file-system: never into a mount a test left behind.
	if [ -d "$SVC_DIR" ]; then
		rm -rf --one-file-system "$SVC_DIR" || warn "could not remove $SVC_DIR"
	fi
	[ -L "$CONF_LINK" ] && rm -f "$CONF_LINK"
	say "stack is down"
}

cmd_mariadb_restart() {
	check_paths
	stop_svc mariadb mariadbd
	mariadb_start
	say "MariaDB restarted (pid $(pid_of mariadb))"
}

cmd_env() {
	[ -f "$STACK_ENV" ] || die "$STACK_ENV does not exist: run 'etc/dev.sh up' first"
	cat "$STACK_ENV"
}

cmd_demo() {
	local keep=$1 rc
	[ "$keep" = 1 ] || DOWN_ON_EXIT=1
	cmd_deps
	cmd_build
	cmd_up
	[ -f "$ROOT/tests/sim/demo.py" ] || die "tests/sim/demo.py is missing"
	say "demo: tests/sim/demo.py --backends $BACKENDS"
	set +e
	"$PY" "$ROOT/tests/sim/demo.py" --backends "$BACKENDS"
	rc=$?
	set -e
	if [ "$rc" = 0 ]; then say "demo ($BACKENDS backends): passed"; else warn "demo: tests/sim/demo.py exited $rc"; fi
	if [ "$keep" = 1 ]; then
		say "--keep: the stack stays up ('etc/dev.sh down' stops it)"
		# The token is the demo business's (callpipectl token create, kept
		# in run/secrets by demo_token); the page keeps it in sessionStorage.
		say "status page: $BASE_URL/ (self-signed certificate: $TLS_CERT)"
		say "sign in with the token of business '$DEMO_NAME' ($DEMO_NUMBER): $(secret_get API_TOKEN)"
	else
		say "the status page was up at $BASE_URL/ during the demo ('etc/dev.sh demo --keep' leaves it up and prints a token to sign in with)"
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- check

count() {
	TESTS_TOTAL=$((TESTS_TOTAL + $1))
	TESTS_FAILED=$((TESTS_FAILED + $2))
}

# count_check_output NAME FILE STATUS: adds the checks of one Check program
# from its output: every "NN%: Checks: C, Failures: F, Errors: E" line (one
# per srunner) gives C run and F+E failed. A program that printed no such
# line, or that failed although all its checks passed (it crashed on the way
# out, leaked under a checker, ...), counts as one failed test. STATUS is
# PASS, FAIL, SKIP or ERROR (automake's words).
count_check_output() {
	local name=$1 file=$2 status=$3 sums c f
	if [ "$status" = SKIP ]; then
		say "SKIP $name"
		return 0
	fi
	sums=$(grep -Eo '[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$file" 2>/dev/null |
		awk -F'[:,] *' '{ c += $3; f += $5 + $7 } END { if (NR) print c, f }') || true
	if [ -z "$sums" ]; then
		count 1 1
		say "FAIL $name: no Check summary line (status $status): counted as 1 failed"
		return 0
	fi
	read -r c f <<<"$sums"
	if [ "$status" != PASS ] && [ "$f" = 0 ]; then
		f=1
		c=$((c + 1))
		say "FAIL $name: all checks passed but the program failed (status $status): counted as 1 failed"
	fi
	count "$c" "$f"
	if [ "$f" = 0 ]; then say "PASS $name: $c checks"; else say "FAIL $name: $f of $c checks failed"; fi
}

unit_tests() {
	local tests t status rc
	# The list of TESTS, from the Makefile itself.
	# shellcheck disable=SC2016
	tests=$(make -s -C "$BUILD" -f Makefile -f - cp-print-tests <<<'cp-print-tests: ; @echo $(TESTS)') ||
		die "could not read TESTS from $BUILD/Makefile"
	# Results of an earlier run must not count when a test does not build.
	for t in $tests; do
		rm -f "$BUILD/$t.log" "$BUILD/$t.trs"
	done
	rm -f "$BUILD/test-suite.log"
	say "unit tests: make -C $BUILD check"
	set +e
	make -C "$BUILD" -j2 check
	rc=$?
	set -e
	for t in $tests; do
		status=$(sed -n 's/^:test-result: //p' "$BUILD/$t.trs" 2>/dev/null | head -n 1)
		count_check_output "$t" "$BUILD/$t.log" "${status:-ERROR}"
	done
	if [ "$rc" != 0 ] && [ -f "$BUILD/test-suite.log" ]; then
		printf -- '----- %s\n' "$BUILD/test-suite.log"
		cat "$BUILD/test-suite.log"
		printf -- '-----\n'
	fi
	if [ "$rc" != 0 ] && [ "$TESTS_FAILED" = 0 ]; then
		count 1 1
		say "FAIL make check: exit $rc with no failed test counted (a test program did not build?)"
	fi
}

db_unit_test() {
	local bin=$BUILD/tests/unit/check-db-queue out=$TEST_OUT/check-db-queue.out rc status
	mkdir -p "$TEST_OUT"
	if [ ! -x "$bin" ]; then
		count 1 1
		say "FAIL check-db-queue: $bin was not built"
		return 0
	fi
	say "DB unit test: CALLPIPE_CONF=$CONF $bin"
	set +e
	CALLPIPE_CONF=$CONF CK_DEFAULT_TIMEOUT=120 top_srcdir=$ROOT "$bin" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	case $rc in
	0) status=PASS ;;
	77)
		# It skips only without CALLPIPE_CONF; here the stack is up.
		count 1 1
		say "FAIL check-db-queue: skipped (exit 77) although CALLPIPE_CONF was set"
		return 0 ;;
	*) status=FAIL ;;
	esac
	count_check_output check-db-queue "$out" "$status"
}

# integration_tests BACKENDS: the files of tests/integration that need
# those backends (each says so: BACKENDS = "openai"; default offline),
# against the stack as "up" left it.
integration_tests() {
	local backends=$1 out=$TEST_OUT/integration-$1.out rc
	mkdir -p "$TEST_OUT"
	if [ ! -f "$ROOT/tests/integration/run.py" ]; then
		count 1 1
		say "FAIL integration: tests/integration/run.py is missing"
		return 0
	fi
	say "integration tests ($backends backends): tests/integration/run.py --backends $backends"
	set +e
	"$PY" "$ROOT/tests/integration/run.py" --backends "$backends" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	count_summary "integration ($backends)" run.py "$out" "$rc"
}

# The fault suite (tests/fault/run.py: workers, MariaDB, nginx, Twilio's
# REST API, the cache's disk and the callbacks broken in turn while calls
# run), against the offline stack as the integration tests left it; at most
# FAULT_TIMEOUT_S, counted from its "N passed, N failed" line. A missing
# runner fails.
fault_tests() {
	local runner=$ROOT/tests/fault/run.py out=$TEST_OUT/fault.out rc
	mkdir -p "$TEST_OUT"
	if [ ! -f "$runner" ]; then
		count 1 1
		say "FAIL fault suite: tests/fault/run.py is missing"
		return 0
	fi
	say "fault suite: tests/fault/run.py (at most $FAULT_TIMEOUT_S s)"
	set +e
	timeout -k 10 "$FAULT_TIMEOUT_S" "$PY" "$runner" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" != 124 ] || say "fault suite: tests/fault/run.py timed out after $FAULT_TIMEOUT_S s"
	count_summary "fault suite" tests/fault/run.py "$out" "$rc"
}

# count_summary WHAT PROGRAM FILE STATUS: adds the counts of the
# "N passed, N failed" line a test runner printed last in FILE. No such
# line, or a non-zero exit STATUS although it reported no failure, counts as
# one failed test.
count_summary() {
	local what=$1 prog=$2 out=$3 rc=$4 line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1) || true
	if [ -z "$line" ]; then
		count 1 1
		say "FAIL $what: $prog (exit $rc) printed no 'N passed, N failed' line"
		return 0
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed}
	count $((p + f)) "$f"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		count 1 1
		say "FAIL $what: $prog exited $rc although it reported no failure"
	fi
}

# True when tests/browser/node_modules holds every package of
# package-lock.json at its locked version, i.e. npm ci would install the
# same: check then needs no network once the modules are there.
browser_modules_current() {
	[ -d "$BROWSER_DIR/node_modules" ] || return 1
	node --input-type=commonjs - "$BROWSER_DIR" 2>/dev/null <<-'JS'
		const fs = require("fs"), path = require("path");
		const dir = process.argv[2];
		const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8"));
		if (!lock.packages) process.exit(1);   // lockfile v1: let npm ci decide
		for (const [key, meta] of Object.entries(lock.packages)) {
			if (!key.startsWith("node_modules/") || meta.link) continue;
			const at = path.join(dir, key, "package.json");
			// An optional dependency of another platform is never installed.
			if (meta.optional && !fs.existsSync(at)) continue;
			if (JSON.parse(fs.readFileSync(at, "utf8")).version !== meta.version) process.exit(1);
		}
	JS
}

# Warns about each locked package whose engines.node (">=N") the node on
# PATH does not meet: Debian 12's own nodejs is 18, and npm ci installs such
# a package with no more than a warning of its own, lost in its log.
browser_node_check() {
	local short
	short=$(node --input-type=commonjs - "$BROWSER_DIR" 2>/dev/null <<-'JS'
		const fs = require("fs"), path = require("path");
		const lock = JSON.parse(fs.readFileSync(path.join(process.argv[2], "package-lock.json"), "utf8"));
		const major = Number(process.versions.node.split(".")[0]);
		for (const [key, meta] of Object.entries(lock.packages || {})) {
			const m = /^>=\s*(\d+)/.exec((meta.engines && meta.engines.node) || "");
			if (key && m && major < Number(m[1])) console.log(`${key.replace(/^node_modules\//, "")} (node ${meta.engines.node})`);
		}
	JS
	) || true
	[ -z "$short" ] || warn "node $(node --version) is older than tests/browser's lock wants: $(printf '%s' "$short" | paste -sd, -)"
}

# npm ci in tests/browser when its package-lock.json exists and
# node_modules does not match it. False when npm ci failed.
browser_deps() {
	if [ ! -f "$BROWSER_DIR/package-lock.json" ]; then
		say "browser tests: no tests/browser/package-lock.json, no npm ci"
		return 0
	fi
	browser_node_check
	if browser_modules_current; then
		say "browser tests: node_modules matches package-lock.json (no npm ci)"
		return 0
	fi
	command -v npm >/dev/null || { warn "npm not found (etc/dev.sh deps installs it)"; return 1; }
	say "browser tests: npm ci in tests/browser (log $LOG/npm-ci.log)"
	if ! (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund) >"$LOG/npm-ci.log" 2>&1; then
		tail_log "$LOG/npm-ci.log"
		return 1
	fi
}

# The browser tests (tests/browser/run.sh: chromium against the stack of
# run/stack.env; screenshots in run/artifacts/), counted from the
# "N passed, N failed" line it prints last. A missing runner fails.
browser_tests() {
	local runner=$BROWSER_DIR/run.sh out=$TEST_OUT/browser.out rc
	mkdir -p "$TEST_OUT" "$RUN/artifacts"
	if [ ! -f "$runner" ]; then
		count 1 1
		say "FAIL browser tests: tests/browser/run.sh is missing"
		return 0
	fi
	if ! browser_deps; then
		count 1 1
		say "FAIL browser tests: npm ci in tests/browser failed"
		return 0
	fi
	say "browser tests: tests/browser/run.sh (at most $BROWSER_TIMEOUT_S s)"
	set +e
	timeout -k 10 "$BROWSER_TIMEOUT_S" bash "$runner" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" != 124 ] || say "browser tests: tests/browser/run.sh timed out after $BROWSER_TIMEOUT_S s"
	count_summary "browser tests" tests/browser/run.sh "$out" "$rc"
}

# A simulator's own self-check (unittest), counted test by test:
# test_sim_selfcheck (it plays Twilio as TWILIO.md says: signatures by
# python3-twilio, refusal of <Record>, media channels and auth) and
# test_openai_sim_selfcheck (it answers as OPENAI.md says). Each starts its
# own simulator on a free port. sim_selfcheck MODULE [optional]: an
# optional module that does not exist (yet) is skipped.
sim_selfcheck() {
	local mod=$1 optional=${2:-} out=$TEST_OUT/$1.out rc n f e
	mkdir -p "$TEST_OUT"
	if [ -n "$optional" ] && [ ! -f "$ROOT/tests/sim/$mod.py" ]; then
		say "SKIP $mod: tests/sim/$mod.py does not exist"
		return 0
	fi
	say "simulator self-check: tests/sim/$mod.py"
	set +e
	(cd "$ROOT/tests/sim" && "$PY" -m unittest "$mod") >"$out" 2>&1
	rc=$?
	set -e
	n=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$out" | tail -n 1) || true
	f=$(grep -Eo 'failures=[0-9]+' "$out" | tail -n 1 | cut -d= -f2) || true
	e=$(grep -Eo 'errors=[0-9]+' "$out" | tail -n 1 | cut -d= -f2) || true
	f=$(( ${f:-0} + ${e:-0} ))
	if [ -z "$n" ] || { [ "$rc" != 0 ] && [ "$f" = 0 ]; }; then
		cat "$out"
		count 1 1
		say "FAIL $mod: exit $rc, no unittest summary"
		return 0
	fi
	count "$n" "$f"
	if [ "$f" = 0 ]; then say "PASS $mod: $n tests"; else cat "$out"; say "FAIL $mod: $f of $n failed"; fi
}

# Two phases on one stack. Offline: unit tests, the simulators' self-checks,
# up with the offline backends, the DB test, the integration tests that need
# offline (pocketsphinx, rules), the fault suite. Then up again with
# --backends openai, which starts the OpenAI simulator and restarts
# callpipe-fcgi on the new configuration (its start stamp changed), the
# integration tests that need
# openai, and the browser tests (there, so that a stage can fail with the
# simulator's fault and succeed on retry). One count over all.
cmd_check() {
	CHECK_MODE=1
	cmd_deps
	cmd_build
	unit_tests
	sim_selfcheck test_sim_selfcheck
	sim_selfcheck test_openai_sim_selfcheck
	DOWN_ON_EXIT=1
	say "check: offline phase"
	BACKENDS=offline
	cmd_up
	db_unit_test
	integration_tests offline
	fault_tests
	say "check: openai phase"
	BACKENDS=openai
	cmd_up
	integration_tests openai
	browser_tests
	[ "$TESTS_FAILED" = 0 ]
}

dump_logs() {
	local f
	for f in "$LOG"/*.log; do
		[ -f "$f" ] || continue
		printf -- '===== last 100 lines of %s\n' "$f"
		tail -n 100 "$f"
	done
}

on_exit() {
	local rc=$?
	trap - EXIT
	set +e
	if [ "$DOWN_ON_EXIT" = 1 ]; then
		cmd_down
	fi
	if [ "$rc" != 0 ] && [ "${CI:-}" = true ]; then
		dump_logs
	fi
	if [ "$CHECK_MODE" = 1 ]; then
		if [ "$rc" != 0 ] && [ "$TESTS_FAILED" = 0 ]; then
			# Stopped before any test could fail (deps, build, up).
			count 1 1
		fi
		printf '%s passed, %s failed\n' $((TESTS_TOTAL - TESTS_FAILED)) "$TESTS_FAILED"
		[ "$TESTS_FAILED" = 0 ] || rc=1
	fi
	exit "$rc"
}

main() {
	local cmd=${1:-} keep=0
	[ $# -ge 1 ] || usage
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--keep) [ "$cmd" = demo ] || usage; keep=1 ;;
		--backends)
			case $cmd in up|demo) ;; *) usage ;; esac
			[ $# -ge 2 ] || usage
			case $2 in offline|openai) BACKENDS=$2 ;; *) die "--backends takes offline or openai, not '$2'" ;; esac
			shift ;;
		--backends=*)
			set -- --backends "${1#--backends=}" "${@:2}"
			continue ;;
		*) usage ;;
		esac
		shift
	done
	case $cmd in
	check|demo)
		# Tests always reach the simulators, whatever the caller's shell holds.
		unset "${PASS_ENV[@]}" ;;
	esac
	cd "$ROOT"
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	case $cmd in
	deps) cmd_deps ;;
	build) cmd_build ;;
	up) cmd_up ;;
	down) cmd_down ;;
	demo) cmd_demo "$keep" ;;
	check) cmd_check ;;
	env) cmd_env ;;
	db) cmd_db ;;
	mariadb-restart) cmd_mariadb_restart ;;
	-h|--help|help) usage ;;
	*) usage ;;
	esac
}

# Sourcing the file (for trying one function) defines everything, runs nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
