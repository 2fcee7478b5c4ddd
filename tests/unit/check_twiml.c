/*
 * check_twiml.c: unit tests of twiml.c: the exact answer of DESIGN.md §3,
 * escaping of hostile configuration values (checked by a small attribute
 * scanner here and by Python's XML parser), and recording.mode "rest".
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twiml.h"

#define PYTHON "/usr/bin/python3"
#define SID    "CA0123456789abcdef0123456789abcdef"

static char base_ok[] = "https://calls.example.com";
static char stream_ok[] = "wss://agent.example.com/stream";
static char mode_twiml[] = "twiml";
static char mode_rest[] = "rest";

static void
conf_init(struct cp_conf *c, char *base, char *stream, char *mode)
{
	memset(c, 0, sizeof(*c));
	c->public_base_url = base;
	c->stream.url = stream;
	c->recording.mode = mode;
}

/* Offset of needle in hay, or -1. */
static long
at(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	return p != NULL ? (long)(p - hay) : -1;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (hay = strstr(hay, needle); hay != NULL;
	    hay = strstr(hay + 1, needle))
		n++;
	return n;
}

START_TEST(test_exact_answer)
{
	struct cp_conf c;
	char *out = NULL;

	conf_init(&c, base_ok, stream_ok, mode_twiml);
	ck_assert_int_eq(twiml_voice_answer(&c, SID, &out), CP_OK);
	ck_assert_str_eq(out,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Response>"
	    "<Start><Recording channels=\"dual\" trim=\"do-not-trim\""
	    " recordingStatusCallback=\"https://calls.example.com/webhook/handle_recording\""
	    " recordingStatusCallbackEvent=\"in-progress completed absent\"/>"
	    "</Start>"
	    "<Connect action=\"https://calls.example.com/webhook/stream_ended\">"
	    "<Stream url=\"wss://agent.example.com/stream\">"
	    "<Parameter name=\"call_sid\" value=\"" SID "\"/>"
	    "</Stream></Connect></Response>\n");
	free(out);
}
END_TEST

START_TEST(test_structure)
{
	struct cp_conf c;
	char *out = NULL;

	/* A NULL mode is the default, "twiml". */
	conf_init(&c, base_ok, stream_ok, NULL);
	ck_assert_int_eq(twiml_voice_answer(&c, SID, &out), CP_OK);
	ck_assert_int_eq(at(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
	    0);
	ck_assert_int_eq(count(out, "<Response>"), 1);
	ck_assert_int_eq(count(out, "</Response>"), 1);
	/* Recording starts before the stream connects. */
	ck_assert_int_ge(at(out, "<Start>"), 0);
	ck_assert_int_lt(at(out, "<Start>"), at(out, "<Recording "));
	ck_assert_int_lt(at(out, "<Recording "), at(out, "</Start>"));
	ck_assert_int_lt(at(out, "</Start>"), at(out, "<Connect "));
	ck_assert_int_lt(at(out, "<Connect "), at(out, "<Stream "));
	ck_assert_int_lt(at(out, "<Stream "), at(out, "<Parameter "));
	ck_assert_int_lt(at(out, "<Parameter "), at(out, "</Stream>"));
	ck_assert_int_lt(at(out, "</Stream>"), at(out, "</Connect>"));
	ck_assert_int_lt(at(out, "</Connect>"), at(out, "</Response>"));
	/* Never the blocking <Record> verb; the noun's attribute names. */
	ck_assert_int_eq(count(out, "<Record "), 0);
	ck_assert_int_eq(count(out, "<Record>"), 0);
	ck_assert_int_eq(count(out, "<Record/"), 0);
	ck_assert_int_eq(count(out, "recordingChannels"), 0);
	ck_assert_int_eq(count(out, "channels=\"dual\""), 1);
	free(out);
}
END_TEST

START_TEST(test_mode_rest)
{
	struct cp_conf c;
	char *out = NULL;

	conf_init(&c, base_ok, stream_ok, mode_rest);
	ck_assert_int_eq(twiml_voice_answer(&c, SID, &out), CP_OK);
	ck_assert_int_eq(count(out, "<Start"), 0);
	ck_assert_int_eq(count(out, "<Recording"), 0);
	ck_assert_int_eq(count(out, "handle_recording"), 0);
	ck_assert_str_eq(out,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Response>"
	    "<Connect action=\"https://calls.example.com/webhook/stream_ended\">"
	    "<Stream url=\"wss://agent.example.com/stream\">"
	    "<Parameter name=\"call_sid\" value=\"" SID "\"/>"
	    "</Stream></Connect></Response>\n");
	free(out);
}
END_TEST

/* Decodes the five predefined entities and &#N; into a malloc'd string. */
static char *
unescape(const char *s, size_t n)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' }, { "&#9;", '\t' },
		{ "&#10;", '\n' }, { "&#13;", '\r' },
	};
	char *o = malloc(n + 1);
	size_t i = 0, j = 0, k;

	ck_assert_ptr_nonnull(o);
	while (i < n) {
		if (s[i] == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
				if (strncmp(s + i, ents[k].ent,
				    strlen(ents[k].ent)) == 0)
					break;
			ck_assert_msg(k < sizeof(ents) / sizeof(ents[0]),
			    "unknown entity at \"%.10s\"", s + i);
			o[j++] = ents[k].c;
			i += strlen(ents[k].ent);
		} else
			o[j++] = s[i++];
	}
	o[j] = '\0';
	return o;
}

/*
 * A minimal scanner of the answer's tags: checks that every attribute
 * value is quoted with '"', holds no raw '<', '>' or '"', and that the
 * character after the closing quote ends the attribute (space, '/', '>').
 * Returns the unescaped value of attribute name of element elem (malloc'd)
 * or NULL when there is none.
 */
static char *
scan_attr(const char *xml, const char *elem, const char *name)
{
	const char *p = xml, *q, *v;
	char *found = NULL;
	size_t el = strlen(elem), nl = strlen(name);

	while ((p = strchr(p, '<')) != NULL) {
		bool match;

		p++;
		if (*p == '?' || *p == '/') {
			p = strchr(p, '>');
			ck_assert_ptr_nonnull(p);
			continue;
		}
		match = strncmp(p, elem, el) == 0 &&
		    (p[el] == ' ' || p[el] == '>' || p[el] == '/');
		q = p + strcspn(p, " />");
		for (;;) {
			while (*q == ' ')
				q++;
			if (*q == '>' || *q == '/' || *q == '\0')
				break;
			v = strchr(q, '=');
			ck_assert_ptr_nonnull(v);
			ck_assert_int_eq(v[1], '"');
			/* Attribute names hold no markup characters. */
			ck_assert_uint_eq(strcspn(q, "<>\"&'") >= (size_t)(v - q),
			    1);
			v += 2;
			ck_assert_ptr_nonnull(strchr(v, '"'));
			ck_assert_uint_gt(strcspn(v, "<>"), strcspn(v, "\""));
			ck_assert_msg(strchr(" />", v[strcspn(v, "\"") + 1]) != NULL,
			    "value not closed at \"%.20s\"", v);
			if (match && (size_t)(v - 2 - q) == nl &&
			    strncmp(q, name, nl) == 0) {
				ck_assert_ptr_null(found);
				found = unescape(v, strcspn(v, "\""));
			}
			q = v + strcspn(v, "\"") + 1;
		}
		p = q;
	}
	return found;
}

static void
expect_attr(const char *xml, const char *elem, const char *name,
    const char *want)
{
	char *got = scan_attr(xml, elem, name);

	ck_assert_msg(got != NULL, "no %s %s", elem, name);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_attribute_values)
{
	struct cp_conf c;
	char *out = NULL;

	conf_init(&c, base_ok, stream_ok, mode_twiml);
	ck_assert_int_eq(twiml_voice_answer(&c, SID, &out), CP_OK);
	expect_attr(out, "Recording", "channels", "dual");
	expect_attr(out, "Recording", "trim", "do-not-trim");
	expect_attr(out, "Recording", "recordingStatusCallback",
	    "https://calls.example.com/webhook/handle_recording");
	expect_attr(out, "Recording", "recordingStatusCallbackEvent",
	    "in-progress completed absent");
	expect_attr(out, "Connect", "action",
	    "https://calls.example.com/webhook/stream_ended");
	expect_attr(out, "Stream", "url", "wss://agent.example.com/stream");
	expect_attr(out, "Parameter", "name", "call_sid");
	expect_attr(out, "Parameter", "value", SID);
	free(out);
}
END_TEST

static char *
hex(const char *s)
{
	size_t n = strlen(s), i;
	char *o = malloc(2 * n + 1);

	ck_assert_ptr_nonnull(o);
	for (i = 0; i < n; i++)
		snprintf(o + 2 * i, 3, "%02x", (unsigned char)s[i]);
	o[2 * n] = '\0';
	return o;
}

/* Parses xml with Python's xml.etree; returns its report (malloc'd):
 * one line per element in document order, "Tag" then " name=hexvalue"
 * for each attribute in sorted order. */
static char *
python_parse(const char *xml)
{
	char path[] = "/tmp/check-twiml-XXXXXX", cmd[1024];
	size_t cap = 65536, len = 0, r;
	char *rep = malloc(cap);
	FILE *f, *p;
	int fd, status;

	ck_assert_ptr_nonnull(rep);
	if (access(PYTHON, X_OK) != 0)
		ck_abort_msg(PYTHON " is missing");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(xml, 1, strlen(xml), f), strlen(xml));
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "%s -c '"
	    "import sys, xml.etree.ElementTree as ET\n"
	    "for e in ET.parse(sys.argv[1]).getroot().iter():\n"
	    "    print(e.tag + \"\".join(\" %%s=%%s\" %% (k, e.attrib[k]"
	    ".encode().hex()) for k in sorted(e.attrib)))\n"
	    "' %s", PYTHON, path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while ((r = fread(rep + len, 1, cap - 1 - len, p)) > 0)
		len += r;
	rep[len] = '\0';
	status = pclose(p);
	unlink(path);
	ck_assert_msg(status == 0, "python could not parse:\n%s", xml);
	return rep;
}

START_TEST(test_hostile_values_escaped)
{
	char base[] = "https://e.example/a\"b'c<d>e&f&amp;\tg";
	char stream[] = "wss://x.example/\"><Record/><Stream url=\"evil";
	const char *sid = "CA<&>\"'";
	char *out = NULL, *rep, *want, *w;
	struct cp_conf c;
	size_t i;

	conf_init(&c, base, stream, mode_twiml);
	ck_assert_int_eq(twiml_voice_answer(&c, sid, &out), CP_OK);
	/* No injected element. */
	ck_assert_int_eq(count(out, "<Record/"), 0);
	ck_assert_int_eq(count(out, "<Stream "), 1);
	ck_assert_int_eq(count(out, "\t"), 0);
	/* Every value round-trips through the attribute scanner. */
	w = malloc(strlen(base) + 64);
	ck_assert_ptr_nonnull(w);
	snprintf(w, strlen(base) + 64, "%s/webhook/handle_recording", base);
	expect_attr(out, "Recording", "recordingStatusCallback", w);
	snprintf(w, strlen(base) + 64, "%s/webhook/stream_ended", base);
	expect_attr(out, "Connect", "action", w);
	expect_attr(out, "Stream", "url", stream);
	expect_attr(out, "Parameter", "value", sid);

	/* And through a real XML parser. */
	rep = python_parse(out);
	want = hex(w);
	ck_assert_msg(strstr(rep, want) != NULL, "action lost:\n%s", rep);
	free(want);
	snprintf(w, strlen(base) + 64, "%s/webhook/handle_recording", base);
	want = hex(w);
	ck_assert_msg(strstr(rep, want) != NULL, "callback lost:\n%s", rep);
	free(want);
	want = hex(stream);
	ck_assert_msg(strstr(rep, want) != NULL, "url lost:\n%s", rep);
	free(want);
	want = hex(sid);
	ck_assert_msg(strstr(rep, want) != NULL, "sid lost:\n%s", rep);
	free(want);
	/* Elements in document order, nothing injected. */
	for (i = 0; rep[i] != '\0'; i++)
		if (rep[i] == ' ') {       /* keep tag names only */
			size_t e = strcspn(rep + i, "\n");

			memmove(rep + i, rep + i + e, strlen(rep + i + e) + 1);
		}
	ck_assert_str_eq(rep,
	    "Response\nStart\nRecording\nConnect\nStream\nParameter\n");
	free(rep);
	free(w);
	free(out);
}
END_TEST

START_TEST(test_buffer_sizing_worst_case)
{
	/* Every byte of every input escapes to 6 bytes: the output must be
	 * exactly as long as computed, and parse. */
	size_t n = 5000, fixed;
	char *base = malloc(n + 1), *stream = malloc(n + 1), *sid = malloc(n + 1);
	char *out = NULL, *ref = NULL, *rep;
	struct cp_conf c;

	ck_assert_ptr_nonnull(base);
	ck_assert_ptr_nonnull(stream);
	ck_assert_ptr_nonnull(sid);
	memset(base, '"', n);
	memset(stream, '\'', n);
	memset(sid, '"', n);
	base[n] = stream[n] = sid[n] = '\0';
	conf_init(&c, base_ok, stream_ok, mode_twiml);
	ck_assert_int_eq(twiml_voice_answer(&c, SID, &ref), CP_OK);
	fixed = strlen(ref) - 2 * strlen(base_ok) - strlen(stream_ok) -
	    strlen(SID);
	conf_init(&c, base, stream, mode_twiml);
	ck_assert_int_eq(twiml_voice_answer(&c, sid, &out), CP_OK);
	ck_assert_uint_eq(strlen(out), fixed + 6 * (2 * n + n + n));
	rep = python_parse(out);
	free(rep);
	free(out);
	free(ref);
	free(base);
	free(stream);
	free(sid);
}
END_TEST

START_TEST(test_escape_append)
{
	char buf[64];
	size_t len = 0;

	buf[0] = '\0';
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len,
	    "a&b<c>d\"e'f"), CP_OK);
	ck_assert_str_eq(buf, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
	ck_assert_uint_eq(len, strlen(buf));
	/* Appends. */
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, "\t\n\r"),
	    CP_OK);
	ck_assert_str_eq(buf, "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;&#10;&#13;");
	/* UTF-8 passes through; other C0 controls become U+FFFD. */
	len = 0;
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len,
	    "\xD7\xA9\x01"), CP_OK);
	ck_assert_str_eq(buf, "\xD7\xA9\xEF\xBF\xBD");
	len = 0;
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, NULL),
	    CP_OK);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_escape_append_bounds)
{
	char buf[9];
	size_t len;

	/* "abc" + "&amp;" is 8 bytes: fits in 9 with the NUL. */
	memcpy(buf, "abc", 4);
	len = 3;
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, "&"),
	    CP_OK);
	ck_assert_str_eq(buf, "abc&amp;");
	ck_assert_uint_eq(len, 8);
	/* One byte too many: nothing written, the old string kept. */
	memcpy(buf, "abc", 4);
	len = 3;
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, "&x"),
	    CP_NOMEM);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(buf, "abc");
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, "&lt"),
	    CP_NOMEM);
	ck_assert_str_eq(buf, "abc");
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, "<"),
	    CP_OK);
	ck_assert_str_eq(buf, "abc&lt;");
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, "x"),
	    CP_OK);
	ck_assert_uint_eq(len, 8);
	/* A full buffer takes nothing more, not even one byte. */
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, "y"),
	    CP_NOMEM);
	ck_assert_str_eq(buf, "abc&lt;x");
	ck_assert_uint_eq(len, 8);
	/* An empty string fits in a full buffer. */
	ck_assert_int_eq(twiml_escape_append(buf, sizeof(buf), &len, ""),
	    CP_OK);
	ck_assert_uint_eq(len, 8);
}
END_TEST

START_TEST(test_empty_answer)
{
	char *rep;

	ck_assert_str_eq(twiml_empty(),
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n");
	rep = python_parse(twiml_empty());
	ck_assert_str_eq(rep, "Response\n");
	free(rep);
}
END_TEST

static Suite *
twiml_suite(void)
{
	Suite *s = suite_create("twiml");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_exact_answer);
	tcase_add_test(tc, test_structure);
	tcase_add_test(tc, test_mode_rest);
	tcase_add_test(tc, test_attribute_values);
	tcase_add_test(tc, test_hostile_values_escaped);
	tcase_add_test(tc, test_buffer_sizing_worst_case);
	tcase_add_test(tc, test_escape_append);
	tcase_add_test(tc, test_escape_append_bounds);
	tcase_add_test(tc, test_empty_answer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(twiml_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
