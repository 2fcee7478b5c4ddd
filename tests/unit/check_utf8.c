/* check_utf8.c: unit tests of utf8.c (the one UTF-8 decoder, RFC 3629). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* "shalom" in Hebrew: four 2-byte letters, U+05E9 U+05DC U+05D5 U+05DD. */
#define SHALOM "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"

/* Byte sequences that are not UTF-8, each one sequence long. */
static const char *const bad[] = {
	"\xc0\xaf",             /* overlong '/' (2 bytes) */
	"\xc0\xa0",             /* overlong space */
	"\xc1\xbf",             /* overlong U+007F */
	"\xe0\x80\xaf",         /* overlong '/' (3 bytes) */
	"\xe0\x9f\xbf",         /* overlong U+07FF */
	"\xf0\x80\x80\xaf",     /* overlong '/' (4 bytes) */
	"\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
	"\xed\xa0\x80",         /* U+D800, first surrogate */
	"\xed\xbf\xbf",         /* U+DFFF, last surrogate */
	"\xf4\x90\x80\x80",     /* U+110000 */
	"\xf5\x80\x80\x80",     /* lead byte past U+10FFFF */
	"\xf7\xbf\xbf\xbf",     /* U+1FFFFF */
	"\xfe",
	"\xff",
	"\x80",                 /* continuation byte alone */
	"\xbf",
	"\xd7",                 /* truncated 2-byte */
	"\xe2\x80",             /* truncated 3-byte */
	"\xf0\x9f\x93",         /* truncated 4-byte */
	"\xd7\x41",             /* lead then ASCII */
	"\xe2\x41\x93",
	"\xf0\x9f\x41\x9e",
};

/* Reference encoder for the exhaustive test. */
static size_t
encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

START_TEST(test_decode_well_formed)
{
	static const struct { const char *s; uint32_t cp; size_t len; } ok[] = {
		{ "A", 0x41, 1 },
		{ "\x7f", 0x7F, 1 },
		{ "\xc2\x80", 0x80, 2 },
		{ "\xd7\x90", 0x05D0, 2 },           /* HEBREW LETTER ALEF */
		{ "\xd6\xbe", 0x05BE, 2 },           /* HEBREW MAQAF */
		{ "\xe0\xa0\x80", 0x0800, 3 },
		{ "\xe2\x80\x93", 0x2013, 3 },       /* EN DASH */
		{ "\xed\x9f\xbf", 0xD7FF, 3 },       /* just below the surrogates */
		{ "\xee\x80\x80", 0xE000, 3 },       /* just above them */
		{ "\xef\xbb\xbf", 0xFEFF, 3 },
		{ "\xf0\x90\x80\x80", 0x10000, 4 },
		{ "\xf0\x9f\x93\x9e", 0x1F4DE, 4 },
		{ "\xf4\x8f\xbf\xbf", 0x10FFFF, 4 },
	};
	size_t i, len;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		len = 99;
		ck_assert_uint_eq(utf8_decode(ok[i].s, strlen(ok[i].s), 0, &len),
		    ok[i].cp);
		ck_assert_uint_eq(len, ok[i].len);
		ck_assert(utf8_valid(ok[i].s, strlen(ok[i].s)));
	}
	/* U+0000 is a code point: the length, not a NUL, ends the buffer. */
	ck_assert_uint_eq(utf8_decode("\0", 1, 0, &len), 0);
	ck_assert_uint_eq(len, 1);
	ck_assert(utf8_valid("a\0b", 3));
}
END_TEST

START_TEST(test_decode_ill_formed)
{
	size_t i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = 99;
		ck_assert_msg(utf8_decode(bad[i], strlen(bad[i]), 0, &len) ==
		    UTF8_INVALID, "bad[%zu] decoded", i);
		ck_assert_uint_eq(len, 1);
		ck_assert_msg(!utf8_valid(bad[i], strlen(bad[i])),
		    "bad[%zu] valid", i);
	}
}
END_TEST

/* A sequence cut by the length is not read past it, whatever follows. */
START_TEST(test_decode_stops_at_length)
{
	size_t len;

	ck_assert_uint_eq(utf8_decode(SHALOM, 1, 0, &len), UTF8_INVALID);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(utf8_decode("\xf0\x9f\x93\x9e", 3, 0, &len),
	    UTF8_INVALID);
	ck_assert(!utf8_valid(SHALOM, 7));
	ck_assert(utf8_valid(SHALOM, 6));
	ck_assert(utf8_valid(SHALOM, 0));
}
END_TEST

/* Every code point encodes and decodes back; surrogates never do. */
START_TEST(test_decode_every_code_point)
{
	char buf[4];
	size_t n, len;
	uint32_t cp, got;

	for (cp = 0; cp <= 0x10FFFF; cp++) {
		n = encode(cp, buf);
		got = utf8_decode(buf, n, 0, &len);
		if (cp >= 0xD800 && cp <= 0xDFFF) {
			ck_assert_uint_eq(got, UTF8_INVALID);
			continue;
		}
		if (got != cp || len != n)
			ck_abort_msg("U+%04X decoded as %X (%zu bytes)",
			    (unsigned)cp, (unsigned)got, len);
		got = utf8_decode_before(buf, n, n, &len);
		if (got != cp || len != 0)
			ck_abort_msg("U+%04X decoded backwards as %X at %zu",
			    (unsigned)cp, (unsigned)got, len);
	}
}
END_TEST

START_TEST(test_decode_before)
{
	const char *s = "a" SHALOM;
	size_t n = strlen(s), i = n, start;
	static const uint32_t back[] = { 0x05DD, 0x05D5, 0x05DC, 0x05E9, 'a' };

	/* Walking back over the Hebrew word, one letter at a time. */
	for (size_t k = 0; k < 5; k++) {
		ck_assert_uint_eq(utf8_decode_before(s, n, i, &start), back[k]);
		ck_assert_uint_eq(start, k < 4 ? i - 2 : 0);
		i = start;
	}
	ck_assert_uint_eq(i, 0);

	/* A stray continuation byte is one invalid byte. */
	ck_assert_uint_eq(utf8_decode_before("a\x90", 2, 2, &start),
	    UTF8_INVALID);
	ck_assert_uint_eq(start, 1);
	/* An overlong space does not end in a space. */
	ck_assert_uint_eq(utf8_decode_before("x\xc0\xa0", 3, 3, &start),
	    UTF8_INVALID);
	ck_assert_uint_eq(start, 2);
	/* A surrogate neither. */
	ck_assert_uint_eq(utf8_decode_before("\xed\xa0\x80", 3, 3, &start),
	    UTF8_INVALID);
	ck_assert_uint_eq(start, 2);
	/* Four continuation bytes: the lead is too far back to count. */
	ck_assert_uint_eq(utf8_decode_before("\xf0\x9f\x93\x9e\x9e", 5, 5,
	    &start), UTF8_INVALID);
	ck_assert_uint_eq(start, 4);
	/* A truncated sequence before i: the last byte alone. */
	ck_assert_uint_eq(utf8_decode_before("\xe2\x80", 2, 2, &start),
	    UTF8_INVALID);
	ck_assert_uint_eq(start, 1);
	/* In the middle of a buffer: what follows i does not matter. */
	ck_assert_uint_eq(utf8_decode_before(SHALOM, 8, 4, &start), 0x05DC);
	ck_assert_uint_eq(start, 2);
}
END_TEST

START_TEST(test_valid_text)
{
	const char *mixed = "Caller: \xd7\x90\xd7\x99\xd7\xa0\xd7\xa1\xd7\x98"
	    "\xd7\x9c\xd7\x98\xd7\x95\xd7\xa8 in Tel Aviv \xe2\x80\x93 "
	    "\xf0\x9f\x93\x9e";

	ck_assert(utf8_valid(mixed, strlen(mixed)));
	ck_assert(utf8_valid("", 0));
	ck_assert(!utf8_valid("ok \xc0\xaf", 5));
	ck_assert(!utf8_valid(SHALOM "\xed\xa0\x80", 11));
	ck_assert(!utf8_valid("\xd7\x90\x90", 3));
}
END_TEST

START_TEST(test_trim_and_prefix)
{
	const char *he = "\xd7\x90\xd7\x91\xd7\x92";   /* three 2-byte letters */

	ck_assert_uint_eq(utf8_trim(he, 6), 6);
	ck_assert_uint_eq(utf8_trim(he, 5), 4);
	ck_assert_uint_eq(utf8_trim(he, 1), 0);
	ck_assert_uint_eq(utf8_trim(he, 0), 0);
	ck_assert_uint_eq(utf8_trim("a\xf0\x9f\x93", 4), 1);
	ck_assert_uint_eq(utf8_trim("a\xf0\x9f\x93\x9e", 5), 5);
	ck_assert_uint_eq(utf8_trim("a\xe2\x80", 3), 1);
	ck_assert_uint_eq(utf8_trim("\x80\x80", 2), 2);  /* not ours to judge */
	ck_assert_uint_eq(utf8_prefix(he, 5), 4);
	ck_assert_uint_eq(utf8_prefix(he, 4), 4);
	ck_assert_uint_eq(utf8_prefix("plain ascii", 5), 5);
	ck_assert_uint_eq(utf8_prefix(he, 100), 6);
	ck_assert_uint_eq(utf8_prefix(he, SIZE_MAX), 6);
	ck_assert_uint_eq(utf8_prefix("", 0), 0);
	ck_assert_uint_eq(utf8_prefix("abc", 0), 0);
	/* Every cut of a Hebrew and emoji text is valid UTF-8. */
	{
		const char *t = SHALOM " \xf0\x9f\x93\x9e \xe2\x80\x93 x";
		for (size_t max = 0; max <= strlen(t); max++)
			ck_assert_msg(utf8_valid(t, utf8_prefix(t, max)),
			    "cut at %zu", max);
	}
}
END_TEST

static Suite *
utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_decode_well_formed);
	tcase_add_test(tc, test_decode_ill_formed);
	tcase_add_test(tc, test_decode_stops_at_length);
	tcase_add_test(tc, test_decode_every_code_point);
	tcase_add_test(tc, test_decode_before);
	tcase_add_test(tc, test_valid_text);
	tcase_add_test(tc, test_trim_and_prefix);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(utf8_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
