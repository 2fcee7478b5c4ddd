/* check_num.c: unit tests of cp_num.c (the range-checked number parser). */
#include <check.h>
#include <limits.h>
#include <stdlib.h>

#include "cp_num.h"

#define UNTOUCHED 4242

/* Asserts that s is refused in [min, max] and *out left alone. */
static void
refused(const char *s, long long min, long long max)
{
	long long v = UNTOUCHED;

	ck_assert_msg(cp_parse_ll(s, min, max, &v) == CP_INPUT,
	    "accepted \"%s\" in [%lld, %lld]", s ? s : "(null)", min, max);
	ck_assert_int_eq(v, UNTOUCHED);
}

static long long
parsed(const char *s, long long min, long long max)
{
	long long v = UNTOUCHED;

	ck_assert_msg(cp_parse_ll(s, min, max, &v) == CP_OK,
	    "refused \"%s\" in [%lld, %lld]", s, min, max);
	return v;
}

START_TEST(test_decimal)
{
	ck_assert_int_eq(parsed("0", 0, 10), 0);
	ck_assert_int_eq(parsed("7", 0, 10), 7);
	ck_assert_int_eq(parsed("10", 0, 10), 10);
	ck_assert_int_eq(parsed("007", 0, 10), 7);   /* 1*DIGIT allows them */
	ck_assert_int_eq(parsed("123456789", 0, 999999999), 123456789);
	ck_assert_int_eq(parsed("9223372036854775807", 0, LLONG_MAX),
	    LLONG_MAX);
}
END_TEST

START_TEST(test_junk_refused)
{
	static const char *const junk[] = {
		"", " 1", "1 ", "\t1", "1\n", "+1", "1a", "a1", "0x10", "1e3",
		"1.0", "1,000", "--1", "- 1", "\xd9\xa1", "1\xc2\xa0",
	};

	refused(NULL, 0, 10);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		refused(junk[i], -100, 100);
}
END_TEST

START_TEST(test_range)
{
	refused("11", 0, 10);
	refused("0", 1, 10);
	refused("1000000000", 0, 999999999);
	refused("5", 10, 0);                  /* empty range */
	ck_assert_int_eq(parsed("5", 5, 5), 5);
	ck_assert_int_eq(parsed("2147483647", 0, INT_MAX), INT_MAX);
	refused("2147483648", 0, INT_MAX);
}
END_TEST

/* A sign only where the range has negative numbers. */
START_TEST(test_sign)
{
	refused("-1", 0, 10);
	refused("-0", 0, 10);
	refused("-", -10, 10);
	ck_assert_int_eq(parsed("-1", -1, 10), -1);
	ck_assert_int_eq(parsed("-0", -1, 10), 0);
	refused("-2", -1, 10);
	ck_assert_int_eq(parsed("-9223372036854775808", LLONG_MIN, 0),
	    LLONG_MIN);
	ck_assert_int_eq(parsed("-9223372036854775807", LLONG_MIN, 0),
	    -LLONG_MAX);
}
END_TEST

START_TEST(test_overflow)
{
	refused("9223372036854775808", 0, LLONG_MAX);
	refused("9223372036854775810", 0, LLONG_MAX);
	refused("18446744073709551616", 0, LLONG_MAX);   /* 2^64 */
	refused("99999999999999999999999999", 0, LLONG_MAX);
	refused("-9223372036854775809", LLONG_MIN, LLONG_MAX);
	refused("-18446744073709551616", LLONG_MIN, LLONG_MAX);
	/* Leading zeros do not overflow. */
	ck_assert_int_eq(parsed("0000000000000000000000000001", 0, 1), 1);
}
END_TEST

static Suite *
num_suite(void)
{
	Suite *s = suite_create("num");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_decimal);
	tcase_add_test(tc, test_junk_refused);
	tcase_add_test(tc, test_range);
	tcase_add_test(tc, test_sign);
	tcase_add_test(tc, test_overflow);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(num_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
