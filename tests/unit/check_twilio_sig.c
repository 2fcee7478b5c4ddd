/*
 * check_twilio_sig.c: unit tests of twilio_sig.c. The parameters always go
 * through form_parse() of an encoded body, as in a real webhook, so the
 * '+'-means-space rule is tested end to end.
 *
 * Oracles: Twilio's documented example (TWILIO.md), HMAC-SHA1 of the
 * explicit signed string computed here with libcrypto's one-shot HMAC(),
 * and Debian's python3-twilio RequestValidator run through popen().
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "form.h"
#include "twilio_sig.h"

#define DOC_URL   "https://mycompany.com/myapp.php?foo=1&bar=2"
#define DOC_BODY  "CallSid=CA1234567890ABCDE&Caller=%2B14158675309" \
	"&Digits=1234&From=%2B14158675309&To=%2B18005551212"
#define DOC_TOKEN "12345"
#define DOC_SIG   "RSOYDt4T1cUTdK1PDd93/VVr8B8="

#define PYTHON "/usr/bin/python3"

static void
parse(const char *body, struct form *f)
{
	ck_assert_int_eq(form_parse(body, strlen(body), f), CP_OK);
}

/* base64(HMAC-SHA1(key, msg)) computed directly, as an oracle. */
static void
oracle(const char *key, const char *msg, char out[TWILIO_SIG_B64_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	ck_assert_ptr_nonnull(HMAC(EVP_sha1(), key, (int)strlen(key),
	    (const unsigned char *)msg, strlen(msg), md, &mdlen));
	ck_assert_uint_eq(mdlen, 20);
	ck_assert_int_eq(EVP_EncodeBlock((unsigned char *)out, md, 20),
	    TWILIO_SIG_B64_LEN);
}

START_TEST(test_documented_example)
{
	char sig[TWILIO_SIG_B64_LEN + 1];
	struct form f;

	parse(DOC_BODY, &f);
	ck_assert_int_eq(twilio_sig_compute(DOC_URL, &f, DOC_TOKEN, sig),
	    CP_OK);
	ck_assert_str_eq(sig, DOC_SIG);
	ck_assert(twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, DOC_SIG));
	form_free(&f);

	/* The body's order does not matter: names are sorted. */
	parse("To=%2B18005551212&From=%2B14158675309&Digits=1234"
	    "&Caller=%2B14158675309&CallSid=CA1234567890ABCDE", &f);
	ck_assert_int_eq(twilio_sig_compute(DOC_URL, &f, DOC_TOKEN, sig),
	    CP_OK);
	ck_assert_str_eq(sig, DOC_SIG);
	form_free(&f);
}
END_TEST

START_TEST(test_default_port_variants)
{
	char sig[TWILIO_SIG_B64_LEN + 1];
	struct form f;

	parse(DOC_BODY, &f);
	/* Twilio signed without the port; we know the URL with it. */
	ck_assert(twilio_sig_valid(
	    "https://mycompany.com:443/myapp.php?foo=1&bar=2",
	    &f, DOC_TOKEN, DOC_SIG));
	/* Twilio signed with ":443"; we know the URL without it. */
	ck_assert_int_eq(twilio_sig_compute(
	    "https://mycompany.com:443/myapp.php?foo=1&bar=2", &f, DOC_TOKEN,
	    sig), CP_OK);
	ck_assert_str_ne(sig, DOC_SIG);
	ck_assert(twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, sig));

	/* http and :80, with no path at all. */
	ck_assert_int_eq(twilio_sig_compute("http://example.com:80", &f,
	    DOC_TOKEN, sig), CP_OK);
	ck_assert(twilio_sig_valid("http://example.com", &f, DOC_TOKEN, sig));
	ck_assert_int_eq(twilio_sig_compute("http://example.com", &f,
	    DOC_TOKEN, sig), CP_OK);
	ck_assert(twilio_sig_valid("http://example.com:80", &f, DOC_TOKEN,
	    sig));
	/* Port inserted before a query without a path. */
	ck_assert_int_eq(twilio_sig_compute("https://h.example:443?a=1", &f,
	    DOC_TOKEN, sig), CP_OK);
	ck_assert(twilio_sig_valid("https://h.example?a=1", &f, DOC_TOKEN,
	    sig));
	/* IPv6 literal and userinfo do not confuse the port. */
	ck_assert_int_eq(twilio_sig_compute("https://[::1]:443/w", &f,
	    DOC_TOKEN, sig), CP_OK);
	ck_assert(twilio_sig_valid("https://[::1]/w", &f, DOC_TOKEN, sig));
	ck_assert_int_eq(twilio_sig_compute("https://u:p@h:443/w", &f,
	    DOC_TOKEN, sig), CP_OK);
	ck_assert(twilio_sig_valid("https://u:p@h/w", &f, DOC_TOKEN, sig));

	/* Another scheme's default port, or a non-default port, is no
	 * variant: the signature of one URL does not validate the other. */
	ck_assert(!twilio_sig_valid(
	    "https://mycompany.com:80/myapp.php?foo=1&bar=2",
	    &f, DOC_TOKEN, DOC_SIG));
	ck_assert(!twilio_sig_valid(
	    "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
	    &f, DOC_TOKEN, DOC_SIG));
	ck_assert_int_eq(twilio_sig_compute("https://127.0.0.1:8443/w", &f,
	    DOC_TOKEN, sig), CP_OK);
	ck_assert(twilio_sig_valid("https://127.0.0.1:8443/w", &f, DOC_TOKEN,
	    sig));
	ck_assert(!twilio_sig_valid("https://127.0.0.1/w", &f, DOC_TOKEN,
	    sig));
	ck_assert(!twilio_sig_valid("https://127.0.0.1:443/w", &f, DOC_TOKEN,
	    sig));
	form_free(&f);
}
END_TEST

START_TEST(test_invalid_signatures)
{
	struct form f;
	char sig[TWILIO_SIG_B64_LEN + 2];

	parse(DOC_BODY, &f);
	ck_assert(!twilio_sig_valid(DOC_URL, &f, "12346", DOC_SIG));
	ck_assert(!twilio_sig_valid(DOC_URL, &f, "", DOC_SIG));
	ck_assert(!twilio_sig_valid(DOC_URL, &f, NULL, DOC_SIG));
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, NULL));
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, ""));
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, DOC_SIG "\n"));
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
	/* One changed character of the header. */
	memcpy(sig, DOC_SIG, sizeof(DOC_SIG));
	sig[5] = sig[5] == 'A' ? 'B' : 'A';
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, sig));
	/* A different URL (path, query, scheme). */
	ck_assert(!twilio_sig_valid("https://mycompany.com/myapp.php?foo=1",
	    &f, DOC_TOKEN, DOC_SIG));
	ck_assert(!twilio_sig_valid("http://mycompany.com/myapp.php?foo=1&bar=2",
	    &f, DOC_TOKEN, DOC_SIG));
	ck_assert(!twilio_sig_valid(NULL, &f, DOC_TOKEN, DOC_SIG));
	form_free(&f);

	/* One changed parameter value. */
	parse("CallSid=CA1234567890ABCDE&Caller=%2B14158675309"
	    "&Digits=1235&From=%2B14158675309&To=%2B18005551212", &f);
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, DOC_SIG));
	form_free(&f);
	/* A parameter missing, and one added. */
	parse("CallSid=CA1234567890ABCDE&Caller=%2B14158675309"
	    "&Digits=1234&From=%2B14158675309", &f);
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, DOC_SIG));
	form_free(&f);
	parse(DOC_BODY "&Extra=", &f);
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, DOC_SIG));
	form_free(&f);
	/* '+' left undecoded would be a different value: "%2B" vs "+". */
	parse("CallSid=CA1234567890ABCDE&Caller=+14158675309"
	    "&Digits=1234&From=+14158675309&To=+18005551212", &f);
	ck_assert(!twilio_sig_valid(DOC_URL, &f, DOC_TOKEN, DOC_SIG));
	form_free(&f);
}
END_TEST

START_TEST(test_plus_means_space)
{
	const char *url = "https://mycompany.com/myapp.php";
	char a[TWILIO_SIG_B64_LEN + 1], b[TWILIO_SIG_B64_LEN + 1];
	struct form f;

	/* Vector from python3-twilio for {"Caller": "John Doe",
	 * "Digits": "1 2"}. */
	parse("Caller=John+Doe&Digits=1+2", &f);
	ck_assert_int_eq(twilio_sig_compute(url, &f, DOC_TOKEN, a), CP_OK);
	ck_assert_str_eq(a, "MH6/6PVwhzLou8OarnHkYlJmbVc=");
	form_free(&f);
	parse("Caller=John%20Doe&Digits=1%202", &f);
	ck_assert_int_eq(twilio_sig_compute(url, &f, DOC_TOKEN, b), CP_OK);
	ck_assert_str_eq(a, b);
	form_free(&f);
	/* ... and {"Caller": "John+Doe", "Digits": "1+2"}. */
	parse("Caller=John%2BDoe&Digits=1%2B2", &f);
	ck_assert_int_eq(twilio_sig_compute(url, &f, DOC_TOKEN, b), CP_OK);
	ck_assert_str_eq(b, "+eMdGoRdWICZ6OGUHONraEAmPaY=");
	ck_assert(!twilio_sig_valid(url, &f, DOC_TOKEN, a));
	form_free(&f);
}
END_TEST

START_TEST(test_sort_rules)
{
	const char *url = "https://x.example/w";
	char got[TWILIO_SIG_B64_LEN + 1], want[TWILIO_SIG_B64_LEN + 1];
	struct form f;

	/* Byte order: upper case before lower case, "CallSid" < "Caller",
	 * a prefix before its extensions, UTF-8 after ASCII; a repeated
	 * name contributes name+value once per value, values sorted. */
	parse("b=1&a=2&a=1&B=3&Caller=c&CallSid=s&ab=4&%D7%A9=5&a=10", &f);
	ck_assert_int_eq(twilio_sig_compute(url, &f, "tok", got), CP_OK);
	oracle("tok", "https://x.example/w"
	    "B3CallSidsCallerca1a10a2ab4b1\xD7\xA9" "5", want);
	ck_assert_str_eq(got, want);
	ck_assert(twilio_sig_valid(url, &f, "tok", want));
	form_free(&f);

	/* A value repeated under one name is signed once, as the helper
	 * libraries do (twilio-python: sorted(set(values))). */
	parse("a=1&b=2&a=1", &f);
	ck_assert_int_eq(twilio_sig_compute(url, &f, "tok", got), CP_OK);
	oracle("tok", "https://x.example/w" "a1b2", want);
	ck_assert_str_eq(got, want);
	form_free(&f);

	/* No parameters at all: the URL alone is signed. */
	ck_assert_int_eq(twilio_sig_compute(url, NULL, "tok", got), CP_OK);
	oracle("tok", url, want);
	ck_assert_str_eq(got, want);
	parse("", &f);
	ck_assert(twilio_sig_valid(url, &f, "tok", want));
	form_free(&f);
}
END_TEST

/* ---- cross-check against python3-twilio ---- */

#define XC_SETS 24

static uint32_t xc_state;

static uint32_t
xc_rand(void)
{
	/* xorshift32: reproducible from the printed seed. */
	xc_state ^= xc_state << 13;
	xc_state ^= xc_state >> 17;
	xc_state ^= xc_state << 5;
	return xc_state;
}

static const char *const xc_name_parts[] = {
	"CallSid", "Caller", "From", "To", "a", "B", "b", "Digits", "x y",
	"n+m", "\xD7\xA9", "\xC3\xA9", "Z&", "q=1", "_", "0"
};
static const char *const xc_value_parts[] = {
	" ", "+", "&", "=", "%", "a", "Z", "0", "\xD7\xA9",
	"\xD7\x90\xD7\x91\xD7\x99\xD7\x91", "\xC3\xA9", "\xF0\x9F\x98\x80",
	"/", "?", "#", "\"", "\\", ";", "~", "+1415", "%2B", "\t"
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Appends s percent-encoded (space as '+' or "%20" at random) to buf. */
static void
xc_encode(char *buf, size_t cap, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		ck_assert_uint_lt(*len + 4, cap);
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			buf[(*len)++] = (char)*p;
		else if (*p == ' ' && (xc_rand() & 1))
			buf[(*len)++] = '+';
		else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[*p >> 4];
			buf[(*len)++] = hex[*p & 15];
		}
	}
	buf[*len] = '\0';
}

/* A random body with 1..8 distinct names (python3-twilio 7.7.1 signs a
 * dict, so names are not repeated here). */
static void
xc_body(char *buf, size_t cap)
{
	size_t len = 0, i, k, nparts;
	int used[NELEM(xc_name_parts)] = { 0 };
	size_t npairs = 1 + xc_rand() % 8;
	char value[256];

	buf[0] = '\0';
	for (i = 0; i < npairs; i++) {
		size_t ni = xc_rand() % NELEM(xc_name_parts);

		if (used[ni])
			continue;
		used[ni] = 1;
		value[0] = '\0';
		nparts = xc_rand() % 7;
		for (k = 0; k < nparts; k++) {
			const char *part = xc_value_parts[xc_rand() %
			    NELEM(xc_value_parts)];

			ck_assert_uint_lt(strlen(value) + strlen(part),
			    sizeof(value));
			memcpy(value + strlen(value), part, strlen(part) + 1);
		}
		if (len > 0) {
			ck_assert_uint_lt(len + 1, cap);
			buf[len++] = '&';
		}
		xc_encode(buf, cap, &len, xc_name_parts[ni]);
		ck_assert_uint_lt(len + 1, cap);
		buf[len++] = '=';
		buf[len] = '\0';
		xc_encode(buf, cap, &len, value);
	}
}

START_TEST(test_python_cross_check)
{
	static char bodies[XC_SETS][4096];
	static char cmd[XC_SETS * 4096 + 1024];
	char line[256], token[33];
	char mine[TWILIO_SIG_B64_LEN + 1];
	const char *url = "https://example.com/webhook/incoming_call?x=1&y=%C3%A9";
	uint32_t seed = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	size_t len, i;
	int nread = 0, status;
	struct form f;
	FILE *p;

	if (access(PYTHON, X_OK) != 0)
		ck_abort_msg(PYTHON " is missing (apt-get install python3 "
		    "python3-twilio)");
	xc_state = seed != 0 ? seed : 1;
	for (i = 0; i < 32; i++)
		token[i] = "0123456789abcdef"[xc_rand() % 16];
	token[32] = '\0';

	/* Python gets the encoded bodies and decodes them itself
	 * (parse_qsl), so form_parse() is cross-checked too. Bodies are
	 * percent-encoded ASCII: safe inside single quotes. */
	len = (size_t)snprintf(cmd, sizeof(cmd), "%s -c '"
	    "import sys\n"
	    "from urllib.parse import parse_qsl\n"
	    "from twilio.request_validator import RequestValidator\n"
	    "v = RequestValidator(sys.argv[1])\n"
	    "for b in sys.argv[3:]:\n"
	    "    print(v.compute_signature(sys.argv[2], "
	    "dict(parse_qsl(b, keep_blank_values=True))))\n"
	    "' %s '%s'", PYTHON, token, url);
	for (i = 0; i < XC_SETS; i++) {
		xc_body(bodies[i], sizeof(bodies[i]));
		ck_assert_ptr_null(strchr(bodies[i], '\''));
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " '%s'",
		    bodies[i]);
		ck_assert_uint_lt(len, sizeof(cmd));
	}

	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p) != NULL && nread < XC_SETS) {
		line[strcspn(line, "\n")] = '\0';
		parse(bodies[nread], &f);
		ck_assert_int_eq(twilio_sig_compute(url, &f, token, mine),
		    CP_OK);
		ck_assert_msg(strcmp(mine, line) == 0,
		    "seed %u set %d body \"%s\": C %s, python %s", seed, nread,
		    bodies[nread], mine, line);
		ck_assert(twilio_sig_valid(url, &f, token, line));
		form_free(&f);
		nread++;
	}
	status = pclose(p);
	ck_assert_msg(status == 0 && nread == XC_SETS,
	    "python3-twilio gave %d of %d signatures (exit status %d); "
	    "is python3-twilio installed?", nread, XC_SETS, status);
}
END_TEST

static Suite *
twilio_sig_suite(void)
{
	Suite *s = suite_create("twilio_sig");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_documented_example);
	tcase_add_test(tc, test_default_port_variants);
	tcase_add_test(tc, test_invalid_signatures);
	tcase_add_test(tc, test_plus_means_space);
	tcase_add_test(tc, test_sort_rules);
	tcase_add_test(tc, test_python_cross_check);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(twilio_sig_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
