/*
 * check_openai.c: the OpenAI-compatible STT path without a service: the
 * error table, error bodies of every server shape, Retry-After, base
 * URLs, verbose_json / json parsing, the non-speech rule, merge by time,
 * chunk planning — and the whole "openai" backend against a small HTTP
 * server in a thread that records each request as sent (multipart fields,
 * file name, content type, Authorization) and answers what the test set.
 */
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "conf.h"
#include "http.h"
#include "lang.h"
#include "openai.h"
#include "stt.h"
#include "stt_audio.h"
#include "stt_openai.h"

/* ------------------------------------------------ a one-thread HTTP server */

#define SRV_MAX_REQ   16
#define SRV_REQ_BYTES (4 * 1024 * 1024)

struct srv_answer {
	const char *head;   /* status line and headers, "\r\n" separated, no final blank line */
	const char *body;
	int         cut;    /* send only half of the body, then close */
};

static struct {
	int               fd, port;
	pthread_t         th;
	struct srv_answer answers[SRV_MAX_REQ];
	int               nanswers, next;
	char             *req[SRV_MAX_REQ];
	size_t            reqlen[SRV_MAX_REQ];
	int               nreq;
} srv;

static char *
memfind(char *hay, size_t n, const char *needle)
{
	size_t l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(hay + i, needle, l) == 0)
			return hay + i;
	return NULL;
}

static void *
srv_main(void *arg)
{
	for (;;) {
		int c = accept(srv.fd, NULL, NULL);
		char *buf, *eoh, *cl;
		size_t len = 0, want = 0;
		const struct srv_answer *a;
		char head[1024];

		if (c < 0)
			return NULL;
		buf = malloc(SRV_REQ_BYTES);
		for (;;) {
			ssize_t r = read(c, buf + len, SRV_REQ_BYTES - len - 1);
			if (r <= 0)
				break;
			len += (size_t)r;
			buf[len] = '\0';
			if ((eoh = memfind(buf, len, "\r\n\r\n")) == NULL)
				continue;
			cl = memfind(buf, (size_t)(eoh - buf), "Content-Length: ");
			want = (size_t)(eoh - buf) + 4 + (cl ? strtoul(cl + 16, NULL,
			    10) : 0);
			if (len >= want)
				break;
		}
		if (srv.nreq < SRV_MAX_REQ) {
			srv.req[srv.nreq] = buf;
			srv.reqlen[srv.nreq++] = len;
		} else
			free(buf);
		a = &srv.answers[srv.next < srv.nanswers ? srv.next++ :
		    srv.nanswers - 1];
		snprintf(head, sizeof(head), "%s\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", a->head, strlen(a->body));
		(void)!write(c, head, strlen(head));
		(void)!write(c, a->body, a->cut ? strlen(a->body) / 2 :
		    strlen(a->body));
		close(c);
	}
}

static void
srv_start(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(&srv, 0, sizeof(srv));
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(srv.fd, 0);
	setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(srv.fd, 8), 0);
	getsockname(srv.fd, (struct sockaddr *)&sa, &sl);
	srv.port = ntohs(sa.sin_port);
	pthread_create(&srv.th, NULL, srv_main, NULL);
}

static void
srv_answer(const char *head, const char *body, int cut)
{
	srv.answers[srv.nanswers++] = (struct srv_answer){ head, body, cut };
}

static void
srv_stop(void)
{
	shutdown(srv.fd, SHUT_RDWR);
	close(srv.fd);
	pthread_join(srv.th, NULL);
	for (int i = 0; i < srv.nreq; i++)
		free(srv.req[i]);
}

/* The value of text field name in request i's multipart body, or NULL. */
static char *
form_field(int i, const char *name, char *out, size_t outlen)
{
	char pat[128], *p, *e;

	snprintf(pat, sizeof(pat), "Content-Disposition: form-data; "
	    "name=\"%s\"\r\n\r\n", name);
	if ((p = memfind(srv.req[i], srv.reqlen[i], pat)) == NULL)
		return NULL;
	p += strlen(pat);
	if ((e = memfind(p, srv.reqlen[i] - (size_t)(p - srv.req[i]), "\r\n")) ==
	    NULL)
		return NULL;
	snprintf(out, outlen, "%.*s", (int)(e - p), p);
	return out;
}

/* ------------------------------------------------ audio fixtures */

static char tmpdir[64];

/* A 16-bit WAV at rate with nch channels: channel 1 gets a 440 Hz tone in
 * [on1, off1) seconds, channel 2 in [on2, off2) (off <= on: silent). */
static void
write_tones(const char *path, int nch, int rate, double secs, double on1,
    double off1, double on2, double off2)
{
	SF_INFO info = { .samplerate = rate, .channels = nch,
	    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	size_t n = (size_t)(secs * rate);
	short *buf = calloc(n * (size_t)nch, sizeof(short));

	ck_assert_ptr_nonnull(sf);
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / rate;
		short v = (short)(8000 * sin(2 * M_PI * 440 * t));
		if (t >= on1 && t < off1)
			buf[i * (size_t)nch] = v;
		if (nch == 2 && t >= on2 && t < off2)
			buf[i * 2 + 1] = v;
	}
	ck_assert_int_eq(sf_writef_short(sf, buf, (sf_count_t)n), (sf_count_t)n);
	sf_close(sf);
	free(buf);
}

static struct cp_conf conf;
static char base_url[64];

static void
openai_conf(void)
{
	memset(&conf, 0, sizeof(conf));
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d/v1", srv.port);
	conf.stt.backend = "openai";
	conf.stt.openai.base_url = base_url;
	conf.stt.openai.model = "whisper-1";
	conf.stt.openai.language = "he";
	conf.stt.openai.api_key = "sk-test-key";
	conf.stt.openai.prompt = "";
	conf.stt.openai.response_format = "verbose_json";
	conf.stt.openai.upload_format = "wav";
	conf.stt.openai.timeout_ms = 3000;
	conf.stt.openai.upload_rate = 0;
	conf.stt.openai.chunk_seconds = 600;
}

#define OK_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json"
#define VERBOSE(lang, start, end, text) \
	"{\"task\":\"transcribe\",\"language\":\"" lang "\",\"duration\":3.0," \
	"\"text\":\" " text "\",\"segments\":[{\"id\":0,\"seek\":0,\"start\":" \
	#start ",\"end\":" #end ",\"text\":\" " text "\",\"tokens\":[1,2]," \
	"\"temperature\":0.0,\"avg_logprob\":-0.2,\"compression_ratio\":1.1," \
	"\"no_speech_prob\":0.01}],\"usage\":{\"type\":\"duration\"," \
	"\"seconds\":3}}"

/* stt_openai_parse on the JSON text body (NULL root when it is not JSON). */
static enum cp_err
parse_text(const char *body, enum stt_speaker sp, double offset_s,
    double duration_s, struct stt_segments *out, char lang[8], char *err,
    size_t errlen)
{
	struct json_object *root = json_tokener_parse(body);
	enum cp_err rc = stt_openai_parse(root, sp, offset_s, duration_s, out,
	    lang, err, errlen);

	json_object_put(root);
	return rc;
}

/* ------------------------------------------------ the tests */

START_TEST(test_error_table)
{
	static const struct { long st; const char *code; enum openai_class c; }
	    cases[] = {
		{ 200, NULL, OPENAI_OK }, { 0, NULL, OPENAI_RETRY },
		{ 301, NULL, OPENAI_PERMANENT }, { 307, NULL, OPENAI_PERMANENT },
		{ 400, "invalid_request_error", OPENAI_PERMANENT },
		{ 401, "invalid_api_key", OPENAI_PERMANENT },
		{ 403, NULL, OPENAI_PERMANENT }, { 404, NULL, OPENAI_PERMANENT },
		{ 408, NULL, OPENAI_RETRY }, { 409, NULL, OPENAI_RETRY },
		{ 413, "server_error", OPENAI_PERMANENT },
		{ 415, NULL, OPENAI_PERMANENT },
		{ 429, "rate_limit_exceeded", OPENAI_RETRY },
		{ 429, NULL, OPENAI_RETRY },
		{ 429, "insufficient_quota", OPENAI_PERMANENT },
		{ 500, NULL, OPENAI_RETRY }, { 502, NULL, OPENAI_RETRY },
		{ 503, "server_error", OPENAI_RETRY }, { 599, NULL, OPENAI_RETRY },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		enum openai_class c = openai_classify(cases[i].st, cases[i].code,
		    &why);
		ck_assert_msg(c == cases[i].c, "%ld %s: class %d, want %d",
		    cases[i].st, cases[i].code ? cases[i].code : "-", (int)c,
		    (int)cases[i].c);
		ck_assert_ptr_nonnull(why);
		ck_assert_str_ne(why, "unexpected status");
	}
	{
		const char *why = NULL;
		openai_classify(429, "insufficient_quota", &why);
		ck_assert_str_eq(why, "quota exceeded");
		openai_classify(429, "rate_limit_exceeded", &why);
		ck_assert_str_eq(why, "rate limit");
		openai_classify(302, NULL, &why);
		ck_assert_str_eq(why, "redirect");
	}
}
END_TEST

START_TEST(test_error_bodies)
{
	static const struct { const char *body, *msg, *code; } cases[] = {
		/* OpenAI */
		{ "{\"error\":{\"message\":\"You exceeded your current quota.\","
		  "\"type\":\"insufficient_quota\",\"param\":null,"
		  "\"code\":\"insufficient_quota\"}}",
		  "You exceeded your current quota.", "insufficient_quota" },
		/* OpenAI, code null: the type is the code */
		{ "{\"error\":{\"message\":\"You didn't provide an API key.\","
		  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
		  "You didn't provide an API key.", "invalid_request_error" },
		/* llama.cpp / vLLM: the code is the status */
		{ "{\"error\":{\"code\":500,\"message\":\"boom\",\"type\":"
		  "\"server_error\"}}", "boom", "server_error" },
		/* whisper.cpp */
		{ "{\"error\":\"failed to read audio\"}", "failed to read audio", "" },
		/* speaches (FastAPI) */
		{ "{\"detail\":\"Model 'x' is not installed\"}",
		  "Model 'x' is not installed", "" },
		{ "{\"detail\":[{\"loc\":[\"body\",\"file\"],\"msg\":\"field "
		  "required\",\"type\":\"value_error.missing\"}]}",
		  "field required", "" },
		{ "<html>502 Bad Gateway</html>", "", "" },
		{ "{\"error\":{\"message\":\"line1\\nline2\"}}", "line1 line2", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char msg[256], code[64];
		openai_error_text(cases[i].body, msg, sizeof(msg), code,
		    sizeof(code));
		ck_assert_str_eq(msg, cases[i].msg);
		ck_assert_str_eq(code, cases[i].code);
	}
}
END_TEST

START_TEST(test_retry_after)
{
	long long now = 1764547200;   /* 2025-12-01 00:00:00 UTC */

	ck_assert_int_eq(http_parse_retry_after("5", now), 5000);
	ck_assert_int_eq(http_parse_retry_after("0", now), 0);
	/* RFC 9110: whole seconds only. */
	ck_assert_int_eq(http_parse_retry_after("1.5", now), -1);
	ck_assert_int_eq(http_parse_retry_after("Mon, 01 Dec 2025 00:00:30 GMT",
	    now), 30000);
	ck_assert_int_eq(http_parse_retry_after("Sun, 30 Nov 2025 23:00:00 GMT",
	    now), 0);
	ck_assert_int_eq(http_parse_retry_after("soon", now), -1);
	ck_assert_int_eq(http_parse_retry_after("5s", now), -1);
	ck_assert_int_eq(http_parse_retry_after("", now), -1);
	ck_assert_int_eq(http_parse_retry_after(NULL, now), -1);
}
END_TEST

START_TEST(test_base_urls)
{
	static const struct { const char *url; int path; int ok; } cases[] = {
		{ "https://api.openai.com/v1", 1, 1 },
		{ "https://api.groq.com/openai/v1", 1, 1 },
		{ "http://127.0.0.1:8090/v1", 1, 1 },
		{ "http://localhost:11434/v1", 1, 1 },
		{ "http://[::1]:8000/v1", 1, 1 },
		{ "https://api.twilio.com", 0, 1 },
		{ "http://127.0.0.1:8089", 0, 1 },
		{ "https://api.twilio.com/2010-04-01", 0, 0 },
		{ "http://api.twilio.com", 0, 0 },
		{ "http://whisper.lan:8080/v1", 1, 0 },
		{ "http://127.0.0.1.evil.com/v1", 1, 0 },
		{ "https://api.openai.com/v1/", 1, 0 },
		{ "https://api.openai.com/v1?x", 1, 0 },
		{ "https://u:p@api.openai.com/v1", 1, 0 },
		{ "https://api.openai.com:0/v1", 1, 0 },
		{ "https://api.openai.com//v1", 1, 0 },
		{ "ftp://api.openai.com", 1, 0 },
		{ "https://", 1, 0 },
		{ "https://api openai.com", 1, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = http_base_url_problem(cases[i].url,
		    cases[i].path);
		ck_assert_msg((why == NULL) == (cases[i].ok == 1), "%s: %s",
		    cases[i].url, why ? why : "accepted");
	}
}
END_TEST

START_TEST(test_parse_answers)
{
	struct stt_segments l = { 0 };
	char lang[8], err[256];

	/* verbose_json with extra fields; offset 600 s (chunk 2). */
	ck_assert_int_eq(parse_text("{\"task\":\"transcribe\",\"language\":"
	    "\"hebrew\",\"duration\":9.5,\"text\":\" שלום. אני צריך אינסטלטור\","
	    "\"segments\":[{\"id\":0,\"seek\":0,\"start\":0.5,\"end\":1.25,"
	    "\"text\":\" שלום.\",\"tokens\":[50364],\"temperature\":0.0,"
	    "\"avg_logprob\":-0.3,\"compression_ratio\":0.9,\"no_speech_prob\":"
	    "0.02,\"extra\":[1]},{\"id\":1,\"start\":1.5,\"end\":3,\"text\":"
	    "\" אני צריך אינסטלטור\"}],\"words\":[],\"usage\":{}}", STT_CALLER,
	    600.0, 9.5, &l, lang, err, sizeof(err)), CP_OK);
	ck_assert_str_eq(lang, "he");
	ck_assert_uint_eq(l.n, 2);
	ck_assert_double_eq_tol(l.v[0].start_s, 600.5, 1e-9);
	ck_assert_double_eq_tol(l.v[0].end_s, 601.25, 1e-9);
	ck_assert_str_eq(l.v[0].text, "שלום.");
	ck_assert_double_eq_tol(l.v[1].start_s, 601.5, 1e-9);
	ck_assert_int_eq(l.v[1].speaker, STT_CALLER);
	stt_segments_free(&l);

	/* json (gpt-4o-transcribe, Ollama): one segment over the chunk. */
	ck_assert_int_eq(parse_text("{\"text\":\"Hello there.\",\"usage\":"
	    "{\"type\":\"duration\",\"seconds\":9}}", STT_AGENT, 10.0, 7.25, &l,
	    lang, err, sizeof(err)), CP_OK);
	ck_assert_str_eq(lang, "");
	ck_assert_uint_eq(l.n, 1);
	ck_assert_double_eq_tol(l.v[0].start_s, 10.0, 1e-9);
	ck_assert_double_eq_tol(l.v[0].end_s, 17.25, 1e-9);
	ck_assert_int_eq(l.v[0].speaker, STT_AGENT);
	stt_segments_free(&l);

	/* An empty text adds nothing and is not an error here (stt.c judges
	 * "no speech" over the whole call). */
	ck_assert_int_eq(parse_text("{\"text\":\"  \"}", STT_CALL, 0, 5,
	    &l, lang, err, sizeof(err)), CP_OK);
	ck_assert_uint_eq(l.n, 0);

	/* whisper.cpp: a code in detected_language, no seek. */
	ck_assert_int_eq(parse_text("{\"text\":\"x\",\"detected_language\":"
	    "\"en\",\"segments\":[{\"start\":1,\"end\":2,\"text\":\" x\","
	    "\"words\":[{\"word\":\"x\",\"start\":1,\"end\":2}]}]}", STT_CALL, 0,
	    5, &l, lang, err, sizeof(err)), CP_OK);
	ck_assert_str_eq(lang, "en");
	ck_assert_uint_eq(l.n, 1);
	stt_segments_free(&l);

	/* Whisper's non-speech rule: both conditions, never one alone. */
	ck_assert_int_eq(parse_text("{\"text\":\"a b c\",\"language\":"
	    "\"english\",\"segments\":["
	    "{\"start\":0,\"end\":1,\"text\":\"Thank you.\",\"no_speech_prob\":"
	    "0.7,\"avg_logprob\":-1.2},"
	    "{\"start\":1,\"end\":2,\"text\":\"kept one\",\"no_speech_prob\":"
	    "0.7,\"avg_logprob\":-0.5},"
	    "{\"start\":2,\"end\":3,\"text\":\"kept two\",\"no_speech_prob\":"
	    "0.3,\"avg_logprob\":-1.5}]}", STT_CALLER, 0, 3, &l, lang, err,
	    sizeof(err)), CP_OK);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.v[0].text, "kept one");
	ck_assert_str_eq(l.v[1].text, "kept two");
	stt_segments_free(&l);

	/* Truncated or foreign answers are retryable failures. */
	ck_assert_int_eq(parse_text("{\"text\":\"cut", STT_CALLER, 0, 1,
	    &l, lang, err, sizeof(err)), CP_UPSTREAM);
	ck_assert_int_eq(parse_text("[1,2]", STT_CALLER, 0, 1, &l, lang,
	    err, sizeof(err)), CP_UPSTREAM);
	ck_assert_int_eq(parse_text("{\"segments\":[]}", STT_CALLER, 0, 1,
	    &l, lang, err, sizeof(err)), CP_UPSTREAM);
	ck_assert_str_eq(err, "the answer has no \"text\" string");
	ck_assert_int_eq(parse_text("{\"text\":\"x\",\"segments\":[{"
	    "\"end\":1,\"text\":\"x\"}]}", STT_CALLER, 0, 1, &l, lang, err,
	    sizeof(err)), CP_UPSTREAM);
	ck_assert_uint_eq(l.n, 0);

	/* Times that are not finite numbers are a foreign answer. */
	ck_assert_int_eq(parse_text("{\"text\":\"x\",\"segments\":[{"
	    "\"start\":NaN,\"end\":1,\"text\":\"x\"}]}", STT_CALLER, 0, 1, &l,
	    lang, err, sizeof(err)), CP_UPSTREAM);
	ck_assert_int_eq(parse_text("{\"text\":\"x\",\"segments\":[{"
	    "\"start\":0,\"end\":Infinity,\"text\":\"x\"}]}", STT_CALLER, 0,
	    1, &l, lang, err, sizeof(err)), CP_UPSTREAM);
	/* An end past the upload is kept inside it. */
	ck_assert_int_eq(parse_text("{\"text\":\"x\",\"segments\":[{"
	    "\"start\":9.5,\"end\":12.0,\"text\":\"x\"}]}", STT_CALLER,
	    100.0, 10.0, &l, lang, err, sizeof(err)), CP_OK);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_double_eq_tol(l.v[0].end_s, 110.0, 1e-9);
	stt_segments_free(&l);

	ck_assert_str_eq(lang_code("Hebrew"), "he");
	ck_assert_str_eq(lang_code("en"), "en");
	ck_assert_ptr_null(lang_code("klingon"));
	ck_assert_str_eq(lang_name("he"), "hebrew");
	ck_assert_ptr_null(lang_name("xx"));
	ck_assert_ptr_null(lang_name(NULL));
}
END_TEST

/* Overlapping speakers: ordered by start, caller first at a tie, lines
 * of one speaker joined, each channel's raw text kept apart. */
START_TEST(test_merge_by_time)
{
	struct stt_segments l = { 0 };
	struct stt_result r;
	char err[128];

	ck_assert_int_eq(stt_segments_add(&l, STT_AGENT, 1.0, 2.0, " yes "),
	    CP_OK);
	ck_assert_int_eq(stt_segments_add(&l, STT_CALLER, 0.0, 3.0, "I need"),
	    CP_OK);
	ck_assert_int_eq(stt_segments_add(&l, STT_CALLER, 2.5, 4.0, "a plumber"),
	    CP_OK);
	ck_assert_int_eq(stt_segments_add(&l, STT_AGENT, 2.5, 2.6, "ok"), CP_OK);
	ck_assert_int_eq(stt_segments_add(&l, STT_AGENT, 5.0, 6.0, "where?"),
	    CP_OK);
	ck_assert_int_eq(stt_segments_add(&l, STT_AGENT, 6.5, 7.0, "   "), CP_OK);
	ck_assert_uint_eq(l.n, 5);
	ck_assert_int_eq(stt_build_result(&r, &l, 2, "en", err, sizeof(err)),
	    CP_OK);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_str_eq(r.final_transcript, "Caller: I need\nAgent: yes\n"
	    "Caller: a plumber\nAgent: ok where?\n");
	ck_assert_str_eq(r.channel_text[0], "I need a plumber");
	ck_assert_str_eq(r.channel_text[1], "yes ok where?");
	ck_assert_str_eq(r.transcription, "{\"caller\":\"I need a plumber\","
	    "\"agent\":\"yes ok where?\"}");
	ck_assert_ptr_nonnull(strstr(r.segments_json, "{\"speaker\":\"caller\","
	    "\"start\":2.50,\"end\":4.00,\"text\":\"a plumber\"}"));
	ck_assert_str_eq(r.language, "en");
	stt_result_free(&r);

	ck_assert_int_eq(stt_build_result(&r, &l, 2, "en", err, sizeof(err)),
	    CP_EMPTY);
	ck_assert_str_eq(err, "no speech");
	stt_result_free(&r);
}
END_TEST

/* Chunks aim at equal lengths, end in the longest quiet stretch near the
 * aim, never past the limit, and cover the audio exactly. */
START_TEST(test_chunk_plan)
{
	int rate = 8000;
	size_t n = (size_t)25 * rate, *cuts = NULL, ncuts = 0, prev = 0;
	int16_t *pcm = calloc(n, sizeof(int16_t));

	/* Speech-like tone everywhere except gaps at 7.0-8.2 s, 9.6-9.9 s,
	 * 17.5-18.7 s and 19.5-19.8 s. */
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / rate;
		if (!((t >= 7.0 && t < 8.2) || (t >= 9.6 && t < 9.9) ||
		    (t >= 17.5 && t < 18.7) || (t >= 19.5 && t < 19.8)))
			pcm[i] = (int16_t)(6000 * sin(2 * M_PI * 300 * t));
	}
	ck_assert_int_eq(stt_audio_chunks(pcm, n, rate, (size_t)10 * rate, &cuts,
	    &ncuts), CP_OK);
	ck_assert_uint_eq(ncuts, 3);
	/* Three chunks: aim 8.33 s, window 6.25-10 s; the longest quiet there
	 * is 7.0-8.2 (longer than 9.6-9.9): its middle, 7.6 s. */
	ck_assert_msg(fabs((double)cuts[0] / rate - 7.6) < 0.02, "cut %.3f",
	    (double)cuts[0] / rate);
	/* Then two over 17.4 s: aim 16.3, limit 17.6; the gap 17.5-18.7 is
	 * cut off at the limit, so the cut lies in 17.5-17.6. */
	ck_assert_msg((double)cuts[1] / rate >= 17.5 &&
	    (double)cuts[1] / rate <= 17.6, "cut %.3f", (double)cuts[1] / rate);
	ck_assert_uint_eq(cuts[2], n);
	for (size_t i = 0; i < ncuts; i++) {
		ck_assert_uint_le(cuts[i] - prev, (size_t)10 * rate);
		prev = cuts[i];
	}
	free(cuts);

	/* No quiet at all: the quietest window, still within the limit. */
	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)(6000 * sin(2 * M_PI * 300 * (double)i / rate));
	ck_assert_int_eq(stt_audio_chunks(pcm, n, rate, (size_t)10 * rate, &cuts,
	    &ncuts), CP_OK);
	ck_assert_uint_eq(ncuts, 3);
	ck_assert_uint_le(cuts[0], (size_t)10 * rate);
	ck_assert_uint_gt(cuts[0], (size_t)6 * rate);
	free(cuts);

	/* 10.05 s with a chunk of 10 s and a pause just before 10 s: two
	 * halves, never a 0.05 s sliver at the end. */
	n = (size_t)(10.05 * rate);
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / rate;
		pcm[i] = t >= 9.97 && t < 10.0 ? 0 :
		    (int16_t)(6000 * sin(2 * M_PI * 300 * t));
	}
	ck_assert_int_eq(stt_audio_chunks(pcm, n, rate, (size_t)10 * rate, &cuts,
	    &ncuts), CP_OK);
	ck_assert_uint_eq(ncuts, 2);
	ck_assert_msg(n - cuts[0] > (size_t)3 * rate, "last chunk %.3f s",
	    (double)(n - cuts[0]) / rate);
	free(cuts);
	free(pcm);
}
END_TEST

/* The whole backend: a dual 8 kHz call with a silent agent channel is one
 * upload, sent exactly as OPENAI.md says, and comes back as call-time
 * segments labelled Caller with the language as a code. */
START_TEST(test_upload_as_sent)
{
	struct stt_result r;
	char path[128], err[512], v[256], *p, *file;
	long retry = 0;
	enum cp_err rc;

	srv_start();
	openai_conf();
	srv_answer(OK_HEAD "\r\nx-request-id: req_abc", VERBOSE("hebrew", 0.25,
	    1.75, "שלום"), 0);
	snprintf(path, sizeof(path), "%s/dual.wav", tmpdir);
	write_tones(path, 2, 8000, 3.0, 0.5, 2.0, 0, 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, &retry, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
	ck_assert_int_eq(srv.nreq, 1);   /* the silent agent is not uploaded */
	ck_assert_ptr_nonnull(memfind(srv.req[0], srv.reqlen[0],
	    "POST /v1/audio/transcriptions HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(memfind(srv.req[0], srv.reqlen[0],
	    "Authorization: Bearer sk-test-key\r\n"));
	ck_assert_ptr_nonnull(memfind(srv.req[0], srv.reqlen[0],
	    "Content-Type: multipart/form-data; boundary="));
	ck_assert_str_eq(form_field(0, "model", v, sizeof(v)), "whisper-1");
	ck_assert_str_eq(form_field(0, "response_format", v, sizeof(v)),
	    "verbose_json");
	ck_assert_str_eq(form_field(0, "timestamp_granularities[]", v,
	    sizeof(v)), "segment");
	ck_assert_str_eq(form_field(0, "language", v, sizeof(v)), "he");
	ck_assert_str_eq(form_field(0, "temperature", v, sizeof(v)), "0");
	ck_assert_ptr_null(form_field(0, "prompt", v, sizeof(v)));
	file = memfind(srv.req[0], srv.reqlen[0], "Content-Disposition: "
	    "form-data; name=\"file\"; filename=\"caller.wav\"\r\n"
	    "Content-Type: audio/wav\r\n\r\n");
	ck_assert_ptr_nonnull(file);
	p = strstr(file, "\r\n\r\n") + 4;
	/* A mono 16-bit WAV at the recording's 8 kHz, 3 s long. */
	ck_assert_int_eq(memcmp(p, "RIFF", 4), 0);
	ck_assert_int_eq(p[22] | p[23] << 8, 1);
	ck_assert_int_eq((unsigned char)p[24] | (unsigned char)p[25] << 8, 8000);
	ck_assert_ptr_nonnull(memfind(p, 64, "data"));
	ck_assert_str_eq(r.final_transcript, "Caller: שלום\n");
	ck_assert_str_eq(r.language, "he");
	ck_assert_uint_eq(r.nsegs, 1);
	ck_assert_double_eq_tol(r.segs[0].start_s, 0.25, 1e-9);
	ck_assert_int_eq(retry, -1);
	stt_result_free(&r);
	srv_stop();
}
END_TEST

/* A business's language wins; "" leaves language out; the prompt and
 * FLAC at 16 kHz are sent as configured; json has no granularities. */
START_TEST(test_upload_options)
{
	struct stt_result r;
	char path[128], err[512], v[256], *p;
	enum cp_err rc;

	srv_start();
	openai_conf();
	conf.stt.openai.response_format = "json";
	conf.stt.openai.upload_format = "flac";
	conf.stt.openai.upload_rate = 16000;
	conf.stt.openai.prompt = "אינסטלטור, חשמלאי";
	conf.stt.openai.model = "gpt-4o-transcribe";
	srv_answer(OK_HEAD, "{\"text\":\"hello\"}", 0);
	snprintf(path, sizeof(path), "%s/mono.wav", tmpdir);
	write_tones(path, 1, 8000, 2.0, 0.2, 1.8, 0, 0);
	rc = stt_transcribe_file(&conf, path, "en", &r, NULL, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
	ck_assert_int_eq(srv.nreq, 1);
	ck_assert_str_eq(form_field(0, "language", v, sizeof(v)), "en");
	ck_assert_str_eq(form_field(0, "response_format", v, sizeof(v)), "json");
	ck_assert_ptr_null(form_field(0, "timestamp_granularities[]", v,
	    sizeof(v)));
	ck_assert_str_eq(form_field(0, "prompt", v, sizeof(v)),
	    "אינסטלטור, חשמלאי");
	p = memfind(srv.req[0], srv.reqlen[0], "filename=\"call.flac\"\r\n"
	    "Content-Type: audio/flac\r\n\r\nfLaC");
	ck_assert_ptr_nonnull(p);
	/* json: one segment spanning the upload, labelled Call (mono), in the
	 * language that was asked for. */
	ck_assert_str_eq(r.final_transcript, "Call: hello\n");
	ck_assert_double_eq_tol(r.segs[0].start_s, 0.0, 1e-9);
	ck_assert_double_eq_tol(r.segs[0].end_s, 2.0, 0.01);
	ck_assert_str_eq(r.language, "en");
	ck_assert_str_eq(r.transcription, "{\"call\":\"hello\"}");
	stt_result_free(&r);

	/* language "" (the service detects it): no language field. */
	conf.stt.openai.language = "";
	srv_answer(OK_HEAD, "{\"text\":\"hello\"}", 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
	ck_assert_ptr_null(form_field(1, "language", v, sizeof(v)));
	stt_result_free(&r);
	srv_stop();
}
END_TEST

/* The sample count of the WAV in request i's file part. */
static size_t
uploaded_frames(int i)
{
	char *p = memfind(srv.req[i], srv.reqlen[i], "Content-Type: audio/wav"
	    "\r\n\r\n"), *d;
	unsigned char *u;

	ck_assert_ptr_nonnull(p);
	p += strlen("Content-Type: audio/wav\r\n\r\n");
	d = memfind(p, 128, "data");
	ck_assert_ptr_nonnull(d);
	u = (unsigned char *)d + 4;
	return ((size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 |
	    (size_t)u[3] << 24) / 2;
}

/* 25 s at chunk_seconds 10: three uploads, each exactly the planned slice,
 * the segments offset back to call time by each chunk's start — at the
 * recorded rate and resampled to 16 kHz. */
START_TEST(test_chunk_offsets)
{
	static const int rates[] = { 0, 16000 };
	struct stt_result r;
	struct stt_audio a;
	char path[128], err[512];
	enum cp_err rc;

	snprintf(path, sizeof(path), "%s/long.wav", tmpdir);
	/* Speech-like tone with pauses, so the cuts fall at pauses. */
	{
		SF_INFO info = { .samplerate = 8000, .channels = 1,
		    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
		SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
		size_t n = 25 * 8000;
		short *buf = calloc(n, sizeof(short));
		for (size_t i = 0; i < n; i++) {
			double t = (double)i / 8000;
			if (fmod(t, 3.3) < 2.6)
				buf[i] = (short)(8000 * sin(2 * M_PI * 440 * t));
		}
		ck_assert_int_eq(sf_writef_short(sf, buf, (sf_count_t)n),
		    (sf_count_t)n);
		sf_close(sf);
		free(buf);
	}
	for (size_t ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++) {
		size_t *cuts, ncuts, sum = 0;
		int rate;

		srv_start();
		openai_conf();
		conf.stt.openai.chunk_seconds = 10;
		conf.stt.openai.upload_rate = rates[ri];
		for (int i = 0; i < 4; i++)
			srv_answer(OK_HEAD, VERBOSE("english", 0.5, 1.0, "x"), 0);
		/* The plan the backend must follow, on the same samples. */
		ck_assert_int_eq(stt_audio_read(path, &a, err, sizeof(err)), CP_OK);
		if (rates[ri] > 0)
			ck_assert_int_eq(stt_audio_resample(&a, rates[ri], err,
			    sizeof(err)), CP_OK);
		rate = a.rate;
		ck_assert_int_eq(stt_audio_chunks(a.pcm[0], a.nframes, rate,
		    (size_t)10 * rate, &cuts, &ncuts), CP_OK);
		ck_assert_uint_eq(ncuts, 3);
		rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
		    sizeof(err));
		ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
		ck_assert_int_eq(srv.nreq, 3);
		ck_assert_ptr_nonnull(memfind(srv.req[1], srv.reqlen[1],
		    "filename=\"call-2.wav\""));
		ck_assert_uint_eq(r.nsegs, 3);
		for (size_t k = 0; k < 3; k++) {
			size_t from = k == 0 ? 0 : cuts[k - 1];
			ck_assert_uint_eq(uploaded_frames((int)k), cuts[k] - from);
			sum += cuts[k] - from;
			ck_assert_msg(fabs(r.segs[k].start_s - ((double)from / rate +
			    0.5)) < 1e-9, "rate %d: segment %zu at %.4f, chunk from "
			    "%.4f", rate, k, r.segs[k].start_s, (double)from / rate);
			/* Each cut at a pause: 2.6-3.3 s into each 3.3 s period. */
			if (k < 2)
				ck_assert_msg(fmod((double)cuts[k] / rate, 3.3) >= 2.6,
				    "cut %zu at %.3f s is not in a pause", k,
				    (double)cuts[k] / rate);
		}
		ck_assert_uint_eq(sum, a.nframes);
		free(cuts);
		stt_audio_free(&a);
		stt_result_free(&r);
		srv_stop();
	}
}
END_TEST

/* Each failure ends in its class, with the service's own message and
 * never the key. */
START_TEST(test_upload_failures)
{
	struct stt_result r;
	char path[128], err[512];
	long retry = 0;
	enum cp_err rc;

	srv_start();
	openai_conf();
	snprintf(path, sizeof(path), "%s/one.wav", tmpdir);
	write_tones(path, 1, 8000, 1.0, 0.0, 1.0, 0, 0);

	srv_answer("HTTP/1.1 429 Too Many Requests\r\nretry-after-ms: 1500\r\n"
	    "retry-after: 2", "{\"error\":{\"message\":\"Rate limit reached for "
	    "whisper-1\",\"type\":\"requests\",\"param\":null,\"code\":"
	    "\"rate_limit_exceeded\"}}", 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, &retry, err, sizeof(err));
	ck_assert_int_eq(rc, CP_UPSTREAM);
	ck_assert_int_eq(retry, 1500);
	ck_assert_str_eq(err, "STT: HTTP 429 rate_limit_exceeded: Rate limit "
	    "reached for whisper-1");

	srv_answer("HTTP/1.1 429 Too Many Requests\r\nretry-after: 900",
	    "{\"error\":{\"message\":\"You exceeded your current quota, please "
	    "check your plan.\",\"type\":\"insufficient_quota\",\"param\":null,"
	    "\"code\":\"insufficient_quota\"}}", 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, &retry, err, sizeof(err));
	ck_assert_int_eq(rc, CP_REJECTED);
	ck_assert_int_eq(retry, OPENAI_RETRY_AFTER_MAX_MS);   /* capped */
	ck_assert_str_eq(err, "STT: HTTP 429 insufficient_quota: You exceeded "
	    "your current quota, please check your plan.");

	srv_answer("HTTP/1.1 401 Unauthorized", "{\"error\":{\"message\":"
	    "\"Incorrect API key provided: sk-test-***-key.\",\"type\":"
	    "\"invalid_request_error\",\"code\":\"invalid_api_key\"}}", 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, CP_REJECTED);
	ck_assert_ptr_null(strstr(err, "sk-test-key"));

	srv_answer("HTTP/1.1 500 Internal Server Error", "{\"error\":"
	    "\"whisper failed\"}", 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, CP_UPSTREAM);
	ck_assert_str_eq(err, "STT: HTTP 500: whisper failed");

	srv_answer("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x", "", 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, CP_REJECTED);
	ck_assert_ptr_nonnull(strstr(err, "redirect (not followed)"));

	/* A 200 cut short (Content-Length not reached) and a non-JSON 200. */
	srv_answer(OK_HEAD, VERBOSE("english", 0, 1, "x"), 1);
	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, CP_UPSTREAM);
	srv_answer("HTTP/1.1 200 OK\r\nContent-Type: text/html", "<html>", 0);
	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, CP_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
	ck_assert_int_eq(srv.nreq, 7);
	for (int i = 0; i < srv.nreq; i++)
		ck_assert_ptr_nonnull(memfind(srv.req[i], srv.reqlen[i],
		    "Authorization: Bearer sk-test-key"));
	srv_stop();

	/* Nothing listens: a connection error, retried. */
	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, CP_UPSTREAM);
}
END_TEST

/* Both channels silent: "no speech", and nothing is uploaded. */
START_TEST(test_silent_call)
{
	struct stt_result r;
	char path[128], err[512];

	srv_start();
	openai_conf();
	srv_answer(OK_HEAD, "{\"text\":\"Thank you for watching.\"}", 0);
	snprintf(path, sizeof(path), "%s/silent.wav", tmpdir);
	write_tones(path, 2, 8000, 2.0, 0, 0, 0, 0);
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_EMPTY);
	ck_assert_str_eq(err, "no speech: every channel is silent");
	ck_assert_int_eq(srv.nreq, 0);
	srv_stop();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("openai");
	TCase *tc = tcase_create("stt");
	SRunner *sr;
	int failed;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check-openai-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	tcase_add_test(tc, test_error_table);
	tcase_add_test(tc, test_error_bodies);
	tcase_add_test(tc, test_retry_after);
	tcase_add_test(tc, test_base_urls);
	tcase_add_test(tc, test_parse_answers);
	tcase_add_test(tc, test_merge_by_time);
	tcase_add_test(tc, test_chunk_plan);
	tcase_add_test(tc, test_upload_as_sent);
	tcase_add_test(tc, test_upload_options);
	tcase_add_test(tc, test_chunk_offsets);
	tcase_add_test(tc, test_upload_failures);
	tcase_add_test(tc, test_silent_call);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		(void)!system(cmd);
	}
	return failed == 0 ? 0 : 1;
}
