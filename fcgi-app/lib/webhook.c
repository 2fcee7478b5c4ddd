#include "webhook.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls.h"
#include "coverage.h"
#include "cp_num.h"
#include "form.h"
#include "jobkey.h"
#include "log.h"
#include "queue.h"
#include "rest_start.h"
#include "sid.h"
#include "twilio_sig.h"
#include "twiml.h"

/*
 * A webhook's form, decoded and checked before its transaction. Strings
 * point into r->form (NULL when Twilio sent none); numbers are -1 when
 * absent or malformed (Twilio sends "-1" for an unknown recording
 * duration). Parameters: TWILIO.md "Voice webhook parameters",
 * "Recording status callback", "Call status callback".
 */
struct webhook_form {
	const char *call_sid;          /* CA + 32 hex, always set */
	const char *from, *to;         /* voice: at most 64 bytes each */
	const char *direction;         /* a Twilio enum token, or NULL */
	const char *call_status;       /* voice: token or NULL; status callback:
	                                  one of webhook_call_statuses */
	long        call_duration;     /* seconds */
	const char *recording_sid;     /* handle_recording: RE + 32 hex */
	const char *recording_status;  /* in-progress|completed|absent|failed */
	const char *recording_url;     /* completed: 1..500 bytes */
	long        recording_duration;/* seconds */
	int         recording_channels;/* 1 or 2; 0 unknown */
	const char *error_code;        /* digits, or NULL */
};

/* What a webhook's transaction needs. */
struct webhook_ctx {
	enum webhook_kind          kind;
	const struct cp_conf      *conf;
	const struct webhook_form *w;
};

static bool
webhook_is_form(const char *ct)
{
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(want) - 1;

	return strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A count or duration Twilio sends (0 to 999999999); -1 when absent or
 * malformed (Twilio sends "-1" for an unknown recording duration). */
static long
webhook_number(const char *s)
{
	long long v;

	return cp_parse_ll(s, 0, 999999999, &v) == CP_OK ? (long)v : -1;
}

static enum cp_err
webhook_voice_tx(struct db *db, struct webhook_ctx *c)
{
	const struct webhook_form *w = c->w;
	const char *dir = w->direction;

	if (dir == NULL)
		dir = c->kind == WEBHOOK_INCOMING_CALL ? "inbound" : "outbound-api";
	/* One statement: the business lookup is inside the upsert. */
	if (calls_voice_business(db, w->call_sid, dir, w->from, w->to,
	    w->call_status, c->conf->default_business_id) != CP_OK)
		return CP_DB;
	/* recording.mode "rest": the TwiML has no <Start><Recording>; the
	 * start_recording job (rest_start.c) starts it, and its created_at
	 * (this transaction, just before the answer) is the answer time. */
	return rest_start_enqueue(db, c->conf, w->call_sid);
}

static enum cp_err
webhook_recording_tx(struct db *db, struct webhook_ctx *c)
{
	const struct webhook_form *w = c->w;
	char reason[CP_REASON_MAX + 1];

	if (strcmp(w->recording_status, "in-progress") == 0)
		return calls_recording_started(db, w->call_sid, w->recording_sid);
	if (strcmp(w->recording_status, "completed") == 0)
		return calls_recording_completed(db, w->call_sid,
		    w->recording_sid, w->recording_url, w->recording_duration,
		    w->recording_channels, c->conf->worker.max_attempts, NULL);
	/* absent or failed: TWILIO.md, 16101 too short, 16102 silent. */
	if (w->error_code != NULL)
		cp_fmt(reason, sizeof(reason), "recording %s: Twilio "
		    "RecordingStatus %s, ErrorCode %s", w->recording_sid,
		    w->recording_status, w->error_code);
	else
		cp_fmt(reason, sizeof(reason), "recording %s: Twilio "
		    "RecordingStatus %s", w->recording_sid, w->recording_status);
	return calls_recording_absent(db, w->call_sid, w->recording_sid, reason);
}

/* The call ended: in reconcile_delay_s, a reconcile job asks Twilio for a
 * recording whose callback never came. One per call (dedupe key), so the
 * stream end and the final status schedule it once. */
static enum cp_err
webhook_reconcile(struct db *db, struct webhook_ctx *c)
{
	char key[QUEUE_KEY_MAX + 1];

	if (jobkey_reconcile(key, sizeof(key), c->w->call_sid, NULL, 0) != CP_OK)
		return CP_INPUT;
	return queue_enqueue(db, JOB_RECONCILE, c->w->call_sid, key,
	    c->conf->worker.max_attempts,
	    (long)c->conf->worker.reconcile_delay_s * 1000, NULL);
}

static enum cp_err
webhook_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct webhook_ctx *c = arg;

	(void)err;
	(void)errlen;
	switch (c->kind) {
	case WEBHOOK_INCOMING_CALL:
	case WEBHOOK_OUTBOUND_CALL:
		return webhook_voice_tx(db, c);
	case WEBHOOK_STREAM_ENDED:
		if (calls_stream_ended(db, c->w->call_sid) != CP_OK)
			return CP_DB;
		return webhook_reconcile(db, c);
	case WEBHOOK_HANDLE_RECORDING:
		return webhook_recording_tx(db, c);
	case WEBHOOK_CALL_STATUS:
		if (calls_status(db, c->w->call_sid, c->w->call_status,
		    c->w->call_duration) != CP_OK)
			return CP_DB;
		/* CallDuration after the stored WAV: the coverage now. It is
		 * derived (the worker stores it again with the WAV), so its
		 * failure is logged and never costs the status write. */
		if (c->w->call_duration > 0 && coverage_store(db, c->conf,
		    c->w->call_sid, -1) != CP_OK)
			log_warn("call %s: coverage not stored: %s", c->w->call_sid,
			    db_error(db));
		/* Only an answered call has a recording to look for; busy,
		 * no-answer, canceled and failed calls never recorded. */
		return strcmp(c->w->call_status, "completed") == 0 ?
		    webhook_reconcile(db, c) : CP_OK;
	}
	return CP_INPUT;
}

/* A value is one of a NULL-terminated list. */
static bool
webhook_one_of(const char *v, const char *const *list)
{
	for (; v != NULL && *list != NULL; list++)
		if (strcmp(v, *list) == 0)
			return true;
	return false;
}

/* TWILIO.md "CallStatus values" and "Recording status callback". */
static const char *const webhook_call_statuses[] = { "queued", "initiated",
    "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
    "canceled", NULL };
static const char *const webhook_recording_statuses[] = { "in-progress",
    "completed", "absent", "failed", NULL };

/* Decodes the parameters of kind from f into *w. Returns NULL when the
 * request is acceptable, else the reason (a 400). */
static const char *
webhook_decode(enum webhook_kind kind, const struct form *f,
    struct webhook_form *w)
{
	long long v;

	memset(w, 0, sizeof(*w));
	w->call_sid = form_get(f, "CallSid");
	if (!sid_valid(w->call_sid, "CA"))
		return "CallSid missing or malformed";
	w->from = form_get(f, "From");
	w->to = form_get(f, "To");
	w->direction = sid_token(form_get(f, "Direction"));
	w->call_status = form_get(f, "CallStatus");
	w->call_duration = webhook_number(form_get(f, "CallDuration"));
	w->recording_sid = form_get(f, "RecordingSid");
	w->recording_status = form_get(f, "RecordingStatus");
	w->recording_url = form_get(f, "RecordingUrl");
	w->recording_duration = webhook_number(form_get(f, "RecordingDuration"));
	v = webhook_number(form_get(f, "RecordingChannels"));
	w->recording_channels = v > 0 && v <= 2 ? (int)v : 0;
	w->error_code = form_get(f, "ErrorCode");
	if (cp_parse_ll(w->error_code, 0, 999999999, &v) != CP_OK)
		w->error_code = NULL;

	switch (kind) {
	case WEBHOOK_HANDLE_RECORDING:
		if (!sid_valid(w->recording_sid, "RE"))
			return "RecordingSid missing or malformed";
		if (!webhook_one_of(w->recording_status, webhook_recording_statuses))
			return "RecordingStatus missing or unknown";
		if (strcmp(w->recording_status, "completed") == 0 &&
		    (w->recording_url == NULL || *w->recording_url == '\0' ||
		    strlen(w->recording_url) > 500))
			return "RecordingUrl missing or too long";
		break;
	case WEBHOOK_CALL_STATUS:
		if (!webhook_one_of(w->call_status, webhook_call_statuses))
			return "CallStatus missing or unknown";
		break;
	case WEBHOOK_INCOMING_CALL:
	case WEBHOOK_OUTBOUND_CALL:
		if ((w->from && strlen(w->from) > 64) ||
		    (w->to && strlen(w->to) > 64) ||
		    (w->call_status && strlen(w->call_status) > 64) ||
		    (form_get(f, "Direction") &&
		    strlen(form_get(f, "Direction")) > 64))
			return "a voice parameter is longer than 64 bytes";
		w->call_status = sid_token(w->call_status);
		break;
	case WEBHOOK_STREAM_ENDED:
		break;
	}
	return NULL;
}

enum cp_err
webhook_authenticate(struct req *r, char *reason, size_t reasonlen)
{
	const struct cp_conf *conf = r->conf;
	char *body = NULL, *url = NULL;
	const char *acct;
	size_t len = 0, ul;
	enum cp_err rc;

	if (!webhook_is_form(r->content_type)) {
		cp_fmt(reason, reasonlen, "body must be application/"
		    "x-www-form-urlencoded");
		return CP_MEDIATYPE;
	}
	rc = req_read_body(r, (size_t)conf->fcgi.max_body_bytes, &body, &len);
	if (rc != CP_OK) {
		cp_fmt(reason, reasonlen, "%s", rc == CP_LENGTH ?
		    "Content-Length required" : rc == CP_TOOBIG ? "body too large" :
		    rc == CP_INPUT ? "body shorter than Content-Length" :
		    cp_strerror(rc));
		return rc;
	}
	rc = form_parse(body, len, &r->form);
	free(body);
	if (rc != CP_OK) {
		cp_fmt(reason, reasonlen, "malformed form body");
		return rc;
	}
	/* The URL Twilio signed: our public base URL, never request headers
	 * (DESIGN.md §7), plus the path and query as requested. */
	ul = strlen(conf->public_base_url) + strlen(r->request_uri) + 1;
	if ((url = malloc(ul)) == NULL)
		return CP_NOMEM;
	cp_fmt(url, ul, "%s%s", conf->public_base_url, r->request_uri);
	rc = twilio_sig_valid(url, &r->form, conf->twilio.auth_token,
	    req_param(r, "HTTP_X_TWILIO_SIGNATURE")) ? CP_OK : CP_FORBIDDEN;
	free(url);
	if (rc != CP_OK) {
		log_warn("webhook %s: X-Twilio-Signature missing or wrong",
		    r->path);
		cp_fmt(reason, reasonlen, "X-Twilio-Signature missing or wrong");
		return rc;
	}
	acct = form_get(&r->form, "AccountSid");
	if (acct == NULL || strcmp(acct, conf->twilio.account_sid) != 0) {
		cp_fmt(reason, reasonlen, "AccountSid is not this account");
		return CP_FORBIDDEN;
	}
	return CP_OK;
}

enum cp_err
webhook_handle(struct req *r, int kind_arg, char *reason, size_t reasonlen)
{
	enum webhook_kind kind = (enum webhook_kind)kind_arg;
	const struct cp_conf *conf = r->conf;
	struct webhook_form w;
	struct webhook_ctx ctx;
	char *twiml = NULL, err[CP_REASON_MAX + 1] = "";
	const char *why;
	enum cp_err rc;
	bool voice;

	if ((why = webhook_decode(kind, &r->form, &w)) != NULL) {
		cp_fmt(reason, reasonlen, "%s", why);
		return CP_INPUT;
	}
	ctx.kind = kind;
	ctx.conf = conf;
	ctx.w = &w;
	/* The TwiML answers of voice webhooks go out whatever the database
	 * does, so they wait for a reconnect 1 s at most; status callbacks
	 * may take db_tx's 8 s. */
	voice = kind == WEBHOOK_INCOMING_CALL || kind == WEBHOOK_OUTBOUND_CALL;
	/* A voice webhook without recording.mode "rest" is one upsert
	 * (calls_voice_business): it commits by itself. */
	rc = (voice && !rest_start_mode(conf) ? db_single_within :
	    db_tx_within)(r->db, voice || kind == WEBHOOK_STREAM_ENDED ? 1000 :
	    8000, webhook_tx, &ctx, err, sizeof(err));
	if (rc != CP_OK)
		log_error("webhook %s call %s: %s", r->path, w.call_sid,
		    err[0] ? err : cp_strerror(rc));

	switch (kind) {
	case WEBHOOK_INCOMING_CALL:
	case WEBHOOK_OUTBOUND_CALL:
		/* The TwiML is answered even when the database failed: the
		 * recording starts anyway and its callbacks create the row,
		 * while an error here would drop the caller. */
		if (twiml_voice_answer(conf, w.call_sid, &twiml) != CP_OK)
			return CP_NOMEM;
		req_answer(r, 200, "text/xml", twiml, strlen(twiml), NULL);
		free(twiml);
		return CP_OK;
	case WEBHOOK_STREAM_ENDED:
		/* Same reasoning: the <Connect action> answer drives the call. */
		req_answer(r, 200, "text/xml", twiml_empty(),
		    strlen(twiml_empty()), NULL);
		return CP_OK;
	case WEBHOOK_HANDLE_RECORDING:
	case WEBHOOK_CALL_STATUS:
		/* A status callback that could not be stored is an error
		 * answer, so Twilio's debugger shows it; reconcile recovers
		 * the call. */
		if (rc != CP_OK) {
			cp_fmt(reason, reasonlen, "could not store the callback");
			return CP_DB;
		}
		req_answer(r, 204, NULL, "", 0, NULL);
		return CP_OK;
	}
	return CP_INPUT;
}
