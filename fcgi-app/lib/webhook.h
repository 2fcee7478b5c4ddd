/*
 * webhook.h: Twilio's webhooks (DESIGN.md §2, §3, §7).
 *
 * Checks, in this order, before anything is written: method POST (405 with
 * Allow: POST, by the route table), Content-Type application/x-www-form-urlencoded (415), body
 * within fcgi.max_body_bytes (413), a form that parses (400), a valid
 * X-Twilio-Signature over public_base_url + REQUEST_URI (403), this
 * account's AccountSid (403), well-formed CallSid / RecordingSid (400).
 */
#ifndef CP_WEBHOOK_H
#define CP_WEBHOOK_H

#include "req.h"

enum webhook_kind {
	WEBHOOK_INCOMING_CALL,
	WEBHOOK_OUTBOUND_CALL,
	WEBHOOK_STREAM_ENDED,
	WEBHOOK_HANDLE_RECORDING,
	WEBHOOK_CALL_STATUS
};

/*
 * The route table's twilio-signature authentication (routes.c): checks
 * the Content-Type (CP_MEDIATYPE), reads the body (CP_LENGTH, CP_TOOBIG at
 * fcgi.max_body_bytes, CP_INPUT short), decodes it into r->form (CP_INPUT),
 * checks X-Twilio-Signature over public_base_url + REQUEST_URI
 * (CP_FORBIDDEN; TWILIO.md "Webhook signatures") and this account's
 * AccountSid (CP_FORBIDDEN). reason (reasonlen bytes) gets a one-line
 * reason on error. CP_NOMEM.
 */
enum cp_err webhook_authenticate(struct req *r, char *reason,
    size_t reasonlen);

/*
 * Handles one authenticated webhook of kind (an enum webhook_kind): its
 * form is decoded into a typed struct and checked (CP_INPUT with the
 * reason), then one transaction stores it. Voice webhooks answer TwiML even
 * when the database failed; a status callback that could not be stored is
 * CP_DB. Returns CP_OK once it answered.
 */
enum cp_err webhook_handle(struct req *r, int kind, char *reason,
    size_t reasonlen);

#endif
