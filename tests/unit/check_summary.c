/*
 * check_summary.c: unit tests of the "rules" summary backend (summary.c).
 * The gazetteer is built here, in code, with entries like
 * etc/callpipe.conf's, so the test does not depend on conf.c.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

#define TERMS(...) (char *[]){ __VA_ARGS__, NULL }, \
	(int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *))

static struct conf_gazetteer_entry services[] = {
	{ "plumber", "אינסטלטור", TERMS("plumber", "plumbing", "leak",
	    "leaking", "pipe", "sink", "אינסטלטור", "אינסטלציה", "נזילה") },
	{ "electrician", "חשמלאי", TERMS("electrician", "electrical",
	    "wiring", "outlet", "חשמלאי", "חשמל") },
	{ "locksmith", "מנעולן", TERMS("locksmith", "lock", "locked out",
	    "key", "מנעולן", "מנעול") },
	{ "cleaning", "ניקיון", TERMS("cleaning", "cleaner", "clean",
	    "ניקיון", "מנקה") },
	{ "air conditioning technician", "טכנאי מזגנים",
	    TERMS("air conditioner", "air conditioning", "mazgan", "מזגן",
	    "מזגנים") },
	{ "painter", "צבעי", TERMS("painter", "painting", "paint", "צבעי",
	    "צביעה") },
};

static struct conf_gazetteer_entry cities[] = {
	{ "Tel Aviv", "תל אביב", TERMS("tel aviv", "tel-aviv", "תל אביב",
	    "תל-אביב") },
	{ "Jerusalem", "ירושלים", TERMS("jerusalem", "ירושלים") },
	{ "Haifa", "חיפה", TERMS("haifa", "חיפה") },
	{ "Netanya", "נתניה", TERMS("netanya", "נתניה") },
	{ "Ashdod", "אשדוד", TERMS("ashdod", "אשדוד") },
	{ "Rishon LeZion", "ראשון לציון", TERMS("rishon lezion", "rishon",
	    "ראשון לציון") },
};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static struct cp_conf conf;

static void
setup(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.summary.services.entries = services;
	conf.summary.services.nentries = NELEM(services);
	conf.summary.cities.entries = cities;
	conf.summary.cities.nentries = NELEM(cities);
}

/* Runs summary_rules, asserting CP_OK; the result is in *r. */
static void
run(const char *transcript, struct summary_result *r)
{
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err e = summary_rules(&conf, transcript, r, err, sizeof(err));

	ck_assert_msg(e == CP_OK, "summary_rules: %s (%s)", cp_strerror(e),
	    err);
	ck_assert_ptr_nonnull(r->summary);
	ck_assert_uint_gt(strlen(r->summary), 0);
	ck_assert(r->confidence >= 0.0 && r->confidence <= 1.0);
}

static void
expect(const char *transcript, const char *service, const char *city)
{
	struct summary_result r;

	run(transcript, &r);
	if (service == NULL)
		ck_assert_msg(r.service == NULL, "\"%s\": service %s",
		    transcript, r.service);
	else
		ck_assert_msg(r.service != NULL && strcmp(r.service, service) == 0,
		    "\"%s\": service %s, want %s", transcript,
		    r.service ? r.service : "(none)", service);
	if (city == NULL)
		ck_assert_msg(r.city == NULL, "\"%s\": city %s", transcript,
		    r.city);
	else
		ck_assert_msg(r.city != NULL && strcmp(r.city, city) == 0,
		    "\"%s\": city %s, want %s", transcript,
		    r.city ? r.city : "(none)", city);
	summary_result_free(&r);
}

static double
confidence(const char *transcript)
{
	struct summary_result r;
	double c;

	run(transcript, &r);
	c = r.confidence;
	summary_result_free(&r);
	return c;
}

static bool
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int k;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xC2 && *p <= 0xDF)
			k = 1;
		else if (*p >= 0xE0 && *p <= 0xEF)
			k = 2;
		else if (*p >= 0xF0 && *p <= 0xF4)
			k = 3;
		else
			return false;
		for (p++; k > 0; k--, p++)
			if ((*p & 0xC0) != 0x80)
				return false;
	}
	return true;
}

START_TEST(test_english_caller)
{
	struct summary_result r;

	run("Caller: Hi, I need a plumber in Tel Aviv, my sink is leaking.\n"
	    "Agent: Sure, we have a plumber in Tel Aviv.\n", &r);
	ck_assert_str_eq(r.service, "plumber");
	ck_assert_str_eq(r.city, "Tel Aviv");
	ck_assert_double_eq_tol(r.confidence, 0.9, 1e-9);
	ck_assert_str_eq(r.summary,
	    "The caller asked for a plumber (אינסטלטור) in Tel Aviv (תל אביב)."
	    " Caller said: \"Hi, I need a plumber in Tel Aviv, my sink is"
	    " leaking.\"");
	summary_result_free(&r);
	/* Freeing twice is harmless. */
	summary_result_free(&r);
	ck_assert_ptr_null(r.summary);
}
END_TEST

START_TEST(test_hebrew_caller)
{
	struct summary_result r;

	run("Caller: אני צריך אינסטלטור בתל אביב\nAgent: בסדר\n", &r);
	ck_assert_str_eq(r.service, "plumber");
	ck_assert_str_eq(r.city, "Tel Aviv");
	ck_assert_double_eq_tol(r.confidence, 0.9, 1e-9);
	ck_assert_ptr_nonnull(strstr(r.summary,
	    "Caller said: \"אני צריך אינסטלטור בתל אביב\""));
	summary_result_free(&r);

	/* Each one-letter prefix ב ל מ ה ו ש כ. */
	expect("Caller: נוסע לחיפה", NULL, "Haifa");
	expect("Caller: אני מירושלים", NULL, "Jerusalem");
	expect("Caller: גר בנתניה", NULL, "Netanya");
	expect("Caller: ואינסטלטור לא הגיע", "plumber", NULL);
	expect("Caller: שחשמלאי יבוא", "electrician", NULL);
	expect("Caller: כמנעולן", "locksmith", NULL);
	expect("Caller: הצבעי", "painter", NULL);
	/* Hyphen and maqaf between the words of a term. */
	expect("Caller: גר בתל-אביב", NULL, "Tel Aviv");
	expect("Caller: גר בתל\xD6\xBE" "אביב", NULL, "Tel Aviv");
	/* Two prefix letters, or a letter that is not a prefix: no match. */
	expect("Caller: ובחיפה", NULL, NULL);
	expect("Caller: אחיפה", NULL, NULL);
	/* Hebrew letters after a term: a longer word. */
	expect("Caller: חיפהלה", NULL, NULL);
	/* English terms get no prefix. */
	expect("Caller: בhaifa", NULL, NULL);
}
END_TEST

START_TEST(test_word_boundaries)
{
	struct summary_result r;

	/* "pipe" in "pipeline", "key" in "keyboard"/"keyed", "lock" in
	 * "locked", "haifa" in "Haifaville", "clean" in "cleanup". */
	run("Caller: the pipeline in Haifaville is keyed, my keyboard is "
	    "locked, cleanup later", &r);
	ck_assert_ptr_null(r.service);
	ck_assert_ptr_null(r.city);
	ck_assert_double_eq_tol(r.confidence, 0.0, 1e-9);
	ck_assert_str_eq(r.summary, "No service or city was recognised."
	    " Caller said: \"the pipeline in Haifaville is keyed, my keyboard"
	    " is locked, cleanup later\"");
	summary_result_free(&r);

	expect("Caller: plumber2 in haifa3", NULL, NULL);
	expect("Caller: superplumber", NULL, NULL);
	expect("Caller: éplumber", NULL, NULL);
	/* An overlong encoding of a space (E0 80 A0) is not UTF-8, so it is
	 * no word boundary either (RFC 3629 §3). */
	expect("Caller: haifa\xE0\x80\xA0x", NULL, NULL);
	expect("Caller: plumber\xC0\xA0x", NULL, NULL);
	/* Punctuation, case and line edges are boundaries. */
	expect("Caller: PLUMBER! (Haifa).", "plumber", "Haifa");
	expect("Caller:plumber,haifa", "plumber", "Haifa");
	expect("Caller: the plumber's van, in \xE2\x80\x9CHaifa\xE2\x80\x9D",
	    "plumber", "Haifa");
	/* A multi-word term needs all its words. */
	expect("Caller: I'm locked out in Tel Avivim", "locksmith", NULL);
	expect("Caller: I am locked out in Tel-Aviv", "locksmith", "Tel Aviv");
	expect("Caller: tel\naviv", NULL, NULL);
}
END_TEST

START_TEST(test_caller_beats_agent)
{
	/* The agent names plumber and Haifa first (earlier in the config);
	 * the caller's locksmith and Netanya count double and win. */
	expect("Agent: A plumber in Haifa?\n"
	    "Caller: No, a locksmith in Netanya.\n", "locksmith", "Netanya");
	/* Two agent mentions tie one caller mention: the config order
	 * decides (plumber before locksmith, Haifa before Netanya). */
	expect("Agent: A plumber in Haifa? The plumber, Haifa?\n"
	    "Caller: A locksmith in Netanya.\n", "plumber", "Haifa");
	/* Three agent mentions beat one caller mention. */
	expect("Agent: locksmith, locksmith, locksmith\n"
	    "Caller: plumber\n", "locksmith", NULL);
}
END_TEST

START_TEST(test_ties_and_overlaps)
{
	/* Same score: the first in the config wins, not the first said. */
	expect("Caller: a painter or an electrician", "electrician", NULL);
	/* "rishon lezion" is one mention (the longer term wins, "rishon"
	 * inside it is not counted again): 2 for Rishon against 2 agent
	 * mentions of Haifa is a tie, which Haifa wins by config order. */
	expect("Caller: in Rishon LeZion\nAgent: Haifa? Haifa?\n", NULL,
	    "Haifa");
	expect("Caller: in Rishon LeZion\nAgent: Haifa?\n", NULL,
	    "Rishon LeZion");
}
END_TEST

START_TEST(test_empty_transcript)
{
	static const char *const empties[] = {
		"", "   ", " \n\t\r\n ", "Caller:\nAgent:   \n", "\n\n\n",
	};
	struct summary_result r;
	char err[CP_REASON_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(summary_rules(&conf, empties[i], &r, err,
		    sizeof(err)), CP_EMPTY);
		ck_assert_ptr_null(r.summary);
		ck_assert_ptr_null(r.service);
		ck_assert_ptr_null(r.city);
		ck_assert_uint_gt(strlen(err), 0);
		summary_result_free(&r);
	}
	ck_assert_int_eq(summary_rules(&conf, NULL, &r, NULL, 0), CP_EMPTY);
}
END_TEST

START_TEST(test_confidence_ordering)
{
	double none, agent_one, tie_one, caller_one, caller_one_agent_two,
	    both;

	none = confidence("Caller: hello there\nAgent: hi\n");
	agent_one = confidence("Caller: hello\nAgent: a plumber?\n");
	tie_one = confidence("Caller: a painter or an electrician\n");
	caller_one = confidence("Caller: I need a plumber\n");
	caller_one_agent_two = confidence("Caller: I need a plumber\n"
	    "Agent: in Haifa?\n");
	both = confidence("Caller: I need a plumber in Haifa\n");

	ck_assert_double_eq_tol(none, 0.0, 1e-9);
	ck_assert_double_eq_tol(caller_one, 0.5, 1e-9);
	ck_assert_double_eq_tol(both, 0.9, 1e-9);
	ck_assert(none < agent_one);
	ck_assert(tie_one < caller_one);
	ck_assert(agent_one < caller_one);
	ck_assert(caller_one < caller_one_agent_two);
	ck_assert(caller_one_agent_two < both);
	ck_assert(both <= 1.0);
}
END_TEST

START_TEST(test_templates)
{
	struct summary_result r;
	char line[400];
	size_t i;

	run("Caller: my air-conditioner broke in Ashdod", &r);
	ck_assert_str_eq(r.service, "air conditioning technician");
	ck_assert_ptr_nonnull(strstr(r.summary, "The caller asked for an air "
	    "conditioning technician (טכנאי מזגנים) in Ashdod (אשדוד)."));
	summary_result_free(&r);

	run("Caller: cleaning please", &r);
	ck_assert_ptr_nonnull(strstr(r.summary, "The caller asked for "
	    "cleaning (ניקיון); no city was recognised."));
	summary_result_free(&r);

	run("Caller: I am in Ashdod", &r);
	ck_assert_ptr_nonnull(strstr(r.summary, "The call concerned Ashdod "
	    "(אשדוד); no service was recognised."));
	summary_result_free(&r);

	/* Unlabelled text: weight 1 and a softer confidence. */
	run("I need a plumber in Haifa\nthanks", &r);
	ck_assert_str_eq(r.service, "plumber");
	ck_assert_double_eq_tol(r.confidence, 0.63, 1e-9);
	ck_assert_ptr_nonnull(strstr(r.summary,
	    "Transcript begins: \"I need a plumber in Haifa\""));
	summary_result_free(&r);

	/* Only the agent spoke. */
	run("Agent: Hello, how can I help?", &r);
	ck_assert_ptr_nonnull(strstr(r.summary,
	    "No caller speech was transcribed."));
	summary_result_free(&r);

	/* A long caller line is cut to 200 bytes on a UTF-8 boundary. */
	memcpy(line, "Caller: ", 8);
	for (i = 0; i < 150; i++)
		memcpy(line + 8 + 2 * i, "\xD7\xA9", 2);     /* 300 bytes */
	line[8 + 300] = '\0';
	run(line, &r);
	ck_assert(valid_utf8(r.summary));
	ck_assert_ptr_nonnull(strstr(r.summary, "...\""));
	ck_assert_uint_le(strlen(strstr(r.summary, "\"")), 1 + 200 + 4);
	summary_result_free(&r);
	/* An odd cut point (one ASCII byte first) still ends on a boundary. */
	line[8] = 'x';
	for (i = 0; i < 150; i++)
		memcpy(line + 9 + 2 * i, "\xD7\xA9", 2);   /* 301 bytes */
	line[9 + 300] = '\0';
	run(line, &r);
	ck_assert(valid_utf8(r.summary));
	summary_result_free(&r);
}
END_TEST

START_TEST(test_no_gazetteer_and_no_hebrew_name)
{
	struct conf_gazetteer_entry one[] = {
		{ "plumber", NULL, TERMS("plumber") },
	};
	struct summary_result r;
	char err[64];

	memset(&conf, 0, sizeof(conf));
	run("Caller: I need a plumber", &r);
	ck_assert_ptr_null(r.service);
	summary_result_free(&r);
	ck_assert_int_eq(summary_rules(NULL, "Caller: hi", &r, err,
	    sizeof(err)), CP_OK);
	ck_assert_str_eq(r.summary,
	    "No service or city was recognised. Caller said: \"hi\"");
	summary_result_free(&r);

	conf.summary.services.entries = one;
	conf.summary.services.nentries = 1;
	run("Caller: I need a plumber", &r);
	ck_assert_str_eq(r.summary, "The caller asked for a plumber; no city "
	    "was recognised. Caller said: \"I need a plumber\"");
	summary_result_free(&r);
}
END_TEST

static Suite *
summary_suite(void)
{
	Suite *s = suite_create("summary");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_english_caller);
	tcase_add_test(tc, test_hebrew_caller);
	tcase_add_test(tc, test_word_boundaries);
	tcase_add_test(tc, test_caller_beats_agent);
	tcase_add_test(tc, test_ties_and_overlaps);
	tcase_add_test(tc, test_empty_transcript);
	tcase_add_test(tc, test_confidence_ordering);
	tcase_add_test(tc, test_templates);
	tcase_add_test(tc, test_no_gazetteer_and_no_hebrew_name);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(summary_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
