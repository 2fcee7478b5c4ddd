/*
 * api.h: the browser's JSON API under /api/calls (Bearer token -> one
 * business; routes.c authenticates before these run). Every answer is
 * {"success": true, ...} or, through req_fail, {"success": false,
 * "error": "..."}. A call of another business is 404 on every route.
 * Timestamps are ISO-8601 UTC with "Z" (callview.h).
 *
 * The routes with no query parameters refuse any (400), as the list
 * refuses an unknown one; a JSON body must be exactly one JSON object.
 *
 * Each handler: r authenticated (r->business_id set), arg unused; returns
 * CP_OK once it answered, or the error for req_fail with a one-line reason
 * in reason (reasonlen bytes).
 */
#ifndef CP_API_H
#define CP_API_H

#include <stddef.h>
#include "req.h"

/*
 * GET /api/calls?phone=&state=&stage=&since=&limit=&cursor= -> 200
 * {"success": true, "calls": [...], "next_cursor": "..." | null}, newest
 * first, keyset pagination (callview_list). phone: E.164 (+ sent as %2B),
 * either number; state: failed | in_progress | completed; stage:
 * recording | transcript | summary (narrows state); since: RFC 3339 UTC;
 * limit: 1..200, default 50; cursor: a next_cursor. CP_INPUT naming the
 * parameter for a bad, repeated or unknown one; CP_DB.
 */
enum cp_err api_calls_list(struct req *r, int arg, char *reason,
    size_t reasonlen);

/* GET /api/calls/<sid> -> 200 {"success": true, "call": {... detail, jobs}}.
 * CP_INPUT (sid), CP_NOTFOUND, CP_DB. */
enum cp_err api_call_get(struct req *r, int arg, char *reason,
    size_t reasonlen);

/*
 * POST /api/calls/<sid>/retry {"stage": "recording"|"transcript"|"summary"}
 * -> 202 {"success": true, "call": {...}}: the stage and the later ones
 * back to pending, retry_count + 1, the stage's job queued with a new
 * dedupe key (jobs_retry_stage, the same as callpipectl retry).
 * CP_CONFLICT (409) naming the stage's status when it is not failed;
 * CP_MEDIATYPE, CP_INPUT (body), CP_NOTFOUND, CP_DB.
 */
enum cp_err api_call_retry(struct req *r, int arg, char *reason,
    size_t reasonlen);

/*
 * POST /api/calls/<sid>/download-url, optional body {"format": "wav"|"mp3",
 * "ttl_s": 1..api.signed_url_ttl_s} -> 200 {"success": true, "url":
 * "/api/calls/<sid>/download?format=&expires=&sig=", "expires_at": ISO}
 * (sign.h). CP_NOTFOUND also when the recording is not stored (a URL that
 * could only answer 404 is not minted); CP_INPUT, CP_MEDIATYPE, CP_DB.
 */
enum cp_err api_download_url(struct req *r, int arg, char *reason,
    size_t reasonlen);

#endif
