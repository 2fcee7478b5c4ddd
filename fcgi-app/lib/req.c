/*
 * req.c: the request plumbing of callpipe-fcgi (req.h) and the one table
 * that turns an error into an HTTP answer.
 */
#include "req.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every error's HTTP answer. retry_after_s > 0: the answer says when to come
 * back (RFC 9110 §10.2.3), unless the handler set its own. A database or
 * upstream that failed is the server's trouble, so 503, never an empty
 * success. Codes not listed are 500. */
static const struct {
	enum cp_err err;
	int         status;
	int         retry_after_s;
} req_errors[] = {
	{ CP_INPUT,     400, 0 },
	{ CP_AUTH,      401, 0 },
	{ CP_FORBIDDEN, 403, 0 },
	{ CP_NOTFOUND,  404, 0 },
	{ CP_METHOD,    405, 0 },
	{ CP_CONFLICT,  409, 0 },
	{ CP_GONE,      410, 0 },
	{ CP_LENGTH,    411, 0 },
	{ CP_TOOBIG,    413, 0 },
	{ CP_MEDIATYPE, 415, 0 },
	{ CP_AGAIN,     503, 2 },
	{ CP_BUSY,      503, 2 },
	{ CP_UPSTREAM,  503, 10 },
	{ CP_DB,        503, 10 },
};

static const struct {
	int         status;
	const char *text;
} req_texts[] = {
	{ 200, "OK" }, { 202, "Accepted" }, { 204, "No Content" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" },
	{ 413, "Content Too Large" }, { 415, "Unsupported Media Type" },
	{ 429, "Too Many Requests" }, { 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
};

const char *
req_param(const struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fr->envp);
}

enum cp_err
req_query(struct req *r, const struct form **out)
{
	if (!r->query_parsed) {
		r->query_rc = form_parse(r->query, strlen(r->query), &r->query_form);
		r->query_parsed = true;
	}
	*out = &r->query_form;
	return r->query_rc;
}

const char *
req_status_text(int status)
{
	for (size_t i = 0; i < sizeof(req_texts) / sizeof(req_texts[0]); i++)
		if (req_texts[i].status == status)
			return req_texts[i].text;
	return "Unknown";
}

int
req_status_of(enum cp_err err)
{
	for (size_t i = 0; i < sizeof(req_errors) / sizeof(req_errors[0]); i++)
		if (req_errors[i].err == err)
			return req_errors[i].status;
	return 500;
}

static int
req_retry_after_of(enum cp_err err)
{
	for (size_t i = 0; i < sizeof(req_errors) / sizeof(req_errors[0]); i++)
		if (req_errors[i].err == err)
			return req_errors[i].retry_after_s;
	return 0;
}

void
req_answer(struct req *r, int status, const char *content_type,
    const char *body, size_t len, const char *extra_headers)
{
	char cl[48];
	int n;

	r->status = status;
	FCGX_FPrintF(r->fr->out, "Status: %d %s\r\n", status,
	    req_status_text(status));
	if (content_type != NULL)
		FCGX_FPrintF(r->fr->out, "Content-Type: %s\r\n", content_type);
	if (extra_headers != NULL)
		FCGX_PutS(extra_headers, r->fr->out);
	/* libfcgi's own printf knows no %zu: format the length here. */
	n = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", len);
	FCGX_PutStr(cl, n, r->fr->out);
	if (len > 0 && strcmp(r->method, "HEAD") != 0)
		FCGX_PutStr(body, (int)len, r->fr->out);
}

void
req_json(struct req *r, int status, struct json_object *o)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	if (s == NULL) {
		req_fail(r, CP_NOMEM, NULL);
		return;
	}
	req_answer(r, status, "application/json", s, len,
	    "Cache-Control: no-store\r\n");
}

void
req_fail(struct req *r, enum cp_err err, const char *reason)
{
	int status = req_status_of(err);
	int retry = r->retry_after_s > 0 ? r->retry_after_s :
	    req_retry_after_of(err);
	char hdr[768], line[CP_REASON_MAX + 2];
	size_t used;

	if (reason == NULL || *reason == '\0')
		reason = cp_strerror(err);
	hdr[0] = '\0';
	if (retry > 0)
		cp_fmt(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
	used = strlen(hdr);
	if (status == 401 && r->style == REQ_JSON)
		cp_fmt(hdr + used, sizeof(hdr) - used,
		    "WWW-Authenticate: Bearer realm=\"callpipe\"\r\n");
	used = strlen(hdr);
	if (r->extra_headers != NULL)
		cp_fmt(hdr + used, sizeof(hdr) - used, "%s", r->extra_headers);

	if (r->style == REQ_TEXT) {
		cp_fmt(line, sizeof(line), "%s\n", reason);
		req_answer(r, status, "text/plain; charset=utf-8", line,
		    strlen(line), hdr);
		return;
	}
	{
		struct json_object *o = json_object_new_object();
		const char *s;
		size_t len = 0;

		json_object_object_add(o, "success", json_object_new_boolean(0));
		json_object_object_add(o, "error", json_object_new_string(reason));
		s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		req_answer(r, status, "application/json", s ? s : "",
		    s ? len : 0, hdr);
		json_object_put(o);
	}
}

enum cp_err
req_read_body(struct req *r, size_t max, char **body, size_t *len)
{
	char *buf;
	int got;

	*body = NULL;
	*len = 0;
	if (r->content_length < 0)
		return CP_LENGTH;
	if ((unsigned long long)r->content_length > max)
		return CP_TOOBIG;
	if ((buf = malloc((size_t)r->content_length + 1)) == NULL)
		return CP_NOMEM;
	got = r->content_length > 0 ?
	    FCGX_GetStr(buf, (int)r->content_length, r->fr->in) : 0;
	if (got != r->content_length) {
		free(buf);
		return CP_INPUT;
	}
	buf[got] = '\0';
	*body = buf;
	*len = (size_t)got;
	return CP_OK;
}
