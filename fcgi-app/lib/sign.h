/*
 * sign.h: signed download URLs (DESIGN.md §6, issue 6 "Signed URLs").
 *
 * An <audio src> cannot send an Authorization header, so
 * POST /api/calls/<sid>/download-url (Bearer) mints a URL that carries its
 * own credentials:
 *   /api/calls/<sid>/download?format=wav&expires=<unix s>&sig=<64 hex>
 * sig is lower-case hex HMAC-SHA256 (RFC 2104, FIPS 180-4) under
 * api.signing_key over the six lines
 *   "GET\n/api/calls/<sid>/download\n<sid>\n<format>\n<expires>\n<business_id>"
 * (no final newline). The business is in the MAC, not in the URL: the
 * download route reads the call's business from call_log and checks the
 * MAC against it, so a URL for a call that has since moved to another
 * business, or any sid edited in, fails as a bad signature.
 * The key never leaves the server; rotating it keeps
 * api.signing_key_previous valid until the old URLs have expired.
 */
#ifndef CP_SIGN_H
#define CP_SIGN_H

#include <stddef.h>

#include "conf.h"
#include "cp_err.h"

#define SIGN_HEX 64        /* hex digits of an HMAC-SHA256, without the NUL */
#define SIGN_URL_MAX 192   /* bytes, with the NUL, of the longest relative URL */

/*
 * The signature of a download URL into out (SIGN_HEX + 1 bytes).
 * key: the HMAC key, NUL-terminated, at least one byte (an empty key would
 * make signatures anyone can compute). call_sid: "CA" + 32 lower-case hex.
 * format: "wav" or "mp3". expires: unix seconds, >= 0. business_id: >= 1.
 * Returns CP_OK; CP_INPUT when any argument is outside the above (out is
 * ""); CP_SYSTEM when libcrypto fails.
 * Source: RFC 2104 (HMAC), FIPS 180-4 (SHA-256), the message above.
 */
enum cp_err sign_download(const char *key, const char *call_sid,
    const char *format, long long expires, long long business_id,
    char out[SIGN_HEX + 1]);

/*
 * Checks sig (the URL's sig parameter, untrusted, may be NULL) against the
 * signature of the other fields under conf->api.signing_key, then under
 * conf->api.signing_key_previous when that is not "". The comparison is
 * CRYPTO_memcmp over all 64 digits, so its time says nothing about where
 * a guess went wrong. Expiry is not looked at here: the caller refuses an
 * expired URL first, before any lookup (issue 6), and passes the business
 * it read for call_sid.
 * Returns CP_OK when one key matches; CP_AUTH on a mismatch and whenever
 * an argument is malformed (sig not 64 lower-case hex digits, a bad sid or
 * format, expires < 0, business_id < 1); CP_SYSTEM when libcrypto fails.
 */
enum cp_err sign_download_check(const struct cp_conf *conf,
    const char *call_sid, const char *format, long long expires,
    long long business_id, const char *sig);

/*
 * The relative URL "/api/calls/<sid>/download?format=<f>&expires=<e>&sig=<hex>"
 * signed under conf->api.signing_key, into out (outlen bytes; SIGN_URL_MAX
 * always suffices). Arguments as for sign_download; expires is the absolute
 * unix time (seconds) it stops working, e.g. time(NULL) + ttl_s.
 * Returns CP_OK; CP_INPUT for a bad argument or when outlen is too small
 * (out is "" then); CP_SYSTEM when libcrypto fails.
 */
enum cp_err sign_download_url(const struct cp_conf *conf,
    const char *call_sid, const char *format, long long expires,
    long long business_id, char *out, size_t outlen);

#endif
