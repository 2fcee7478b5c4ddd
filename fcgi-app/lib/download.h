/*
 * download.h: GET /api/calls/<CallSid>/download[?format=wav|mp3]
 * (DESIGN.md §6), authenticated by a Bearer token or a signed URL
 * (?format=&expires=&sig=, minted by POST .../download-url; sign.h).
 *
 * Checks in order: credentials (401; a signed URL: expired 403 before any
 * lookup, then the call's business and the HMAC, any mismatch 403), sid
 * format (400), a call of this business (404), retention (410), recording
 * held (404). A file in the cache is handed to nginx with X-Accel-Redirect
 * to the internal location recording.nginx_internal_prefix, which serves it
 * with Range support. A cache miss never fetches here: it queues a
 * refill_recording job for the worker and waits for the file at most
 * recording.miss_wait_ms, in one of fcgi.children - 1 waiting slots (so a
 * child is always left for webhooks); then 503 with Retry-After.
 */
#ifndef CP_DOWNLOAD_H
#define CP_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include "req.h"

/* True when the query carries a signature (sig= or expires=): the route
 * table's signed-url authentication applies instead of a Bearer token. */
bool download_is_signed(struct req *r);

/*
 * The signed-url authentication: the query's expires (unix seconds) must
 * not be past (CP_FORBIDDEN, before any lookup), then sig must be the
 * HMAC of the call's business under api.signing_key or
 * api.signing_key_previous (sign_download_check); an unknown sid or
 * another business's signature is the same CP_FORBIDDEN. Sets
 * r->business_id. CP_INPUT (a malformed query), CP_DB.
 */
enum cp_err download_signed_auth(struct req *r, char *reason,
    size_t reasonlen);

/*
 * Whether a call's recording can be served (dl from callview_download_get):
 * CP_OK; CP_GONE past recording.retention_days (from ended_at, else
 * created_at) or deleted at Twilio by the purge (purge.h); CP_NOTFOUND when the recording is not stored. reason
 * (reasonlen bytes) gets why. download-url mints no URL that could only
 * fail, so it asks the same.
 */
struct callview_download;
enum cp_err download_servable(const struct cp_conf *conf,
    const struct callview_download *dl, char *reason, size_t reasonlen);

/* The route's handler (api.h conventions): answers the download or returns
 * CP_INPUT, CP_NOTFOUND, CP_GONE, CP_BUSY / CP_AGAIN (503, Retry-After), CP_DB. */
enum cp_err download_handle(struct req *r, int arg, char *reason,
    size_t reasonlen);

#endif
