/*
 * twilio_sig.h: the X-Twilio-Signature of a webhook (TWILIO.md
 * "X-Twilio-Signature"; twilio-python request_validator.py): base64 of
 * HMAC-SHA1(auth_token, url + for each parameter name in byte order, the
 * name then each of its distinct values in byte order, no separators).
 */
#ifndef CP_TWILIO_SIG_H
#define CP_TWILIO_SIG_H

#include <stdbool.h>
#include "cp_err.h"
#include "form.h"

#define TWILIO_SIG_B64_LEN 28  /* base64 of a 20-byte SHA-1 digest */

/*
 * Computes the signature of a POST to url with the form parameters params,
 * into out (TWILIO_SIG_B64_LEN + 1 bytes, NUL-terminated).
 * Returns CP_OK, CP_NOMEM, CP_SYSTEM (libcrypto failed).
 */
enum cp_err twilio_sig_compute(const char *url, const struct form *params,
    const char *auth_token, char out[TWILIO_SIG_B64_LEN + 1]);

/*
 * True when header (the X-Twilio-Signature value, may be NULL) matches the
 * signature of url with params, or of url with the scheme's default port
 * added or removed (":443" for https, ":80" for http), as Twilio's helper
 * libraries accept. The comparison is constant-time.
 */
bool twilio_sig_valid(const char *url, const struct form *params,
    const char *auth_token, const char *header);

#endif
