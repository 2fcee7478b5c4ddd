#include "cp_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

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
	case CP_REJECTED: return "rejected upstream";
	case CP_FORBIDDEN: return "forbidden";
	case CP_CONFLICT: return "conflict";
	case CP_METHOD:   return "method not allowed";
	case CP_MEDIATYPE: return "unsupported media type";
	case CP_LENGTH:   return "length required";
	case CP_TOOBIG:   return "too large";
	case CP_BUSY:     return "busy";
	case CP_ERR_COUNT: break;
	}
	return "unknown error";
}

/* Kept for its callers; the rule is utf8_prefix's (utf8.h). */
size_t
cp_utf8_prefix(const char *s, size_t max)
{
	return utf8_prefix(s, max);
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
		buf[utf8_trim(buf, len - 1)] = '\0';
	return buf;
}
