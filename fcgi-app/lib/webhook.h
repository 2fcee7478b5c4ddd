/*
 * webhook.h: Twilio's webhooks (DESIGN.md §2, §3, §7).
 *
 * Checks, in this order, before anything is written: method POST (405 with
 * Allow: POST), Content-Type application/x-www-form-urlencoded (415), body
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

/* Answers one webhook request completely. */
void webhook_handle(struct req *r, enum webhook_kind kind);

#endif
