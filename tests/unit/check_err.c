/* check_err: cp_fmt and cp_utf8_prefix never cut a UTF-8 character. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cp_err.h"

START_TEST(test_prefix_keeps_whole_characters)
{
	const char *he = "\xd7\x90\xd7\x91\xd7\x92";   /* three 2-byte letters */
	const char *emoji = "a\xf0\x9f\x93\x9e";         /* 'a' + 4-byte char */

	ck_assert_uint_eq(cp_utf8_prefix(he, 6), 6);
	ck_assert_uint_eq(cp_utf8_prefix(he, 5), 4);
	ck_assert_uint_eq(cp_utf8_prefix(he, 4), 4);
	ck_assert_uint_eq(cp_utf8_prefix(he, 1), 0);
	ck_assert_uint_eq(cp_utf8_prefix(emoji, 4), 1);
	ck_assert_uint_eq(cp_utf8_prefix(emoji, 5), 5);
	ck_assert_uint_eq(cp_utf8_prefix("plain ascii", 5), 5);
	ck_assert_uint_eq(cp_utf8_prefix("", 5), 0);
}
END_TEST

START_TEST(test_fmt_truncates_on_a_boundary)
{
	char buf[6];

	cp_fmt(buf, sizeof(buf), "x%s", "\xd7\x90\xd7\x91\xd7\x92");
	ck_assert_str_eq(buf, "x\xd7\x90\xd7\x91");       /* 5 bytes fit */
	cp_fmt(buf, sizeof(buf), "%s", "\xd7\x90\xd7\x91\xd7\x92");
	ck_assert_str_eq(buf, "\xd7\x90\xd7\x91");        /* not 5: cut char */
	cp_fmt(buf, sizeof(buf), "%d", 12345678);
	ck_assert_str_eq(buf, "12345");
	cp_fmt(buf, sizeof(buf), "%s", "ok");
	ck_assert_str_eq(buf, "ok");
}
END_TEST

START_TEST(test_strerror_names_every_error)
{
	for (int e = CP_OK; e <= CP_EMPTY; e++)
		ck_assert_str_ne(cp_strerror((enum cp_err)e), "unknown error");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("err");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_prefix_keeps_whole_characters);
	tcase_add_test(tc, test_fmt_truncates_on_a_boundary);
	tcase_add_test(tc, test_strerror_names_every_error);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
