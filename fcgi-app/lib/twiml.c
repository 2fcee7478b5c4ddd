/*
 * twiml.c: the TwiML answers of the voice webhooks (DESIGN.md §3).
 *
 * <Start><Recording> comes before <Connect><Stream> because it is
 * non-blocking and starts recording before the next verb runs, so the call
 * is recorded from its first second (twilio.com/docs/voice/twiml/recording).
 * There is no <Record> verb: it blocks and would keep <Stream> from running.
 * The attribute names are the <Recording> noun's ("channels", "trim"), not
 * the REST API's ("RecordingChannels"); TWILIO.md "Starting a recording".
 */
#include "twiml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TWIML_PROLOG "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

#define TWIML_START_OPEN \
	"<Response>" \
	"<Start><Recording channels=\"dual\" trim=\"do-not-trim\"" \
	" recordingStatusCallback=\""
#define TWIML_START_CLOSE \
	"/webhook/handle_recording\"" \
	" recordingStatusCallbackEvent=\"in-progress completed absent\"/>" \
	"</Start>"
#define TWIML_CONNECT_OPEN   "<Connect action=\""
#define TWIML_CONNECT_CLOSE  "/webhook/stream_ended\">"
#define TWIML_STREAM_OPEN    "<Stream url=\""
#define TWIML_PARAM_OPEN     "\"><Parameter name=\"call_sid\" value=\""
#define TWIML_TAIL           "\"/></Stream></Connect></Response>\n"

/* The longest replacement below ("&quot;", "&apos;") is 6 bytes for 1. */
#define TWIML_ESCAPE_MAX 6

/*
 * The replacement of byte c in an attribute value, or NULL to copy it.
 * Besides the five predefined entities, tab, LF and CR are written as
 * character references: attribute-value normalization (XML 1.0 §3.3.3)
 * would turn them into spaces. Other C0 controls cannot appear in XML 1.0
 * at all, not even as references, so they become U+FFFD REPLACEMENT
 * CHARACTER rather than making the document unparseable.
 */
static const char *
twiml_escape_of(unsigned char c)
{
	switch (c) {
	case '&':  return "&amp;";
	case '<':  return "&lt;";
	case '>':  return "&gt;";
	case '"':  return "&quot;";
	case '\'': return "&apos;";
	case '\t': return "&#9;";
	case '\n': return "&#10;";
	case '\r': return "&#13;";
	default:
		return c < 0x20 ? "\xEF\xBF\xBD" : NULL;
	}
}

enum cp_err
twiml_escape_append(char *buf, size_t cap, size_t *len, const char *s)
{
	const unsigned char *p;
	const char *rep;
	size_t need = 0, at = *len;

	if (s == NULL)
		s = "";
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		rep = twiml_escape_of(*p);
		need += rep != NULL ? strlen(rep) : 1;
	}
	/* Everything fits with the NUL, or nothing is written. */
	if (at >= cap || need >= cap - at) {
		if (at < cap)
			buf[at] = '\0';
		return CP_NOMEM;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		rep = twiml_escape_of(*p);
		if (rep != NULL) {
			memcpy(buf + at, rep, strlen(rep));
			at += strlen(rep);
		} else
			buf[at++] = (char)*p;
	}
	buf[at] = '\0';
	*len = at;
	return CP_OK;
}

/* Appends the literal s (no escaping); the buffer was sized to hold it. */
static enum cp_err
twiml_append(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len >= cap || n >= cap - *len)
		return CP_NOMEM;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return CP_OK;
}

enum cp_err
twiml_voice_answer(const struct cp_conf *conf, const char *call_sid,
    char **out)
{
	const char *base = conf->public_base_url != NULL ?
	    conf->public_base_url : "";
	const char *stream = conf->stream.url != NULL ? conf->stream.url : "";
	bool rest = conf->recording.mode != NULL &&
	    strcmp(conf->recording.mode, "rest") == 0;
	size_t fixed, vars, cap, len = 0;
	enum cp_err err = CP_OK;
	char *buf;

	if (call_sid == NULL)
		call_sid = "";
	*out = NULL;

	/* Sized from the inputs: each variable byte may grow to
	 * TWIML_ESCAPE_MAX bytes, the base URL appears twice. */
	fixed = sizeof(TWIML_PROLOG) + sizeof(TWIML_START_OPEN) +
	    sizeof(TWIML_START_CLOSE) + sizeof(TWIML_CONNECT_OPEN) +
	    sizeof(TWIML_CONNECT_CLOSE) + sizeof(TWIML_STREAM_OPEN) +
	    sizeof(TWIML_PARAM_OPEN) + sizeof(TWIML_TAIL);
	if (strlen(base) > SIZE_MAX / 16 || strlen(stream) > SIZE_MAX / 16 ||
	    strlen(call_sid) > SIZE_MAX / 16)
		return CP_NOMEM;
	vars = 2 * strlen(base) + strlen(stream) + strlen(call_sid);
	if (vars > (SIZE_MAX - fixed) / TWIML_ESCAPE_MAX)
		return CP_NOMEM;
	cap = fixed + vars * TWIML_ESCAPE_MAX;
	buf = malloc(cap);
	if (buf == NULL)
		return CP_NOMEM;
	buf[0] = '\0';

	err = twiml_append(buf, cap, &len, TWIML_PROLOG);
	if (err == CP_OK && !rest) {
		err = twiml_append(buf, cap, &len, TWIML_START_OPEN);
		if (err == CP_OK)
			err = twiml_escape_append(buf, cap, &len, base);
		if (err == CP_OK)
			err = twiml_append(buf, cap, &len, TWIML_START_CLOSE);
	} else if (err == CP_OK)
		err = twiml_append(buf, cap, &len, "<Response>");
	if (err == CP_OK)
		err = twiml_append(buf, cap, &len, TWIML_CONNECT_OPEN);
	if (err == CP_OK)
		err = twiml_escape_append(buf, cap, &len, base);
	if (err == CP_OK)
		err = twiml_append(buf, cap, &len, TWIML_CONNECT_CLOSE);
	if (err == CP_OK)
		err = twiml_append(buf, cap, &len, TWIML_STREAM_OPEN);
	if (err == CP_OK)
		err = twiml_escape_append(buf, cap, &len, stream);
	if (err == CP_OK)
		err = twiml_append(buf, cap, &len, TWIML_PARAM_OPEN);
	if (err == CP_OK)
		err = twiml_escape_append(buf, cap, &len, call_sid);
	if (err == CP_OK)
		err = twiml_append(buf, cap, &len, TWIML_TAIL);
	if (err != CP_OK) {
		free(buf);
		return err;
	}
	*out = buf;
	return CP_OK;
}

const char *
twiml_empty(void)
{
	return TWIML_PROLOG "<Response/>\n";
}
