/*
 * openai.c: one request to an OpenAI-compatible service and the table that
 * classifies its failures (see openai.h; the facts are OPENAI.md's).
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "log.h"

/*
 * The error table, scanned top to bottom; the first row that matches wins.
 * Sources: OPENAI.md "Errors, retries, auth" (openai-python's retry rule:
 * 408, 409, 429, >= 500, timeouts and connection errors; quota is the 429
 * that must never be retried) and "What a robust client does".
 */
static const struct openai_error_rule openai_rules[] = {
	{ 200, 299, NULL,                 OPENAI_OK,        "ok" },
	{   0,   0, NULL,                 OPENAI_RETRY,     "no answer" },
	{ 300, 399, NULL,                 OPENAI_PERMANENT, "redirect" },
	{ 408, 408, NULL,                 OPENAI_RETRY,     "request timeout" },
	{ 409, 409, NULL,                 OPENAI_RETRY,     "conflict" },
	{ 429, 429, "insufficient_quota", OPENAI_PERMANENT, "quota exceeded" },
	{ 429, 429, NULL,                 OPENAI_RETRY,     "rate limit" },
	{ 500, 599, NULL,                 OPENAI_RETRY,     "server error" },
	{ 400, 499, NULL,                 OPENAI_PERMANENT, "refused" },
	{   0, 999, NULL,                 OPENAI_PERMANENT, "unexpected status" },
};

enum openai_class
openai_classify(long status, const char *code, const char **why)
{
	for (size_t i = 0; i < sizeof(openai_rules) / sizeof(openai_rules[0]);
	    i++) {
		const struct openai_error_rule *r = &openai_rules[i];
		if (status < r->status_lo || status > r->status_hi)
			continue;
		if (r->code != NULL && (code == NULL || strcmp(code, r->code) != 0))
			continue;
		if (why != NULL)
			*why = r->why;
		return r->cls;
	}
	if (why != NULL)
		*why = "unexpected status";
	return OPENAI_PERMANENT;
}

/* Copies a JSON string value, or nothing when v is not a string. */
static void
openai_copy_str(struct json_object *v, char *out, size_t outlen)
{
	if (v != NULL && json_object_is_type(v, json_type_string))
		cp_fmt(out, outlen, "%s", json_object_get_string(v));
}

void
openai_error_text(const char *body, char *msg, size_t msglen, char *code,
    size_t codelen)
{
	struct json_object *root, *e, *v;

	msg[0] = '\0';
	code[0] = '\0';
	if (body == NULL || (root = json_tokener_parse(body)) == NULL)
		return;
	if (json_object_object_get_ex(root, "error", &e)) {
		if (json_object_is_type(e, json_type_string)) {
			/* whisper.cpp: {"error": "text"} */
			openai_copy_str(e, msg, msglen);
		} else if (json_object_is_type(e, json_type_object)) {
			/* OpenAI, vLLM, llama.cpp: {"error": {"message", "type",
			 * "code"}}; code may be an int (the status) there. */
			if (json_object_object_get_ex(e, "message", &v))
				openai_copy_str(v, msg, msglen);
			if (json_object_object_get_ex(e, "code", &v) &&
			    json_object_is_type(v, json_type_string))
				openai_copy_str(v, code, codelen);
			else if (json_object_object_get_ex(e, "type", &v))
				openai_copy_str(v, code, codelen);
		}
	} else if (json_object_object_get_ex(root, "detail", &e)) {
		/* speaches (FastAPI): {"detail": "text"} or a list of
		 * {"loc", "msg", "type"}. */
		if (json_object_is_type(e, json_type_string))
			openai_copy_str(e, msg, msglen);
		else if (json_object_is_type(e, json_type_array) &&
		    json_object_array_length(e) > 0 &&
		    json_object_object_get_ex(json_object_array_get_idx(e, 0),
		    "msg", &v))
			openai_copy_str(v, msg, msglen);
	}
	/* A message goes into one line of last_error. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	json_object_put(root);
}

enum cp_err
openai_post(const struct http_request *req, const char *what,
    struct openai_result *res, char *err, size_t errlen)
{
	struct http_request r = *req;
	struct http_response resp;
	char herr[CP_REASON_MAX + 1] = "", msg[CP_REASON_MAX + 1], code[64];
	const char *why = NULL;
	enum openai_class cls;
	enum cp_err rc;

	memset(res, 0, sizeof(*res));
	res->retry_after_ms = -1;
	r.max_redirects = 0;   /* OPENAI.md: a 3xx is an answer, not a hop */
	r.sink = NULL;
	rc = http_request(&r, &resp, herr, sizeof(herr));
	res->status = resp.status;
	memcpy(res->request_id, resp.request_id, sizeof(res->request_id));
	if (resp.retry_after_ms >= 0)
		res->retry_after_ms = resp.retry_after_ms >
		    OPENAI_RETRY_AFTER_MAX_MS ? OPENAI_RETRY_AFTER_MAX_MS :
		    resp.retry_after_ms;
	if (rc == CP_NOMEM || rc == CP_INPUT || rc == CP_SYSTEM) {
		cp_fmt(err, errlen, "%s: %s", what, herr);
		http_response_free(&resp);
		return rc;
	}
	if (rc != CP_OK) {
		/* No complete answer: a timeout, a refused connection, a body cut
		 * short or over the cap — all retried (OPENAI.md). */
		cp_fmt(err, errlen, "%s: %s", what, herr);
		log_warn("%s: %s", what, herr);
		http_response_free(&resp);
		return CP_UPSTREAM;
	}
	openai_error_text(resp.body, msg, sizeof(msg), code, sizeof(code));
	cls = openai_classify(resp.status, code[0] ? code : NULL, &why);
	if (cls == OPENAI_OK) {
		res->json = resp.body != NULL ? json_tokener_parse(resp.body) : NULL;
		if (res->json == NULL ||
		    !json_object_is_type(res->json, json_type_object)) {
			json_object_put(res->json);
			res->json = NULL;
			cp_fmt(err, errlen, "%s: HTTP %ld with a body that is not a "
			    "JSON object (%zu bytes): truncated or not an "
			    "OpenAI-compatible service", what, resp.status, resp.len);
			http_response_free(&resp);
			return CP_UPSTREAM;
		}
		log_debug("%s: HTTP %ld x-request-id %s", what, resp.status,
		    res->request_id[0] ? res->request_id : "-");
		http_response_free(&resp);
		return CP_OK;
	}
	if (resp.status >= 300 && resp.status < 400)
		cp_fmt(err, errlen, "%s: HTTP %ld redirect (not followed): "
		    "check the base_url", what, resp.status);
	else
		cp_fmt(err, errlen, "%s: HTTP %ld%s%s: %s", what, resp.status,
		    code[0] ? " " : "", code, msg[0] ? msg : why);
	log_warn("%s (x-request-id %s, %s)", err,
	    res->request_id[0] ? res->request_id : "-", why);
	http_response_free(&resp);
	return cls == OPENAI_RETRY ? CP_UPSTREAM : CP_REJECTED;
}

void
openai_result_free(struct openai_result *res)
{
	if (res == NULL)
		return;
	json_object_put(res->json);
	res->json = NULL;
}

enum cp_err
openai_url(const char *base_url, const char *path, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", base_url, path);

	return (n < 0 || (size_t)n >= outlen) ? CP_INPUT : CP_OK;
}
