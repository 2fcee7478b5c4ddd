/*
 * form.c: application/x-www-form-urlencoded bodies, as the WHATWG URL
 * standard's "application/x-www-form-urlencoded parser" reads them, with
 * callpipe's limits on top (form.h).
 *
 * Differences from the WHATWG parser, on purpose: an empty name, more than
 * FORM_MAX_PAIRS pairs, a name or value longer than FORM_MAX_VALUE bytes
 * after decoding, and a decoded NUL byte make the whole body CP_INPUT. A
 * Twilio webhook never has any of them, and each would otherwise reach SQL,
 * logs or C strings in a surprising shape.
 */
#include "form.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/*
 * Percent-encoding turns one byte into at most three ("%XX"), so a raw
 * segment longer than this cannot decode to FORM_MAX_VALUE bytes or fewer.
 * Checking the raw length first bounds the work on hostile bodies and keeps
 * the length within curl_easy_unescape's int parameter.
 */
#define FORM_MAX_RAW (3 * FORM_MAX_VALUE)

/*
 * Decodes raw (rawlen bytes) into a malloc'd, NUL-terminated *out of
 * *outlen bytes: '+' becomes a space first (WHATWG; curl_easy_unescape
 * leaves '+' alone), then %XX sequences are decoded by libcurl (an invalid
 * sequence such as "%zz" stays as it is, as WHATWG says).
 * Returns CP_OK, CP_INPUT (too long, or a NUL byte), CP_NOMEM.
 */
static enum cp_err
form_decode(const char *raw, size_t rawlen, char **out, size_t *outlen)
{
	char tmp[FORM_MAX_RAW + 1];
	char *dec, *copy;
	int declen;
	size_t i;

	*out = NULL;
	*outlen = 0;
	if (rawlen > FORM_MAX_RAW)
		return CP_INPUT;
	if (rawlen == 0) {
		/* Not handed to libcurl: it takes a length of 0 to mean
		 * "use strlen()". */
		copy = malloc(1);
		if (copy == NULL)
			return CP_NOMEM;
		copy[0] = '\0';
		*out = copy;
		return CP_OK;
	}
	for (i = 0; i < rawlen; i++)
		tmp[i] = raw[i] == '+' ? ' ' : raw[i];
	tmp[rawlen] = '\0';

	/* The handle argument is ignored by libcurl (documented since
	 * 7.82.0), so no easy handle is needed for a pure decode. */
	dec = curl_easy_unescape(NULL, tmp, (int)rawlen, &declen);
	if (dec == NULL)
		return CP_NOMEM;
	if (declen < 0 || (size_t)declen > FORM_MAX_VALUE ||
	    memchr(dec, '\0', (size_t)declen) != NULL) {
		curl_free(dec);
		return CP_INPUT;
	}
	/* Copied so that form_free() is plain free() and callers never need
	 * to know which allocator made a string. */
	copy = malloc((size_t)declen + 1);
	if (copy == NULL) {
		curl_free(dec);
		return CP_NOMEM;
	}
	memcpy(copy, dec, (size_t)declen);
	copy[declen] = '\0';
	curl_free(dec);
	*out = copy;
	*outlen = (size_t)declen;
	return CP_OK;
}

/* Next '&'-separated segment of [p, end): its end, never past end. */
static const char *
form_segment_end(const char *p, const char *end)
{
	const char *amp = memchr(p, '&', (size_t)(end - p));

	return amp != NULL ? amp : end;
}

enum cp_err
form_parse(const char *body, size_t len, struct form *out)
{
	const char *p, *end, *seg_end, *eq;
	struct form f = { NULL, 0 };
	size_t npairs = 0, name_len;
	enum cp_err err;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return CP_OK;
	if (body == NULL)
		return CP_INPUT;
	end = body + len;

	/* Count first, so the limit is enforced before anything is decoded
	 * and the array is allocated once. Empty segments ("a=1&&b=2", a
	 * trailing '&') are skipped, as WHATWG says. */
	for (p = body; p <= end; p = seg_end + 1) {
		seg_end = form_segment_end(p, end);
		if (seg_end > p && ++npairs > FORM_MAX_PAIRS)
			return CP_INPUT;
		if (seg_end == end)
			break;
	}
	if (npairs == 0)
		return CP_OK;

	f.pairs = calloc(npairs, sizeof(*f.pairs));
	if (f.pairs == NULL)
		return CP_NOMEM;

	for (p = body; p <= end; p = seg_end + 1) {
		struct form_pair *pair;
		size_t ignored;

		seg_end = form_segment_end(p, end);
		if (seg_end > p) {
			pair = &f.pairs[f.n++];
			eq = memchr(p, '=', (size_t)(seg_end - p));
			name_len = (size_t)((eq != NULL ? eq : seg_end) - p);
			err = form_decode(p, name_len, &pair->name, &ignored);
			if (err == CP_OK && pair->name[0] == '\0')
				err = CP_INPUT;
			/* A pair without '=' is a name with an empty value. */
			if (err == CP_OK)
				err = eq != NULL ?
				    form_decode(eq + 1, (size_t)(seg_end - eq - 1),
				    &pair->value, &pair->value_len) :
				    form_decode("", 0, &pair->value,
				    &pair->value_len);
			if (err != CP_OK) {
				form_free(&f);
				return err;
			}
		}
		if (seg_end == end)
			break;
	}
	*out = f;
	return CP_OK;
}

const char *
form_get(const struct form *f, const char *name)
{
	size_t i;

	if (f == NULL || name == NULL)
		return NULL;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->pairs[i].name, name) == 0)
			return f->pairs[i].value;
	return NULL;
}

void
form_free(struct form *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->pairs[i].name);
		free(f->pairs[i].value);
	}
	free(f->pairs);
	f->pairs = NULL;
	f->n = 0;
}
