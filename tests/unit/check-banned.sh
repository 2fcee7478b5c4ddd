#!/bin/sh
# check-banned: the C of fcgi-app/ uses none of the functions curl's and
# OpenBSD's style bans for unbounded writes or unchecked parsing (STYLE.md):
# sprintf, vsprintf, strcat, strncpy, strtok, atoi, atol, atoll, gets;
# and, as curl bans them, the strtol family (strtol, strtoll, strtoul,
# strtoull, strtoimax, strtoumax), whose leading white space, sign, base
# prefixes and errno-only overflow no field of ours wants: numbers go
# through cp_parse_ll (cp_num.h), which needs none of them either.
# Prints a Check-style summary line so etc/dev.sh counts it like the others.
src=${top_srcdir:-.}/fcgi-app
hits=$(grep -rnE '(^|[^_[:alnum:]])(sprintf|vsprintf|strcat|strncpy|strtok|atoi|atol|atoll|gets|strtol|strtoll|strtoul|strtoull|strtoimax|strtoumax)[[:space:]]*\(' \
	--include='*.c' --include='*.h' "$src" |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$hits" ]; then
	printf 'banned functions in use:\n%s\n' "$hits"
	echo "0%: Checks: 1, Failures: 1, Errors: 0"
	exit 1
fi
echo "100%: Checks: 1, Failures: 0, Errors: 0"
