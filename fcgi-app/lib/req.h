/*
 * req.h: one FastCGI request as the handlers see it, and the answer
 * helpers. The FastCGI parameters come from nginx's fastcgi_params
 * (REQUEST_METHOD, REQUEST_URI, DOCUMENT_URI, QUERY_STRING, CONTENT_TYPE,
 * CONTENT_LENGTH, HTTP_*; nginx docs, ngx_http_fastcgi_module).
 *
 * A handler answers success itself (req_answer, req_json) and returns
 * CP_OK; on failure it returns a cp_err and writes a one-line reason, and
 * the router answers it with req_fail, the one place that maps errors to
 * HTTP statuses.
 */
#ifndef CP_REQ_H
#define CP_REQ_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stddef.h>
#include "conf.h"
#include "cp_err.h"
#include "db.h"
#include "form.h"

struct json_object;

/* How errors are answered: Twilio's debugger shows plain text; the browser
 * API answers {"success": false, "error": "..."} (DESIGN.md §6). */
enum req_style { REQ_TEXT, REQ_JSON };

#define REQ_SID_MAX 47  /* longest {sid} path segment kept (bytes) */

struct req {
	FCGX_Request         *fr;
	const struct cp_conf *conf;
	struct db            *db;          /* the child's connection */
	const char *method;                /* "GET", "POST", ... */
	const char *request_uri;           /* path + "?" + query, as sent */
	const char *path;                  /* DOCUMENT_URI (no query) */
	const char *query;                 /* QUERY_STRING, "" when none */
	const char *content_type;          /* "" when none */
	long long   content_length;        /* -1 when absent */
	int         status;                /* the status answered (for the log) */

	/* Set by the router before the handler runs. */
	enum req_style style;
	int         route;                 /* row of the route table; -1 none */
	char        sid[REQ_SID_MAX + 1];  /* the path's {sid} segment; "" when
	                                      absent or longer than REQ_SID_MAX */
	long long   business_id;           /* bearer / signed-url: the caller's
	                                      business; 0 otherwise */
	struct form form;                  /* twilio-signature: the decoded body */
	struct form query_form;            /* the decoded query (req_query) */
	enum cp_err query_rc;              /* req_query's result once parsed */
	bool        query_parsed;

	/* Set by a handler for its error answer. */
	int         retry_after_s;         /* Retry-After (seconds); 0: the
	                                      error table's default */
	const char *extra_headers;         /* more header lines ("\r\n" each) */
};

/*
 * The query string decoded (form.h rules: '+' is a space, percent-decoding
 * by libcurl), parsed on the first call and kept in r until the request
 * ends. *out gets it. CP_OK; CP_INPUT (malformed: a NUL, an empty name,
 * more than FORM_MAX_PAIRS pairs); CP_NOMEM.
 */
enum cp_err req_query(struct req *r, const struct form **out);

/* A request parameter (e.g. "HTTP_AUTHORIZATION") or NULL. */
const char *req_param(const struct req *r, const char *name);

/*
 * Reads the body (CONTENT_LENGTH bytes, at most max) into a malloc'd,
 * NUL-terminated buffer; *len gets its length in bytes. Returns CP_OK;
 * CP_LENGTH (no Content-Length), CP_TOOBIG (more than max bytes), CP_INPUT
 * (the body is shorter than its Content-Length), CP_NOMEM.
 */
enum cp_err req_read_body(struct req *r, size_t max, char **body,
    size_t *len);

/*
 * Answers status with content_type and body (len bytes; not sent for
 * HEAD). extra_headers, when non-NULL, is inserted as is (each line ending
 * "\r\n").
 */
void req_answer(struct req *r, int status, const char *content_type,
    const char *body, size_t len, const char *extra_headers);

/* Answers status with the JSON of o (json-c, plain, no slash escaping),
 * with Cache-Control: no-store. o is borrowed. */
void req_json(struct req *r, int status, struct json_object *o);

/*
 * The error answer, in one place: err's status from the table in req.c
 * (CP_INPUT 400, CP_AUTH 401, CP_FORBIDDEN 403, CP_NOTFOUND 404, CP_METHOD
 * 405, CP_CONFLICT 409, CP_GONE 410, CP_LENGTH 411, CP_TOOBIG 413,
 * CP_MEDIATYPE 415, CP_AGAIN / CP_BUSY / CP_UPSTREAM / CP_DB 503 with
 * Retry-After, the rest 500), reason as the body (r->style: plain text or
 * {"success": false, "error": reason}), r->extra_headers added, and
 * WWW-Authenticate: Bearer for a 401 (RFC 6750 §3). reason NULL or "":
 * cp_strerror(err).
 */
void req_fail(struct req *r, enum cp_err err, const char *reason);

/* The HTTP status req_fail answers err with (the table's). */
int req_status_of(enum cp_err err);

/* The reason phrase of an HTTP status (RFC 9110 §15). */
const char *req_status_text(int status);

#endif
