/*
 * cp_err.h: the one error enum every callpipe function returns.
 *
 * Functions return enum cp_err and pass results through out-parameters.
 * HTTP handlers map it to a status code in one place (req.c, req_fail); the
 * worker maps it to retry-or-fail in one place (worker.c).
 */
#ifndef CP_ERR_H
#define CP_ERR_H

#include <stddef.h>

enum cp_err {
	CP_OK = 0,
	CP_NOMEM,     /* allocation failed */
	CP_INPUT,     /* caller's input is malformed (a 4xx, never retried) */
	CP_AUTH,      /* credentials missing or wrong */
	CP_NOTFOUND,  /* no such thing, or not visible to this caller */
	CP_GONE,      /* existed, past retention */
	CP_AGAIN,     /* not ready yet: retry later (e.g. Twilio media 404) */
	CP_UPSTREAM,  /* an upstream HTTP service failed or did not answer */
	CP_DB,        /* the database failed */
	CP_SYSTEM,    /* a system call failed (errno says why) */
	CP_NOAUDIO,   /* audio empty or header only: a permanent failure */
	CP_EMPTY,     /* a stage produced an empty result: a failure */
	CP_REJECTED,  /* an upstream service refused the request for good
	                 (a permanent 4xx, quota, a redirect): never retried */
	CP_FORBIDDEN, /* credentials present but not accepted here (a bad or
	                 expired signature, another account) */
	CP_CONFLICT,  /* the request does not fit the thing's current state */
	CP_METHOD,    /* the route exists, the method does not */
	CP_MEDIATYPE, /* a body of a media type the route does not take */
	CP_LENGTH,    /* a body without a Content-Length */
	CP_TOOBIG,    /* a body or value larger than allowed */
	CP_BUSY,      /* every slot for this kind of work is taken: try later */
	CP_ERR_COUNT  /* not an error: the number of codes above, so a test
	                 can walk them all. New codes go before it. */
};

/* Returns a static, lower-case, one-word-ish name of err ("input", "db");
 * "unknown error" for CP_ERR_COUNT and any value that is no code. */
const char *cp_strerror(enum cp_err err);

/*
 * Formats into buf (at most len bytes, always NUL-terminated when len > 0)
 * like snprintf, truncating silently — and never in the middle of a UTF-8
 * sequence, since a cut character makes MySQL refuse the whole row
 * (error 1366 under STRICT_TRANS_TABLES). Returns buf. Used for the
 * one-line reasons that end up in last_error and in HTTP error bodies.
 */
char *cp_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Length in bytes of the longest prefix of s that is at most max bytes and
 * does not end inside a UTF-8 sequence (RFC 3629). For column limits.
 * The same as utf8_prefix (utf8.h), kept under this name for its callers.
 */
size_t cp_utf8_prefix(const char *s, size_t max);

/* Length of the last_error column and of every one-line reason (bytes). */
#define CP_REASON_MAX 500

#endif
