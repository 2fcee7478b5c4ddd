/*
 * download.h: GET /api/calls/<CallSid>/download[?format=wav|mp3]
 * (DESIGN.md §6). Checks in order: credentials (401), sid format (400),
 * a call of this business (404), retention (410), recording held (404).
 * Then the store's file is handed to nginx with X-Accel-Redirect to the
 * internal location recording.nginx_internal_prefix, which serves it with
 * Range support; a cache miss is fetched from Twilio synchronously with
 * recording.fetch_timeout_ms (503 with Retry-After when Twilio fails).
 */
#ifndef CP_DOWNLOAD_H
#define CP_DOWNLOAD_H

#include "req.h"

/* Answers the download request; call_sid is the raw path segment. */
void download_handle(struct req *r, const char *call_sid);

#endif
