#include "cp_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
cp_strerror(enum cp_err err)
{
	switch (err) {
	case CP_OK:       return "ok";
	case CP_NOMEM:    return "out of memory";
	case CP_INPUT:    return "bad input";
	case CP_AUTH:     return "not authorized";
	case CP_NOTFOUND: return "not found";
	case CP_GONE:     return "gone";
	case CP_AGAIN:    return "not ready, try again";
	case CP_UPSTREAM: return "upstream failed";
	case CP_DB:       return "database error";
	case CP_SYSTEM:   return "system error";
	case CP_NOAUDIO:  return "no audio";
	case CP_EMPTY:    return "empty result";
	}
	return "unknown error";
}

/* n bytes of s, shortened so they do not end inside a UTF-8 sequence. */
static size_t
cp_utf8_trim(const char *s, size_t n)
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
cp_utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	return n <= max ? n : cp_utf8_trim(s, max);
}

char *
cp_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len == 0)
		return buf;
	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= len)
		buf[cp_utf8_trim(buf, len - 1)] = '\0';
	return buf;
}
