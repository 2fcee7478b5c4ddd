/*
 * twilio_api.c: Twilio's REST API (see twilio_api.h).
 */
#include "twilio_api.h"

#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "cp_num.h"
#include "http.h"

/* REST documents are small; a recording list of a call is a few KiB. */
#define TWILIO_JSON_MAX (1024 * 1024)

/* GETs path (after api_base) as JSON into *root (json_object_put it). */
static enum cp_err
twilio_get_json(const struct cp_conf *conf, const char *path,
    const char *what, struct json_object **root, char *err, size_t errlen)
{
	struct http_request req = { 0 };
	struct http_response resp;
	char url[1024];
	enum cp_err rc;
	int n;

	*root = NULL;
	n = snprintf(url, sizeof(url), "%s%s", conf->twilio.api_base, path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		cp_fmt(err, errlen, "%s: URL too long", what);
		return CP_INPUT;
	}
	req.method = "GET";
	req.url = url;
	req.basic_user = conf->twilio.account_sid;
	req.basic_pass = conf->twilio.auth_token;
	req.timeout_ms = conf->twilio.request_timeout_ms;
	req.max_bytes = TWILIO_JSON_MAX;
	rc = http_request(&req, &resp, err, errlen);
	if (rc == CP_OK && resp.status != 200) {
		rc = CP_UPSTREAM;
		cp_fmt(err, errlen, "Twilio answered HTTP %ld to %s", resp.status,
		    what);
	}
	if (rc == CP_OK && (resp.body == NULL ||
	    (*root = json_tokener_parse(resp.body)) == NULL)) {
		rc = CP_UPSTREAM;
		cp_fmt(err, errlen, "%s from Twilio is not JSON", what);
	}
	http_response_free(&resp);
	return rc;
}

static const char *
twilio_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Copies a string field that fits, else leaves out "". */
static void
twilio_copy(struct json_object *o, const char *key, char *out, size_t outlen)
{
	const char *v = twilio_json_str(o, key);

	out[0] = '\0';
	if (v != NULL && strlen(v) < outlen)
		memcpy(out, v, strlen(v) + 1);
}

enum cp_err
twilio_call_recordings(const struct cp_conf *conf, const char *call_sid,
    struct twilio_recording *out, int *n, char *err, size_t errlen)
{
	struct json_object *root = NULL, *list;
	char path[256];
	enum cp_err rc;

	*n = 0;
	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	cp_fmt(path, sizeof(path), "/2010-04-01/Accounts/%s/Calls/%s/"
	    "Recordings.json", conf->twilio.account_sid, call_sid);
	if ((rc = twilio_get_json(conf, path, "the call's recording list",
	    &root, err, errlen)) != CP_OK)
		return rc;
	if (!json_object_object_get_ex(root, "recordings", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		json_object_put(root);
		cp_fmt(err, errlen, "Twilio's recording list has no recordings "
		    "array");
		return CP_UPSTREAM;
	}
	for (size_t i = 0; i < json_object_array_length(list) &&
	    *n < TWILIO_LIST_MAX; i++) {
		struct json_object *r = json_object_array_get_idx(list, i), *v;
		struct twilio_recording *t = &out[*n];
		const char *sid = twilio_json_str(r, "sid");
		const char *d = twilio_json_str(r, "duration");
		long long dur;

		if (!sid_valid(sid, "RE"))
			continue;
		memset(t, 0, sizeof(*t));
		memcpy(t->sid, sid, SID_LEN + 1);
		twilio_copy(r, "status", t->status, sizeof(t->status));
		/* duration is a string in the API; null or "-1" while
		 * processing (TWILIO.md). */
		t->duration_s = d != NULL && cp_parse_ll(d, 0, 1000000, &dur) ==
		    CP_OK ? (long)dur : -1;
		t->channels = json_object_object_get_ex(r, "channels", &v) ?
		    json_object_get_int(v) : 0;
		if (t->channels < 1 || t->channels > 2)
			t->channels = 0;
		(*n)++;
	}
	json_object_put(root);
	return CP_OK;
}

enum cp_err
twilio_fetch_call(const struct cp_conf *conf, const char *call_sid,
    struct twilio_call *out, char *err, size_t errlen)
{
	struct json_object *root = NULL;
	const char *dir;
	char path[256];
	enum cp_err rc;

	memset(out, 0, sizeof(*out));
	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	cp_fmt(path, sizeof(path), "/2010-04-01/Accounts/%s/Calls/%s.json",
	    conf->twilio.account_sid, call_sid);
	if ((rc = twilio_get_json(conf, path, "the Call resource", &root, err,
	    errlen)) != CP_OK)
		return rc;
	twilio_copy(root, "from", out->from, sizeof(out->from));
	twilio_copy(root, "to", out->to, sizeof(out->to));
	if ((dir = sid_token(twilio_json_str(root, "direction"))) != NULL)
		cp_fmt(out->direction, sizeof(out->direction), "%s", dir);
	if ((dir = sid_token(twilio_json_str(root, "status"))) != NULL)
		cp_fmt(out->status, sizeof(out->status), "%s", dir);
	/* duration: a string of whole seconds, null until the call ended
	 * (OpenAPI api.v2010.account.call). */
	{
		const char *d = twilio_json_str(root, "duration");
		long long dur;
		out->duration_s = d != NULL && cp_parse_ll(d, 0, 1000000, &dur) ==
		    CP_OK ? (long)dur : -1;
	}
	json_object_put(root);
	return CP_OK;
}

/* Appends s percent-encoded for a form value (RFC 3986 unreserved kept,
 * space as %20) to buf (cap bytes, *len used). CP_INPUT when full. */
static enum cp_err
twilio_form_append(char *buf, size_t cap, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
		if (*len + (plain ? 1 : 3) >= cap)
			return CP_INPUT;
		if (plain)
			buf[(*len)++] = (char)*p;
		else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[*p >> 4];
			buf[(*len)++] = hex[*p & 15];
		}
	}
	buf[*len] = '\0';
	return CP_OK;
}

enum cp_err
twilio_start_recording(const struct cp_conf *conf, const char *call_sid,
    const char *callback_url, struct twilio_start *out, char *err,
    size_t errlen)
{
	/* name, value; NULL value: callback_url. */
	static const char *const fields[][2] = {
		{ "RecordingChannels", "dual" },
		{ "Trim", "do-not-trim" },
		{ "RecordingStatusCallback", NULL },
		{ "RecordingStatusCallbackMethod", "POST" },
		{ "RecordingStatusCallbackEvent", "in-progress completed absent" },
	};
	struct http_request req = { 0 };
	struct http_response resp;
	struct json_object *root = NULL, *v;
	char url[1024], body[4096];
	size_t len = 0;
	enum cp_err rc = CP_OK;

	memset(out, 0, sizeof(*out));
	body[0] = '\0';
	if (!sid_valid(call_sid, "CA") || callback_url == NULL)
		return CP_INPUT;
	cp_fmt(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Calls/%s/"
	    "Recordings.json", conf->twilio.api_base, conf->twilio.account_sid,
	    call_sid);
	/* name=value pairs joined by "&"; names and values encoded. */
	for (size_t i = 0; rc == CP_OK && i < sizeof(fields) / sizeof(fields[0]);
	    i++) {
		if (i > 0 && len + 1 < sizeof(body))
			body[len++] = '&';
		rc = twilio_form_append(body, sizeof(body), &len, fields[i][0]);
		if (rc == CP_OK && len + 1 < sizeof(body))
			body[len++] = '=';
		if (rc == CP_OK)
			rc = twilio_form_append(body, sizeof(body), &len,
			    fields[i][1] != NULL ? fields[i][1] : callback_url);
	}
	if (rc != CP_OK || strlen(url) + 1 >= sizeof(url)) {
		cp_fmt(err, errlen, "the recording start request is too long");
		return CP_INPUT;
	}
	req.method = "POST";
	req.url = url;
	req.body_kind = HTTP_FORM;
	req.body = body;
	req.body_len = len;
	req.basic_user = conf->twilio.account_sid;
	req.basic_pass = conf->twilio.auth_token;
	req.timeout_ms = conf->twilio.request_timeout_ms;
	req.max_bytes = TWILIO_JSON_MAX;
	if ((rc = http_request(&req, &resp, err, errlen)) != CP_OK) {
		http_response_free(&resp);
		return rc == CP_INPUT || rc == CP_NOMEM ? rc : CP_UPSTREAM;
	}
	out->status = resp.status;
	if (resp.body != NULL && (root = json_tokener_parse(resp.body)) != NULL) {
		const char *sid = twilio_json_str(root, "sid");
		if (resp.status == 201 && sid_valid(sid, "RE"))
			memcpy(out->sid, sid, SID_LEN + 1);
		if (json_object_object_get_ex(root, "code", &v) &&
		    json_object_is_type(v, json_type_int))
			out->code = (long)json_object_get_int64(v);
		twilio_copy(root, "message", out->message, sizeof(out->message));
		json_object_put(root);
	}
	http_response_free(&resp);
	return CP_OK;
}

enum cp_err
twilio_fetch_media(const struct cp_conf *conf, const char *media_url,
    FILE *out, long timeout_ms, long long max_bytes, long *status,
    char *err, size_t errlen)
{
	struct http_request req = { 0 };
	struct http_response resp;
	enum cp_err rc;

	req.method = "GET";
	req.url = media_url;
	req.basic_user = conf->twilio.account_sid;
	req.basic_pass = conf->twilio.auth_token;
	req.timeout_ms = timeout_ms;
	req.max_bytes = max_bytes;
	req.max_redirects = 3;
	req.sink = out;
	rc = http_request(&req, &resp, err, errlen);
	*status = resp.status;
	http_response_free(&resp);
	return rc;
}

enum cp_err
twilio_delete_recording(const struct cp_conf *conf, const char *recording_sid,
    long *status, char *err, size_t errlen)
{
	struct http_request req = { 0 };
	struct http_response resp;
	char url[1024];
	enum cp_err rc;
	int n;

	*status = 0;
	if (!sid_valid(recording_sid, "RE"))
		return CP_INPUT;
	n = snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Recordings/"
	    "%s.json", conf->twilio.api_base, conf->twilio.account_sid,
	    recording_sid);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		cp_fmt(err, errlen, "recording delete: URL too long");
		return CP_INPUT;
	}
	req.method = "DELETE";
	req.url = url;
	req.basic_user = conf->twilio.account_sid;
	req.basic_pass = conf->twilio.auth_token;
	req.timeout_ms = conf->twilio.request_timeout_ms;
	req.max_bytes = TWILIO_JSON_MAX;
	rc = http_request(&req, &resp, err, errlen);
	*status = resp.status;
	if (rc == CP_OK && resp.status != 204 && resp.status != 404) {
		rc = CP_UPSTREAM;
		cp_fmt(err, errlen, "Twilio answered HTTP %ld to the delete of "
		    "recording %s", resp.status, recording_sid);
	}
	http_response_free(&resp);
	return rc;
}
