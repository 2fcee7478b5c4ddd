/*
 * api.c: the browser's JSON API (api.h). Query parameters and JSON body
 * fields are each one table of name -> parser, so a reader sees every
 * accepted parameter and its error message in one place.
 */
#include "api.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "callview.h"
#include "calls.h"
#include "cp_num.h"
#include "download.h"
#include "jobs.h"
#include "log.h"
#include "phone.h"
#include "sid.h"
#include "sign.h"
#include "store.h"

#define API_BODY_MAX 4096  /* bytes of a JSON request body */

/* The stage names of the API, in enum calls_stage order. */
static const char *const api_stages[] = { "recording", "transcript",
    "summary" };

static int
api_stage_of(const char *s)
{
	for (int i = 0; s != NULL && i <= CALLS_SUMMARY; i++)
		if (strcmp(s, api_stages[i]) == 0)
			return i;
	return -1;
}

/* The query of GET /api/calls, parsed. */
struct api_list_query {
	struct callview_filter f;
	char                   phone[33];
	char                   since[32];
};

typedef bool (*api_param_fn)(const char *v, struct api_list_query *q);

static bool
api_p_phone(const char *v, struct api_list_query *q)
{
	if (!phone_e164(v) || strlen(v) >= sizeof(q->phone))
		return false;
	memcpy(q->phone, v, strlen(v) + 1);
	q->f.phone = q->phone;
	return true;
}

static bool
api_p_state(const char *v, struct api_list_query *q)
{
	static const struct { const char *name; enum callview_state st; } t[] = {
		{ "failed", CALLVIEW_FAILED }, { "in_progress", CALLVIEW_IN_PROGRESS },
		{ "completed", CALLVIEW_COMPLETED },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(v, t[i].name) == 0) {
			q->f.state = t[i].st;
			return true;
		}
	return false;
}

static bool
api_p_stage(const char *v, struct api_list_query *q)
{
	return (q->f.stage = api_stage_of(v)) >= 0;
}

static bool
api_p_since(const char *v, struct api_list_query *q)
{
	if (callview_time_parse(v, q->since) != CP_OK)
		return false;
	q->f.since = q->since;
	return true;
}

static bool
api_p_limit(const char *v, struct api_list_query *q)
{
	long long n;

	if (cp_parse_ll(v, 1, 200, &n) != CP_OK)
		return false;
	q->f.limit = (int)n;
	return true;
}

static bool
api_p_cursor(const char *v, struct api_list_query *q)
{
	return callview_cursor_parse(v, &q->f) == CP_OK;
}

/* GET /api/calls's parameters: name, parser, the 400's reason. */
static const struct {
	const char  *name;
	api_param_fn parse;
	const char  *problem;
} api_list_params[] = {
	{ "phone",  api_p_phone,  "phone must be an E.164 number such as +972501234567 (send + as %2B)" },
	{ "state",  api_p_state,  "state must be failed, in_progress or completed" },
	{ "stage",  api_p_stage,  "stage must be recording, transcript or summary" },
	{ "since",  api_p_since,  "since must be an ISO-8601 UTC time such as 2026-12-01T10:00:00Z" },
	{ "limit",  api_p_limit,  "limit must be an integer from 1 to 200" },
	{ "cursor", api_p_cursor, "cursor must be the next_cursor of an earlier page" },
};

#define API_NPARAMS (sizeof(api_list_params) / sizeof(api_list_params[0]))

/* A route without query parameters refuses any (as the list refuses an
 * unknown one). */
static enum cp_err
api_no_params(struct req *r, char *reason, size_t reasonlen)
{
	const struct form *q;

	if (req_query(r, &q) != CP_OK) {
		cp_fmt(reason, reasonlen, "malformed query string");
		return CP_INPUT;
	}
	if (q->n > 0) {
		cp_fmt(reason, reasonlen, "unknown parameter %.64s (this route "
		    "takes none)", q->pairs[0].name);
		return CP_INPUT;
	}
	return CP_OK;
}

/* The sid of the path: CP_INPUT when malformed (after authentication,
 * DESIGN.md §7). */
static enum cp_err
api_sid(const struct req *r, char *reason, size_t reasonlen)
{
	if (sid_valid(r->sid, "CA"))
		return CP_OK;
	cp_fmt(reason, reasonlen, "malformed call sid (CA followed by 32 hex "
	    "digits)");
	return CP_INPUT;
}

enum cp_err
api_calls_list(struct req *r, int arg, char *reason, size_t reasonlen)
{
	struct api_list_query q;
	const struct form *qs;
	struct json_object *calls = NULL, *o;
	char next[CALLVIEW_CURSOR_MAX + 1];
	bool seen[API_NPARAMS] = { false };
	enum cp_err rc;

	(void)arg;
	memset(&q, 0, sizeof(q));
	q.f.stage = -1;
	q.f.limit = 50;
	if (req_query(r, &qs) != CP_OK) {
		cp_fmt(reason, reasonlen, "malformed query string");
		return CP_INPUT;
	}
	for (size_t i = 0; i < qs->n; i++) {
		size_t k;
		for (k = 0; k < API_NPARAMS; k++)
			if (strcmp(qs->pairs[i].name, api_list_params[k].name) == 0)
				break;
		if (k == API_NPARAMS) {
			cp_fmt(reason, reasonlen, "unknown parameter %.64s (known: "
			    "phone, state, stage, since, limit, cursor)",
			    qs->pairs[i].name);
			return CP_INPUT;
		}
		if (seen[k]) {
			cp_fmt(reason, reasonlen, "%s given twice",
			    api_list_params[k].name);
			return CP_INPUT;
		}
		seen[k] = true;
		if (!api_list_params[k].parse(qs->pairs[i].value, &q)) {
			cp_fmt(reason, reasonlen, "%s", api_list_params[k].problem);
			return CP_INPUT;
		}
	}
	if (q.f.stage >= 0 && q.f.state == CALLVIEW_ANY) {
		cp_fmt(reason, reasonlen, "stage narrows state: give state too");
		return CP_INPUT;
	}
	if ((rc = callview_list(r->db, r->business_id, &q.f, &calls, next)) !=
	    CP_OK) {
		if (rc == CP_DB)
			log_error("GET /api/calls: %s", db_error(r->db));
		cp_fmt(reason, reasonlen, "%s", rc == CP_DB ?
		    "database unavailable" : cp_strerror(rc));
		return rc;
	}
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "calls", calls);
	json_object_object_add(o, "next_cursor",
	    next[0] ? json_object_new_string(next) : NULL);
	req_json(r, 200, o);
	json_object_put(o);
	return CP_OK;
}

/* Answers status with {"success": true, "call": <the call>}. */
static enum cp_err
api_answer_call(struct req *r, int status, bool detail, char *reason,
    size_t reasonlen)
{
	struct json_object *call = NULL, *o;
	enum cp_err rc = callview_get(r->db, r->business_id, r->sid, detail,
	    &call);

	if (rc != CP_OK) {
		if (rc == CP_DB)
			log_error("call %s: %s", r->sid, db_error(r->db));
		cp_fmt(reason, reasonlen, "%s", rc == CP_NOTFOUND ?
		    "call not found" : rc == CP_DB ? "database unavailable" :
		    cp_strerror(rc));
		return rc;
	}
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "call", call);
	req_json(r, status, o);
	json_object_put(o);
	return CP_OK;
}

enum cp_err
api_call_get(struct req *r, int arg, char *reason, size_t reasonlen)
{
	enum cp_err rc;

	(void)arg;
	if ((rc = api_sid(r, reason, reasonlen)) != CP_OK ||
	    (rc = api_no_params(r, reason, reasonlen)) != CP_OK)
		return rc;
	return api_answer_call(r, 200, true, reason, reasonlen);
}

/* The JSON text of len bytes at s, or NULL when it is not one JSON value
 * (RFC 8259 §2: ws value ws): json_tokener_parse alone would take a valid
 * prefix and ignore what follows. */
static struct json_object *
api_json_parse(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t end;

	if (tok == NULL || len > INT_MAX) {
		json_tokener_free(tok);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, s, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    strspn(s + end, " \t\r\n") != len - end) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/*
 * Reads a JSON object body into *out (caller puts it). No body at all
 * (Content-Length 0 or absent) is an empty object when want is NULL (the
 * body is optional), else CP_INPUT saying want (an example body). CP_OK;
 * CP_MEDIATYPE (not application/json); CP_TOOBIG; CP_INPUT (not exactly
 * one JSON object).
 */
static enum cp_err
api_body(struct req *r, const char *want, struct json_object **out,
    char *reason, size_t reasonlen)
{
	static const char ct[] = "application/json";
	char *body = NULL;
	size_t len = 0;
	enum cp_err rc;

	*out = NULL;
	if (r->content_length <= 0) {
		if (want != NULL) {
			cp_fmt(reason, reasonlen, "body must be JSON such as %s",
			    want);
			return CP_INPUT;
		}
		*out = json_object_new_object();
		return *out ? CP_OK : CP_NOMEM;
	}
	if (strncasecmp(r->content_type, ct, sizeof(ct) - 1) != 0 ||
	    (r->content_type[sizeof(ct) - 1] != '\0' &&
	    r->content_type[sizeof(ct) - 1] != ';')) {
		cp_fmt(reason, reasonlen, "body must be application/json");
		return CP_MEDIATYPE;
	}
	if ((rc = req_read_body(r, API_BODY_MAX, &body, &len)) != CP_OK) {
		cp_fmt(reason, reasonlen, "%s", rc == CP_TOOBIG ?
		    "body too large" : rc == CP_LENGTH ? "Content-Length required" :
		    "body shorter than Content-Length");
		return rc;
	}
	*out = api_json_parse(body, len);
	free(body);
	if (*out == NULL || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		cp_fmt(reason, reasonlen, "body must be a JSON object");
		return CP_INPUT;
	}
	return CP_OK;
}

/* The keys of a body, each checked against the allowed list. */
static enum cp_err
api_known_keys(struct json_object *o, const char *const *allowed,
    char *reason, size_t reasonlen)
{
	json_object_object_foreach(o, key, val) {
		const char *const *a;
		(void)val;
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a == NULL) {
			cp_fmt(reason, reasonlen, "unknown field %.64s", key);
			return CP_INPUT;
		}
	}
	return CP_OK;
}

struct api_retry {
	const struct cp_conf *conf;
	long long             business_id;
	const char           *call_sid;
	int                   want;
	enum calls_stage      stage;
	int                   retry_count;
	struct json_object   *call;   /* out: the row as this transaction left it */
};

/* The reset and the answer's row in one transaction: read after COMMIT, a
 * worker could already have claimed the job and the 202 would show
 * "processing" instead of the "pending" it set. */
static enum cp_err
api_retry_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct api_retry *a = arg;
	enum cp_err rc;

	(void)err;
	(void)errlen;
	json_object_put(a->call);   /* db_tx may run this again */
	a->call = NULL;
	rc = jobs_retry_stage(db, a->conf, a->call_sid, a->want, &a->stage,
	    &a->retry_count);
	return rc != CP_OK ? rc :
	    callview_get(db, a->business_id, a->call_sid, false, &a->call);
}

enum cp_err
api_call_retry(struct req *r, int arg, char *reason, size_t reasonlen)
{
	static const char *const keys[] = { "stage", NULL };
	struct json_object *body = NULL, *v;
	struct api_retry a = { .call = NULL };
	char err[CP_REASON_MAX + 1] = "", status[16];
	long long owner;
	enum cp_err rc;

	(void)arg;
	if ((rc = api_sid(r, reason, reasonlen)) != CP_OK ||
	    (rc = api_no_params(r, reason, reasonlen)) != CP_OK ||
	    (rc = api_body(r, "{\"stage\": \"transcript\"}", &body, reason,
	    reasonlen)) != CP_OK ||
	    (rc = api_known_keys(body, keys, reason, reasonlen)) != CP_OK)
		goto out;
	memset(&a, 0, sizeof(a));
	a.conf = r->conf;
	a.business_id = r->business_id;
	a.call_sid = r->sid;
	if (!json_object_object_get_ex(body, "stage", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (a.want = api_stage_of(json_object_get_string(v))) < 0) {
		cp_fmt(reason, reasonlen, "stage must be recording, transcript "
		    "or summary");
		rc = CP_INPUT;
		goto out;
	}
	rc = callview_business(r->db, r->sid, &owner);
	if (rc == CP_OK && owner != r->business_id)
		rc = CP_NOTFOUND;
	if (rc == CP_OK)
		rc = db_tx(r->db, api_retry_tx, &a, err, sizeof(err));
	if (rc == CP_INPUT) {
		/* Not failed: say what it is (read after the transaction, so
		 * it may have moved on since; it is a hint, not a promise). */
		if (callview_stage_status(r->db, r->business_id, r->sid,
		    (enum calls_stage)a.want, status) != CP_OK)
			cp_fmt(status, sizeof(status), "unknown");
		cp_fmt(reason, reasonlen, "%s is %s, not failed: only a failed "
		    "stage is retried", api_stages[a.want], status);
		rc = CP_CONFLICT;
		goto out;
	}
	if (rc != CP_OK) {
		if (rc == CP_DB)
			log_error("retry %s: %s", r->sid, err[0] ? err :
			    db_error(r->db));
		cp_fmt(reason, reasonlen, "%s", rc == CP_NOTFOUND ?
		    "call not found" : rc == CP_DB ? "database unavailable" :
		    cp_strerror(rc));
		goto out;
	}
	log_info("retry %s: %s stage back to pending (retry %d)", r->sid,
	    api_stages[a.stage], a.retry_count);
	{
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "success", json_object_new_boolean(1));
		json_object_object_add(o, "call", a.call);
		a.call = NULL;
		req_json(r, 202, o);
		json_object_put(o);
	}
out:
	json_object_put(a.call);
	json_object_put(body);
	return rc;
}

enum cp_err
api_download_url(struct req *r, int arg, char *reason, size_t reasonlen)
{
	static const char *const keys[] = { "format", "ttl_s", NULL };
	struct json_object *body = NULL, *v, *o;
	struct callview_download dl;
	enum store_format fmt;
	const char *format = "wav";
	long long ttl = r->conf->api.signed_url_ttl_s, expires;
	char url[512], iso[32], t[32];
	struct tm tm;
	time_t when;
	enum cp_err rc;

	(void)arg;
	if ((rc = api_sid(r, reason, reasonlen)) != CP_OK ||
	    (rc = api_no_params(r, reason, reasonlen)) != CP_OK ||
	    (rc = api_body(r, NULL, &body, reason, reasonlen)) != CP_OK ||
	    (rc = api_known_keys(body, keys, reason, reasonlen)) != CP_OK)
		goto out;
	if (json_object_object_get_ex(body, "format", &v)) {
		format = json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) : "";
		if (store_format_parse(format, &fmt) != CP_OK) {
			cp_fmt(reason, reasonlen, "format must be wav or mp3");
			rc = CP_INPUT;
			goto out;
		}
	}
	if (json_object_object_get_ex(body, "ttl_s", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    (ttl = json_object_get_int64(v)) < 1 ||
		    ttl > r->conf->api.signed_url_ttl_s) {
			cp_fmt(reason, reasonlen, "ttl_s must be an integer from 1 "
			    "to %d", r->conf->api.signed_url_ttl_s);
			rc = CP_INPUT;
			goto out;
		}
	}
	/* A URL that could only answer 404 or 410 is not minted: the call
	 * must be this business's and its recording servable. */
	rc = callview_download_get(r->db, r->business_id, r->sid, &dl);
	if (rc != CP_OK) {
		cp_fmt(reason, reasonlen, "%s", rc == CP_NOTFOUND ?
		    "call not found" : "database unavailable");
		goto out;
	}
	if ((rc = download_servable(r->conf, &dl, reason, reasonlen)) != CP_OK)
		goto out;
	when = time(NULL) + (time_t)ttl;
	expires = (long long)when;
	/* Every field was checked above: a failure here is ours (500), never
	 * the caller's 400. */
	if (sign_download_url(r->conf, r->sid, format, expires,
	    r->business_id, url, sizeof(url)) != CP_OK) {
		log_error("call %s: could not sign a download URL", r->sid);
		cp_fmt(reason, reasonlen, "could not sign the URL");
		rc = CP_SYSTEM;
		goto out;
	}
	gmtime_r(&when, &tm);
	strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
	callview_iso(t, iso);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "expires_at", json_object_new_string(iso));
	req_json(r, 200, o);
	json_object_put(o);
out:
	json_object_put(body);
	return rc;
}
