/*
 * routes.c: the route table of callpipe-fcgi and the dispatch that runs
 * it (routes.h). Every route, its methods and how its caller is
 * authenticated are in the one table below; a reader finds every handler
 * here.
 */
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "download.h"
#include "log.h"
#include "metrics.h"
#include "sid.h"
#include "webhook.h"

/* How a route's caller proves who it is. */
enum route_auth {
	AUTH_NONE,     /* anyone (monitoring) */
	AUTH_TWILIO,   /* X-Twilio-Signature over the body, this AccountSid */
	AUTH_BEARER,   /* Authorization: Bearer <API token> -> business */
	AUTH_SIGNED    /* a Bearer token, or ?format=&expires=&sig= */
};

/* A handler: arg is the row's own argument (the webhook kind); on failure
 * it returns the error and writes a one-line reason (reasonlen bytes). */
typedef enum cp_err (*route_fn)(struct req *r, int arg, char *reason,
    size_t reasonlen);

static enum cp_err routes_healthz(struct req *r, int arg, char *reason,
    size_t reasonlen);
static enum cp_err routes_metrics(struct req *r, int arg, char *reason,
    size_t reasonlen);

/* The routes. "{sid}" matches one non-empty path segment, which the
 * handler gets in r->sid. A path that matches with another method is 405
 * with the Allow of the rows that match. */
static const struct route {
	const char     *method;
	const char     *pattern;
	enum route_auth auth;
	route_fn        fn;
	int             arg;
} routes[] = {
	{ "GET",  "/healthz",                      AUTH_NONE,   routes_healthz, 0 },
	{ "HEAD", "/healthz",                      AUTH_NONE,   routes_healthz, 0 },
	/* nginx lets only its allow list reach it (nginx/callpipe.conf.in). */
	{ "GET",  "/metrics",                      AUTH_NONE,   routes_metrics, 0 },
	{ "POST", "/webhook/incoming_call",        AUTH_TWILIO, webhook_handle, WEBHOOK_INCOMING_CALL },
	{ "POST", "/webhook/outbound_call",        AUTH_TWILIO, webhook_handle, WEBHOOK_OUTBOUND_CALL },
	{ "POST", "/webhook/stream_ended",         AUTH_TWILIO, webhook_handle, WEBHOOK_STREAM_ENDED },
	{ "POST", "/webhook/handle_recording",     AUTH_TWILIO, webhook_handle, WEBHOOK_HANDLE_RECORDING },
	{ "POST", "/webhook/call_status",          AUTH_TWILIO, webhook_handle, WEBHOOK_CALL_STATUS },
	{ "GET",  "/api/calls",                    AUTH_BEARER, api_calls_list, 0 },
	{ "GET",  "/api/calls/{sid}",              AUTH_BEARER, api_call_get, 0 },
	{ "POST", "/api/calls/{sid}/retry",        AUTH_BEARER, api_call_retry, 0 },
	{ "POST", "/api/calls/{sid}/download-url", AUTH_BEARER, api_download_url, 0 },
	{ "GET",  "/api/calls/{sid}/download",     AUTH_SIGNED, download_handle, 0 },
	{ "HEAD", "/api/calls/{sid}/download",     AUTH_SIGNED, download_handle, 0 },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/*
 * 200 when the database answers and no due job has waited longer than
 * health.max_queue_age_s (by run_after: the workers are gone, stuck or
 * too few); else 503 with the reason.
 */
static enum cp_err
routes_healthz(struct req *r, int arg, char *reason, size_t reasonlen)
{
	static const char ok[] = "{\"ok\":true,\"database\":\"up\"}";
	double age_s = 0;

	(void)arg;
	if (db_ping(r->db) != CP_OK) {
		cp_fmt(reason, reasonlen, "database unreachable");
		return CP_DB;
	}
	if (metrics_oldest_due_age(r->db, &age_s) != CP_OK) {
		log_error("healthz: queue age: %s", db_error(r->db));
		cp_fmt(reason, reasonlen, "database query failed");
		return CP_DB;
	}
	if (age_s > (double)r->conf->health.max_queue_age_s) {
		cp_fmt(reason, reasonlen, "oldest due job has waited %.0f s "
		    "(health.max_queue_age_s %d)", age_s,
		    r->conf->health.max_queue_age_s);
		return CP_BUSY;
	}
	req_answer(r, 200, "application/json", ok, sizeof(ok) - 1,
	    "Cache-Control: no-store\r\n");
	return CP_OK;
}

/* The Prometheus exposition (metrics.h); 503 when this process has no
 * scoreboard (never in a child of callpipe-fcgi's master). */
static enum cp_err
routes_metrics(struct req *r, int arg, char *reason, size_t reasonlen)
{
	char *text = NULL;
	size_t len = 0;
	enum cp_err rc;

	(void)arg;
	if ((rc = metrics_render(r->db, &text, &len)) != CP_OK) {
		cp_fmt(reason, reasonlen, "%s", rc == CP_NOTFOUND ? "no "
		    "scoreboard in this process" : rc == CP_BUSY ? "scoreboard "
		    "fold never ended (master gone?)" : "out of memory");
		return rc == CP_NOTFOUND ? CP_AGAIN : rc;
	}
	req_answer(r, 200, METRICS_CONTENT_TYPE, text, len,
	    "Cache-Control: no-store\r\n");
	free(text);
	return CP_OK;
}

size_t
routes_count(void)
{
	return NROUTES;
}

void
routes_row(size_t i, const char **method, const char **pattern,
    bool *download)
{
	*method = i < NROUTES ? routes[i].method : "none";
	*pattern = i < NROUTES ? routes[i].pattern : "none";
	*download = i < NROUTES && routes[i].fn == download_handle;
}

/*
 * Does path match pattern? A "{sid}" segment matches any non-empty
 * segment; it is copied to sid (REQ_SID_MAX + 1 bytes), or left "" when
 * longer, so that the handler answers 400 after the credentials are
 * checked (DESIGN.md §7 order).
 */
static bool
routes_match(const char *pattern, const char *path, char *sid)
{
	static const char var[] = "{sid}";

	while (*pattern != '\0') {
		if (strncmp(pattern, var, sizeof(var) - 1) == 0) {
			size_t n = strcspn(path, "/");
			if (n == 0)
				return false;
			if (n <= REQ_SID_MAX) {
				memcpy(sid, path, n);
				sid[n] = '\0';
			} else
				sid[0] = '\0';
			pattern += sizeof(var) - 1;
			path += n;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	return *path == '\0';
}

/* Authenticates r for the route's auth. CP_OK, or the error to answer. */
static enum cp_err
routes_auth(struct req *r, const struct route *route, char *reason,
    size_t reasonlen)
{
	enum route_auth auth = route->auth;
	enum cp_err rc;

	switch (auth) {
	case AUTH_NONE:
		return CP_OK;
	case AUTH_TWILIO:
		return webhook_authenticate(r, reason, reasonlen);
	case AUTH_SIGNED:
		if (download_is_signed(r))
			return download_signed_auth(r, reason, reasonlen);
		/* FALLTHROUGH */
	case AUTH_BEARER:
		rc = auth_bearer_business(r->db,
		    req_param(r, "HTTP_AUTHORIZATION"), &r->business_id);
		if (rc == CP_AUTH)
			cp_fmt(reason, reasonlen, "missing or unknown API token");
		else if (rc != CP_OK) {
			/* The pattern, not the path: the path is the
			 * client's, percent-decoded, and may hold a newline. */
			log_error("%s %s: token lookup failed: %s", route->method,
			    route->pattern, db_error(r->db));
			cp_fmt(reason, reasonlen, "database unavailable");
		}
		return rc;
	}
	return CP_SYSTEM;
}

/*
 * Once the caller is authenticated, the CallSid the request is about (a
 * webhook's form, an API path's {sid}) goes into every log line until the
 * request ends (log.h context; app.c clears it). Only a well-formed SID:
 * it reaches the log as is.
 */
static void
routes_log_call(const struct req *r)
{
	const char *sid = form_get(&r->form, "CallSid");

	if (sid == NULL || !sid_valid(sid, "CA"))
		sid = r->sid;
	if (sid_valid(sid, "CA"))
		log_ctx_set_call(sid);
}

void
routes_dispatch(struct req *r)
{
	char reason[CP_REASON_MAX + 1] = "", allow[64] = "", hdr[96];
	const struct route *hit = NULL;
	enum cp_err rc;

	r->style = strncmp(r->path, "/webhook/", 9) == 0 ? REQ_TEXT : REQ_JSON;
	r->route = -1;
	for (size_t i = 0; i < NROUTES; i++) {
		if (!routes_match(routes[i].pattern, r->path, r->sid))
			continue;
		if (strcmp(routes[i].method, r->method) == 0) {
			hit = &routes[i];
			break;
		}
		if (strstr(allow, routes[i].method) == NULL)
			cp_fmt(allow + strlen(allow), sizeof(allow) - strlen(allow),
			    "%s%s", allow[0] ? ", " : "", routes[i].method);
	}
	if (hit == NULL) {
		if (allow[0] == '\0') {
			req_fail(r, CP_NOTFOUND, "no such route");
			return;
		}
		cp_fmt(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		r->extra_headers = hdr;
		cp_fmt(reason, sizeof(reason), "method not allowed (allowed: %s)",
		    allow);
		req_fail(r, CP_METHOD, reason);
		return;
	}
	r->route = (int)(hit - routes);
	if ((rc = routes_auth(r, hit, reason, sizeof(reason))) == CP_OK) {
		routes_log_call(r);
		rc = hit->fn(r, hit->arg, reason, sizeof(reason));
	}
	if (rc != CP_OK)
		req_fail(r, rc, reason);
}
