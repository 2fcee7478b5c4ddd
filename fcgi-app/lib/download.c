#include "download.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "form.h"
#include "log.h"
#include "sid.h"
#include "store.h"

/* Seconds after which a fetch that failed is worth trying again. */
#define DOWNLOAD_RETRY_AFTER_S 10

/* Maps a Bearer token to its business. CP_AUTH when unknown or revoked. */
static enum cp_err
download_auth(struct req *r, long long *business_id)
{
	const char *tok = auth_bearer_token(req_param(r, "HTTP_AUTHORIZATION"));
	char hash[AUTH_SHA256_HEX + 1];
	struct db_result *res = NULL;
	struct db_param p[1];
	enum cp_err rc;

	if (tok == NULL)
		return CP_AUTH;
	if (auth_sha256_hex(tok, strlen(tok), hash) != CP_OK)
		return CP_SYSTEM;
	p[0] = db_str(hash);
	if (db_exec(r->db, "SELECT business_id FROM api_tokens WHERE "
	    "token_sha256 = ? AND revoked_at IS NULL", p, 1, &res, NULL) != CP_OK)
		return CP_DB;
	rc = db_cell_ll(res, 0, 0, 1, LLONG_MAX, business_id);
	db_result_free(res);
	if (rc != CP_OK)
		return rc == CP_NOTFOUND ? CP_AUTH : CP_DB;
	(void)db_exec(r->db, "UPDATE api_tokens SET last_used_at = NOW(3) "
	    "WHERE token_sha256 = ?", p, 1, NULL, NULL);
	return CP_OK;
}

void
download_handle(struct req *r, const char *call_sid)
{
	const struct cp_conf *conf = r->conf;
	enum store_format fmt = STORE_WAV;
	struct form q = { NULL, 0 };
	struct db_result *res = NULL;
	struct db_param p[1];
	long long business = 0, owner, bytes = 0;
	long long age_s, retention_s;
	char path[4096], hdr[1024], err[CP_REASON_MAX + 1] = "";
	const char *v, *rsid, *rurl, *rstatus;
	enum cp_err rc;

	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		req_json_error(r, 405, "method not allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	rc = download_auth(r, &business);
	if (rc == CP_AUTH) {
		req_json_error(r, 401, "missing or unknown API token",
		    "WWW-Authenticate: Bearer realm=\"callpipe\"\r\n");
		return;
	}
	if (rc != CP_OK) {
		log_error("download: token lookup failed: %s", db_error(r->db));
		req_json_error(r, 503, "database unavailable",
		    "Retry-After: 10\r\n");
		return;
	}
	if (!sid_valid(call_sid, "CA")) {
		req_json_error(r, 400, "malformed call sid", NULL);
		return;
	}
	if (form_parse(r->query, strlen(r->query), &q) != CP_OK) {
		req_json_error(r, 400, "malformed query string", NULL);
		return;
	}
	v = form_get(&q, "format");
	if (v != NULL && strcmp(v, "mp3") == 0)
		fmt = STORE_MP3;
	else if (v != NULL && strcmp(v, "wav") != 0) {
		form_free(&q);
		req_json_error(r, 400, "format must be wav or mp3", NULL);
		return;
	}
	form_free(&q);

	p[0] = db_str(call_sid);
	if (db_exec(r->db, "SELECT business_id, recording_status, recording_sid, "
	    "recording_url, TIMESTAMPDIFF(SECOND, COALESCE(ended_at, created_at), "
	    "NOW(3)) FROM call_log WHERE call_sid = ?", p, 1, &res,
	    NULL) != CP_OK) {
		log_error("download %s: %s", call_sid, db_error(r->db));
		req_json_error(r, 503, "database unavailable", "Retry-After: 10\r\n");
		return;
	}
	/* Another business's call, or one with no business yet, is 404 as
	 * if it did not exist (DESIGN.md §6). */
	if (db_cell_ll(res, 0, 0, 1, LLONG_MAX, &owner) != CP_OK ||
	    owner != business) {
		db_result_free(res);
		req_json_error(r, 404, "call not found", NULL);
		return;
	}
	rstatus = db_cell(res, 0, 1);
	rsid = db_cell(res, 0, 2);
	rurl = db_cell(res, 0, 3);
	/* COALESCE(ended_at, created_at) is never NULL: created_at is NOT
	 * NULL. An unreadable age is past retention: fail closed. */
	if (db_cell_ll(res, 0, 4, LLONG_MIN, LLONG_MAX, &age_s) != CP_OK)
		age_s = LLONG_MAX;
	retention_s = (long long)conf->recording.retention_days * 86400;
	if (age_s > retention_s) {
		db_result_free(res);
		req_json_error(r, 410, "recording is past the retention period",
		    NULL);
		return;
	}
	if (rstatus == NULL || strcmp(rstatus, "completed") != 0 ||
	    rsid == NULL) {
		db_result_free(res);
		req_json_error(r, 404, "recording not available", NULL);
		return;
	}
	rc = store_ensure(conf, rurl, rsid, fmt, conf->recording.fetch_timeout_ms,
	    path, sizeof(path), &bytes, err, sizeof(err));
	if (rc != CP_OK) {
		log_error("download %s: %s", call_sid, err);
		db_result_free(res);
		if (rc == CP_AGAIN || rc == CP_UPSTREAM) {
			cp_fmt(hdr, sizeof(hdr), "Retry-After: %d\r\n",
			    DOWNLOAD_RETRY_AFTER_S);
			req_json_error(r, 503, "recording temporarily unavailable "
			    "from Twilio", hdr);
		} else
			req_json_error(r, 500, "recording could not be served",
			    NULL);
		return;
	}
	/* nginx serves the bytes (Range, sendfile) from its internal
	 * location; the headers here are kept on the final answer. */
	cp_fmt(hdr, sizeof(hdr), "X-Accel-Redirect: %s%s.%s\r\n"
	    "Cache-Control: private, max-age=0\r\n"
	    "Content-Disposition: inline; filename=\"%s.%s\"\r\n",
	    conf->recording.nginx_internal_prefix, rsid, store_ext(fmt),
	    call_sid, store_ext(fmt));
	db_result_free(res);
	r->status = 200;
	FCGX_FPrintF(r->fr->out, "Status: 200 OK\r\nContent-Type: %s\r\n%s\r\n",
	    store_content_type(fmt), hdr);
}
