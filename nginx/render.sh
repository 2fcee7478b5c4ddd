#!/usr/bin/env bash
# Renders nginx/callpipe.conf.in (the nginx site of callpipe) by replacing
# every @NAME@ with a value given as NAME=VALUE. Pure bash: values are
# inserted literally (no sed escaping pitfalls), then checked so a value can
# never break out of its nginx directive.
#
#   nginx/render.sh [-t TEMPLATE] [-o OUTPUT] NAME=VALUE...
#
# Required: SERVER_NAME LISTEN SSL_CERT SSL_KEY FCGI_SOCKET CACHE_DIR
#           HTML_DIR (the status page's files, a copy of nginx/html/)
# Optional: RECORDINGS_PREFIX (default /_recordings/, must equal
#           recording.nginx_internal_prefix of callpipe.conf)
#           ACCESS_LOG (default /var/log/nginx/callpipe.access.log, or "off")
#           API_RATE (default 10r/s; N r/s or N r/m, per client address)
#           API_BURST (default 50; requests beyond API_RATE at once, 0..100000)
#           API_CONN (default 16; requests in progress at once, 1..100000)
#           WEBHOOK_RATE (default 100r/s), WEBHOOK_BURST (default 500): the
#           per address limit of /webhook/ (see the template for the sizing)
#           METRICS_ALLOW (default "127.0.0.1 ::1"): the addresses or CIDR
#           ranges, space separated, that may GET /metrics (403 for the
#           rest); "none" lets nobody
# FCGI_SOCKET and CACHE_DIR must equal fcgi.socket and recording.cache_dir
# of callpipe.conf. Without -o the result goes to standard output; with -o
# it replaces OUTPUT atomically. Exit status 2 on a usage or value error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
template="$here/callpipe.conf.in"
output=""

usage() {
	sed -n '7,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

fail() {
	printf 'render.sh: %s\n' "$*" >&2
	exit 2
}

declare -A val=(
	[RECORDINGS_PREFIX]=/_recordings/
	[ACCESS_LOG]=/var/log/nginx/callpipe.access.log
	[API_RATE]=10r/s
	[API_BURST]=50
	[API_CONN]=16
	[WEBHOOK_RATE]=100r/s
	[WEBHOOK_BURST]=500
	[METRICS_ALLOW]="127.0.0.1 ::1"
)
required=(SERVER_NAME LISTEN SSL_CERT SSL_KEY FCGI_SOCKET CACHE_DIR HTML_DIR)
known=" ${required[*]} RECORDINGS_PREFIX ACCESS_LOG API_RATE API_BURST API_CONN WEBHOOK_RATE WEBHOOK_BURST METRICS_ALLOW "

while [ $# -gt 0 ]; do
	case $1 in
	-t) [ $# -ge 2 ] || usage; template=$2; shift 2 ;;
	-o) [ $# -ge 2 ] || usage; output=$2; shift 2 ;;
	-h|--help) usage ;;
	*=*)
		name=${1%%=*}
		case $known in *" $name "*) ;; *) fail "unknown variable $name (known:$known)" ;; esac
		val[$name]=${1#*=}
		shift ;;
	*) usage ;;
	esac
done

for name in "${required[@]}"; do
	[ -n "${val[$name]:-}" ] || fail "$name=VALUE is required"
done

# Characters that would end or nest an nginx directive, start a comment or a
# variable, or quote: none of them has a place in these values.
for name in "${!val[@]}"; do
	v=${val[$name]}
	case $v in
	*[\;\{\}\"\'\#\$\\]*|*$'\n'*|*$'\r'*|*$'\t'*)
		fail "$name: the value contains one of ; { } \" ' # \$ \\ or a control character" ;;
	esac
	case $name in
	SERVER_NAME|LISTEN|METRICS_ALLOW) ;;  # lists: spaces allowed
	*) case $v in *' '*) fail "$name: no spaces allowed in a path" ;; esac ;;
	esac
done

for name in SSL_CERT SSL_KEY FCGI_SOCKET CACHE_DIR HTML_DIR; do
	case ${val[$name]} in /*) ;; *) fail "$name must be an absolute path" ;; esac
done
case ${val[ACCESS_LOG]} in /*|off) ;; *) fail "ACCESS_LOG must be an absolute path or off" ;; esac

# limit_req_zone's rate is "Nr/s" or "Nr/m"; burst and the connection count
# are plain numbers. Bounded, and without leading zeros, so nginx reads the
# same number as this check did (nginx -t would only catch a malformed one).
[[ ${val[API_RATE]} =~ ^[1-9][0-9]{0,5}r/[sm]$ ]] ||
	fail "API_RATE must look like 10r/s or 600r/m (1..999999, per second or minute), not '${val[API_RATE]}'"
# num_in VALUE MIN MAX: true when VALUE is a decimal number MIN..MAX.
num_in() {
	[[ $1 =~ ^(0|[1-9][0-9]{0,5})$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
num_in "${val[API_BURST]}" 0 100000 ||
	fail "API_BURST must be a number 0..100000, not '${val[API_BURST]}'"
num_in "${val[API_CONN]}" 1 100000 ||
	fail "API_CONN must be a number 1..100000, not '${val[API_CONN]}'"
[[ ${val[WEBHOOK_RATE]} =~ ^[1-9][0-9]{0,5}r/[sm]$ ]] ||
	fail "WEBHOOK_RATE must look like 100r/s or 600r/m (1..999999, per second or minute), not '${val[WEBHOOK_RATE]}'"
num_in "${val[WEBHOOK_BURST]}" 0 100000 ||
	fail "WEBHOOK_BURST must be a number 0..100000, not '${val[WEBHOOK_BURST]}'"

# METRICS_ALLOW: "none", or IPv4/IPv6 addresses or CIDR ranges; each
# becomes an "allow ADDR;" line of location = /metrics (before deny all).
allow_lines=""
if [ "${val[METRICS_ALLOW]}" != none ]; then
	read -r -a allow_list <<<"${val[METRICS_ALLOW]}"
	[ ${#allow_list[@]} -gt 0 ] || fail "METRICS_ALLOW is empty (say none to let nobody in)"
	for a in "${allow_list[@]}"; do
		[[ $a =~ ^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$ ]] ||
			fail "METRICS_ALLOW: '$a' is no IPv4/IPv6 address or CIDR range"
		allow_lines+="${allow_lines:+$'\n        '}allow $a;"
	done
fi
val[METRICS_ALLOW]=${allow_lines:-"# METRICS_ALLOW=none: nobody"}

# root takes the directory as it is; a trailing slash would only double
# the one of the URI.
while [ "${val[HTML_DIR]}" != / ] && [ "${val[HTML_DIR]%/}" != "${val[HTML_DIR]}" ]; do
	val[HTML_DIR]=${val[HTML_DIR]%/}
done

# The template appends the slash itself ("alias @CACHE_DIR@/;"): with alias,
# the location prefix and the alias must both end in "/" (a prefix without
# it lets "/_recordings../x" resolve outside the cache directory).
while [ "${val[CACHE_DIR]}" != / ] && [ "${val[CACHE_DIR]%/}" != "${val[CACHE_DIR]}" ]; do
	val[CACHE_DIR]=${val[CACHE_DIR]%/}
done
[[ ${val[RECORDINGS_PREFIX]} =~ ^/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$ ]] ||
	fail "RECORDINGS_PREFIX must look like /_recordings/ (starts and ends with /)"

[ -r "$template" ] || fail "cannot read template $template"
text=$(<"$template")
for name in "${!val[@]}"; do
	text=${text//@"$name"@/"${val[$name]}"}
done
if [[ $text =~ @[A-Z_]+@ ]]; then
	fail "template $template uses ${BASH_REMATCH[0]}, which has no value"
fi

if [ -z "$output" ]; then
	printf '%s\n' "$text"
else
	tmp="$output.tmp.$$"
	printf '%s\n' "$text" >"$tmp"
	mv -f "$tmp" "$output"
fi
