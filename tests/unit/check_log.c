/* check_log: the three line formats of log.h (text, logfmt, json), their
 * escaping, the call/job context and log.timestamps = false. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* 2026-12-01T10:00:00.123Z */
static const struct timespec ts = { 1796119200, 123456789 };

static char line[LOG_LINE_MAX];
static char pid[32];

static void
setup(void)
{
	log_init("callpipe-test", LOG_LVL_DEBUG);
	log_ctx_clear();
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
}

static const char *
render(const char *msg)
{
	log_render(line, sizeof(line), LOG_LVL_WARN, &ts, msg);
	return line;
}

START_TEST(test_text)
{
	char want[256];

	ck_assert_int_eq(log_set_format("text", true), 0);
	snprintf(want, sizeof(want), "2026-12-01T10:00:00.123Z callpipe-test[%s] "
	    "warn: hello world", pid);
	ck_assert_str_eq(render("hello world"), want);
	log_ctx_set_call("CA0123456789abcdef0123456789abcdef");
	snprintf(want, sizeof(want), "2026-12-01T10:00:00.123Z callpipe-test[%s] "
	    "warn: hi call_sid=CA0123456789abcdef0123456789abcdef", pid);
	ck_assert_str_eq(render("hi"), want);
	log_ctx_set_job(42, "transcribe", "CA0123456789abcdef0123456789abcdef");
	snprintf(want, sizeof(want), "callpipe-test[%s] warn: hi call_sid="
	    "CA0123456789abcdef0123456789abcdef job_id=42 kind=transcribe", pid);
	ck_assert_int_eq(log_set_format("text", false), 0);
	ck_assert_str_eq(render("hi"), want);
	log_ctx_clear();
	snprintf(want, sizeof(want), "callpipe-test[%s] warn: hi", pid);
	ck_assert_str_eq(render("hi"), want);
}
END_TEST

START_TEST(test_logfmt_escaping)
{
	char want[512];

	ck_assert_int_eq(log_set_format("logfmt", true), 0);
	snprintf(want, sizeof(want), "ts=2026-12-01T10:00:00.123Z level=warn "
	    "prog=callpipe-test pid=%s msg=plain", pid);
	ck_assert_str_eq(render("plain"), want);
	/* space, quote, backslash, '=', newline, tab, a control byte; UTF-8
	 * passes unchanged. */
	snprintf(want, sizeof(want), "ts=2026-12-01T10:00:00.123Z level=warn "
	    "prog=callpipe-test pid=%s msg=\"a \\\"b\\\" c\\\\d e=f\\ng\\th"
	    "\\u0001 \xd7\x90\"", pid);
	ck_assert_str_eq(render("a \"b\" c\\d e=f\ng\th\x01 \xd7\x90"), want);
	snprintf(want, sizeof(want), "ts=2026-12-01T10:00:00.123Z level=warn "
	    "prog=callpipe-test pid=%s msg=\"\"", pid);
	ck_assert_str_eq(render(""), want);
	log_ctx_set_job(7, "fetch_recording", "CA0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(log_set_format("logfmt", false), 0);
	snprintf(want, sizeof(want), "level=warn prog=callpipe-test pid=%s "
	    "msg=x call_sid=CA0123456789abcdef0123456789abcdef job_id=7 "
	    "kind=fetch_recording", pid);
	ck_assert_str_eq(render("x"), want);
}
END_TEST

START_TEST(test_json_escaping)
{
	const char *msg = "a \"b\" c\\d\nnew / line \x01 \xd7\x90";
	struct json_object *o, *v;

	ck_assert_int_eq(log_set_format("json", true), 0);
	log_ctx_set_job(9, "summarize", "CA0123456789abcdef0123456789abcdef");
	render(msg);
	ck_assert_ptr_null(strchr(line, '\n'));   /* one line */
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "not JSON: %s", line);
	ck_assert(json_object_object_get_ex(o, "msg", &v));
	ck_assert_str_eq(json_object_get_string(v), msg);
	ck_assert(json_object_object_get_ex(o, "ts", &v));
	ck_assert_str_eq(json_object_get_string(v), "2026-12-01T10:00:00.123Z");
	ck_assert(json_object_object_get_ex(o, "level", &v));
	ck_assert_str_eq(json_object_get_string(v), "warn");
	ck_assert(json_object_object_get_ex(o, "prog", &v));
	ck_assert_str_eq(json_object_get_string(v), "callpipe-test");
	ck_assert(json_object_object_get_ex(o, "pid", &v));
	ck_assert_int_eq(json_object_get_int64(v), getpid());
	ck_assert(json_object_object_get_ex(o, "call_sid", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "CA0123456789abcdef0123456789abcdef");
	ck_assert(json_object_object_get_ex(o, "job_id", &v));
	ck_assert_int_eq(json_object_get_int64(v), 9);
	ck_assert(json_object_object_get_ex(o, "kind", &v));
	ck_assert_str_eq(json_object_get_string(v), "summarize");
	json_object_put(o);

	/* No timestamps, no context: just those keys. */
	ck_assert_int_eq(log_set_format("json", false), 0);
	log_ctx_clear();
	render("m");
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "not JSON: %s", line);
	ck_assert(!json_object_object_get_ex(o, "ts", NULL));
	ck_assert(!json_object_object_get_ex(o, "call_sid", NULL));
	ck_assert(!json_object_object_get_ex(o, "job_id", NULL));
	ck_assert_int_eq(json_object_object_length(o), 4);
	json_object_put(o);
}
END_TEST

START_TEST(test_unknown_format_and_cut)
{
	char small[16];

	ck_assert_int_eq(log_set_format("xml", true), -1);
	ck_assert_int_eq(log_set_format(NULL, true), -1);
	ck_assert_int_eq(log_set_format("text", false), 0);
	ck_assert_uint_eq(log_render(small, sizeof(small), LOG_LVL_INFO, NULL,
	    "a long message that does not fit"), sizeof(small) - 1);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

/* A message longer than the line: the record keeps its syntax and its
 * context, the message is cut and marked. */
START_TEST(test_long_message_keeps_record)
{
	static char msg[LOG_LINE_MAX * 2];
	struct json_object *o, *v;
	const char *m;
	size_t n;

	/* Quotes and control bytes grow under escaping (\" and \u0001). */
	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = i % 3 == 0 ? '"' : i % 3 == 1 ? '\x01' : 'x';
	msg[sizeof(msg) - 1] = '\0';
	log_ctx_set_job(5, "transcribe", "CA0123456789abcdef0123456789abcdef");

	ck_assert_int_eq(log_set_format("json", true), 0);
	n = log_render(line, sizeof(line), LOG_LVL_WARN, &ts, msg);
	ck_assert_uint_lt(n, sizeof(line));
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "cut JSON record: %.80s...", line);
	ck_assert(json_object_object_get_ex(o, "call_sid", NULL));
	ck_assert(json_object_object_get_ex(o, "kind", NULL));
	ck_assert(json_object_object_get_ex(o, "msg", &v));
	m = json_object_get_string(v);
	ck_assert_uint_gt(strlen(m), 100);
	ck_assert_str_eq(m + strlen(m) - 3, "...");
	json_object_put(o);

	ck_assert_int_eq(log_set_format("logfmt", true), 0);
	n = log_render(line, sizeof(line), LOG_LVL_WARN, &ts, msg);
	ck_assert_uint_lt(n, sizeof(line));
	ck_assert_msg(strstr(line, "...\" call_sid=CA0123456789abcdef0123456789"
	    "abcdef job_id=5 kind=transcribe") != NULL, "logfmt tail: %s",
	    line + (n > 120 ? n - 120 : 0));
	ck_assert_str_eq(line + n - 15, "kind=transcribe");

	/* A cut inside a UTF-8 character never splits it. */
	for (size_t i = 0; i + 1 < sizeof(msg) - 1; i += 2) {
		msg[i] = '\xd7';
		msg[i + 1] = '\x90';
	}
	ck_assert_int_eq(log_set_format("text", false), 0);
	n = log_render(line, sizeof(line), LOG_LVL_WARN, NULL, msg);
	m = strstr(line, "...");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq((unsigned char)m[-2], 0xd7);
	ck_assert_int_eq((unsigned char)m[-1], 0x90);
	ck_assert_str_eq(line + n - 15, "kind=transcribe");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_logfmt_escaping);
	tcase_add_test(tc, test_json_escaping);
	tcase_add_test(tc, test_unknown_format_and_cut);
	tcase_add_test(tc, test_long_message_keeps_record);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
