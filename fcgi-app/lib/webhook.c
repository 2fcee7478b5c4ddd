#include "webhook.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls.h"
#include "cp_num.h"
#include "form.h"
#include "jobkey.h"
#include "log.h"
#include "queue.h"
#include "sid.h"
#include "twilio_sig.h"
#include "twiml.h"

/* What a webhook's transaction needs. */
struct webhook_ctx {
	enum webhook_kind     kind;
	const struct cp_conf *conf;
	const struct form    *form;
	const char           *call_sid;
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
	const char *from = form_get(c->form, "From");
	const char *to = form_get(c->form, "To");
	const char *dir = sid_token(form_get(c->form, "Direction"));
	long long business;

	if (dir == NULL)
		dir = c->kind == WEBHOOK_INCOMING_CALL ? "inbound" : "outbound-api";
	if (calls_business_for(db, dir, from, to, c->conf->default_business_id,
	    &business) != CP_OK)
		return CP_DB;
	return calls_voice(db, c->call_sid, dir, from, to,
	    sid_token(form_get(c->form, "CallStatus")), business);
}

static enum cp_err
webhook_recording_tx(struct db *db, struct webhook_ctx *c)
{
	const char *status = form_get(c->form, "RecordingStatus");
	const char *re = form_get(c->form, "RecordingSid");

	if (strcmp(status, "in-progress") == 0)
		return calls_recording_started(db, c->call_sid, re);
	if (strcmp(status, "completed") == 0) {
		long channels = webhook_number(form_get(c->form,
		    "RecordingChannels"));
		return calls_recording_completed(db, c->call_sid, re,
		    form_get(c->form, "RecordingUrl"),
		    webhook_number(form_get(c->form, "RecordingDuration")),
		    (int)(channels > 0 && channels <= 2 ? channels : 0),
		    c->conf->worker.max_attempts, NULL);
	}
	/* absent or failed: TWILIO.md, 16101 too short, 16102 silent. */
	{
		const char *code = form_get(c->form, "ErrorCode");
		char reason[CP_REASON_MAX + 1];
		long long ignored;
		if (cp_parse_ll(code, 0, 999999999, &ignored) == CP_OK)
			cp_fmt(reason, sizeof(reason), "recording %s: Twilio "
			    "RecordingStatus %s, ErrorCode %s", re, status, code);
		else
			cp_fmt(reason, sizeof(reason), "recording %s: Twilio "
			    "RecordingStatus %s", re, status);
		return calls_recording_absent(db, c->call_sid, re, reason);
	}
}

/* The call ended: in reconcile_delay_s, a reconcile job asks Twilio for a
 * recording whose callback never came. One per call (dedupe key), so the
 * stream end and the final status schedule it once. */
static enum cp_err
webhook_reconcile(struct db *db, struct webhook_ctx *c)
{
	char key[QUEUE_KEY_MAX + 1];

	if (jobkey_reconcile(key, sizeof(key), c->call_sid, NULL, 0) != CP_OK)
		return CP_INPUT;
	return queue_enqueue(db, JOB_RECONCILE, c->call_sid, key,
	    c->conf->worker.max_attempts,
	    (long)c->conf->worker.reconcile_delay_s * 1000, NULL);
}

static enum cp_err
webhook_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct webhook_ctx *c = arg;

	switch (c->kind) {
	case WEBHOOK_INCOMING_CALL:
	case WEBHOOK_OUTBOUND_CALL:
		return webhook_voice_tx(db, c);
	case WEBHOOK_STREAM_ENDED:
		if (calls_stream_ended(db, c->call_sid) != CP_OK)
			return CP_DB;
		return webhook_reconcile(db, c);
	case WEBHOOK_HANDLE_RECORDING:
		return webhook_recording_tx(db, c);
	case WEBHOOK_CALL_STATUS:
		if (calls_status(db, c->call_sid,
		    sid_token(form_get(c->form, "CallStatus")),
		    webhook_number(form_get(c->form, "CallDuration"))) != CP_OK)
			return CP_DB;
		/* Only an answered call has a recording to look for; busy,
		 * no-answer, canceled and failed calls never recorded. */
		return strcmp(form_get(c->form, "CallStatus"), "completed") == 0 ?
		    webhook_reconcile(db, c) : CP_OK;
	}
	return CP_INPUT;
}

/* The checks after the signature: SIDs and the parameters each kind
 * needs. Returns NULL when the request is acceptable, else the reason. */
static const char *
webhook_validate(enum webhook_kind kind, const struct form *f)
{
	const char *v;

	if (!sid_valid(form_get(f, "CallSid"), "CA"))
		return "CallSid missing or malformed";
	if (kind == WEBHOOK_HANDLE_RECORDING) {
		if (!sid_valid(form_get(f, "RecordingSid"), "RE"))
			return "RecordingSid missing or malformed";
		v = form_get(f, "RecordingStatus");
		if (v == NULL || (strcmp(v, "in-progress") != 0 &&
		    strcmp(v, "completed") != 0 && strcmp(v, "absent") != 0 &&
		    strcmp(v, "failed") != 0))
			return "RecordingStatus missing or unknown";
		if (strcmp(v, "completed") == 0) {
			v = form_get(f, "RecordingUrl");
			if (v == NULL || *v == '\0' || strlen(v) > 500)
				return "RecordingUrl missing or too long";
		}
	}
	if (kind == WEBHOOK_CALL_STATUS) {
		static const char *const ok[] = { "queued", "initiated",
		    "ringing", "in-progress", "completed", "busy", "failed",
		    "no-answer", "canceled" };
		bool good = false;
		v = form_get(f, "CallStatus");
		for (size_t i = 0; v && i < sizeof(ok) / sizeof(ok[0]); i++)
			good = good || strcmp(v, ok[i]) == 0;
		if (!good)
			return "CallStatus missing or unknown";
	}
	if (kind == WEBHOOK_INCOMING_CALL || kind == WEBHOOK_OUTBOUND_CALL) {
		static const char *const fields[] = { "From", "To", "CallStatus",
		    "Direction" };
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if ((v = form_get(f, fields[i])) != NULL && strlen(v) > 64)
				return "a voice parameter is longer than 64 bytes";
	}
	return NULL;
}

void
webhook_handle(struct req *r, enum webhook_kind kind)
{
	const struct cp_conf *conf = r->conf;
	struct form f = { NULL, 0 };
	struct webhook_ctx ctx;
	char *body = NULL, *url = NULL, *twiml = NULL;
	char err[CP_REASON_MAX + 1] = "";
	const char *why, *acct;
	size_t len = 0, ul;
	enum cp_err rc;

	if (strcmp(r->method, "POST") != 0) {
		req_text_error(r, 405, "webhooks take POST only", "Allow: POST\r\n");
		return;
	}
	if (!webhook_is_form(r->content_type)) {
		req_text_error(r, 415, "body must be application/"
		    "x-www-form-urlencoded", NULL);
		return;
	}
	if (r->content_length < 0) {
		req_text_error(r, 411, "Content-Length required", NULL);
		return;
	}
	if ((rc = req_read_body(r, (size_t)conf->fcgi.max_body_bytes, &body,
	    &len)) != CP_OK) {
		if (rc == CP_NOMEM)
			req_text_error(r, 500, "out of memory", NULL);
		else if (r->content_length > conf->fcgi.max_body_bytes)
			req_text_error(r, 413, "body too large", NULL);
		else
			req_text_error(r, 400, "body shorter than Content-Length",
			    NULL);
		return;
	}
	if ((rc = form_parse(body, len, &f)) != CP_OK) {
		req_text_error(r, rc == CP_NOMEM ? 500 : 400,
		    "malformed form body", NULL);
		goto out;
	}
	/* The URL Twilio signed: our public base URL, never request headers
	 * (DESIGN.md §7), plus the path and query as requested. */
	ul = strlen(conf->public_base_url) + strlen(r->request_uri) + 1;
	if ((url = malloc(ul)) == NULL) {
		req_text_error(r, 500, "out of memory", NULL);
		goto out;
	}
	cp_fmt(url, ul, "%s%s", conf->public_base_url, r->request_uri);
	if (!twilio_sig_valid(url, &f, conf->twilio.auth_token,
	    req_param(r, "HTTP_X_TWILIO_SIGNATURE"))) {
		log_warn("webhook %s: X-Twilio-Signature missing or wrong",
		    r->path);
		req_text_error(r, 403, "X-Twilio-Signature missing or wrong", NULL);
		goto out;
	}
	acct = form_get(&f, "AccountSid");
	if (acct == NULL || strcmp(acct, conf->twilio.account_sid) != 0) {
		req_text_error(r, 403, "AccountSid is not this account", NULL);
		goto out;
	}
	if ((why = webhook_validate(kind, &f)) != NULL) {
		req_text_error(r, 400, why, NULL);
		goto out;
	}

	ctx.kind = kind;
	ctx.conf = conf;
	ctx.form = &f;
	ctx.call_sid = form_get(&f, "CallSid");
	/* The TwiML answers of voice webhooks go out whatever the database
	 * does, so they wait for a reconnect 1 s at most; status callbacks
	 * may take db_tx's 8 s. */
	rc = db_tx_within(r->db, (kind == WEBHOOK_INCOMING_CALL ||
	    kind == WEBHOOK_OUTBOUND_CALL || kind == WEBHOOK_STREAM_ENDED) ?
	    1000 : 8000, webhook_tx, &ctx, err, sizeof(err));
	if (rc != CP_OK)
		log_error("webhook %s call %s: %s", r->path, ctx.call_sid,
		    err[0] ? err : cp_strerror(rc));

	switch (kind) {
	case WEBHOOK_INCOMING_CALL:
	case WEBHOOK_OUTBOUND_CALL:
		/* The TwiML is answered even when the database failed: the
		 * recording starts anyway and its callbacks create the row,
		 * while an error here would drop the caller. */
		if (twiml_voice_answer(conf, ctx.call_sid, &twiml) != CP_OK) {
			req_text_error(r, 500, "out of memory", NULL);
			break;
		}
		req_answer(r, 200, "text/xml", twiml, strlen(twiml), NULL);
		break;
	case WEBHOOK_STREAM_ENDED:
		/* Same reasoning: the <Connect action> answer drives the call. */
		req_answer(r, 200, "text/xml", twiml_empty(),
		    strlen(twiml_empty()), NULL);
		break;
	case WEBHOOK_HANDLE_RECORDING:
	case WEBHOOK_CALL_STATUS:
		/* A status callback that could not be stored answers 500, so
		 * Twilio's debugger shows it; reconcile recovers the call. */
		if (rc != CP_OK)
			req_text_error(r, 500, "could not store the callback", NULL);
		else
			req_answer(r, 204, NULL, "", 0, NULL);
		break;
	}
out:
	free(twiml);
	free(url);
	free(body);
	form_free(&f);
}
