/*
 * http.h: the HTTP client (libcurl easy interface), for Twilio's REST API
 * and recording media and for OpenAI-compatible speech and chat services.
 *
 * One request function, one request description, one response. What the
 * caller chooses per request:
 *   - the body: none (GET), urlencoded form, JSON, or multipart/form-data
 *     (RFC 7578) built with libcurl's mime API (curl_mime_*);
 *   - credentials: HTTP Basic (RFC 7617, Twilio) or a Bearer token
 *     (RFC 6750, OpenAI); never sent to a host a redirect leads to;
 *   - redirects: 0 (a 3xx is answered to the caller as is, OPENAI.md: a
 *     client of an OpenAI-compatible service follows none) or at most 3
 *     (Twilio answers media with 307 to its CDN), https only when
 *     redirected;
 *   - a total timeout (ms) and a cap on the response body (bytes).
 * Response headers are read with curl_easy_header (libcurl >= 7.83) for
 * Retry-After / retry-after-ms and x-request-id.
 *
 * Nothing here logs: error texts name the method and the URL, and a URL
 * never holds a secret (credentials go in headers).
 */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <stddef.h>
#include <stdio.h>
#include "cp_err.h"

/* One part of a multipart/form-data body. */
struct http_part {
	const char *name;       /* form field name, e.g. "file", "timestamp_granularities[]" */
	const void *data;       /* bytes of the value */
	size_t      len;        /* bytes; for a text field, strlen(data) */
	const char *filename;   /* a file part: its filename= (NULL: a text field) */
	const char *type;       /* a file part: its Content-Type (NULL: none sent) */
};

enum http_body { HTTP_NONE = 0, HTTP_FORM, HTTP_JSON, HTTP_MULTIPART };

struct http_request {
	const char *method;        /* "GET", "POST", "DELETE" */
	const char *url;
	enum http_body body_kind;
	const char *body;          /* FORM (already urlencoded) or JSON text */
	size_t      body_len;      /* bytes of body */
	const struct http_part *parts;  /* MULTIPART */
	size_t      nparts;
	const char *basic_user;    /* HTTP Basic when non-NULL */
	const char *basic_pass;
	const char *bearer;        /* "Authorization: Bearer <bearer>" when non-NULL and non-empty */
	long        timeout_ms;    /* whole transfer; connect is min(timeout_ms, 10 s) */
	long long   max_bytes;     /* response body cap; over it: CP_UPSTREAM */
	int         max_redirects; /* 0: none followed; else at most this many, https only */
	FILE       *sink;          /* response body goes here when non-NULL, else to memory */
};

struct http_response {
	long   status;             /* final HTTP status; 0 when no answer came */
	char  *body;               /* NUL-terminated (memory sink only; else NULL); free() it */
	size_t len;                /* bytes of body, or bytes written to the sink */
	long   retry_after_ms;     /* retry-after-ms, else Retry-After (seconds or
	                              HTTP date, RFC 9110 §10.2.3), in ms; -1 when absent */
	char   request_id[96];     /* x-request-id, "" when absent */
	char   content_type[128];  /* "" when absent */
	int    timed_out;          /* the total timeout passed (CURLE_OPERATION_TIMEDOUT) */
};

/*
 * Performs req. Returns CP_OK for any HTTP answer, 3xx and errors included
 * (the caller judges resp->status); CP_UPSTREAM when no complete answer
 * came (connection refused, TLS, timeout — resp->timed_out —, a transfer
 * cut short, a body over max_bytes, a redirect to a scheme other than
 * https) with err (errlen bytes) saying "METHOD URL: why"; CP_SYSTEM when
 * the body could not be written to req->sink (err ends with the write's
 * strerror, e.g. "No space left on device"); CP_INPUT for a request
 * libcurl refuses to build; CP_NOMEM. resp is always filled so
 * far as known; free it with http_response_free.
 */
enum cp_err http_request(const struct http_request *req,
    struct http_response *resp, char *err, size_t errlen);

/* Frees resp->body; resp may be zeroed. */
void http_response_free(struct http_response *resp);

/*
 * Parses a Retry-After value (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date) relative to now_s (unix seconds). Returns milliseconds >= 0,
 * or -1 when v is not one of those forms.
 */
long http_parse_retry_after(const char *v, long long now_s);

/*
 * A base URL's problem, or NULL when it is acceptable: http:// or
 * https://, a host, an optional port and an optional path without a final
 * '/' (e.g. "https://api.openai.com/v1"), no query, fragment or user info.
 * http:// only for a loopback host (127.0.0.0/8, ::1, localhost): secrets
 * never cross a network in the clear. allow_path false: no path at all
 * (public_base_url, twilio.api_base). The answer is a static string.
 */
const char *http_base_url_problem(const char *url, int allow_path);

#endif
