/* check_phone.c: unit tests of phone.c (the E.164 number rule). */
#include <check.h>
#include <stdlib.h>

#include "phone.h"

START_TEST(test_e164_accepts)
{
	static const char *const good[] = {
		"+15005550006",        /* the demo's business number */
		"+14158675309",
		"+972501234567",       /* Israel mobile */
		"+12",                 /* 2 digits: the shortest we take */
		"+123456789012345",    /* 15 digits: E.164's longest */
		"+10",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(phone_e164(good[i]), "refused %s", good[i]);
}
END_TEST

START_TEST(test_e164_refuses)
{
	static const char *const bad[] = {
		"",
		"+",
		"+1",                  /* 1 digit */
		"+9",
		"+1234567890123456",   /* 16 digits */
		"+0123456789",         /* no country code starts with 0 */
		"+00",
		"15005550006",         /* national or unprefixed */
		"0501234567",
		"++15005550006",
		"+1 500 555 0006",
		"+1-500-555-0006",
		"+1500555000a",
		" +15005550006",
		"+15005550006 ",
		"+15005550006\n",
		"sip:alice@example.com",
		"client:alice",
		"+\xd9\xa1\xd9\xa2",   /* Arabic-Indic digits */
		"anonymous",
	};

	ck_assert(!phone_e164(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!phone_e164(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

static Suite *
phone_suite(void)
{
	Suite *s = suite_create("phone");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_e164_accepts);
	tcase_add_test(tc, test_e164_refuses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(phone_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
