#include "utf8.h"

#include <stdint.h>
#include <string.h>

uint32_t
utf8_decode(const char *str, size_t n, size_t i, size_t *len)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[i];
	size_t need, k;
	uint32_t cp;

	*len = 1;
	if (c < 0x80)
		return c;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		cp = c & 0x07;
	} else
		return UTF8_INVALID;  /* continuation, C0/C1 overlong, F5..FF */
	if (n - i < need)
		return UTF8_INVALID;
	for (k = 1; k < need; k++) {
		if ((s[i + k] & 0xC0) != 0x80)
			return UTF8_INVALID;
		cp = (cp << 6) | (s[i + k] & 0x3F);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return UTF8_INVALID;
	*len = need;
	return cp;
}

uint32_t
utf8_decode_before(const char *s, size_t n, size_t i, size_t *start)
{
	size_t b = i - 1, len;
	uint32_t cp;

	/* A sequence is at most 4 bytes: its lead is at most 3 back. */
	while (b > 0 && i - b < 4 && ((unsigned char)s[b] & 0xC0) == 0x80)
		b--;
	cp = utf8_decode(s, n, b, &len);
	if (b + len != i) {
		*start = i - 1;
		return UTF8_INVALID;
	}
	*start = b;
	return cp;
}

bool
utf8_valid(const char *s, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		if (utf8_decode(s, n, i, &len) == UTF8_INVALID)
			return false;
		i += len;
	}
	return true;
}

size_t
utf8_trim(const char *s, size_t n)
{
	size_t k = 0, need;
	unsigned char lead;

	/* Up to 3 continuation bytes (10xxxxxx) may end the buffer. */
	while (k < 3 && k < n && ((unsigned char)s[n - 1 - k] & 0xC0) == 0x80)
		k++;
	if (k == n)
		return n;     /* only continuation bytes: not ours to judge */
	lead = (unsigned char)s[n - 1 - k];
	need = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 :
	    (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 1;
	return k + 1 < need ? n - 1 - k : n;
}

size_t
utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max == SIZE_MAX ? max : max + 1);

	return n <= max ? n : utf8_trim(s, max);
}
