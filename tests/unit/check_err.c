/* check_err: cp_fmt never cuts a UTF-8 character; cp_strerror names
 * every code. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cp_err.h"
#include "utf8.h"

/* The rule is utf8_prefix's (check_utf8 tests it); the old name keeps it. */
START_TEST(test_prefix_is_utf8_prefix)
{
	const char *he = "\xd7\x90\xd7\x91\xd7\x92";   /* three 2-byte letters */

	for (size_t max = 0; max <= 7; max++)
		ck_assert_uint_eq(cp_utf8_prefix(he, max), utf8_prefix(he, max));
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

/* Every code up to the CP_ERR_COUNT sentinel has its own name, so a code
 * added without a case in cp_strerror fails here. */
START_TEST(test_strerror_names_every_error)
{
	ck_assert_int_gt(CP_ERR_COUNT, CP_REJECTED);
	for (int e = CP_OK; e < CP_ERR_COUNT; e++) {
		const char *name = cp_strerror((enum cp_err)e);

		ck_assert_msg(strcmp(name, "unknown error") != 0,
		    "code %d has no name in cp_strerror", e);
		for (int f = CP_OK; f < e; f++)
			ck_assert_msg(strcmp(name, cp_strerror((enum cp_err)f)) != 0,
			    "codes %d and %d share the name \"%s\"", f, e, name);
	}
	ck_assert_str_eq(cp_strerror(CP_ERR_COUNT), "unknown error");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("err");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_prefix_is_utf8_prefix);
	tcase_add_test(tc, test_fmt_truncates_on_a_boundary);
	tcase_add_test(tc, test_strerror_names_every_error);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
