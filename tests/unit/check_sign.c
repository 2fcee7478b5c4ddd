/*
 * check_sign.c: unit tests of sign.c (signed download URLs, issue 6).
 *
 * Oracles: two signatures computed outside callpipe by running, on the
 * development host (OpenSSL 3.0.19),
 *   printf 'GET\n/api/calls/CA0123456789abcdef0123456789abcdef/download\n
 *     CA0123456789abcdef0123456789abcdef\nwav\n1764586800\n42' |
 *     openssl dgst -sha256 -hmac 'test-signing-key'
 * (one printf argument, no line breaks; and the same with mp3 under
 * 'old-signing-key'), the first also checked with Python's hmac module;
 * and libcrypto's one-shot HMAC() over a message this file builds itself.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sign.h"

#define SID   "CA0123456789abcdef0123456789abcdef"
#define SID2  "CA0123456789abcdef0123456789abcdee"
#define EXP   1764586800LL
#define BIZ   42LL
#define KEY   "test-signing-key"
#define OLD   "old-signing-key"
/* openssl dgst -sha256 -hmac KEY of the wav message above (run here). */
#define SIG_WAV "8fd9a16cb5b167b3e72d5627c86df6e3b98f770bda707127f695b775ae80d1c1"
/* openssl dgst -sha256 -hmac OLD of the same message with mp3 (run here). */
#define SIG_MP3_OLD "e011461a9a071f9551cea52cef918803144aa583ee0ef94b6bd93d1807473718"

static struct cp_conf
conf_with(const char *key, const char *previous)
{
	struct cp_conf c;

	memset(&c, 0, sizeof(c));
	c.api.signing_key = (char *)key;
	c.api.signing_key_previous = (char *)previous;
	c.api.signed_url_ttl_s = 300;
	return c;
}

/* Hex HMAC-SHA256 of the contract's message, built here, not by sign.c. */
static void
oracle(const char *key, size_t keylen, const char *sid, const char *fmt,
    long long expires, long long business, char out[SIGN_HEX + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char msg[512];
	int len;

	len = snprintf(msg, sizeof(msg), "GET\n/api/calls/%s/download\n%s\n%s\n"
	    "%lld\n%lld", sid, sid, fmt, expires, business);
	ck_assert(len > 0 && (size_t)len < sizeof(msg));
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)msg, (size_t)len, mac, &n));
	ck_assert_uint_eq(n, 32);
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

START_TEST(test_known_vectors)
{
	char sig[SIGN_HEX + 1];

	ck_assert_int_eq(sign_download(KEY, SID, "wav", EXP, BIZ, sig), CP_OK);
	ck_assert_str_eq(sig, SIG_WAV);
	ck_assert_int_eq(sign_download(OLD, SID, "mp3", EXP, BIZ, sig), CP_OK);
	ck_assert_str_eq(sig, SIG_MP3_OLD);
}
END_TEST

START_TEST(test_matches_oracle)
{
	static const struct {
		const char *key, *sid, *fmt;
		long long expires, business;
	} v[] = {
		{ "k", SID, "wav", 0, 1 },
		{ KEY, SID2, "mp3", 4102444800LL, 7 },
		{ "a much longer key, longer than the 64-byte SHA-256 block, so "
		  "HMAC hashes it first (RFC 2104 section 3)", SID, "wav",
		  LLONG_MAX, LLONG_MAX },
	};
	char got[SIGN_HEX + 1], want[SIGN_HEX + 1];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_int_eq(sign_download(v[i].key, v[i].sid, v[i].fmt,
		    v[i].expires, v[i].business, got), CP_OK);
		oracle(v[i].key, strlen(v[i].key), v[i].sid, v[i].fmt,
		    v[i].expires, v[i].business, want);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(strlen(got), SIGN_HEX);
	}
}
END_TEST

START_TEST(test_check_accepts_current)
{
	struct cp_conf c = conf_with(KEY, "");

	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, SIG_WAV),
	    CP_OK);
	c.api.signing_key_previous = NULL;  /* a zeroed conf: no previous key */
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, SIG_WAV),
	    CP_OK);
}
END_TEST

/* Every field of the URL, and the signature itself, changed alone. */
START_TEST(test_check_every_field_tampered)
{
	struct cp_conf c = conf_with(KEY, OLD);
	char sig[SIGN_HEX + 1], up[SIGN_HEX + 1], longer[SIGN_HEX + 2];

	ck_assert_int_eq(sign_download_check(&c, SID2, "wav", EXP, BIZ, SIG_WAV),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "mp3", EXP, BIZ, SIG_WAV),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP + 1, BIZ,
	    SIG_WAV), CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP - 1, BIZ,
	    SIG_WAV), CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ + 1,
	    SIG_WAV), CP_AUTH);
	/* Each digit of the signature changed in turn. */
	for (size_t i = 0; i < SIGN_HEX; i++) {
		memcpy(sig, SIG_WAV, sizeof(sig));
		sig[i] = sig[i] == '0' ? '1' : '0';
		ck_assert_msg(sign_download_check(&c, SID, "wav", EXP, BIZ, sig) ==
		    CP_AUTH, "digit %zu changed and accepted", i);
	}
	/* Shape: upper case, short, long, empty, NULL. */
	for (size_t i = 0; i <= SIGN_HEX; i++)
		up[i] = (SIG_WAV[i] >= 'a' && SIG_WAV[i] <= 'f') ?
		    (char)(SIG_WAV[i] - 'a' + 'A') : SIG_WAV[i];
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, up),
	    CP_AUTH);
	memcpy(sig, SIG_WAV, sizeof(sig));
	sig[SIGN_HEX - 1] = '\0';
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, sig),
	    CP_AUTH);
	snprintf(longer, sizeof(longer), "%s0", SIG_WAV);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, longer),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, ""),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, NULL),
	    CP_AUTH);
	/* Malformed fields are a mismatch, never an error that leaks. */
	ck_assert_int_eq(sign_download_check(&c, "CA123", "wav", EXP, BIZ,
	    SIG_WAV), CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "ogg", EXP, BIZ, SIG_WAV),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, NULL, EXP, BIZ, SIG_WAV),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", -1, BIZ, SIG_WAV),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, 0, SIG_WAV),
	    CP_AUTH);
	ck_assert_int_eq(sign_download_check(NULL, SID, "wav", EXP, BIZ,
	    SIG_WAV), CP_AUTH);
	/* Untouched, it still passes (the loop above restored nothing). */
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ, SIG_WAV),
	    CP_OK);
}
END_TEST

START_TEST(test_previous_key_and_unknown_key)
{
	struct cp_conf rotated = conf_with("new-signing-key", OLD);
	struct cp_conf plain = conf_with("new-signing-key", "");
	char other[SIGN_HEX + 1], fresh[SIGN_HEX + 1];

	/* A URL minted before the rotation (under OLD) still works... */
	ck_assert_int_eq(sign_download_check(&rotated, SID, "mp3", EXP, BIZ,
	    SIG_MP3_OLD), CP_OK);
	/* ... and stops once the previous key is cleared. */
	ck_assert_int_eq(sign_download_check(&plain, SID, "mp3", EXP, BIZ,
	    SIG_MP3_OLD), CP_AUTH);
	/* New URLs are signed with the current key and pass both. */
	ck_assert_int_eq(sign_download("new-signing-key", SID, "wav", EXP, BIZ,
	    fresh), CP_OK);
	ck_assert_int_eq(sign_download_check(&rotated, SID, "wav", EXP, BIZ,
	    fresh), CP_OK);
	ck_assert_int_eq(sign_download_check(&plain, SID, "wav", EXP, BIZ,
	    fresh), CP_OK);
	/* A key the server never had is refused under either. */
	ck_assert_int_eq(sign_download("some-other-key", SID, "wav", EXP, BIZ,
	    other), CP_OK);
	ck_assert_int_eq(sign_download_check(&rotated, SID, "wav", EXP, BIZ,
	    other), CP_AUTH);
	ck_assert_int_eq(sign_download_check(&plain, SID, "wav", EXP, BIZ,
	    other), CP_AUTH);
	/* The previous key signs nothing new: sign_download_url uses the
	 * current one. */
	{
		char url[SIGN_URL_MAX], want[SIGN_URL_MAX];

		ck_assert_int_eq(sign_download_url(&rotated, SID, "wav", EXP, BIZ,
		    url, sizeof(url)), CP_OK);
		snprintf(want, sizeof(want), "/api/calls/" SID "/download?"
		    "format=wav&expires=1764586800&sig=%s", fresh);
		ck_assert_str_eq(url, want);
	}
}
END_TEST

/* An empty key is no key: it signs nothing, and an empty previous key (the
 * default, "none") never matches a signature made with an empty key. */
START_TEST(test_empty_keys_never_match)
{
	struct cp_conf c = conf_with(KEY, "");
	struct cp_conf both_empty = conf_with("", "");
	char empty_sig[SIGN_HEX + 1], out[SIGN_HEX + 1];

	oracle("", 0, SID, "wav", EXP, BIZ, empty_sig);
	ck_assert_int_eq(sign_download_check(&c, SID, "wav", EXP, BIZ,
	    empty_sig), CP_AUTH);
	ck_assert_int_eq(sign_download_check(&both_empty, SID, "wav", EXP, BIZ,
	    empty_sig), CP_AUTH);
	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(sign_download("", SID, "wav", EXP, BIZ, out), CP_INPUT);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(sign_download(NULL, SID, "wav", EXP, BIZ, out),
	    CP_INPUT);
	{
		char url[SIGN_URL_MAX];

		ck_assert_int_eq(sign_download_url(&both_empty, SID, "wav", EXP,
		    BIZ, url, sizeof(url)), CP_INPUT);
		ck_assert_str_eq(url, "");
	}
}
END_TEST

START_TEST(test_sign_refuses_bad_fields)
{
	static const char *const bad_sids[] = {
		"", "CA123", "CA0123456789ABCDEF0123456789abcdef",
		"RE0123456789abcdef0123456789abcdef", SID "0",
		"CA0123456789abcdef0123456789abcde\n",
	};
	char out[SIGN_HEX + 1];

	for (size_t i = 0; i < sizeof(bad_sids) / sizeof(bad_sids[0]); i++) {
		memset(out, 'x', sizeof(out));
		ck_assert_int_eq(sign_download(KEY, bad_sids[i], "wav", EXP, BIZ,
		    out), CP_INPUT);
		ck_assert_str_eq(out, "");
	}
	ck_assert_int_eq(sign_download(KEY, NULL, "wav", EXP, BIZ, out),
	    CP_INPUT);
	ck_assert_int_eq(sign_download(KEY, SID, "WAV", EXP, BIZ, out), CP_INPUT);
	ck_assert_int_eq(sign_download(KEY, SID, "wav\n", EXP, BIZ, out),
	    CP_INPUT);
	ck_assert_int_eq(sign_download(KEY, SID, "", EXP, BIZ, out), CP_INPUT);
	ck_assert_int_eq(sign_download(KEY, SID, "wav", -1, BIZ, out), CP_INPUT);
	ck_assert_int_eq(sign_download(KEY, SID, "wav", EXP, 0, out), CP_INPUT);
	ck_assert_int_eq(sign_download(KEY, SID, "wav", EXP, -5, out), CP_INPUT);
}
END_TEST

START_TEST(test_url_shape_and_buffer)
{
	struct cp_conf c = conf_with(KEY, "");
	char url[SIGN_URL_MAX], small[64];
	size_t need;

	ck_assert_int_eq(sign_download_url(&c, SID, "wav", EXP, BIZ, url,
	    sizeof(url)), CP_OK);
	ck_assert_str_eq(url, "/api/calls/" SID "/download?format=wav"
	    "&expires=1764586800&sig=" SIG_WAV);
	/* The longest one fits SIGN_URL_MAX. */
	ck_assert_int_eq(sign_download_url(&c, SID, "mp3", LLONG_MAX, LLONG_MAX,
	    url, sizeof(url)), CP_OK);
	ck_assert(strlen(url) < SIGN_URL_MAX);
	/* One byte short of the NUL: refused, and out is "". */
	ck_assert_int_eq(sign_download_url(&c, SID, "wav", EXP, BIZ, url,
	    sizeof(url)), CP_OK);
	need = strlen(url) + 1;
	ck_assert_int_eq(sign_download_url(&c, SID, "wav", EXP, BIZ, url,
	    need), CP_OK);
	ck_assert_int_eq(sign_download_url(&c, SID, "wav", EXP, BIZ, url,
	    need - 1), CP_INPUT);
	ck_assert_str_eq(url, "");
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(sign_download_url(&c, SID, "wav", EXP, BIZ, small,
	    sizeof(small)), CP_INPUT);
	ck_assert_str_eq(small, "");
	ck_assert_int_eq(sign_download_url(&c, SID, "ogg", EXP, BIZ, url,
	    sizeof(url)), CP_INPUT);
	ck_assert_int_eq(sign_download_url(NULL, SID, "wav", EXP, BIZ, url,
	    sizeof(url)), CP_INPUT);
}
END_TEST

static Suite *
sign_suite(void)
{
	Suite *s = suite_create("sign");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_known_vectors);
	tcase_add_test(tc, test_matches_oracle);
	tcase_add_test(tc, test_check_accepts_current);
	tcase_add_test(tc, test_check_every_field_tampered);
	tcase_add_test(tc, test_previous_key_and_unknown_key);
	tcase_add_test(tc, test_empty_keys_never_match);
	tcase_add_test(tc, test_sign_refuses_bad_fields);
	tcase_add_test(tc, test_url_shape_and_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sign_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
