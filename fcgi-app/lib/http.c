#include "http.h"

#include <curl/curl.h>
#include <string.h>

struct http_sink {
	FILE     *out;
	long long written;
	long long max;
	int       too_big;
};

static size_t
http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_sink *s = arg;
	size_t n = size * nmemb;

	if (s->written + (long long)n > s->max) {
		s->too_big = 1;
		return 0;   /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (fwrite(ptr, 1, n, s->out) != n)
		return 0;
	s->written += (long long)n;
	return n;
}

enum cp_err
http_get_to_file(const char *url, const char *user, const char *pass,
    long timeout_ms, FILE *out, long long max_bytes, long *status,
    char *err, size_t errlen)
{
	struct http_sink sink = { out, 0, max_bytes, 0 };
	char curlerr[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;

	*status = 0;
	if ((c = curl_easy_init()) == NULL)
		return CP_NOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms < 5000 ? timeout_ms : 5000L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "callpipe/0.1");
	if (user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass ? pass : "");
		/* Credentials go to the first host only, not to a redirect. */
		curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	if (sink.too_big) {
		cp_fmt(err, errlen, "GET %.200s: larger than %lld bytes", url,
		    max_bytes);
		return CP_UPSTREAM;
	}
	if (cc != CURLE_OK) {
		cp_fmt(err, errlen, "GET %.200s: %s", url,
		    curlerr[0] ? curlerr : curl_easy_strerror(cc));
		return CP_UPSTREAM;
	}
	return CP_OK;
}
