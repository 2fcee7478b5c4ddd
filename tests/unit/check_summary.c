/*
 * check_summary.c: unit tests of the summary backends: "rules"
 * (summary.c), the backend table and summary_gazetteer_match, and
 * "openai" (summary_openai.c): the request body, the validation of the
 * model's JSON answer, and the whole path against a tiny HTTP server run
 * in a thread of the test on 127.0.0.1 (an ephemeral port).
 * The gazetteer is built here, in code, with entries like
 * etc/callpipe.conf's, so the test does not depend on conf.c.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cp_num.h"
#include "summary.h"
#include "summary_openai.h"

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

/* ------------------------------------------------ backends and gazetteer */

START_TEST(test_rules_hebrew_transcript)
{
	struct summary_request req = {
		"Caller: שלום, אני צריך אינסטלטור בתל אביב. יש לי נזילה במטבח.\n"
		"Agent: בסדר, אשלח אינסטלטור לתל אביב היום.", "he"
	};
	struct summary_result r;
	char err[CP_REASON_MAX + 1] = "";
	long retry = 0;

	conf.summary.backend = "rules";
	ck_assert_int_eq(summary_run(&conf, &req, &r, &retry, err,
	    sizeof(err)), CP_OK);
	ck_assert_str_eq(r.service, "plumber");
	ck_assert_str_eq(r.city, "Tel Aviv");
	ck_assert_int_eq(retry, -1);
	ck_assert_double_eq_tol(r.confidence, 0.9, 1e-9);
	ck_assert_ptr_nonnull(strstr(r.summary, "Caller said: \"שלום, אני "
	    "צריך אינסטלטור בתל אביב."));
	summary_result_free(&r);
}
END_TEST

START_TEST(test_backend_table)
{
	const struct summary_backend *b;
	struct summary_request req = { "Caller: I need a plumber", "en" };
	struct summary_result r;
	char err[CP_REASON_MAX + 1] = "";
	long retry = 0;
	int n = 0;

	for (b = summary_backends; b->name != NULL; b++) {
		ck_assert_ptr_nonnull(b->summarize);
		ck_assert_ptr_eq(summary_backend_find(b->name), b);
		n++;
	}
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(summary_backend_find("rules")->name, "rules");
	ck_assert_str_eq(summary_backend_find("openai")->name, "openai");
	ck_assert_ptr_null(summary_backend_find("RULES"));
	ck_assert_ptr_null(summary_backend_find("rule"));
	ck_assert_ptr_null(summary_backend_find(""));
	ck_assert_ptr_null(summary_backend_find(NULL));

	/* An unknown backend name: CP_INPUT, said in err. */
	conf.summary.backend = "gpt";
	ck_assert_int_eq(summary_run(&conf, &req, &r, &retry, err,
	    sizeof(err)), CP_INPUT);
	ck_assert_ptr_nonnull(strstr(err, "\"gpt\""));
	ck_assert_ptr_null(r.summary);
	/* Unset (a zeroed conf) runs rules, as conf.c's default does. */
	conf.summary.backend = NULL;
	ck_assert_int_eq(summary_run(&conf, &req, &r, &retry, err,
	    sizeof(err)), CP_OK);
	ck_assert_str_eq(r.service, "plumber");
	ck_assert_int_eq(retry, -1);
	summary_result_free(&r);
	/* The rules row passes CP_EMPTY through. */
	conf.summary.backend = "rules";
	req.transcript = " \n";
	ck_assert_int_eq(summary_run(&conf, &req, &r, NULL, err,
	    sizeof(err)), CP_EMPTY);
}
END_TEST

/* Asserts that summary_gazetteer_match finds the entry named want in gz
 * for answer (want NULL: none). */
static void
ck_assert_match(const struct conf_gazetteer *gz, const char *answer,
    const char *want)
{
	const struct conf_gazetteer_entry *e = summary_gazetteer_match(gz,
	    answer);
	const char *got = e != NULL ? e->name : NULL;

	if (want == NULL)
		ck_assert_msg(e == NULL, "\"%s\" matched %s", answer,
		    got ? got : "(unnamed)");
	else
		ck_assert_msg(got != NULL && strcmp(got, want) == 0,
		    "\"%s\": %s, want %s", answer, got ? got : "(none)", want);
}

START_TEST(test_gazetteer_match)
{
	const struct conf_gazetteer *sv = &conf.summary.services;
	const struct conf_gazetteer *ct = &conf.summary.cities;
	struct conf_gazetteer_entry noname[] = {
		{ NULL, NULL, TERMS("ghost") },
	};
	struct conf_gazetteer odd = { noname, 1 };

	/* Canonical name, Hebrew name, a term; ASCII case folded. */
	ck_assert_match(sv, "plumber", "plumber");
	ck_assert_match(sv, "PLUMBER", "plumber");
	ck_assert_match(sv, "אינסטלטור", "plumber");
	ck_assert_match(sv, "Leaking", "plumber");
	ck_assert_match(sv, "נזילה", "plumber");
	ck_assert_match(sv, "טכנאי מזגנים", "air conditioning technician");
	ck_assert_match(sv, "Air-Conditioning", "air conditioning technician");
	ck_assert_match(sv, "Air Conditioning Technician",
	    "air conditioning technician");
	/* Separators: space, tab, hyphen, maqaf, runs of them, ends. */
	ck_assert_match(ct, "תל אביב", "Tel Aviv");
	ck_assert_match(ct, "תל-אביב", "Tel Aviv");
	ck_assert_match(ct, "תל\xD6\xBE" "אביב", "Tel Aviv");
	ck_assert_match(ct, "tel  -\taviv", "Tel Aviv");
	ck_assert_match(ct, "  Tel Aviv \n", "Tel Aviv");
	ck_assert_match(ct, "TEL-AVIV", "Tel Aviv");
	ck_assert_match(ct, "rishon", "Rishon LeZion");
	/* The whole answer, never a part of it nor a prefixed form. */
	ck_assert_match(ct, "בתל אביב", NULL);
	ck_assert_match(ct, "Tel Aviv-Yafo", NULL);
	ck_assert_match(ct, "telaviv", NULL);
	ck_assert_match(sv, "plumbers", NULL);
	ck_assert_match(sv, "plumb", NULL);
	ck_assert_match(sv, "a plumber", NULL);
	ck_assert_match(sv, "gardener", NULL);
	/* Non-ASCII bytes are compared exactly: a Hebrew plural is another word. */
	ck_assert_match(sv, "אינסטלטורים", NULL);
	/* Nothing names nothing. */
	ck_assert_match(sv, "", NULL);
	ck_assert_match(sv, " - ", NULL);
	ck_assert_ptr_null(summary_gazetteer_match(sv, NULL));
	ck_assert_ptr_null(summary_gazetteer_match(NULL, "plumber"));
	/* An entry without a name still matches by its terms. */
	ck_assert_ptr_eq(summary_gazetteer_match(&odd, "ghost"), &noname[0]);
}
END_TEST

/* ------------------------------------------------ openai: the answer */

/* Sets the summary.openai keys as conf.c's defaults would. */
static void
openai_setup(void)
{
	setup();
	conf.summary.backend = "openai";
	conf.summary.openai.base_url = "http://127.0.0.1:9/v1";
	conf.summary.openai.model = "gpt-4o-mini";
	conf.summary.openai.api_key = "sk-test-key";
	conf.summary.openai.response_format = "json_schema";
	conf.summary.openai.timeout_ms = 5000;
}

/* summary_openai_parse of content (finish_reason "stop"), expecting CP_OK. */
static void
parse_ok(const char *content, struct summary_result *r)
{
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err e = summary_openai_parse(&conf, content, "stop", NULL, r,
	    err, sizeof(err));

	ck_assert_msg(e == CP_OK, "%s: %s (%s)", content, cp_strerror(e), err);
	ck_assert_ptr_nonnull(r->summary);
}

/* summary_openai_parse expecting want, with a reason containing part. */
static void
parse_fail(const char *content, const char *finish, const char *refusal,
    enum cp_err want, const char *part)
{
	struct summary_result r;
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err e = summary_openai_parse(&conf, content, finish, refusal,
	    &r, err, sizeof(err));

	ck_assert_msg(e == want, "%.200s: %s, want %s (%s)",
	    content ? content : "(null)", cp_strerror(e), cp_strerror(want),
	    err);
	ck_assert_msg(strncmp(err, "summary: ", 9) == 0,
	    "reason \"%s\"", err);
	ck_assert_msg(strstr(err, part) != NULL, "%.200s: reason \"%s\" lacks "
	    "\"%s\"", content ? content : "(null)", err, part);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_ptr_null(r.service);
	ck_assert_ptr_null(r.city);
	ck_assert_ptr_null(r.summary);
}

/* Answers the validation accepts, and what is stored for each. */
static const struct {
	const char *what, *content;
	const char *service, *city;    /* NULL: stored as NULL */
	double      confidence;
	const char *summary;
} accepted[] = {
	{ "valid", "{\"service\": \"plumber\", \"city\": \"Tel Aviv\", "
	  "\"confidence\": 0.9, \"summary\": \"The caller needs a plumber in "
	  "Tel Aviv.\"}",
	  "plumber", "Tel Aviv", 0.9, "The caller needs a plumber in Tel Aviv." },
	{ "white space, case, hyphen, integer 1",
	  " \n{\"service\":\"  Plumber \",\"city\":\"tel-aviv\","
	  "\"confidence\":1,\"summary\":\"  ok\\n\"}\n ",
	  "plumber", "Tel Aviv", 1.0, "ok" },
	{ "nulls", "{\"service\":null,\"city\":null,\"confidence\":0.1,"
	  "\"summary\":\"The caller did not say.\"}",
	  NULL, NULL, 0.1, "The caller did not say." },
	{ "empty strings are null", "{\"service\":\"\",\"city\":\"  \","
	  "\"confidence\":0,\"summary\":\"x\"}", NULL, NULL, 0.0, "x" },
	/* json_object mode has no schema: absent counts as null. */
	{ "absent is null", "{\"confidence\":0.1,\"summary\":\"x\"}",
	  NULL, NULL, 0.1, "x" },
	/* The answer in the transcript's language is stored under the
	 * gazetteer's canonical English name, as rules stores it. */
	{ "Hebrew canonicalised", "{\"service\": \"אינסטלטור\", \"city\": "
	  "\"תל אביב\", \"confidence\": 0.95, \"summary\": \"המתקשר צריך "
	  "אינסטלטור בתל אביב בגלל נזילה במטבח.\"}",
	  "plumber", "Tel Aviv", 0.95,
	  "המתקשר צריך אינסטלטור בתל אביב בגלל נזילה במטבח." },
	{ "\\u escapes are the same text",
	  "{\"service\":\"\\u05d7\\u05e9\\u05de\\u05dc\\u05d0\\u05d9\","
	  "\"city\":\"\\u05d7\\u05d9\\u05e4\\u05d4\",\"confidence\":0.7,"
	  "\"summary\":\"s\"}", "electrician", "Haifa", 0.7, "s" },
	{ "unknown kept as given, trimmed", "{\"service\":\" gardener \","
	  "\"city\":\"אילת\",\"confidence\":0.6,\"summary\":\"s\"}",
	  "gardener", "אילת", 0.6, "s" },
	{ "not a whole-answer match: kept", "{\"service\":\"a plumber\","
	  "\"city\":\"בתל אביב\",\"confidence\":0.6,\"summary\":\"s\"}",
	  "a plumber", "בתל אביב", 0.6, "s" },
	{ "extra members ignored", "{\"service\":\"plumber\",\"city\":null,"
	  "\"confidence\":0.5,\"summary\":\"s\",\"reason\":{\"a\":[1,2]},"
	  "\"language\":\"he\",\"extra\":null}", "plumber", NULL, 0.5, "s" },
};

/* Compares a stored string with the expected one (NULL: none stored). */
static void
ck_assert_stored(const char *what, const char *field, const char *got,
    const char *want)
{
	if (want == NULL)
		ck_assert_msg(got == NULL, "%s: %s is \"%s\", want NULL", what,
		    field, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, want) == 0,
		    "%s: %s is \"%s\", want \"%s\"", what, field,
		    got ? got : "(null)", want);
}

START_TEST(test_parse_accepted)
{
	struct summary_result r;
	size_t i;

	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		parse_ok(accepted[i].content, &r);
		ck_assert_stored(accepted[i].what, "service", r.service,
		    accepted[i].service);
		ck_assert_stored(accepted[i].what, "city", r.city,
		    accepted[i].city);
		ck_assert_stored(accepted[i].what, "summary", r.summary,
		    accepted[i].summary);
		ck_assert_msg(r.confidence == accepted[i].confidence,
		    "%s: confidence %g", accepted[i].what, r.confidence);
		summary_result_free(&r);
	}
}
END_TEST

/* A valid answer but for one member: {"service": null, "city": null,
 * "confidence": 0.5, "summary": "s"} with FIELD in place of one. */
#define ANSWER(svc, city, conf_, summ) "{\"service\":" svc ",\"city\":" \
	city ",\"confidence\":" conf_ ",\"summary\":" summ "}"
#define OK_ANSWER ANSWER("null", "null", "0.5", "\"s\"")

/* Answers the validation refuses: the code and a part of the reason. */
static const struct {
	const char *content, *finish, *refusal;
	enum cp_err rc;
	const char *part;
} refused[] = {
	/* Not JSON, or not all of it, or not one object. */
	{ "", "stop", NULL, CP_UPSTREAM, "the answer is not valid JSON" },
	{ "   ", "stop", NULL, CP_UPSTREAM, "the answer is not valid JSON" },
	{ "not json", "stop", NULL, CP_UPSTREAM, "not valid JSON" },
	{ "{", "stop", NULL, CP_UPSTREAM, "not valid JSON" },
	{ "{\"service\":null,\"city\":null,\"confidence\":0.5,"
	  "\"summary\":\"cut", "stop", NULL, CP_UPSTREAM, "not valid JSON" },
	{ OK_ANSWER " and more", "stop", NULL, CP_UPSTREAM, "not valid JSON" },
	{ OK_ANSWER "{}", "stop", NULL, CP_UPSTREAM, "not valid JSON" },
	{ "```json\n" OK_ANSWER "\n```", "stop", NULL, CP_UPSTREAM,
	  "not valid JSON" },
	{ "{'service': null, 'city': null, 'confidence': 0.5, "
	  "'summary': 's'}", "stop", NULL, CP_UPSTREAM, "not valid JSON" },
	{ "{\"confidence\":0.5,\"summary\":\"s\",}", "stop", NULL,
	  CP_UPSTREAM, "not valid JSON" },
	{ "[" OK_ANSWER "]", "stop", NULL, CP_UPSTREAM, "not an object" },
	{ "\"The caller wants a plumber\"", "stop", NULL, CP_UPSTREAM,
	  "not an object" },
	{ NULL, "stop", NULL, CP_UPSTREAM, "the answer has no content" },
	/* Wrong types. */
	{ ANSWER("5", "null", "0.5", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "service is int, not a string or null" },
	{ ANSWER("null", "true", "0.5", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "city is boolean" },
	{ ANSWER("[\"plumber\"]", "null", "0.5", "\"s\""), "stop", NULL,
	  CP_UPSTREAM, "service is array" },
	{ ANSWER("null", "{\"name\":\"Haifa\"}", "0.5", "\"s\""), "stop",
	  NULL, CP_UPSTREAM, "city is object" },
	{ ANSWER("null", "null", "\"0.9\"", "\"s\""), "stop", NULL,
	  CP_UPSTREAM, "confidence is string, not a number" },
	{ ANSWER("null", "null", "true", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "confidence is boolean" },
	{ ANSWER("null", "null", "null", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "confidence is missing or null" },
	{ "{\"summary\":\"s\"}", "stop", NULL, CP_UPSTREAM,
	  "confidence is missing" },
	{ ANSWER("null", "null", "0.5", "null"), "stop", NULL, CP_UPSTREAM,
	  "summary is null, not a string" },
	{ ANSWER("null", "null", "0.5", "42"), "stop", NULL, CP_UPSTREAM,
	  "summary is int" },
	{ "{\"confidence\":0.5}", "stop", NULL, CP_UPSTREAM,
	  "the answer has no summary" },
	/* Confidence outside 0..1; json-c reads NaN even in strict mode. */
	{ ANSWER("null", "null", "1.5", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "confidence 1.5 is outside 0..1" },
	{ ANSWER("null", "null", "-0.1", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "confidence -0.1 is outside 0..1" },
	{ ANSWER("null", "null", "2", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "outside 0..1" },
	{ ANSWER("null", "null", "1e999", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "outside 0..1" },
	{ ANSWER("null", "null", "NaN", "\"s\""), "stop", NULL, CP_UPSTREAM,
	  "outside 0..1" },
	/* An empty summary. */
	{ ANSWER("\"plumber\"", "\"Haifa\"", "0.9", "\"\""), "stop", NULL,
	  CP_UPSTREAM, "summary is empty" },
	{ ANSWER("\"plumber\"", "\"Haifa\"", "0.9", "\" \\n\\t \""), "stop",
	  NULL, CP_UPSTREAM, "summary is empty" },
	/* Text that is not UTF-8: bytes json-c refuses itself, and an
	 * overlong '/' and an encoded surrogate, which it lets through
	 * (RFC 3629; MySQL refuses the row). */
	{ ANSWER("null", "null", "0.5", "\"\xFF\""), "stop", NULL,
	  CP_UPSTREAM, "not valid UTF-8" },
	{ ANSWER("\"\xC0\xAF\"", "null", "0.5", "\"s\""), "stop", NULL,
	  CP_UPSTREAM, "service is not valid UTF-8" },
	{ ANSWER("null", "null", "0.5", "\"\xED\xA0\x80\""), "stop", NULL,
	  CP_UPSTREAM, "summary is not valid UTF-8" },
	/* A NUL inside a string cannot be stored as C text. */
	{ ANSWER("null", "null", "0.5", "\"a\\u0000b\""), "stop", NULL,
	  CP_UPSTREAM, "summary holds a NUL" },
	/* Cut off: retried even when the cut happens to be valid JSON. */
	{ "{\"service\":\"plumber\",\"city\":\"Tel", "length", NULL,
	  CP_UPSTREAM, "cut off (finish_reason \"length\")" },
	{ OK_ANSWER, "length", NULL, CP_UPSTREAM, "cut off" },
	/* A refusal is final, and its text is the reason. */
	{ NULL, "stop", "I'm sorry, I can't help with that.", CP_REJECTED,
	  "the model refused: I'm sorry, I can't help with that." },
	{ OK_ANSWER, "stop", "No.", CP_REJECTED, "refused: No." },
	{ NULL, "stop", "Sorry.\nNo.", CP_REJECTED, "refused: Sorry. No." },
	{ NULL, "content_filter", NULL, CP_REJECTED, "content_filter" },
};

START_TEST(test_parse_refused)
{
	struct summary_result r;
	char err[CP_REASON_MAX + 1] = "";
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		parse_fail(refused[i].content, refused[i].finish,
		    refused[i].refusal, refused[i].rc, refused[i].part);
	/* The unchanged answer passes; so with an empty refusal (none) and
	 * no finish_reason. */
	ck_assert_int_eq(summary_openai_parse(&conf, OK_ANSWER, NULL, "", &r,
	    err, sizeof(err)), CP_OK);
	summary_result_free(&r);
	parse_ok(ANSWER("null", "null", "1.0", "\"s\""), &r);
	summary_result_free(&r);
}
END_TEST

/* {"service": service, "city": city, "confidence": 0.5, "summary": summary}
 * as JSON text (malloc'd), built with json-c. */
static char *
answer_json(const char *service, const char *city, const char *summary)
{
	struct json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "service", service ?
	    json_object_new_string(service) : NULL);
	json_object_object_add(o, "city", city ? json_object_new_string(city) :
	    NULL);
	json_object_object_add(o, "confidence", json_object_new_double(0.5));
	json_object_object_add(o, "summary", json_object_new_string(summary));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* n copies of the UTF-8 character c (malloc'd). */
static char *
repeat(const char *c, size_t n)
{
	size_t k = strlen(c), i;
	char *s = malloc(n * k + 1);

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * k, c, k);
	s[n * k] = '\0';
	return s;
}

START_TEST(test_parse_lengths)
{
	struct summary_result r;
	char *a, *j;

	/* The columns count characters: 128 Hebrew letters (256 bytes) fit
	 * service and city, 4000 (8000 bytes) the summary; one more does not. */
	a = repeat("ש", SUMMARY_SERVICE_MAX);
	j = answer_json(a, a, "s");
	parse_ok(j, &r);
	ck_assert_uint_eq(strlen(r.service), 2 * SUMMARY_SERVICE_MAX);
	summary_result_free(&r);
	free(j);
	free(a);
	a = repeat("ש", SUMMARY_SERVICE_MAX + 1);
	j = answer_json(a, NULL, "s");
	parse_fail(j, "stop", NULL, CP_UPSTREAM,
	    "service is 129 characters long, more than the 128");
	free(j);
	free(a);
	a = repeat("x", SUMMARY_CITY_MAX + 1);
	j = answer_json(NULL, a, "s");
	parse_fail(j, "stop", NULL, CP_UPSTREAM, "city is 129 characters");
	free(j);
	free(a);
	a = repeat("ש", SUMMARY_TEXT_MAX);
	j = answer_json(NULL, NULL, a);
	parse_ok(j, &r);
	ck_assert_str_eq(r.summary, a);
	summary_result_free(&r);
	free(j);
	free(a);
	a = repeat("s", SUMMARY_TEXT_MAX + 1);
	j = answer_json(NULL, NULL, a);
	parse_fail(j, "stop", NULL, CP_UPSTREAM,
	    "summary is 4001 characters long");
	free(j);
	free(a);
	/* Trimmed before counting: white space around does not count. */
	a = repeat("x", SUMMARY_SERVICE_MAX);
	j = malloc(strlen(a) + 8);
	ck_assert_ptr_nonnull(j);
	(void)snprintf(j, strlen(a) + 8, "  %s  ", a);
	free(a);
	a = answer_json(j, NULL, "s");
	parse_ok(a, &r);
	ck_assert_uint_eq(strlen(r.service), SUMMARY_SERVICE_MAX);
	summary_result_free(&r);
	free(a);
	free(j);
}
END_TEST

/* ------------------------------------------------ openai: the request */

/* The request body for transcript and language, parsed back. */
static struct json_object *
request_json(const char *transcript, const char *language)
{
	struct summary_request req = { transcript, language };
	struct json_object *o;
	char err[CP_REASON_MAX + 1] = "", *body = NULL;
	enum cp_err e = summary_openai_request_body(&conf, &req, &body, err,
	    sizeof(err));

	ck_assert_msg(e == CP_OK, "request_body: %s (%s)", cp_strerror(e),
	    err);
	o = json_tokener_parse(body);
	ck_assert_msg(o != NULL, "body is not JSON: %s", body);
	free(body);
	return o;
}

static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s",
	    key, json_object_to_json_string(o));
	return v;
}

static const char *
member_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_string),
	    "\"%s\" is not a string", key);
	return json_object_get_string(v);
}

/* The system message's text of a parsed request. */
static const char *
system_text(struct json_object *body)
{
	struct json_object *msgs = member(body, "messages");

	ck_assert_str_eq(member_str(json_object_array_get_idx(msgs, 0),
	    "role"), "system");
	return member_str(json_object_array_get_idx(msgs, 0), "content");
}

/*
 * A strict json_schema (OPENAI.md, Structured Outputs): every object
 * schema has "additionalProperties": false and lists every property in
 * "required", recursively.
 */
static void
assert_strict_schema(struct json_object *schema)
{
	struct json_object *props, *req, *t;
	size_t i, nreq;
	bool found;

	t = member(schema, "type");
	if (!json_object_is_type(t, json_type_string) ||
	    strcmp(json_object_get_string(t), "object") != 0)
		return;
	t = member(schema, "additionalProperties");
	ck_assert(json_object_is_type(t, json_type_boolean));
	ck_assert(!json_object_get_boolean(t));
	props = member(schema, "properties");
	req = member(schema, "required");
	ck_assert(json_object_is_type(req, json_type_array));
	nreq = json_object_array_length(req);
	ck_assert_uint_eq(nreq, (size_t)json_object_object_length(props));
	json_object_object_foreach(props, key, val) {
		found = false;
		for (i = 0; i < nreq; i++)
			if (strcmp(json_object_get_string(
			    json_object_array_get_idx(req, i)), key) == 0)
				found = true;
		ck_assert_msg(found, "property %s not required", key);
		assert_strict_schema(val);
	}
}

/* The "type" of property key: "string" or "string|null". */
static void
assert_prop_type(struct json_object *props, const char *key,
    const char *want)
{
	struct json_object *t = member(member(props, key), "type");
	char got[64] = "";
	size_t i;

	if (json_object_is_type(t, json_type_string))
		(void)snprintf(got, sizeof(got), "%s", json_object_get_string(t));
	else
		for (i = 0; i < json_object_array_length(t); i++)
			(void)snprintf(got + strlen(got), sizeof(got) - strlen(got),
			    "%s%s", i > 0 ? "|" : "", json_object_get_string(
			    json_object_array_get_idx(t, i)));
	ck_assert_str_eq(got, want);
}

START_TEST(test_request_json_schema)
{
	static const char transcript[] = "Caller: אני צריך אינסטלטור בתל "
	    "אביב\nAgent: בסדר\n";
	struct json_object *body = request_json(transcript, "he");
	struct json_object *msgs, *rf, *js, *props, *t;
	const char *sys, *name;
	size_t i;

	ck_assert_str_eq(member_str(body, "model"), "gpt-4o-mini");
	t = member(body, "temperature");
	ck_assert(json_object_is_type(t, json_type_int) ||
	    json_object_is_type(t, json_type_double));
	ck_assert_double_eq(json_object_get_double(t), 0.0);
	msgs = member(body, "messages");
	ck_assert_uint_eq(json_object_array_length(msgs), 2);
	ck_assert_str_eq(member_str(json_object_array_get_idx(msgs, 1), "role"),
	    "user");
	ck_assert_str_eq(member_str(json_object_array_get_idx(msgs, 1),
	    "content"), transcript);

	/* The instructions: JSON only, the four keys, nulls, the language
	 * named, and the gazetteer as hints. */
	sys = system_text(body);
	ck_assert_ptr_nonnull(strstr(sys, "json"));
	ck_assert_ptr_nonnull(strstr(sys, "\"service\""));
	ck_assert_ptr_nonnull(strstr(sys, "\"city\""));
	ck_assert_ptr_nonnull(strstr(sys, "\"confidence\""));
	ck_assert_ptr_nonnull(strstr(sys, "\"summary\""));
	ck_assert_ptr_nonnull(strstr(sys, "null when the caller did not say"));
	ck_assert_ptr_nonnull(strstr(sys, "Hebrew"));
	for (i = 0; i < (size_t)NELEM(services); i++)
		ck_assert_msg(strstr(sys, services[i].name) != NULL &&
		    strstr(sys, services[i].name_he) != NULL, "no hint %s",
		    services[i].name);
	for (i = 0; i < (size_t)NELEM(cities); i++)
		ck_assert_msg(strstr(sys, cities[i].name) != NULL &&
		    strstr(sys, cities[i].name_he) != NULL, "no hint %s",
		    cities[i].name);
	ck_assert_ptr_nonnull(strstr(sys, "plumber (אינסטלטור)"));
	ck_assert_ptr_nonnull(strstr(sys, "Tel Aviv (תל אביב)"));

	/* response_format: OPENAI.md's strict json_schema. */
	rf = member(body, "response_format");
	ck_assert_str_eq(member_str(rf, "type"), "json_schema");
	js = member(rf, "json_schema");
	name = member_str(js, "name");
	ck_assert_str_eq(name, "call_summary");
	ck_assert_uint_le(strlen(name), 64);
	ck_assert_uint_eq(strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"), strlen(name));
	t = member(js, "strict");
	ck_assert(json_object_is_type(t, json_type_boolean));
	ck_assert(json_object_get_boolean(t));
	ck_assert_str_eq(member_str(member(js, "schema"), "type"), "object");
	assert_strict_schema(member(js, "schema"));
	props = member(member(js, "schema"), "properties");
	ck_assert_int_eq(json_object_object_length(props), 4);
	assert_prop_type(props, "service", "string|null");
	assert_prop_type(props, "city", "string|null");
	assert_prop_type(props, "confidence", "number");
	assert_prop_type(props, "summary", "string");
	json_object_put(body);

	/* NULL or "" response_format: json_schema, the default. */
	conf.summary.openai.response_format = NULL;
	body = request_json("Caller: hi", "en");
	ck_assert_str_eq(member_str(member(body, "response_format"), "type"),
	    "json_schema");
	json_object_put(body);
}
END_TEST

START_TEST(test_request_json_object)
{
	struct json_object *body, *rf;

	conf.summary.openai.response_format = "json_object";
	body = request_json("Caller: I need a plumber in Haifa", "en");
	rf = member(body, "response_format");
	ck_assert_str_eq(member_str(rf, "type"), "json_object");
	ck_assert_int_eq(json_object_object_length(rf), 1);
	/* OPENAI.md: json_object needs the word "json" in the messages. */
	ck_assert_ptr_nonnull(strstr(system_text(body), "json"));
	ck_assert_ptr_nonnull(strstr(system_text(body), "English"));
	json_object_put(body);
}
END_TEST

START_TEST(test_request_language_and_config)
{
	struct summary_request req = { "Caller: hi", "he" };
	struct json_object *body;
	char err[CP_REASON_MAX + 1] = "", *s = NULL;

	/* A code the table knows is named in words (lang.h); an unlisted
	 * code is passed as a code; none, or one that is not a code, lets the
	 * model follow the caller. */
	body = request_json("Caller: hi", "sw");
	ck_assert_ptr_nonnull(strstr(system_text(body), "written in Swahili"));
	json_object_put(body);
	body = request_json("Caller: hi", "xh");
	ck_assert_ptr_nonnull(strstr(system_text(body), "code \"xh\""));
	json_object_put(body);
	body = request_json("Caller: hi", "");
	ck_assert_ptr_nonnull(strstr(system_text(body),
	    "the language the caller speaks"));
	json_object_put(body);
	body = request_json("Caller: hi", "he\" or Klingon");
	ck_assert_ptr_null(strstr(system_text(body), "Klingon"));
	json_object_put(body);
	body = request_json("Caller: hi", NULL);
	ck_assert_ptr_nonnull(strstr(system_text(body), "the caller speaks"));
	json_object_put(body);

	/* Without a gazetteer the instructions still stand. */
	memset(&conf.summary.services, 0, sizeof(conf.summary.services));
	body = request_json("Caller: hi", "he");
	ck_assert_ptr_null(strstr(system_text(body), "plumber"));
	ck_assert_ptr_nonnull(strstr(system_text(body), "Tel Aviv"));
	json_object_put(body);

	conf.summary.openai.response_format = "text";
	ck_assert_int_eq(summary_openai_request_body(&conf, &req, &s, err,
	    sizeof(err)), CP_INPUT);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "\"text\""));
	conf.summary.openai.response_format = "json_schema";
	conf.summary.openai.model = NULL;
	ck_assert_int_eq(summary_openai_request_body(&conf, &req, &s, err,
	    sizeof(err)), CP_INPUT);
	ck_assert_ptr_nonnull(strstr(err, "model"));
}
END_TEST

/* ------------------------------------------------ openai: over HTTP */

/*
 * A one-request HTTP/1.1 server on 127.0.0.1 (port 0: the kernel picks
 * one), run in a thread: it reads one request (headers, then
 * Content-Length bytes; "Expect: 100-continue" answered), keeps it for
 * the test to inspect, answers status/extra headers/body and closes.
 */
struct tiny_server {
	int        fd;
	int        port;
	pthread_t  thread;
	const char *status;     /* "200 OK" */
	const char *headers;    /* extra header lines, each ending "\r\n" */
	char       *body;       /* the answer (malloc'd) */
	char        request[1 << 16];  /* what came, headers and body */
	size_t      request_len;
	const char *req_body;   /* into request */
	int         failed;     /* why the thread gave up, 0 = it did not */
};

/* The value of header name (e.g. "content-length:", case-insensitive)
 * in the request head (request line, header lines, an empty line), or
 * NULL. */
static const char *
tiny_header(const char *head, const char *name)
{
	size_t n = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p != NULL && strncmp(p, "\r\n\r\n", 4) != 0) {
		p += 2;
		if (strncasecmp(p, name, n) == 0) {
			p += n;
			while (*p == ' ')
				p++;
			return p;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static bool
tiny_write(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

static void *
tiny_serve(void *arg)
{
	struct tiny_server *t = arg;
	struct pollfd pfd = { t->fd, POLLIN, 0 };
	char *end, num[24], head[512];
	const char *v;
	long long clen = -1;
	size_t hlen = 0, k;
	bool continued = false;
	ssize_t r;
	int c;

	if (poll(&pfd, 1, 10000) != 1 || (c = accept(t->fd, NULL, NULL)) < 0) {
		t->failed = 1;
		return NULL;
	}
	for (;;) {
		pfd.fd = c;
		if (poll(&pfd, 1, 10000) != 1) {
			t->failed = 2;
			break;
		}
		r = read(c, t->request + t->request_len,
		    sizeof(t->request) - 1 - t->request_len);
		if (r <= 0) {
			t->failed = 3;
			break;
		}
		t->request_len += (size_t)r;
		t->request[t->request_len] = '\0';
		if (hlen == 0 && (end = strstr(t->request, "\r\n\r\n")) != NULL) {
			hlen = (size_t)(end - t->request) + 4;
			v = tiny_header(t->request, "content-length:");
			k = v != NULL ? strspn(v, "0123456789") : 0;
			if (k == 0 || k >= sizeof(num)) {
				t->failed = 4;   /* chunked or none: not expected */
				break;
			}
			memcpy(num, v, k);
			num[k] = '\0';
			if (cp_parse_ll(num, 0, (long long)sizeof(t->request),
			    &clen) != CP_OK) {
				t->failed = 5;
				break;
			}
			v = tiny_header(t->request, "expect:");
			if (v != NULL && strncasecmp(v, "100-continue", 12) == 0 &&
			    !continued) {
				continued = true;
				(void)tiny_write(c, "HTTP/1.1 100 Continue\r\n\r\n",
				    25);
			}
		}
		if (hlen > 0 && t->request_len >= hlen + (size_t)clen) {
			t->req_body = t->request + hlen;
			break;
		}
	}
	if (t->failed == 0) {
		(void)snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n"
		    "x-request-id: req_test\r\n%s\r\n", t->status,
		    strlen(t->body), t->headers != NULL ? t->headers : "");
		if (!tiny_write(c, head, strlen(head)) ||
		    !tiny_write(c, t->body, strlen(t->body)))
			t->failed = 6;
	}
	(void)close(c);
	return NULL;
}

/* Starts t answering status, headers and body (copied), and points
 * summary.openai.base_url at it. */
static void
tiny_start(struct tiny_server *t, const char *status, const char *headers,
    const char *body)
{
	static char url[64];
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(t, 0, sizeof(*t));
	t->status = status;
	t->headers = headers;
	t->body = strdup(body);
	ck_assert_ptr_nonnull(t->body);
	t->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(t->fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	ck_assert_int_eq(bind(t->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(t->fd, 4), 0);
	ck_assert_int_eq(getsockname(t->fd, (struct sockaddr *)&sa, &sl), 0);
	t->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&t->thread, NULL, tiny_serve, t), 0);
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", t->port);
	conf.summary.openai.base_url = url;
}

static void
tiny_stop(struct tiny_server *t)
{
	ck_assert_int_eq(pthread_join(t->thread, NULL), 0);
	(void)close(t->fd);
	free(t->body);
	ck_assert_msg(t->failed == 0, "the test server failed (%d)", t->failed);
}

/* A chat.completion answer (spec CreateChatCompletionResponse, OPENAI.md)
 * whose choices[0].message.content is content, built with json-c. */
static char *
completion(const char *content, const char *finish, const char *refusal)
{
	struct json_object *o = json_object_new_object(), *ch, *c, *m, *u;
	char *s;

	json_object_object_add(o, "id", json_object_new_string("chatcmpl-1"));
	json_object_object_add(o, "object",
	    json_object_new_string("chat.completion"));
	json_object_object_add(o, "created", json_object_new_int(1767225600));
	json_object_object_add(o, "model",
	    json_object_new_string("gpt-4o-mini-2024-07-18"));
	m = json_object_new_object();
	json_object_object_add(m, "role", json_object_new_string("assistant"));
	json_object_object_add(m, "content", content ?
	    json_object_new_string(content) : NULL);
	json_object_object_add(m, "refusal", refusal ?
	    json_object_new_string(refusal) : NULL);
	c = json_object_new_object();
	json_object_object_add(c, "index", json_object_new_int(0));
	json_object_object_add(c, "message", m);
	json_object_object_add(c, "logprobs", NULL);
	json_object_object_add(c, "finish_reason",
	    json_object_new_string(finish));
	ch = json_object_new_array();
	json_object_array_add(ch, c);
	json_object_object_add(o, "choices", ch);
	u = json_object_new_object();
	json_object_object_add(u, "prompt_tokens", json_object_new_int(120));
	json_object_object_add(u, "completion_tokens", json_object_new_int(40));
	json_object_object_add(u, "total_tokens", json_object_new_int(160));
	json_object_object_add(o, "usage", u);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	ck_assert_ptr_nonnull(s);
	return s;
}

static const char he_transcript[] =
    "Caller: שלום, אני צריך אינסטלטור בתל אביב. יש לי נזילה במטבח.\n"
    "Agent: בסדר, אשלח אינסטלטור לתל אביב היום.\n";

START_TEST(test_http_end_to_end)
{
	struct tiny_server t;
	struct summary_request req = { he_transcript, "he" };
	struct summary_result r;
	struct json_object *sent;
	char err[CP_REASON_MAX + 1] = "", *body;
	const char *v;
	long retry = 0;
	enum cp_err e;

	body = completion("{\"service\": \"אינסטלטור\", \"city\": \"תל אביב\", "
	    "\"confidence\": 0.92, \"summary\": \"המתקשר צריך אינסטלטור בתל "
	    "אביב בגלל נזילה במטבח; הסוכן ישלח אחד היום.\"}", "stop", NULL);
	tiny_start(&t, "200 OK", NULL, body);
	free(body);
	e = summary_run(&conf, &req, &r, &retry, err, sizeof(err));
	tiny_stop(&t);
	ck_assert_msg(e == CP_OK, "summary_run: %s (%s)", cp_strerror(e), err);
	ck_assert_str_eq(r.service, "plumber");
	ck_assert_str_eq(r.city, "Tel Aviv");
	ck_assert_double_eq_tol(r.confidence, 0.92, 1e-12);
	ck_assert_str_eq(r.summary, "המתקשר צריך אינסטלטור בתל אביב בגלל "
	    "נזילה במטבח; הסוכן ישלח אחד היום.");
	ck_assert_int_eq(retry, -1);
	summary_result_free(&r);

	/* What went over the wire: the path after the base URL's /v1, the
	 * Bearer key, a JSON body carrying the transcript. */
	ck_assert_msg(strncmp(t.request, "POST /v1/chat/completions HTTP/1.1\r\n",
	    36) == 0, "request line: %.60s", t.request);
	v = tiny_header(t.request, "authorization:");
	ck_assert_ptr_nonnull(v);
	ck_assert(strncmp(v, "Bearer sk-test-key\r\n", 20) == 0);
	v = tiny_header(t.request, "content-type:");
	ck_assert_ptr_nonnull(v);
	ck_assert(strncasecmp(v, "application/json", 16) == 0);
	ck_assert_ptr_nonnull(t.req_body);
	sent = json_tokener_parse(t.req_body);
	ck_assert_ptr_nonnull(sent);
	ck_assert_str_eq(member_str(sent, "model"), "gpt-4o-mini");
	ck_assert_str_eq(member_str(member(sent, "response_format"), "type"),
	    "json_schema");
	ck_assert_str_eq(member_str(json_object_array_get_idx(member(sent,
	    "messages"), 1), "content"), he_transcript);
	json_object_put(sent);
}
END_TEST

START_TEST(test_http_errors)
{
	static const struct {
		const char *status, *headers, *body;
		enum cp_err want;
		const char *part;
		long retry;
	} cases[] = {
		{ "429 Too Many Requests", NULL,
		  "{\"error\": {\"message\": \"You exceeded your current quota, "
		  "please check your plan and billing details.\", \"type\": "
		  "\"insufficient_quota\", \"param\": null, \"code\": "
		  "\"insufficient_quota\"}}",
		  CP_REJECTED, "You exceeded your current quota", -1 },
		{ "500 Internal Server Error", NULL,
		  "{\"error\": {\"message\": \"The server had an error while "
		  "processing your request. Sorry about that!\", \"type\": "
		  "\"server_error\", \"param\": null, \"code\": null}}",
		  CP_UPSTREAM, "HTTP 500", -1 },
		{ "429 Too Many Requests",
		  "retry-after-ms: 1500\r\nretry-after: 2\r\n",
		  "{\"error\": {\"message\": \"Rate limit reached for "
		  "gpt-4o-mini\", \"type\": \"requests\", \"param\": null, "
		  "\"code\": \"rate_limit_exceeded\"}}",
		  CP_UPSTREAM, "Rate limit reached", 1500 },
		{ "401 Unauthorized", NULL,
		  "{\"error\": {\"message\": \"Incorrect API key provided\", "
		  "\"type\": \"invalid_request_error\", \"param\": null, "
		  "\"code\": \"invalid_api_key\"}}",
		  CP_REJECTED, "Incorrect API key provided", -1 },
	};
	struct summary_request req = { he_transcript, "he" };
	struct summary_result r;
	struct tiny_server t;
	char err[CP_REASON_MAX + 1];
	long retry;
	size_t i;
	enum cp_err e;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		retry = 0;
		tiny_start(&t, cases[i].status, cases[i].headers, cases[i].body);
		e = summary_run(&conf, &req, &r, &retry, err, sizeof(err));
		tiny_stop(&t);
		ck_assert_msg(e == cases[i].want, "%s: %s, want %s (%s)",
		    cases[i].status, cp_strerror(e),
		    cp_strerror(cases[i].want), err);
		ck_assert_msg(strstr(err, cases[i].part) != NULL,
		    "%s: \"%s\" lacks \"%s\"", cases[i].status, err,
		    cases[i].part);
		ck_assert_ptr_null(strstr(err, "sk-test-key"));
		ck_assert_int_eq(retry, cases[i].retry);
		ck_assert_ptr_null(r.summary);
	}
}
END_TEST

START_TEST(test_http_bad_answers)
{
	static const struct {
		const char *content, *finish, *refusal;
		enum cp_err want;
		const char *part;
	} cases[] = {
		{ "{\"service\": \"plumber\", \"ci", "length", NULL, CP_UPSTREAM,
		  "cut off" },
		{ "The caller wants a plumber.", "stop", NULL, CP_UPSTREAM,
		  "not valid JSON" },
		{ NULL, "stop", "I can't help with that.", CP_REJECTED,
		  "refused: I can't help with that." },
		{ "{\"service\": null, \"city\": null, \"confidence\": 0.5, "
		  "\"summary\": \"\"}", "stop", NULL, CP_UPSTREAM,
		  "summary is empty" },
	};
	struct summary_request req = { he_transcript, "he" };
	struct summary_result r;
	struct tiny_server t;
	char err[CP_REASON_MAX + 1], *body;
	size_t i;
	enum cp_err e;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = completion(cases[i].content, cases[i].finish,
		    cases[i].refusal);
		tiny_start(&t, "200 OK", NULL, body);
		free(body);
		err[0] = '\0';
		e = summary_run(&conf, &req, &r, NULL, err, sizeof(err));
		tiny_stop(&t);
		ck_assert_msg(e == cases[i].want, "case %zu: %s (%s)", i,
		    cp_strerror(e), err);
		ck_assert_msg(strstr(err, cases[i].part) != NULL,
		    "case %zu: \"%s\"", i, err);
	}

	/* Not a chat completion at all. */
	tiny_start(&t, "200 OK", NULL, "{\"object\": \"list\", \"data\": []}");
	e = summary_run(&conf, &req, &r, NULL, err, sizeof(err));
	tiny_stop(&t);
	ck_assert_int_eq(e, CP_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err, "no choices[0]"));
}
END_TEST

START_TEST(test_openai_no_request)
{
	static const char refused_at[] =
	    "summary: POST http://127.0.0.1:9/v1/chat/completions: ";
	struct summary_request req = { "  \n", "he" };
	struct summary_result r;
	char err[CP_REASON_MAX + 1] = "";
	long retry = 0;

	/* Empty transcript: CP_EMPTY and nothing sent (the base URL is a
	 * closed port; a request would be CP_UPSTREAM). */
	ck_assert_int_eq(summary_run(&conf, &req, &r, &retry, err,
	    sizeof(err)), CP_EMPTY);
	ck_assert_int_eq(retry, -1);
	req.transcript = NULL;
	ck_assert_int_eq(summary_run(&conf, &req, &r, &retry, err,
	    sizeof(err)), CP_EMPTY);
	/* Nobody listening: retried. */
	req.transcript = "Caller: hi";
	ck_assert_int_eq(summary_run(&conf, &req, &r, &retry, err,
	    sizeof(err)), CP_UPSTREAM);
	ck_assert_msg(strncmp(err, refused_at, strlen(refused_at)) == 0,
	    "reason \"%s\"", err);
	conf.summary.openai.base_url = NULL;
	ck_assert_int_eq(summary_run(&conf, &req, &r, &retry, err,
	    sizeof(err)), CP_INPUT);
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
	tcase_add_test(tc, test_rules_hebrew_transcript);
	tcase_add_test(tc, test_backend_table);
	tcase_add_test(tc, test_gazetteer_match);
	suite_add_tcase(s, tc);

	tc = tcase_create("openai");
	tcase_add_checked_fixture(tc, openai_setup, NULL);
	tcase_add_test(tc, test_parse_accepted);
	tcase_add_test(tc, test_parse_refused);
	tcase_add_test(tc, test_parse_lengths);
	tcase_add_test(tc, test_request_json_schema);
	tcase_add_test(tc, test_request_json_object);
	tcase_add_test(tc, test_request_language_and_config);
	tcase_add_test(tc, test_http_end_to_end);
	tcase_add_test(tc, test_http_errors);
	tcase_add_test(tc, test_http_bad_answers);
	tcase_add_test(tc, test_openai_no_request);
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
