/*
 * sid.c: the exact shape of a Twilio SID (TWILIO.md "SIDs"): a two-letter
 * prefix and 32 lowercase hex digits, nothing before or after.
 *
 * Deliberately no isxdigit(): it is locale-dependent and accepts upper case,
 * and a SID that differs only in case would name a different row and file.
 */
#include "sid.h"

#include <string.h>

#include <stddef.h>

static bool
sid_is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
sid_valid(const char *s, const char *prefix)
{
	size_t i;

	if (s == NULL || prefix == NULL)
		return false;
	/* The prefix itself must be exactly two characters, or a caller's
	 * typo ("C") would widen what is accepted. */
	if (prefix[0] == '\0' || prefix[1] == '\0' || prefix[2] != '\0')
		return false;
	if (s[0] != prefix[0] || s[1] != prefix[1])
		return false;
	/* Stops at the NUL of a short string: the NUL is not hex. */
	for (i = 2; i < SID_LEN; i++)
		if (!sid_is_lower_hex(s[i]))
			return false;
	return s[SID_LEN] == '\0';
}

const char *
sid_token(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz-") != n)
		return NULL;
	return v;
}
