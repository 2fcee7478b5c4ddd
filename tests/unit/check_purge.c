/* check_purge.c: unit tests of the pure parts of coverage.c (the gap
 * rule) and of the purge's day key (jobkey_purge / jobkey_day). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "coverage.h"
#include "jobkey.h"

START_TEST(test_gap_floor_one_second)
{
	/* Short calls: the 1 s floor wins over 5 % of the duration. */
	ck_assert(!coverage_low(9.0, 10, 0.95));     /* gap 1.0: not more */
	ck_assert(!coverage_low(19.0, 20, 0.95));    /* 5 % = 1 s, gap 1 */
	ck_assert(coverage_low(8.9, 10, 0.95));      /* gap 1.1 > 1 */
	ck_assert(!coverage_low(10.4, 10, 0.95));    /* longer than the call */
	ck_assert(!coverage_low(10.0, 10, 1.0));     /* min 1.0: still 1 s */
	ck_assert(coverage_low(8.0, 10, 1.0));
}
END_TEST

START_TEST(test_gap_fraction)
{
	/* Long calls: (1 - 0.95) x 600 s = 30 s allowed. */
	ck_assert(!coverage_low(570.0, 600, 0.95));
	ck_assert(coverage_low(569.9, 600, 0.95));
	ck_assert(!coverage_low(300.0, 600, 0.5));
	ck_assert(coverage_low(299.0, 600, 0.5));
	/* min_coverage 0: only silence past the whole call could be low. */
	ck_assert(!coverage_low(0.0, 600, 0.0));
}
END_TEST

START_TEST(test_gap_unknown)
{
	/* No CallDuration (0): never low; negative audio counts as none. */
	ck_assert(!coverage_low(5.0, 0, 0.95));
	ck_assert(!coverage_low(5.0, -1, 0.95));
	ck_assert(coverage_low(-3.0, 10, 0.95));
}
END_TEST

START_TEST(test_ratio)
{
	ck_assert_double_eq_tol(coverage_ratio(9.5, 10), 0.95, 1e-9);
	ck_assert_double_eq_tol(coverage_ratio(10.4, 10), 1.04, 1e-9);
	ck_assert_double_eq_tol(coverage_ratio(5.0, 0), 0.0, 1e-9);
	ck_assert_double_eq_tol(coverage_ratio(1e9, 1), 999.999, 1e-9);
}
END_TEST

START_TEST(test_purge_key)
{
	char key[64];

	ck_assert_int_eq(jobkey_day(0), 19700101);
	ck_assert_int_eq(jobkey_day(1738367999LL), 20250131); /* 23:59:59 UTC */
	ck_assert_int_eq(jobkey_day(1738368000LL), 20250201);
	ck_assert_int_eq(jobkey_purge(key, sizeof(key), NULL, NULL, 20250131),
	    CP_OK);
	ck_assert_str_eq(key, "purge:20250131");
	ck_assert_int_eq(jobkey_purge(key, sizeof(key), NULL, NULL, 0), CP_INPUT);
	ck_assert_int_eq(jobkey_purge(key, 8, NULL, NULL, 20250131), CP_INPUT);
}
END_TEST

static Suite *
purge_suite(void)
{
	Suite *s = suite_create("purge");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_gap_floor_one_second);
	tcase_add_test(tc, test_gap_fraction);
	tcase_add_test(tc, test_gap_unknown);
	tcase_add_test(tc, test_ratio);
	tcase_add_test(tc, test_purge_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(purge_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
