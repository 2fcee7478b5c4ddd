/*
 * twilio_api.h: every call callpipe makes to Twilio's REST API
 * (api.twilio.com/2010-04-01, HTTP Basic AccountSid:AuthToken, RFC 7617),
 * in one place. URLs are built from twilio.api_base and twilio.account_sid
 * only: callpipe never fetches a URL a request handed it.
 *
 * Facts: TWILIO.md ("Recording media and the Recording resource",
 * "Starting a recording") and Twilio's OpenAPI (twilio-oai
 * api_v2010_recordings.json: ListRecording / FetchCall).
 */
#ifndef CP_TWILIO_API_H
#define CP_TWILIO_API_H

#include <stdio.h>
#include "conf.h"
#include "cp_err.h"
#include "sid.h"

/* A recording as the call's recording list gives it. */
struct twilio_recording {
	char sid[SID_LEN + 1];
	char status[24];       /* in-progress, paused, stopped, processing, completed, absent, deleted */
	long duration_s;       /* -1: null or "-1" (still processing) */
	int  channels;         /* 1 or 2; 0 unknown */
};

#define TWILIO_LIST_MAX 16

/*
 * GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json:
 * the call's recordings, at most TWILIO_LIST_MAX, in Twilio's order, into
 * out; *n gets the count (entries with a malformed sid are skipped).
 * Returns CP_OK; CP_UPSTREAM (no answer, a status other than 200, not
 * JSON, no "recordings" array); CP_NOMEM. err gets a one-line reason.
 */
enum cp_err twilio_call_recordings(const struct cp_conf *conf,
    const char *call_sid, struct twilio_recording *out, int *n,
    char *err, size_t errlen);

/* The Call resource's fields callpipe keeps. */
struct twilio_call {
	char from[65], to[65];
	char direction[33];    /* "" when Twilio's value is not a token */
	char status[33];
	long duration_s;       /* seconds; -1 while live or unknown */
};

/*
 * GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json into *out.
 * Returns CP_OK (fields that are missing or too long stay ""); CP_UPSTREAM;
 * CP_NOMEM. err gets a one-line reason.
 */
enum cp_err twilio_fetch_call(const struct cp_conf *conf,
    const char *call_sid, struct twilio_call *out, char *err, size_t errlen);

/* Twilio's answer to a REST recording start. */
struct twilio_start {
	long status;           /* HTTP status: 201 started, 400 with code ... */
	long code;             /* Twilio's error "code" (21220, 16108), 0 none */
	char sid[SID_LEN + 1]; /* 201: the Recording's sid ("" when malformed) */
	char message[160];     /* Twilio's error "message", "" none */
};

/*
 * POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json
 * with RecordingChannels=dual, Trim=do-not-trim, RecordingStatusCallback=
 * callback_url, RecordingStatusCallbackMethod=POST and
 * RecordingStatusCallbackEvent="in-progress completed absent" (one value,
 * space-separated, as the OpenAPI description says: "Separate multiple
 * event values with a space"). Source: TWILIO.md "Starting a recording";
 * twilio-oai api_v2010_recordings.json CreateCallRecordingRequest.
 * Twilio answers 201 with the Recording (status in-progress), or 400 with
 * code 21220 (call not in-progress: still ringing, or ended) or 16108 (a
 * recording is already active).
 * Returns CP_OK for any HTTP answer (out->status, code, sid, message
 * filled as far as the body says); CP_UPSTREAM when no answer came (err
 * says why); CP_INPUT (call_sid not CA + 32 hex, URL too long); CP_NOMEM.
 */
enum cp_err twilio_start_recording(const struct cp_conf *conf,
    const char *call_sid, const char *callback_url, struct twilio_start *out,
    char *err, size_t errlen);

/*
 * GETs media_url (built by store_media_url from our own api_base) into
 * out, at most max_bytes bytes, within timeout_ms. Follows at most 3
 * redirects, https only, without credentials (Twilio answers 307 to its
 * media storage). *status gets the final HTTP status.
 * Returns CP_OK for any answer (the caller judges *status); CP_UPSTREAM
 * (no answer, timeout, over max_bytes); CP_SYSTEM (out not writable);
 * CP_NOMEM.
 */
enum cp_err twilio_fetch_media(const struct cp_conf *conf,
    const char *media_url, FILE *out, long timeout_ms, long long max_bytes,
    long *status, char *err, size_t errlen);

/*
 * DELETE /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.json
 * (TWILIO.md "Recording media and the Recording resource": 204; the
 * metadata stays visible for 40 days). A 404 counts as deleted (deleted
 * before, or never kept): *status tells which (204 or 404).
 * Returns CP_OK (204 or 404); CP_INPUT (recording_sid not RE + 32 hex);
 * CP_UPSTREAM (no answer, timeout, any other status); CP_NOMEM.
 * err (errlen bytes) gets a one-line reason on error.
 */
enum cp_err twilio_delete_recording(const struct cp_conf *conf,
    const char *recording_sid, long *status, char *err, size_t errlen);

#endif
