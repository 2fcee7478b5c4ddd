/*
 * twilio_sig.c: X-Twilio-Signature (TWILIO.md "X-Twilio-Signature";
 * twilio.com/docs/usage/security#validating-requests; twilio-python
 * twilio/request_validator.py).
 *
 * The signed string is the URL followed, for each parameter name in byte
 * order, by the name and one of its values, once per value, values in byte
 * order. Byte order of UTF-8 is code point order, which is what the helper
 * libraries' sort gives. Debian's python3-twilio 7.7.1 signs one value per
 * name (a dict); for names that are not repeated both rules agree.
 */
#include "twilio_sig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define TWILIO_SIG_SHA1_LEN 20  /* bytes of a SHA-1 digest */

/* Orders pairs by name, then value, both as bytes (strcmp compares as
 * unsigned char, C11 7.24.4). Decoded names and values hold no NUL. */
static int
twilio_sig_pair_cmp(const void *a, const void *b)
{
	const struct form_pair *pa = *(const struct form_pair *const *)a;
	const struct form_pair *pb = *(const struct form_pair *const *)b;
	int c = strcmp(pa->name, pb->name);

	return c != 0 ? c : strcmp(pa->value, pb->value);
}

enum cp_err
twilio_sig_compute(const char *url, const struct form *params,
    const char *auth_token, char out[TWILIO_SIG_B64_LEN + 1])
{
	const struct form_pair **sorted = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t n = params != NULL ? params->n : 0, i, maclen = 0;
	EVP_MAC *hmac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM md[2];
	enum cp_err err = CP_SYSTEM;

	out[0] = '\0';
	if (url == NULL || auth_token == NULL)
		return CP_SYSTEM;
	if (n > 0) {
		sorted = calloc(n, sizeof(*sorted));
		if (sorted == NULL)
			return CP_NOMEM;
		for (i = 0; i < n; i++)
			sorted[i] = &params->pairs[i];
		qsort(sorted, n, sizeof(*sorted), twilio_sig_pair_cmp);
	}

	/* EVP_MAC rather than HMAC_CTX (deprecated in OpenSSL 3): the signed
	 * string is fed piece by piece, so it is never assembled in memory. */
	md[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA1", 0);
	md[1] = OSSL_PARAM_construct_end();
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (hmac == NULL || (ctx = EVP_MAC_CTX_new(hmac)) == NULL)
		goto out;
	if (!EVP_MAC_init(ctx, (const unsigned char *)auth_token,
	    strlen(auth_token), md))
		goto out;
	if (!EVP_MAC_update(ctx, (const unsigned char *)url, strlen(url)))
		goto out;
	for (i = 0; i < n; i++) {
		/* The helper libraries sign each distinct value of a name once
		 * (twilio-python: "for value in sorted(set(values))"). */
		if (i > 0 && twilio_sig_pair_cmp(&sorted[i - 1], &sorted[i]) == 0)
			continue;
		if (!EVP_MAC_update(ctx, (const unsigned char *)sorted[i]->name,
		    strlen(sorted[i]->name)) ||
		    !EVP_MAC_update(ctx, (const unsigned char *)sorted[i]->value,
		    strlen(sorted[i]->value)))
			goto out;
	}
	if (!EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) ||
	    maclen != TWILIO_SIG_SHA1_LEN)
		goto out;
	/* 20 bytes -> 28 base64 characters plus the NUL EVP_EncodeBlock
	 * writes; no line breaks (unlike EVP_EncodeUpdate). */
	if (EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen) !=
	    TWILIO_SIG_B64_LEN)
		goto out;
	err = CP_OK;
out:
	if (err != CP_OK)
		out[0] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	free(sorted);
	return err;
}

/*
 * The other spelling of url that Twilio's helper libraries also accept:
 * with the scheme's default port removed when it is written
 * ("https://h:443/p" -> "https://h/p"), or added when no port is written
 * ("http://h/p" -> "http://h:80/p"), inserted after the host and before the
 * path, query or fragment. A URL with another port, or a scheme other than
 * http/https, has no variant (*out NULL): a non-default port is part of
 * where Twilio was told to send the request. twilio-python strips any port;
 * we only strip the default one, which never accepts more than it does.
 * Returns CP_OK (with *out malloc'd or NULL) or CP_NOMEM.
 */
static enum cp_err
twilio_sig_url_variant(const char *url, char **out)
{
	const char *auth, *auth_end, *host, *port, *p, *defport;
	size_t len = strlen(url), dlen, plen;
	char *v;

	*out = NULL;
	if (strncasecmp(url, "https://", 8) == 0) {
		auth = url + 8;
		defport = "443";
	} else if (strncasecmp(url, "http://", 7) == 0) {
		auth = url + 7;
		defport = "80";
	} else
		return CP_OK;
	dlen = strlen(defport);

	auth_end = auth + strcspn(auth, "/?#");
	/* Userinfo ("user:pass@") would otherwise look like a port. */
	host = auth;
	for (p = auth; p < auth_end; p++)
		if (*p == '@')
			host = p + 1;
	if (host == auth_end)
		return CP_OK;
	/* An IPv6 literal "[::1]" holds colons of its own. */
	p = host;
	if (*p == '[') {
		while (p < auth_end && *p != ']')
			p++;
		if (p == auth_end)
			return CP_OK;
		p++;
	}
	port = memchr(p, ':', (size_t)(auth_end - p));

	if (port != NULL) {
		plen = (size_t)(auth_end - port - 1);
		if (plen != dlen || memcmp(port + 1, defport, dlen) != 0)
			return CP_OK;
		v = malloc(len - plen);          /* minus ":443", plus NUL */
		if (v == NULL)
			return CP_NOMEM;
		memcpy(v, url, (size_t)(port - url));
		memcpy(v + (port - url), auth_end, strlen(auth_end) + 1);
	} else {
		v = malloc(len + 1 + dlen + 1);  /* plus ":443", plus NUL */
		if (v == NULL)
			return CP_NOMEM;
		memcpy(v, url, (size_t)(auth_end - url));
		v[auth_end - url] = ':';
		memcpy(v + (auth_end - url) + 1, defport, dlen);
		memcpy(v + (auth_end - url) + 1 + dlen, auth_end,
		    strlen(auth_end) + 1);
	}
	*out = v;
	return CP_OK;
}

bool
twilio_sig_valid(const char *url, const struct form *params,
    const char *auth_token, const char *header)
{
	char sig[TWILIO_SIG_B64_LEN + 1];
	char *variant = NULL;
	bool ok = false;

	/* An empty auth token would make the HMAC key public. The header's
	 * length is not secret (every valid one is 28 characters), so a
	 * wrong length may return early. */
	if (url == NULL || auth_token == NULL || auth_token[0] == '\0' ||
	    header == NULL || strlen(header) != TWILIO_SIG_B64_LEN)
		return false;
	if (twilio_sig_compute(url, params, auth_token, sig) == CP_OK &&
	    CRYPTO_memcmp(sig, header, TWILIO_SIG_B64_LEN) == 0)
		ok = true;
	if (!ok && twilio_sig_url_variant(url, &variant) == CP_OK &&
	    variant != NULL &&
	    twilio_sig_compute(variant, params, auth_token, sig) == CP_OK &&
	    CRYPTO_memcmp(sig, header, TWILIO_SIG_B64_LEN) == 0)
		ok = true;
	free(variant);
	OPENSSL_cleanse(sig, sizeof(sig));
	return ok;
}
