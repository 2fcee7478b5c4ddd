/* check_form.c: unit tests of form.c (x-www-form-urlencoded bodies). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

/* Parses the NUL-terminated s; asserts the result code. */
static void
parse_ok(const char *s, struct form *f)
{
	enum cp_err e = form_parse(s, strlen(s), f);

	ck_assert_msg(e == CP_OK, "form_parse(\"%s\") = %s", s, cp_strerror(e));
}

static void
parse_input(const char *s, size_t len)
{
	struct form f;

	ck_assert_int_eq(form_parse(s, len, &f), CP_INPUT);
	/* On error the out-parameter is empty. */
	ck_assert_uint_eq(f.n, 0);
	ck_assert_ptr_null(f.pairs);
	form_free(&f);
}

START_TEST(test_basic_pairs_in_order)
{
	struct form f;

	parse_ok("b=2&a=1&c=3", &f);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_str_eq(f.pairs[0].name, "b");
	ck_assert_str_eq(f.pairs[0].value, "2");
	ck_assert_str_eq(f.pairs[1].name, "a");
	ck_assert_str_eq(f.pairs[2].name, "c");
	ck_assert_str_eq(f.pairs[2].value, "3");
	ck_assert_uint_eq(f.pairs[2].value_len, 1);
	form_free(&f);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_ptr_null(f.pairs);
	form_free(&f);          /* a freed form can be freed again */
}
END_TEST

START_TEST(test_plus_and_percent)
{
	struct form f;

	/* '+' is a space, "%2B" is a plus, "%20" a space. */
	parse_ok("v=a+b%20c%2Bd&From=%2B14158675309&n+m=x", &f);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_str_eq(f.pairs[0].value, "a b c+d");
	ck_assert_uint_eq(f.pairs[0].value_len, 7);
	ck_assert_str_eq(form_get(&f, "From"), "+14158675309");
	ck_assert_str_eq(f.pairs[2].name, "n m");
	form_free(&f);

	/* "%2b" lower case too, and a literal "%2B" produced by "%252B". */
	parse_ok("a=%2b&b=%252B", &f);
	ck_assert_str_eq(form_get(&f, "a"), "+");
	ck_assert_str_eq(form_get(&f, "b"), "%2B");
	form_free(&f);
}
END_TEST

START_TEST(test_utf8)
{
	struct form f;

	parse_ok("city=%D7%A9%D7%9C%D7%95%D7%9D&na%6De=%C3%A9", &f);
	ck_assert_str_eq(form_get(&f, "city"), "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D");
	ck_assert_uint_eq(f.pairs[0].value_len, 8);
	ck_assert_str_eq(f.pairs[1].name, "name");
	ck_assert_str_eq(form_get(&f, "name"), "\xC3\xA9");
	form_free(&f);
}
END_TEST

START_TEST(test_invalid_percent_kept)
{
	struct form f;

	/* WHATWG: a '%' not followed by two hex digits stays literal. */
	parse_ok("a=%zz%4&b=100%", &f);
	ck_assert_str_eq(form_get(&f, "a"), "%zz%4");
	ck_assert_str_eq(form_get(&f, "b"), "100%");
	form_free(&f);
}
END_TEST

START_TEST(test_missing_equals_and_empty_values)
{
	struct form f;

	parse_ok("flag&x=&y==b&z=1=2", &f);
	ck_assert_uint_eq(f.n, 4);
	ck_assert_str_eq(f.pairs[0].name, "flag");
	ck_assert_str_eq(f.pairs[0].value, "");
	ck_assert_uint_eq(f.pairs[0].value_len, 0);
	ck_assert_str_eq(form_get(&f, "x"), "");
	ck_assert_str_eq(form_get(&f, "y"), "=b");
	ck_assert_str_eq(form_get(&f, "z"), "1=2");
	form_free(&f);
}
END_TEST

START_TEST(test_empty_segments_skipped)
{
	struct form f;

	parse_ok("&a=1&&b=2&", &f);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.pairs[0].name, "a");
	ck_assert_str_eq(f.pairs[1].name, "b");
	form_free(&f);

	parse_ok("&&&", &f);
	ck_assert_uint_eq(f.n, 0);
	form_free(&f);
}
END_TEST

START_TEST(test_empty_body)
{
	struct form f;

	f.n = 99;
	ck_assert_int_eq(form_parse("", 0, &f), CP_OK);
	ck_assert_uint_eq(f.n, 0);
	form_free(&f);
	ck_assert_int_eq(form_parse(NULL, 0, &f), CP_OK);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_ptr_null(form_get(&f, "a"));
	form_free(&f);
}
END_TEST

START_TEST(test_not_nul_terminated)
{
	struct form f;
	const char buf[] = { 'a', '=', '1', '&', 'b', '=', '2', 'X', 'Y' };

	ck_assert_int_eq(form_parse(buf, 7, &f), CP_OK);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(form_get(&f, "b"), "2");
	form_free(&f);

	/* A length ending in the middle of "%41" leaves a literal "%4". */
	ck_assert_int_eq(form_parse("a=%41", 4, &f), CP_OK);
	ck_assert_str_eq(form_get(&f, "a"), "%4");
	form_free(&f);
}
END_TEST

START_TEST(test_empty_name_rejected)
{
	parse_input("=x", 2);
	parse_input("a=1&=2", 6);
	parse_input("a=1&=", 5);
}
END_TEST

START_TEST(test_nul_rejected)
{
	static const char raw[] = "a=x\0y";

	parse_input("a=%00", 5);
	parse_input("a=1&b=xx%00yy", 13);
	parse_input("n%00m=1", 7);
	/* A raw NUL byte inside the given length. */
	parse_input(raw, sizeof(raw) - 1);
}
END_TEST

START_TEST(test_pair_limit)
{
	size_t cap = (FORM_MAX_PAIRS + 2) * 8, len = 0;
	char *body = malloc(cap);
	struct form f;
	int i;

	ck_assert_ptr_nonnull(body);
	for (i = 0; i < FORM_MAX_PAIRS; i++) {
		len += (size_t)snprintf(body + len, cap - len, "%sp%d=%d",
		    i ? "&" : "", i, i);
	}
	ck_assert_int_eq(form_parse(body, len, &f), CP_OK);
	ck_assert_uint_eq(f.n, FORM_MAX_PAIRS);
	ck_assert_str_eq(form_get(&f, "p127"), "127");
	form_free(&f);
	/* One more pair is too many; empty segments do not count. */
	len += (size_t)snprintf(body + len, cap - len, "&&&");
	ck_assert_int_eq(form_parse(body, len, &f), CP_OK);
	form_free(&f);
	len += (size_t)snprintf(body + len, cap - len, "x=1");
	parse_input(body, len);
	free(body);
}
END_TEST

START_TEST(test_value_limit)
{
	size_t cap = 3 * (FORM_MAX_VALUE + 1) + 16, len;
	char *body = malloc(cap);
	struct form f;
	size_t i;

	ck_assert_ptr_nonnull(body);
	/* Exactly FORM_MAX_VALUE bytes: accepted. */
	memcpy(body, "v=", 2);
	memset(body + 2, 'x', FORM_MAX_VALUE);
	len = 2 + FORM_MAX_VALUE;
	ck_assert_int_eq(form_parse(body, len, &f), CP_OK);
	ck_assert_uint_eq(f.pairs[0].value_len, FORM_MAX_VALUE);
	ck_assert_uint_eq(strlen(f.pairs[0].value), FORM_MAX_VALUE);
	form_free(&f);
	/* One more byte: rejected. */
	body[len++] = 'x';
	parse_input(body, len);

	/* FORM_MAX_VALUE bytes written as "%41" each (the longest raw
	 * form of an accepted value): accepted; one more: rejected. */
	len = 2;
	for (i = 0; i < FORM_MAX_VALUE; i++) {
		memcpy(body + len, "%41", 3);
		len += 3;
	}
	ck_assert_int_eq(form_parse(body, len, &f), CP_OK);
	ck_assert_uint_eq(f.pairs[0].value_len, FORM_MAX_VALUE);
	ck_assert_int_eq(f.pairs[0].value[FORM_MAX_VALUE - 1], 'A');
	form_free(&f);
	memcpy(body + len, "%41", 3);
	parse_input(body, len + 3);

	/* A long name is rejected the same way. */
	memset(body, 'n', FORM_MAX_VALUE + 1);
	memcpy(body + FORM_MAX_VALUE + 1, "=1", 2);
	parse_input(body, FORM_MAX_VALUE + 3);
	free(body);
}
END_TEST

START_TEST(test_duplicates_and_get)
{
	struct form f;

	parse_ok("a=1&b=x&a=2&A=3", &f);
	ck_assert_uint_eq(f.n, 4);
	/* form_get gives the first; all stay in body order. */
	ck_assert_str_eq(form_get(&f, "a"), "1");
	ck_assert_str_eq(f.pairs[2].name, "a");
	ck_assert_str_eq(f.pairs[2].value, "2");
	/* Names are case-sensitive. */
	ck_assert_str_eq(form_get(&f, "A"), "3");
	ck_assert_ptr_null(form_get(&f, "c"));
	ck_assert_ptr_null(form_get(&f, NULL));
	ck_assert_ptr_null(form_get(NULL, "a"));
	form_free(&f);
}
END_TEST

START_TEST(test_twilio_like_body)
{
	struct form f;

	parse_ok("AccountSid=AC0123456789abcdef0123456789abcdef"
	    "&CallSid=CA0123456789abcdef0123456789abcdef"
	    "&From=%2B14158675309&To=%2B18005551212"
	    "&CallerName=John+O%27Brien&CallStatus=ringing"
	    "&FromCity=SAN+FRANCISCO&Direction=inbound", &f);
	ck_assert_uint_eq(f.n, 8);
	ck_assert_str_eq(form_get(&f, "CallerName"), "John O'Brien");
	ck_assert_str_eq(form_get(&f, "FromCity"), "SAN FRANCISCO");
	ck_assert_str_eq(form_get(&f, "To"), "+18005551212");
	form_free(&f);
}
END_TEST

static Suite *
form_suite(void)
{
	Suite *s = suite_create("form");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_basic_pairs_in_order);
	tcase_add_test(tc, test_plus_and_percent);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_invalid_percent_kept);
	tcase_add_test(tc, test_missing_equals_and_empty_values);
	tcase_add_test(tc, test_empty_segments_skipped);
	tcase_add_test(tc, test_empty_body);
	tcase_add_test(tc, test_not_nul_terminated);
	tcase_add_test(tc, test_empty_name_rejected);
	tcase_add_test(tc, test_nul_rejected);
	tcase_add_test(tc, test_pair_limit);
	tcase_add_test(tc, test_value_limit);
	tcase_add_test(tc, test_duplicates_and_get);
	tcase_add_test(tc, test_twilio_like_body);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(form_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
