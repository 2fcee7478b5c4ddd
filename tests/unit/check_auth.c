/* check_auth.c: unit tests of auth.c (API tokens, SHA-256, Bearer). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define TOK "cp_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
assert_token_shape(const char *t)
{
	size_t i;

	ck_assert_uint_eq(strlen(t), AUTH_TOKEN_LEN);
	ck_assert(strncmp(t, "cp_", 3) == 0);
	for (i = 3; i < AUTH_TOKEN_LEN; i++)
		ck_assert_msg((t[i] >= '0' && t[i] <= '9') ||
		    (t[i] >= 'a' && t[i] <= 'f'), "bad char in %s", t);
}

START_TEST(test_token_shape_and_uniqueness)
{
	static char toks[100][AUTH_TOKEN_LEN + 1];
	char hdr[128];
	int i, j, seen[16] = { 0 }, distinct = 0;

	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(auth_token_new(toks[i]), CP_OK);
		assert_token_shape(toks[i]);
		/* Every token made is one the Bearer parser accepts. */
		snprintf(hdr, sizeof(hdr), "Bearer %s", toks[i]);
		ck_assert_ptr_eq(auth_bearer_token(hdr), hdr + 7);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(toks[i], toks[j]);
		for (j = 3; j < AUTH_TOKEN_LEN; j++)
			seen[toks[i][j] <= '9' ? toks[i][j] - '0' :
			    toks[i][j] - 'a' + 10] = 1;
	}
	/* 6400 random hex digits use all 16 of them. */
	for (j = 0; j < 16; j++)
		distinct += seen[j];
	ck_assert_int_eq(distinct, 16);
}
END_TEST

START_TEST(test_sha256_vectors)
{
	char out[AUTH_SHA256_HEX + 1];

	/* FIPS 180-2 appendix B.1 and the empty message. */
	ck_assert_int_eq(auth_sha256_hex("abc", 3, out), CP_OK);
	ck_assert_str_eq(out,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(auth_sha256_hex("", 0, out), CP_OK);
	ck_assert_str_eq(out,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_int_eq(auth_sha256_hex(NULL, 0, out), CP_OK);
	ck_assert_str_eq(out,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* FIPS 180-2 B.2, and the length is honoured (no strlen). */
	ck_assert_int_eq(auth_sha256_hex(
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopqXYZ", 56,
	    out), CP_OK);
	ck_assert_str_eq(out,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	ck_assert_int_eq(auth_sha256_hex("a\0b", 3, out), CP_OK);
	ck_assert_str_ne(out,
	    "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
	ck_assert_uint_eq(strlen(out), AUTH_SHA256_HEX);
}
END_TEST

START_TEST(test_bearer_accepts)
{
	const char *h;

	h = "Bearer " TOK;
	ck_assert_ptr_eq(auth_bearer_token(h), h + 7);
	h = "bearer " TOK;
	ck_assert_ptr_eq(auth_bearer_token(h), h + 7);
	h = "BEARER " TOK;
	ck_assert_ptr_eq(auth_bearer_token(h), h + 7);
	h = "BeArEr   " TOK;
	ck_assert_ptr_eq(auth_bearer_token(h), h + 9);
	ck_assert_str_eq(auth_bearer_token(h), TOK);
}
END_TEST

START_TEST(test_bearer_rejects)
{
	static const char *const bad[] = {
		"",
		"Bearer",
		"Bearer ",
		"Bearer  ",
		TOK,                                   /* no scheme */
		"Basic " TOK,
		"Bearer\t" TOK,                        /* SP only */
		"Bearer:" TOK,
		"Bearertoken " TOK,
		" Bearer " TOK,
		"Bearer " TOK " ",                     /* trailing space */
		"Bearer " TOK "0",                     /* too long */
		"Bearer " TOK " x",
		"Bearer cp_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
		"Bearer cp_0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"Bearer CP_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"Bearer xx_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"Bearer cp-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"Bearer cp_0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef",
		"Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"Bearer " TOK "\n",
	};
	size_t i;

	ck_assert_ptr_null(auth_bearer_token(NULL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(auth_bearer_token(bad[i]) == NULL,
		    "accepted \"%s\"", bad[i]);
}
END_TEST

/* Whatever auth_bearer_token refuses is CP_AUTH before any query: the
 * database handle is not even looked at (NULL here). The lookups
 * themselves run against the stack in tests/integration/test_ctl_tokens.py. */
START_TEST(test_bearer_business_refuses_without_db)
{
	static const char *const bad[] = {
		NULL, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer " TOK " ",
		"Bearer cp_0123", "bearer\t" TOK,
	};
	long long business = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		business = 99;
		ck_assert_int_eq(auth_bearer_business(NULL, bad[i], &business),
		    CP_AUTH);
		ck_assert_int_eq(business, 0);
	}
}
END_TEST

/* auth_token_create checks its arguments before the random source or
 * the database (NULL here). */
START_TEST(test_token_create_refuses_bad_input)
{
	static const char *const bad_names[] = {
		NULL, "", "tab\there", "new\nline", "del\x7f", "\xff\xfe",
	};
	char tok[AUTH_TOKEN_LEN + 1], name[300];
	long long id = 5;

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		memset(tok, 'x', sizeof(tok));
		ck_assert_int_eq(auth_token_create(NULL, 1, bad_names[i], &id, tok),
		    CP_INPUT);
		ck_assert_str_eq(tok, "");
		ck_assert_int_eq(id, 0);
	}
	memset(name, 'a', 256);
	name[256] = '\0';
	ck_assert_int_eq(auth_token_create(NULL, 1, name, NULL, tok), CP_INPUT);
	ck_assert_int_eq(auth_token_create(NULL, 0, "ok", NULL, tok), CP_INPUT);
	ck_assert_int_eq(auth_token_create(NULL, -1, "ok", NULL, tok), CP_INPUT);
	ck_assert_int_eq(auth_token_revoke(NULL, 0), CP_NOTFOUND);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_token_shape_and_uniqueness);
	tcase_add_test(tc, test_sha256_vectors);
	tcase_add_test(tc, test_bearer_accepts);
	tcase_add_test(tc, test_bearer_rejects);
	tcase_add_test(tc, test_bearer_business_refuses_without_db);
	tcase_add_test(tc, test_token_create_refuses_bad_input);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
