/* check_sid.c: unit tests of sid.c (the exact SID pattern). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sid.h"

#define HEX32 "0123456789abcdef0123456789abcdef"

START_TEST(test_valid_sids)
{
	ck_assert(sid_valid("CA" HEX32, "CA"));
	ck_assert(sid_valid("AC" HEX32, "AC"));
	ck_assert(sid_valid("RE" HEX32, "RE"));
	ck_assert(sid_valid("CAffffffffffffffffffffffffffffffff", "CA"));
	ck_assert(sid_valid("CA00000000000000000000000000000000", "CA"));
	ck_assert_uint_eq(strlen("CA" HEX32), SID_LEN);
}
END_TEST

START_TEST(test_wrong_prefix)
{
	ck_assert(!sid_valid("AC" HEX32, "CA"));
	ck_assert(!sid_valid("ca" HEX32, "CA"));
	ck_assert(!sid_valid("CA" HEX32, "ca"));
	ck_assert(!sid_valid("RE" HEX32, "CA"));
}
END_TEST

START_TEST(test_wrong_length)
{
	char s[64];

	/* 31 and 33 hex digits. */
	memcpy(s, "CA" HEX32, SID_LEN + 1);
	s[SID_LEN - 1] = '\0';
	ck_assert(!sid_valid(s, "CA"));
	memcpy(s, "CA" HEX32 "0", SID_LEN + 2);
	ck_assert(!sid_valid(s, "CA"));
	ck_assert(!sid_valid("", "CA"));
	ck_assert(!sid_valid("CA", "CA"));
	ck_assert(!sid_valid("C", "CA"));
}
END_TEST

START_TEST(test_wrong_characters)
{
	char s[SID_LEN + 1];
	const char bad[] = { 'A', 'F', 'g', 'x', ' ', '\n', '%', '/', '.' };
	size_t i, pos;

	/* Every position, every bad character. */
	for (pos = 2; pos < SID_LEN; pos++)
		for (i = 0; i < sizeof(bad); i++) {
			memcpy(s, "CA" HEX32, sizeof(s));
			s[pos] = bad[i];
			ck_assert_msg(!sid_valid(s, "CA"),
			    "accepted '%c' at %zu", bad[i], pos);
		}
	ck_assert(!sid_valid("CA" HEX32 "\n", "CA"));
	ck_assert(!sid_valid(" CA" HEX32, "CA"));
	ck_assert(!sid_valid("CA0123456789ABCDEF0123456789abcdef", "CA"));
	/* Non-ASCII byte in place of a digit. */
	ck_assert(!sid_valid("CA\xc3\xa9" "23456789abcdef0123456789abcdef", "CA"));
}
END_TEST

START_TEST(test_null_and_bad_prefix)
{
	ck_assert(!sid_valid(NULL, "CA"));
	ck_assert(!sid_valid("CA" HEX32, NULL));
	ck_assert(!sid_valid("CA" HEX32, "C"));
	ck_assert(!sid_valid("CA" HEX32, "CA0"));
	ck_assert(!sid_valid("CA" HEX32, ""));
}
END_TEST

static Suite *
sid_suite(void)
{
	Suite *s = suite_create("sid");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_valid_sids);
	tcase_add_test(tc, test_wrong_prefix);
	tcase_add_test(tc, test_wrong_length);
	tcase_add_test(tc, test_wrong_characters);
	tcase_add_test(tc, test_null_and_bad_prefix);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sid_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
