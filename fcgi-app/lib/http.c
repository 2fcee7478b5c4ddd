/*
 * http.c: the HTTP client (see http.h). One curl easy handle per request:
 * requests are seconds apart (a job's upload, a Twilio fetch), so a
 * connection cache would buy nothing worth its state.
 */
#include "http.h"

#include "cp_num.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_CONNECT_MAX_MS 10000L

struct http_sink {
	FILE     *out;      /* NULL: memory */
	char     *buf;
	size_t    len, cap;
	long long max;
	int       too_big;
	int       failed;
	int       err_no;   /* errno of the failed write to out (ENOSPC: disk full) */
};

static size_t
http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_sink *s = arg;
	size_t n = size * nmemb;

	if ((long long)(s->len + n) > s->max) {
		s->too_big = 1;
		return 0;   /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (s->out != NULL) {
		errno = 0;
		if (fwrite(ptr, 1, n, s->out) != n) {
			s->failed = 1;
			s->err_no = errno;
			return 0;
		}
		s->len += n;
		return n;
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;
		while (cap < s->len + n + 1)
			cap *= 2;
		if ((nb = realloc(s->buf, cap)) == NULL) {
			s->failed = 1;
			return 0;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

long
http_parse_retry_after(const char *v, long long now_s)
{
	long long secs;
	time_t t;

	if (v == NULL)
		return -1;
	/* delay-seconds = 1*DIGIT (RFC 9110 §10.2.3), at most a year. */
	if (cp_parse_ll(v, 0, 86400LL * 365, &secs) == CP_OK)
		return (long)(secs * 1000);
	/* HTTP-date: curl_getdate reads IMF-fixdate and the obsolete forms. */
	if (v[0] < 'A' || (t = curl_getdate(v, NULL)) == (time_t)-1)
		return -1;
	return (long long)t <= now_s ? 0 : (long)(((long long)t - now_s) * 1000);
}

/* retry-after-ms (OpenAI) first, then Retry-After. */
static long
http_retry_after(CURL *c)
{
	struct curl_header *h;
	long long now = (long long)time(NULL);

	long long ms;

	/* retry-after-ms: whole milliseconds (OPENAI.md, openai-python). */
	if (curl_easy_header(c, "retry-after-ms", 0, CURLH_HEADER, -1, &h) ==
	    CURLHE_OK && cp_parse_ll(h->value, 0, 86400000LL, &ms) == CP_OK)
		return (long)ms;
	if (curl_easy_header(c, "retry-after", 0, CURLH_HEADER, -1, &h) ==
	    CURLHE_OK)
		return http_parse_retry_after(h->value, now);
	return -1;
}

static void
http_header_copy(CURL *c, const char *name, char *out, size_t outlen)
{
	struct curl_header *h;

	out[0] = '\0';
	if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return;
	/* Printable ASCII only: it goes into log lines. */
	size_t i = 0;
	for (const char *p = h->value; *p && i + 1 < outlen; p++)
		if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f)
			out[i++] = *p;
	out[i] = '\0';
}

static enum cp_err
http_build_mime(CURL *c, const struct http_request *req, curl_mime **out)
{
	curl_mime *m = curl_mime_init(c);

	if (m == NULL)
		return CP_NOMEM;
	for (size_t i = 0; i < req->nparts; i++) {
		const struct http_part *p = &req->parts[i];
		curl_mimepart *mp = curl_mime_addpart(m);
		if (mp == NULL || curl_mime_name(mp, p->name) != CURLE_OK ||
		    curl_mime_data(mp, p->data, p->len) != CURLE_OK ||
		    (p->filename != NULL &&
		    curl_mime_filename(mp, p->filename) != CURLE_OK) ||
		    (p->type != NULL && curl_mime_type(mp, p->type) != CURLE_OK)) {
			curl_mime_free(m);
			return CP_NOMEM;
		}
	}
	*out = m;
	return CP_OK;
}

enum cp_err
http_request(const struct http_request *req, struct http_response *resp,
    char *err, size_t errlen)
{
	struct http_sink sink = { .out = req->sink, .max = req->max_bytes };
	char curlerr[CURL_ERROR_SIZE] = "", auth[1024];
	struct curl_slist *hdrs = NULL, *nh;
	curl_mime *mime = NULL;
	const char *method = req->method ? req->method : "GET";
	CURL *c;
	CURLcode cc;
	enum cp_err rc = CP_OK;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	if ((c = curl_easy_init()) == NULL)
		return CP_NOMEM;
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    req->timeout_ms < HTTP_CONNECT_MAX_MS ? req->timeout_ms :
	    HTTP_CONNECT_MAX_MS);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "callpipe/0.2");
	if (req->max_redirects > 0) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)req->max_redirects);
		/* A redirect leads to https only (Twilio's media CDN), and never
		 * carries our credentials (CURLOPT_UNRESTRICTED_AUTH stays 0). */
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
		curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
	}
	if (req->basic_user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, req->basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD,
		    req->basic_pass ? req->basic_pass : "");
	}
	if (req->bearer != NULL && req->bearer[0] != '\0') {
		int n = snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    req->bearer);
		if (n < 0 || (size_t)n >= sizeof(auth)) {
			cp_fmt(err, errlen, "%s %.200s: API key too long", method,
			    req->url);
			rc = CP_INPUT;
			goto out;
		}
		if ((nh = curl_slist_append(hdrs, auth)) == NULL) {
			rc = CP_NOMEM;
			goto out;
		}
		hdrs = nh;
	}
	switch (req->body_kind) {
	case HTTP_NONE:
		if (strcmp(method, "GET") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		break;
	case HTTP_FORM:
	case HTTP_JSON:
		if ((nh = curl_slist_append(hdrs, req->body_kind == HTTP_JSON ?
		    "Content-Type: application/json" :
		    "Content-Type: application/x-www-form-urlencoded")) == NULL) {
			rc = CP_NOMEM;
			goto out;
		}
		hdrs = nh;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		break;
	case HTTP_MULTIPART:
		if ((rc = http_build_mime(c, req, &mime)) != CP_OK)
			goto out;
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
		break;
	}
	/* No "Expect: 100-continue" round trip before an upload. */
	if ((nh = curl_slist_append(hdrs, "Expect:")) == NULL) {
		rc = CP_NOMEM;
		goto out;
	}
	hdrs = nh;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->status > 0) {
		resp->retry_after_ms = http_retry_after(c);
		http_header_copy(c, "x-request-id", resp->request_id,
		    sizeof(resp->request_id));
		http_header_copy(c, "content-type", resp->content_type,
		    sizeof(resp->content_type));
	}
	resp->body = sink.buf;
	resp->len = sink.len;
	sink.buf = NULL;
	if (sink.too_big) {
		cp_fmt(err, errlen, "%s %.200s: answer larger than %lld bytes",
		    method, req->url, req->max_bytes);
		rc = CP_UPSTREAM;
	} else if (sink.failed) {
		cp_fmt(err, errlen, "%s %.200s: could not store the answer%s%s",
		    method, req->url, sink.err_no ? ": " : "",
		    sink.err_no ? strerror(sink.err_no) : "");
		rc = req->sink != NULL ? CP_SYSTEM : CP_NOMEM;
	} else if (cc != CURLE_OK) {
		resp->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
		if (resp->timed_out)
			cp_fmt(err, errlen, "%s %.200s: timed out after %ld ms",
			    method, req->url, req->timeout_ms);
		else
			cp_fmt(err, errlen, "%s %.200s: %s", method, req->url,
			    curlerr[0] ? curlerr : curl_easy_strerror(cc));
		rc = CP_UPSTREAM;
	}
out:
	free(sink.buf);
	curl_mime_free(mime);
	curl_slist_free_all(hdrs);
	explicit_bzero(auth, sizeof(auth));
	curl_easy_cleanup(c);
	return rc;
}

void
http_response_free(struct http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

/* Is host (without brackets or port) a loopback name or address? */
static int
http_loopback(const char *host, size_t n)
{
	if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
		return 1;
	if (n == 3 && strncmp(host, "::1", 3) == 0)
		return 1;
	/* 127.0.0.0/8 written as a dotted quad. */
	if (n >= 7 && strncmp(host, "127.", 4) == 0) {
		int dots = 0;
		for (size_t i = 0; i < n; i++) {
			if (host[i] == '.')
				dots++;
			else if (!isdigit((unsigned char)host[i]))
				return 0;
		}
		return dots == 3;
	}
	return 0;
}

const char *
http_base_url_problem(const char *url, int allow_path)
{
	const char *rest, *host, *hend, *p;
	int https;

	if (strncmp(url, "https://", 8) == 0) {
		https = 1;
		rest = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		https = 0;
		rest = url + 7;
	} else
		return "must start with https:// (or http:// for a loopback host)";
	if (*rest == '\0' || *rest == '/')
		return "must name a host after the scheme";
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return "must be printable ASCII without spaces";
	if (url[strlen(url) - 1] == '/')
		return "must not end with '/'";
	host = rest;
	if (*host == '[') {
		if ((hend = strchr(host, ']')) == NULL || hend == host + 1 ||
		    strspn(host + 1, "0123456789abcdefABCDEF:.") !=
		    (size_t)(hend - host - 1))
			return "must be scheme://host[:port][/path] (bad IPv6 literal)";
		p = hend + 1;
		host++;
	} else {
		size_t hl = strspn(host, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
		if (hl == 0)
			return "must name a host after the scheme";
		hend = host + hl;
		p = hend;
	}
	if (*p == ':') {
		long port = 0;
		const char *d = p + 1;
		for (; *d >= '0' && *d <= '9' && d - p <= 5; d++)
			port = port * 10 + (*d - '0');
		if (d == p + 1 || port < 1 || port > 65535)
			return "must have a port between 1 and 65535";
		p = d;
	}
	if (*p != '\0' && *p != '/')
		return "must be scheme://host[:port][/path], with no user info";
	if (*p == '/') {
		if (!allow_path)
			return "must be scheme://host[:port], with no path";
		if (strpbrk(p, "?#") != NULL)
			return "must have no query or fragment";
		if (strstr(p, "//") != NULL)
			return "must not have an empty path segment";
	}
	if (!https && !http_loopback(host, (size_t)(hend - host)))
		return "must use https:// unless the host is loopback "
		    "(127.0.0.1, ::1, localhost): secrets never cross a network "
		    "in the clear";
	return NULL;
}
