/*
 * router.c: the route table of callpipe-fcgi and the request plumbing.
 * A reader finds every route's handler here.
 */
#include "app.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cp_num.h"
#include "db.h"
#include "download.h"
#include "log.h"
#include "req.h"
#include "webhook.h"

struct app {
	const struct cp_conf *conf;
	struct db            *db;
};

enum cp_err
app_new(const struct cp_conf *conf, struct app **out)
{
	struct app *a;
	char err[CP_REASON_MAX + 1];

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return CP_NOMEM;
	a->conf = conf;
	if (db_open(conf, &a->db, err, sizeof(err)) != CP_OK) {
		if (a->db == NULL) {
			free(a);
			return CP_NOMEM;
		}
		/* Not fatal: db_exec connects again on the next request. */
		log_warn("%s", err);
	}
	*out = a;
	return CP_OK;
}

void
app_free(struct app *a)
{
	if (a == NULL)
		return;
	db_close(a->db);
	free(a);
}

const char *
req_param(const struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fr->envp);
}

const char *
req_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

void
req_answer(struct req *r, int status, const char *content_type,
    const char *body, size_t len, const char *extra_headers)
{
	r->status = status;
	FCGX_FPrintF(r->fr->out, "Status: %d %s\r\n", status,
	    req_status_text(status));
	if (content_type != NULL)
		FCGX_FPrintF(r->fr->out, "Content-Type: %s\r\n", content_type);
	if (extra_headers != NULL)
		FCGX_PutS(extra_headers, r->fr->out);
	/* libfcgi's own printf knows no %zu: format the length here. */
	{
		char cl[48];
		int n = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", len);
		FCGX_PutStr(cl, n, r->fr->out);
	}
	if (len > 0 && strcmp(r->method, "HEAD") != 0)
		FCGX_PutStr(body, (int)len, r->fr->out);
}

void
req_json_error(struct req *r, int status, const char *msg,
    const char *extra_headers)
{
	struct json_object *o = json_object_new_object();
	const char *s;

	json_object_object_add(o, "success", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	req_answer(r, status, "application/json", s, strlen(s), extra_headers);
	json_object_put(o);
}

void
req_text_error(struct req *r, int status, const char *msg,
    const char *extra_headers)
{
	char line[CP_REASON_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", msg);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	req_answer(r, status, "text/plain; charset=utf-8", line, (size_t)n,
	    extra_headers);
}

enum cp_err
req_read_body(struct req *r, size_t max, char **body, size_t *len)
{
	char *buf;
	int got;

	*body = NULL;
	*len = 0;
	if (r->content_length < 0 || (unsigned long long)r->content_length > max)
		return CP_INPUT;
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

static void
router_healthz(struct req *r)
{
	static const char ok[] = "{\"ok\":true,\"database\":\"up\"}";

	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		req_json_error(r, 405, "method not allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	if (db_ping(r->db) != CP_OK) {
		req_json_error(r, 503, "database unreachable", NULL);
		return;
	}
	req_answer(r, 200, "application/json", ok, sizeof(ok) - 1,
	    "Cache-Control: no-store\r\n");
}

/* The route table. Webhooks are exact paths; the API route has the
 * CallSid as its one variable segment. */
static const struct {
	const char       *path;
	enum webhook_kind kind;
} router_webhooks[] = {
	{ "/webhook/incoming_call",    WEBHOOK_INCOMING_CALL },
	{ "/webhook/outbound_call",    WEBHOOK_OUTBOUND_CALL },
	{ "/webhook/stream_ended",     WEBHOOK_STREAM_ENDED },
	{ "/webhook/handle_recording", WEBHOOK_HANDLE_RECORDING },
	{ "/webhook/call_status",      WEBHOOK_CALL_STATUS },
};

static void
router_dispatch(struct req *r)
{
	static const char api[] = "/api/calls/", dl[] = "/download";
	size_t n;

	for (size_t i = 0; i < sizeof(router_webhooks) / sizeof(router_webhooks[0]); i++)
		if (strcmp(r->path, router_webhooks[i].path) == 0) {
			webhook_handle(r, router_webhooks[i].kind);
			return;
		}
	if (strcmp(r->path, "/healthz") == 0) {
		router_healthz(r);
		return;
	}
	n = strlen(r->path);
	if (strncmp(r->path, api, sizeof(api) - 1) == 0 &&
	    n > sizeof(api) - 1 + sizeof(dl) - 1 &&
	    strcmp(r->path + n - (sizeof(dl) - 1), dl) == 0) {
		char sid[64];
		size_t sl = n - (sizeof(api) - 1) - (sizeof(dl) - 1);
		if (memchr(r->path + sizeof(api) - 1, '/', sl)) {
			req_json_error(r, 404, "no such route", NULL);
			return;
		}
		/* An overlong segment is still this route: the handler checks
		 * credentials before it answers 400 (DESIGN.md §7 order). */
		if (sl >= sizeof(sid))
			sl = sizeof(sid) - 1;
		memcpy(sid, r->path + sizeof(api) - 1, sl);
		sid[sl] = '\0';
		download_handle(r, sid);
		return;
	}
	req_json_error(r, 404, "no such route", NULL);
}

/* One access line; the path is untrusted, so only printable ASCII of it
 * reaches the log, at most 120 bytes. */
static void
router_log(const struct req *r)
{
	char path[121], method[9];
	size_t i;

	for (i = 0; i < sizeof(path) - 1 && r->path[i]; i++)
		path[i] = (r->path[i] > 0x20 && r->path[i] < 0x7f) ? r->path[i] : '?';
	path[i] = '\0';
	for (i = 0; i < sizeof(method) - 1 && r->method[i]; i++)
		method[i] = (r->method[i] >= 'A' && r->method[i] <= 'Z') ?
		    r->method[i] : '?';
	method[i] = '\0';
	log_info("%s %s %d", method, path, r->status);
}

void
app_handle(struct app *a, FCGX_Request *fr)
{
	struct req r;
	const char *cl, *uri;

	memset(&r, 0, sizeof(r));
	r.fr = fr;
	r.conf = a->conf;
	r.db = a->db;
	r.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	r.path = FCGX_GetParam("DOCUMENT_URI", fr->envp);
	r.query = FCGX_GetParam("QUERY_STRING", fr->envp);
	r.content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	if (r.method == NULL)
		r.method = "";
	if (r.query == NULL)
		r.query = "";
	if (r.content_type == NULL)
		r.content_type = "";
	r.request_uri = uri ? uri : "";
	if (r.path == NULL)
		r.path = "";
	/* Content-Length = 1*DIGIT (RFC 9110 §8.6); anything else, or a
	 * value past a long long, counts as absent. */
	if (cp_parse_ll(cl, 0, LLONG_MAX, &r.content_length) != CP_OK)
		r.content_length = -1;
	if (uri == NULL || *r.path == '\0') {
		req_json_error(&r, 400, "request without REQUEST_URI/DOCUMENT_URI "
		    "(check fastcgi_params in nginx)", NULL);
	} else
		router_dispatch(&r);
	router_log(&r);
}
