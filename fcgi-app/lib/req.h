/*
 * req.h: one FastCGI request as the handlers see it, and the answer
 * helpers. The FastCGI parameters come from nginx's fastcgi_params
 * (REQUEST_METHOD, REQUEST_URI, DOCUMENT_URI, QUERY_STRING, CONTENT_TYPE,
 * CONTENT_LENGTH, HTTP_*; nginx docs, ngx_http_fastcgi_module).
 */
#ifndef CP_REQ_H
#define CP_REQ_H

#include <fcgiapp.h>
#include <stddef.h>
#include "conf.h"
#include "cp_err.h"
#include "db.h"

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
};

/* A request parameter (e.g. "HTTP_AUTHORIZATION") or NULL. */
const char *req_param(const struct req *r, const char *name);

/*
 * Reads the body (CONTENT_LENGTH bytes) into a malloc'd, NUL-terminated
 * buffer. Returns CP_OK; CP_INPUT when the length is absent, negative or
 * more than max bytes (the caller answers 413 / 411) or the body is short;
 * CP_NOMEM.
 */
enum cp_err req_read_body(struct req *r, size_t max, char **body,
    size_t *len);

/*
 * Answers status with content_type and body (len bytes). extra_headers,
 * when non-NULL, is inserted as is (each line ending "\r\n").
 */
void req_answer(struct req *r, int status, const char *content_type,
    const char *body, size_t len, const char *extra_headers);

/* Answers {"success": false, "error": msg} with status (JSON, json-c). */
void req_json_error(struct req *r, int status, const char *msg,
    const char *extra_headers);

/* Answers a plain-text one-line reason (for Twilio's debugger). */
void req_text_error(struct req *r, int status, const char *msg,
    const char *extra_headers);

/* The reason phrase of an HTTP status (RFC 9110 §15). */
const char *req_status_text(int status);

#endif
