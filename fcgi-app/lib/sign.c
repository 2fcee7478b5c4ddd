/*
 * sign.c: HMAC-SHA256 signatures of download URLs (sign.h).
 *
 * The signed message is the contract of issue 6 ("Signature") and
 * DESIGN.md §6: method, path, sid, format, expiry and business, one per
 * line. Every field is checked for its exact shape before it is signed, so
 * no field can carry a newline into the next one and two different URLs
 * never sign the same message.
 */
#include "sign.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "sid.h"
#include "store.h"

#define SIGN_SHA256_LEN 32  /* bytes of an HMAC-SHA256 */
#define SIGN_MSG_MAX    160 /* "GET\n" + path 54 + sid 34 + format + 2 x 19 digits */


static bool
sign_format_ok(const char *format)
{
	enum store_format fmt;

	return store_format_parse(format, &fmt) == CP_OK;
}

static bool
sign_args_ok(const char *call_sid, const char *format, long long expires,
    long long business_id)
{
	return sid_valid(call_sid, "CA") && sign_format_ok(format) &&
	    expires >= 0 && business_id >= 1;
}

/* The signed message into msg (SIGN_MSG_MAX bytes); its length, or 0. */
static size_t
sign_message(char *msg, const char *call_sid, const char *format,
    long long expires, long long business_id)
{
	cp_fmt(msg, SIGN_MSG_MAX, "GET\n/api/calls/%s/download\n%s\n%s\n%lld\n%lld",
	    call_sid, call_sid, format, expires, business_id);
	return strlen(msg);
}

enum cp_err
sign_download(const char *key, const char *call_sid, const char *format,
    long long expires, long long business_id, char out[SIGN_HEX + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char msg[SIGN_MSG_MAX];
	size_t keylen, msglen;

	out[0] = '\0';
	if (key == NULL || key[0] == '\0' ||
	    !sign_args_ok(call_sid, format, expires, business_id))
		return CP_INPUT;
	keylen = strlen(key);
	if (keylen > 65536)  /* HMAC() takes an int; no real key is this long */
		return CP_INPUT;
	msglen = sign_message(msg, call_sid, format, expires, business_id);
	/* RFC 2104 with SHA-256 (one-shot HMAC(), not deprecated in OpenSSL 3
	 * unlike HMAC_CTX). */
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	    msglen, mac, &maclen) == NULL || maclen != SIGN_SHA256_LEN) {
		OPENSSL_cleanse(mac, sizeof(mac));
		return CP_SYSTEM;
	}
	auth_hex(mac, maclen, out);
	OPENSSL_cleanse(mac, sizeof(mac));
	return CP_OK;
}

/* sig is exactly SIGN_HEX lower-case hex digits (what sign_download makes). */
static bool
sign_sig_shape_ok(const char *sig)
{
	return sig != NULL && auth_lower_hex(sig, SIGN_HEX) &&
	    sig[SIGN_HEX] == '\0';
}

/* CP_OK when key signs these fields as sig; CP_AUTH; CP_SYSTEM. */
static enum cp_err
sign_check_key(const char *key, const char *call_sid, const char *format,
    long long expires, long long business_id, const char *sig)
{
	char want[SIGN_HEX + 1];
	enum cp_err rc;
	int diff;

	rc = sign_download(key, call_sid, format, expires, business_id, want);
	if (rc != CP_OK)
		return rc == CP_INPUT ? CP_AUTH : rc;
	diff = CRYPTO_memcmp(want, sig, SIGN_HEX);
	OPENSSL_cleanse(want, sizeof(want));
	return diff == 0 ? CP_OK : CP_AUTH;
}

enum cp_err
sign_download_check(const struct cp_conf *conf, const char *call_sid,
    const char *format, long long expires, long long business_id,
    const char *sig)
{
	enum cp_err rc;

	if (conf == NULL || !sign_sig_shape_ok(sig) ||
	    !sign_args_ok(call_sid, format, expires, business_id))
		return CP_AUTH;
	rc = sign_check_key(conf->api.signing_key, call_sid, format, expires,
	    business_id, sig);
	if (rc != CP_AUTH)
		return rc;
	/* Key rotation: URLs minted under the old key stay valid until they
	 * expire. An empty previous key is "none", never a key: sign_download
	 * refuses it, so it can match nothing. */
	if (conf->api.signing_key_previous == NULL ||
	    conf->api.signing_key_previous[0] == '\0')
		return CP_AUTH;
	return sign_check_key(conf->api.signing_key_previous, call_sid, format,
	    expires, business_id, sig);
}

enum cp_err
sign_download_url(const struct cp_conf *conf, const char *call_sid,
    const char *format, long long expires, long long business_id,
    char *out, size_t outlen)
{
	char sig[SIGN_HEX + 1];
	enum cp_err rc;
	int n;

	if (out == NULL || outlen == 0)
		return CP_INPUT;
	out[0] = '\0';
	if (conf == NULL)
		return CP_INPUT;
	rc = sign_download(conf->api.signing_key, call_sid, format, expires,
	    business_id, sig);
	if (rc != CP_OK)
		return rc;
	/* Every field is URL-safe as it is (hex, digits, "wav"/"mp3"): no
	 * percent-encoding needed (RFC 3986 §2.3 unreserved characters). */
	n = snprintf(out, outlen, "/api/calls/%s/download?format=%s&expires=%lld"
	    "&sig=%s", call_sid, format, expires, sig);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return CP_INPUT;
	}
	return CP_OK;
}
