/*
 * http.h: the HTTP client (libcurl easy interface) for Twilio's REST API
 * and recording media.
 */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <stdio.h>
#include "cp_err.h"

/*
 * GETs url with HTTP Basic auth user:pass (RFC 7617; may be NULL for none)
 * and writes the body to out (at most max_bytes bytes). Follows at most 3
 * redirects (Twilio answers media with a redirect to its storage), http and
 * https only, and sends the credentials to the first host only.
 * timeout_ms bounds the whole transfer; connecting is bounded to 5 s or
 * timeout_ms, whichever is less.
 * *status gets the final HTTP status (0 when no answer came).
 * Returns CP_OK for any HTTP answer (the caller judges *status);
 * CP_UPSTREAM when no answer came or the transfer failed or exceeded
 * max_bytes (err, errlen bytes, says why); CP_NOMEM.
 */
enum cp_err http_get_to_file(const char *url, const char *user,
    const char *pass, long timeout_ms, FILE *out, long long max_bytes,
    long *status, char *err, size_t errlen);

#endif
