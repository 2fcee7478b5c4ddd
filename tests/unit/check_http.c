/* check_http.c: unit tests of the HTTP side's pure parts: the one error ->
 * status table (req.c), and callview's time, cursor and SQL builders. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "callview.h"
#include "req.h"

START_TEST(test_status_table)
{
	static const struct { enum cp_err e; int status; } want[] = {
		{ CP_INPUT, 400 }, { CP_AUTH, 401 }, { CP_FORBIDDEN, 403 },
		{ CP_NOTFOUND, 404 }, { CP_METHOD, 405 }, { CP_CONFLICT, 409 },
		{ CP_GONE, 410 }, { CP_LENGTH, 411 }, { CP_TOOBIG, 413 },
		{ CP_MEDIATYPE, 415 }, { CP_AGAIN, 503 }, { CP_BUSY, 503 },
		{ CP_UPSTREAM, 503 }, { CP_DB, 503 }, { CP_NOMEM, 500 },
		{ CP_SYSTEM, 500 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_int_eq(req_status_of(want[i].e), want[i].status);
	/* Every error is an error answer with a reason phrase of its own. */
	for (int e = CP_OK + 1; e < CP_ERR_COUNT; e++) {
		int s = req_status_of((enum cp_err)e);
		ck_assert_msg(s >= 400 && s <= 599, "%s -> %d",
		    cp_strerror((enum cp_err)e), s);
		ck_assert_str_ne(req_status_text(s), "Unknown");
	}
	ck_assert_str_eq(req_status_text(202), "Accepted");
	ck_assert_str_eq(req_status_text(429), "Too Many Requests");
}
END_TEST

START_TEST(test_iso_out)
{
	char out[32];

	ck_assert_int_eq(callview_iso("2026-12-01 11:00:00.123", out), CP_OK);
	ck_assert_str_eq(out, "2026-12-01T11:00:00.123Z");
	ck_assert_int_eq(callview_iso("2026-12-01 11:00:00", out), CP_OK);
	ck_assert_str_eq(out, "2026-12-01T11:00:00.000Z");
	ck_assert_int_eq(callview_iso("2026-12-01T11:00:00", out), CP_INPUT);
	ck_assert_int_eq(callview_iso("2026-12-01", out), CP_INPUT);
	ck_assert_int_eq(callview_iso(NULL, out), CP_INPUT);
}
END_TEST

START_TEST(test_since_parse)
{
	static const char *const bad[] = {
		"2026-12-01T10:00:00", "2026-12-01T10:00:00+00:00",
		"2026-12-01 10:00:00Z", "2026-02-30T10:00:00Z",
		"2026-1-01T10:00:00Z", "2026-12-01T10:00:00.1234567Z",
		"2026-12-01T10:00:00.Z", "2026-12-01T10:00:00Zx", "",
		"2026-12-01T25:00:00Z", "+026-12-01T10:00:00Z",
		"2026-01-15T10:00:61Z", "2026-01-15T10:00:60Z",
		"2026-01-15T10:60:00Z",
	};
	char out[32];

	ck_assert_int_eq(callview_time_parse("2026-12-01T10:00:00Z", out), CP_OK);
	ck_assert_str_eq(out, "2026-12-01 10:00:00.000000");
	ck_assert_int_eq(callview_time_parse("2024-02-29T23:59:59.5Z", out), CP_OK);
	ck_assert_str_eq(out, "2024-02-29 23:59:59.500000");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(callview_time_parse(bad[i], out) == CP_INPUT,
		    "accepted %s", bad[i]);
	ck_assert_int_eq(callview_time_parse(NULL, out), CP_INPUT);
}
END_TEST

START_TEST(test_cursor_parse)
{
	static const char *const bad[] = { "", "-45", "123-", "123-0", "a-1",
	    "123-45x", "123", "1-2-3", " 1-2" };
	struct callview_filter f;

	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(callview_cursor_parse("1796122902053-591", &f), CP_OK);
	ck_assert(f.has_cursor);
	ck_assert_int_eq(f.cursor_ms, 1796122902053LL);
	ck_assert_int_eq(f.cursor_id, 591);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f, 0, sizeof(f));
		ck_assert_msg(callview_cursor_parse(bad[i], &f) == CP_INPUT,
		    "accepted %s", bad[i]);
	}
}
END_TEST

static size_t
count_params(const char *sql)
{
	size_t n = 0;

	for (; *sql; sql++)
		n += *sql == '?';
	return n;
}

/* Every combination of filters: the SQL has as many placeholders as
 * callview_list binds (1 business + since + 2 phone + 3 cursor + limit),
 * and always the keyset order. */
START_TEST(test_list_sql)
{
	for (int mask = 0; mask < 8; mask++)
		for (int st = CALLVIEW_ANY; st <= CALLVIEW_COMPLETED; st++)
			for (int stage = -1; stage <= CALLS_SUMMARY; stage++) {
				struct callview_filter f;
				const char *sql;
				memset(&f, 0, sizeof(f));
				f.since = (mask & 1) ? "2026-12-01 00:00:00.000000" : NULL;
				f.phone = (mask & 2) ? "+972501234567" : NULL;
				f.has_cursor = (mask & 4) != 0;
				f.state = (enum callview_state)st;
				f.stage = stage;
				f.limit = 50;
				sql = callview_list_sql(&f);
				ck_assert_uint_eq(count_params(sql), 2 +
				    ((mask & 1) ? 1 : 0) + ((mask & 2) ? 2 : 0) +
				    ((mask & 4) ? 3 : 0));
				ck_assert_ptr_nonnull(strstr(sql, "WHERE c.business_id = ?"));
				ck_assert_ptr_nonnull(strstr(sql,
				    " ORDER BY c.created_at DESC, c.id DESC LIMIT ?"));
				if (st == CALLVIEW_FAILED && stage == CALLS_TRANSCRIPT)
					ck_assert_ptr_nonnull(strstr(sql,
					    "c.transcript_status = 'failed'"));
				if (st == CALLVIEW_ANY)
					ck_assert_ptr_null(strstr(sql, "'failed'"));
			}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_status_table);
	tcase_add_test(tc, test_iso_out);
	tcase_add_test(tc, test_since_parse);
	tcase_add_test(tc, test_cursor_parse);
	tcase_add_test(tc, test_list_sql);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
