/*
 * form.h: application/x-www-form-urlencoded bodies (WHATWG URL standard,
 * "application/x-www-form-urlencoded parsing"): pairs split on '&', name and
 * value on the first '=', '+' means a space, then percent-decoding
 * (curl_easy_unescape). Twilio's webhooks are such bodies.
 */
#ifndef CP_FORM_H
#define CP_FORM_H

#include <stddef.h>
#include "cp_err.h"

struct form_pair {
	char  *name;       /* decoded, NUL-terminated */
	char  *value;      /* decoded, NUL-terminated (may contain no NUL: a
	                      decoded %00 makes the body CP_INPUT) */
	size_t value_len;  /* bytes */
};

struct form {
	struct form_pair *pairs;  /* in body order */
	size_t            n;
};

#define FORM_MAX_PAIRS     128    /* Twilio sends ~30 */
#define FORM_MAX_VALUE     4096   /* bytes, per decoded value */

/*
 * Parses body (len bytes, need not be NUL-terminated) into *out.
 * Returns CP_OK; CP_INPUT when there are more than FORM_MAX_PAIRS pairs, a
 * value or name decodes to more than FORM_MAX_VALUE bytes, a name is empty,
 * or decoding yields a NUL byte; CP_NOMEM. On error *out is empty.
 * An empty body is CP_OK with n == 0.
 */
enum cp_err form_parse(const char *body, size_t len, struct form *out);

/* First value of name, or NULL when absent. The pointer lives in f. */
const char *form_get(const struct form *f, const char *name);

/* Frees what form_parse allocated; f may be zeroed. */
void form_free(struct form *f);

#endif
