/*
 * summary_openai.c: the "openai" summary backend (summary_openai.h): a
 * /chat/completions request asking for JSON {service, city, confidence,
 * summary}, and the validation of the model's answer.
 *
 * Protocol facts: OPENAI.md "POST /v1/chat/completions (JSON)" (request
 * fields, json_object needing the word "json", strict json_schema rules,
 * the answer as a JSON string in choices[0].message.content,
 * finish_reason and refusal) and "Errors, retries, auth" (classified by
 * openai_post, openai.h).
 *
 * Why the answer is checked so closely: it is written to call_log columns
 * of fixed width (summary.h's SUMMARY_*_MAX, in characters) that MySQL
 * refuses to overflow or to fill with ill-formed UTF-8, and a model may
 * answer anything, strict schema or not (Ollama ignores "strict",
 * llama.cpp ignores a misplaced schema: OPENAI.md "Self-hosted servers").
 */
#include "summary_openai.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lang.h"
#include "openai.h"
#include "utf8.h"

/* Prefix of every reason this backend gives, and openai_post's "what"
 * (openai.h: "STT", "summary"); the worker puts "summarize (openai): "
 * before it in last_error. */
#define SO_WHAT "summary"

#define SO_DEFAULT_TIMEOUT_MS 60000

static bool
summary_openai_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/* True when s holds something other than ASCII white space. */
static bool
summary_openai_has_text(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (!summary_openai_is_space((unsigned char)*s))
			return true;
	return false;
}

/* A code that may go into the instructions: 2 or 3 ASCII lower-case
 * letters (ISO-639-1, or -2 for what a server may answer). */
static bool
summary_openai_lang_ok(const char *code)
{
	size_t n = 0;

	for (; code[n] != '\0'; n++)
		if (code[n] < 'a' || code[n] > 'z' || n >= 3)
			return false;
	return n >= 2;
}

/*
 * Writes the instruction line of key ("- city: what, or null when the
 * caller did not say.") to f, with the names of gz as hints:
 * " When one of these fits, answer its name: Tel Aviv (תל אביב), ...".
 */
static void
summary_openai_hints(FILE *f, const char *key, const char *what,
    const struct conf_gazetteer *gz)
{
	const struct conf_gazetteer_entry *e;
	int i, n = 0;

	fprintf(f, "- %s: %s, or null when the caller did not say.", key, what);
	for (i = 0; gz->entries != NULL && i < gz->nentries; i++) {
		e = &gz->entries[i];
		if (e->name == NULL || e->name[0] == '\0')
			continue;
		fprintf(f, "%s%s", n++ > 0 ? ", " :
		    " When one of these fits, answer its name: ", e->name);
		if (e->name_he != NULL && e->name_he[0] != '\0')
			fprintf(f, " (%s)", e->name_he);
	}
	fputs(n > 0 ? ".\n" : "\n", f);
}

/* The system message (malloc'd), or NULL when out of memory. */
static char *
summary_openai_instructions(const struct cp_conf *conf, const char *lang)
{
	const char *name;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fputs("You read the transcript of a phone call to a home-services "
	    "business. Its lines start with \"Caller:\", \"Agent:\" or "
	    "\"Call:\" (speakers not separated).\n"
	    "Answer only with a json object, no other text:\n"
	    "{\"service\": string or null, \"city\": string or null, "
	    "\"confidence\": number, \"summary\": string}\n", f);
	summary_openai_hints(f, "service", "the service the caller asks for",
	    &conf->summary.services);
	summary_openai_hints(f, "city", "the city where the caller needs it",
	    &conf->summary.cities);
	fputs("- confidence: from 0 to 1, how sure you are of service and "
	    "city.\n- summary: one short paragraph (at most three sentences) "
	    "on what the caller wants and where, written in ", f);
	/* A model follows "write in Hebrew" more reliably than a bare code:
	 * the name when the table (lang.h) knows it. */
	if ((name = lang_name(lang)) != NULL)
		fprintf(f, "%c%s, the language of the transcript.\n",
		    name[0] - 'a' + 'A', name + 1);
	else if (lang != NULL && summary_openai_lang_ok(lang))
		fprintf(f, "the language of the transcript (ISO-639-1 code "
		    "\"%s\").\n", lang);
	else
		fputs("the language the caller speaks.\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * The JSON is built top down: each container is attached to its parent
 * as soon as it is made, so that the root owns everything and one
 * json_object_put frees it on any failure.
 */

/* Adds v to o under key; takes v in every case. False when out of memory
 * (v NULL, or json-c failing; v is freed then). */
static bool
summary_openai_add(struct json_object *o, const char *key,
    struct json_object *v)
{
	if (v == NULL || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* Appends v to the array a; as summary_openai_add. */
static bool
summary_openai_push(struct json_object *a, struct json_object *v)
{
	if (v == NULL || json_object_array_add(a, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* Adds the new container v to o under key and returns it (owned by o),
 * or NULL when out of memory. */
static struct json_object *
summary_openai_child(struct json_object *o, const char *key,
    struct json_object *v)
{
	return summary_openai_add(o, key, v) ? v : NULL;
}

/* Adds key: {"type": type or [type, "null"], "description": desc} to
 * props. False when out of memory. */
static bool
summary_openai_prop(struct json_object *props, const char *key,
    const char *type, bool nullable, const char *desc)
{
	struct json_object *p, *t;

	if ((p = summary_openai_child(props, key, json_object_new_object())) ==
	    NULL || !summary_openai_add(p, "description",
	    json_object_new_string(desc)))
		return false;
	if (!nullable)
		return summary_openai_add(p, "type",
		    json_object_new_string(type));
	return (t = summary_openai_child(p, "type", json_object_new_array())) !=
	    NULL && summary_openai_push(t, json_object_new_string(type)) &&
	    summary_openai_push(t, json_object_new_string("null"));
}

/*
 * The strict json_schema response_format (OPENAI.md: name, schema,
 * strict; every object "additionalProperties": false and every property
 * in "required", ["string", "null"] for one that may be absent).
 */
static struct json_object *
summary_openai_schema_format(void)
{
	static const char *const names[] = {
		"service", "city", "confidence", "summary"
	};
	struct json_object *rf, *js, *schema, *props, *req;
	size_t i;

	if ((rf = json_object_new_object()) == NULL)
		return NULL;
	if (!summary_openai_add(rf, "type",
	    json_object_new_string("json_schema")) ||
	    (js = summary_openai_child(rf, "json_schema",
	    json_object_new_object())) == NULL ||
	    !summary_openai_add(js, "name",
	    json_object_new_string(SUMMARY_OPENAI_SCHEMA_NAME)) ||
	    !summary_openai_add(js, "strict", json_object_new_boolean(1)) ||
	    (schema = summary_openai_child(js, "schema",
	    json_object_new_object())) == NULL ||
	    !summary_openai_add(schema, "type",
	    json_object_new_string("object")) ||
	    (props = summary_openai_child(schema, "properties",
	    json_object_new_object())) == NULL ||
	    (req = summary_openai_child(schema, "required",
	    json_object_new_array())) == NULL ||
	    !summary_openai_add(schema, "additionalProperties",
	    json_object_new_boolean(0)) ||
	    !summary_openai_prop(props, names[0], "string", true, "the service "
	    "the caller asks for; null when the caller did not say") ||
	    !summary_openai_prop(props, names[1], "string", true, "the city "
	    "where the service is needed; null when the caller did not say") ||
	    !summary_openai_prop(props, names[2], "number", false, "0 to 1") ||
	    !summary_openai_prop(props, names[3], "string", false, "one short "
	    "paragraph in the language of the transcript"))
		goto fail;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!summary_openai_push(req, json_object_new_string(names[i])))
			goto fail;
	return rf;
fail:
	json_object_put(rf);
	return NULL;
}

/* Appends {"role": role, "content": content} to msgs; false: no memory. */
static bool
summary_openai_message(struct json_object *msgs, const char *role,
    const char *content)
{
	struct json_object *m = json_object_new_object();

	return summary_openai_push(msgs, m) && summary_openai_add(m, "role",
	    json_object_new_string(role)) && summary_openai_add(m, "content",
	    json_object_new_string(content));
}

enum cp_err
summary_openai_request_body(const struct cp_conf *conf,
    const struct summary_request *req, char **body, char *err,
    size_t errlen)
{
	const char *fmt = conf->summary.openai.response_format;
	struct json_object *root, *msgs, *rf;
	const char *text;
	char *sys;
	bool schema, ok;

	*body = NULL;
	if (fmt == NULL || fmt[0] == '\0' || strcmp(fmt, "json_schema") == 0)
		schema = true;
	else if (strcmp(fmt, "json_object") == 0)
		schema = false;
	else {
		cp_fmt(err, errlen, SO_WHAT ": response_format \"%s\" is "
		    "neither json_schema nor json_object", fmt);
		return CP_INPUT;
	}
	if (conf->summary.openai.model == NULL ||
	    conf->summary.openai.model[0] == '\0') {
		cp_fmt(err, errlen, SO_WHAT ": summary.openai.model is not set");
		return CP_INPUT;
	}
	sys = summary_openai_instructions(conf, req->language);
	root = json_object_new_object();
	ok = sys != NULL && root != NULL &&
	    summary_openai_add(root, "model",
	    json_object_new_string(conf->summary.openai.model)) &&
	    summary_openai_add(root, "temperature", json_object_new_int(0)) &&
	    (msgs = summary_openai_child(root, "messages",
	    json_object_new_array())) != NULL &&
	    summary_openai_message(msgs, "system", sys) &&
	    summary_openai_message(msgs, "user",
	    req->transcript != NULL ? req->transcript : "") &&
	    (rf = summary_openai_child(root, "response_format", schema ?
	    summary_openai_schema_format() : json_object_new_object())) != NULL &&
	    (schema || summary_openai_add(rf, "type",
	    json_object_new_string("json_object"))) &&
	    (text = json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) != NULL &&
	    (*body = strdup(text)) != NULL;
	json_object_put(root);
	free(sys);
	if (!ok) {
		cp_fmt(err, errlen, SO_WHAT ": %s", cp_strerror(CP_NOMEM));
		return CP_NOMEM;
	}
	return CP_OK;
}

/*
 * The characters (code points) of the n bytes at s, or -1 when they are
 * not well-formed UTF-8 (utf8.h).
 */
static long
summary_openai_chars(const char *s, size_t n)
{
	size_t i = 0, clen;
	long count = 0;

	while (i < n) {
		if (utf8_decode(s, n, i, &clen) == UTF8_INVALID)
			return -1;
		i += clen;
		count++;
	}
	return count;
}

/*
 * The string member key of obj, trimmed of ASCII white space, in *out
 * (malloc'd). nullable: null, absent and "" give *out NULL; otherwise
 * they are errors. At most max_chars code points, well-formed UTF-8 and
 * no NUL. Returns CP_OK, CP_UPSTREAM (reason in err) or CP_NOMEM.
 */
static enum cp_err
summary_openai_take(struct json_object *obj, const char *key,
    bool nullable, long max_chars, char **out, char *err, size_t errlen)
{
	struct json_object *v;
	const char *s;
	size_t n;
	long chars;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v)) {
		if (nullable)
			return CP_OK;
		cp_fmt(err, errlen, SO_WHAT ": the answer has no %s", key);
		return CP_UPSTREAM;
	}
	if (v == NULL && nullable)
		return CP_OK;
	if (v == NULL || !json_object_is_type(v, json_type_string)) {
		cp_fmt(err, errlen, SO_WHAT ": %s is %s, not a string%s", key,
		    v == NULL ? "null" : json_type_to_name(json_object_get_type(v)),
		    nullable ? " or null" : "");
		return CP_UPSTREAM;
	}
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n) {
		cp_fmt(err, errlen, SO_WHAT ": %s holds a NUL character", key);
		return CP_UPSTREAM;
	}
	while (n > 0 && summary_openai_is_space((unsigned char)s[0])) {
		s++;
		n--;
	}
	while (n > 0 && summary_openai_is_space((unsigned char)s[n - 1]))
		n--;
	if (n == 0) {
		if (nullable)
			return CP_OK;
		cp_fmt(err, errlen, SO_WHAT ": %s is empty", key);
		return CP_UPSTREAM;
	}
	chars = summary_openai_chars(s, n);
	if (chars < 0) {
		cp_fmt(err, errlen, SO_WHAT ": %s is not valid UTF-8", key);
		return CP_UPSTREAM;
	}
	if (chars > max_chars) {
		cp_fmt(err, errlen, SO_WHAT ": %s is %ld characters long, more "
		    "than the %ld its column holds", key, chars, max_chars);
		return CP_UPSTREAM;
	}
	if ((*out = strndup(s, n)) == NULL) {
		cp_fmt(err, errlen, SO_WHAT ": %s", cp_strerror(CP_NOMEM));
		return CP_NOMEM;
	}
	return CP_OK;
}

/* Replaces *name by the canonical name of the gz entry it names, if any. */
static enum cp_err
summary_openai_canonical(const struct conf_gazetteer *gz, char **name,
    char *err, size_t errlen)
{
	const struct conf_gazetteer_entry *e;
	char *c;

	if (*name == NULL)
		return CP_OK;
	e = summary_gazetteer_match(gz, *name);
	if (e == NULL || e->name == NULL || strcmp(e->name, *name) == 0)
		return CP_OK;
	if ((c = strdup(e->name)) == NULL) {
		cp_fmt(err, errlen, SO_WHAT ": %s", cp_strerror(CP_NOMEM));
		return CP_NOMEM;
	}
	free(*name);
	*name = c;
	return CP_OK;
}

enum cp_err
summary_openai_parse(const struct cp_conf *conf, const char *content,
    const char *finish_reason, const char *refusal,
    struct summary_result *out, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *root = NULL, *v;
	enum json_tokener_error jerr;
	enum cp_err rc = CP_UPSTREAM;
	double c;
	char *p;

	memset(out, 0, sizeof(*out));
	if (finish_reason != NULL && strcmp(finish_reason, "length") == 0) {
		cp_fmt(err, errlen, SO_WHAT ": the answer was cut off "
		    "(finish_reason \"length\")");
		return CP_UPSTREAM;
	}
	if (refusal != NULL && refusal[0] != '\0') {
		cp_fmt(err, errlen, SO_WHAT ": the model refused: %s", refusal);
		for (p = err; p != NULL && *p != '\0'; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';   /* a reason is one line */
		return CP_REJECTED;
	}
	if (finish_reason != NULL && strcmp(finish_reason, "content_filter") == 0) {
		cp_fmt(err, errlen, SO_WHAT ": the answer was withheld by the "
		    "service's content filter (finish_reason \"content_filter\")");
		return CP_REJECTED;
	}
	if (content == NULL) {
		cp_fmt(err, errlen, SO_WHAT ": the answer has no content");
		return CP_UPSTREAM;
	}
	if ((tok = json_tokener_new()) == NULL) {
		cp_fmt(err, errlen, SO_WHAT ": %s", cp_strerror(CP_NOMEM));
		return CP_NOMEM;
	}
	/* Strict: one JSON value and white space, nothing after it. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, content, (int)strnlen(content,
	    SUMMARY_OPENAI_MAX_BYTES));
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success || root == NULL) {
		cp_fmt(err, errlen, SO_WHAT ": the answer is not valid %s",
		    jerr == json_tokener_error_parse_utf8_string ?
		    "UTF-8" : "JSON");
		goto fail;
	}
	if (!json_object_is_type(root, json_type_object)) {
		cp_fmt(err, errlen, SO_WHAT ": the answer is JSON but not an "
		    "object");
		goto fail;
	}
	if ((rc = summary_openai_take(root, "service", true,
	    SUMMARY_SERVICE_MAX, &out->service, err, errlen)) != CP_OK ||
	    (rc = summary_openai_take(root, "city", true, SUMMARY_CITY_MAX,
	    &out->city, err, errlen)) != CP_OK ||
	    (rc = summary_openai_take(root, "summary", false,
	    SUMMARY_TEXT_MAX, &out->summary, err, errlen)) != CP_OK)
		goto fail;
	rc = CP_UPSTREAM;
	if (!json_object_object_get_ex(root, "confidence", &v) || v == NULL ||
	    !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int))) {
		cp_fmt(err, errlen, SO_WHAT ": confidence is %s, not a number",
		    v == NULL ? "missing or null" :
		    json_type_to_name(json_object_get_type(v)));
		goto fail;
	}
	c = json_object_get_double(v);
	if (!(c >= 0.0 && c <= 1.0)) {  /* NaN fails too */
		cp_fmt(err, errlen, SO_WHAT ": confidence %g is outside 0..1", c);
		goto fail;
	}
	out->confidence = c;
	if ((rc = summary_openai_canonical(conf != NULL ?
	    &conf->summary.services : NULL, &out->service, err, errlen)) !=
	    CP_OK ||
	    (rc = summary_openai_canonical(conf != NULL ?
	    &conf->summary.cities : NULL, &out->city, err, errlen)) != CP_OK)
		goto fail;
	json_object_put(root);
	return CP_OK;
fail:
	json_object_put(root);
	summary_result_free(out);
	return rc;
}

/* The string member key of o, or NULL when absent, null or not a string;
 * *nul set when the string holds a NUL (it cannot pass as C text). */
static const char *
summary_openai_str(struct json_object *o, const char *key, bool *nul)
{
	struct json_object *v;
	const char *s;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		*nul = true;
	return s;
}

/* Validates choices[0] of a /chat/completions answer (OPENAI.md: spec
 * CreateChatCompletionResponse). Returns as summary_openai_parse. */
static enum cp_err
summary_openai_answer(const struct cp_conf *conf, struct json_object *json,
    struct summary_result *out, char *err, size_t errlen)
{
	struct json_object *choices, *choice, *msg = NULL;
	const char *content, *finish, *refusal;
	bool nul = false;

	if (!json_object_object_get_ex(json, "choices", &choices) ||
	    !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) == 0 ||
	    !json_object_is_type(choice = json_object_array_get_idx(choices,
	    0), json_type_object)) {
		memset(out, 0, sizeof(*out));
		cp_fmt(err, errlen, SO_WHAT ": the answer has no choices[0]");
		return CP_UPSTREAM;
	}
	if (json_object_object_get_ex(choice, "message", &msg) &&
	    !json_object_is_type(msg, json_type_object))
		msg = NULL;
	finish = summary_openai_str(choice, "finish_reason", &nul);
	refusal = summary_openai_str(msg, "refusal", &nul);
	content = summary_openai_str(msg, "content", &nul);
	if (nul) {
		memset(out, 0, sizeof(*out));
		cp_fmt(err, errlen, SO_WHAT ": the answer holds a NUL character");
		return CP_UPSTREAM;
	}
	return summary_openai_parse(conf, content, finish, refusal, out, err,
	    errlen);
}

enum cp_err
summary_openai_summarize(const struct cp_conf *conf,
    const struct summary_request *req, struct summary_result *out,
    long *retry_after_ms, char *err, size_t errlen)
{
	struct http_request hr;
	struct openai_result res;
	char url[2048];
	char *body = NULL;
	enum cp_err rc;

	memset(out, 0, sizeof(*out));
	memset(&res, 0, sizeof(res));
	if (retry_after_ms != NULL)
		*retry_after_ms = -1;
	if (conf == NULL) {
		cp_fmt(err, errlen, SO_WHAT ": no configuration");
		return CP_INPUT;
	}
	if (req == NULL || !summary_openai_has_text(req->transcript)) {
		cp_fmt(err, errlen, "transcript is empty: nothing to summarize");
		return CP_EMPTY;
	}
	if (conf->summary.openai.base_url == NULL ||
	    conf->summary.openai.base_url[0] == '\0') {
		cp_fmt(err, errlen, SO_WHAT ": summary.openai.base_url is not "
		    "set");
		return CP_INPUT;
	}
	if (openai_url(conf->summary.openai.base_url, "chat/completions", url,
	    sizeof(url)) != CP_OK) {
		cp_fmt(err, errlen, SO_WHAT ": summary.openai.base_url is too "
		    "long");
		return CP_INPUT;
	}
	if ((rc = summary_openai_request_body(conf, req, &body, err,
	    errlen)) != CP_OK)
		return rc;
	memset(&hr, 0, sizeof(hr));
	hr.method = "POST";
	hr.url = url;
	hr.body_kind = HTTP_JSON;
	hr.body = body;
	hr.body_len = strlen(body);
	hr.bearer = conf->summary.openai.api_key;
	hr.timeout_ms = conf->summary.openai.timeout_ms > 0 ?
	    conf->summary.openai.timeout_ms : SO_DEFAULT_TIMEOUT_MS;
	hr.max_bytes = SUMMARY_OPENAI_MAX_BYTES;
	hr.max_redirects = 0;
	rc = openai_post(&hr, SO_WHAT, &res, err, errlen);
	if (rc == CP_OK)
		rc = summary_openai_answer(conf, res.json, out, err, errlen);
	else if (retry_after_ms != NULL)
		*retry_after_ms = res.retry_after_ms;
	openai_result_free(&res);
	free(body);
	return rc;
}

long
summary_openai_max_seconds(const struct cp_conf *conf)
{
	return conf->summary.openai.timeout_ms / 1000 + 60;
}
