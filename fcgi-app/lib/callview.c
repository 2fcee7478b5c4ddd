/*
 * callview.c: the read side of call_log and jobs for the browser API
 * (callview.h). A call's JSON fields are one table (callview_cols); the
 * SELECT list is built from it, so the two never drift apart.
 */
#define _XOPEN_SOURCE 700  /* strptime */
#include "callview.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp_num.h"

enum cv_type {
	CV_STR,     /* string or null */
	CV_INT,     /* integer or null */
	CV_TIME,    /* DATETIME -> ISO-8601 UTC or null */
	CV_DEC,     /* DECIMAL -> number (its digits kept) or null */
	CV_BOOL,    /* 0/1 -> false/true */
	CV_JSON,    /* JSON text -> parsed value, or null */
	CV_HIDDEN   /* read for the cursor, not shown */
};

/* The call's fields: JSON key, SQL expression, type. The first
 * CALLVIEW_NLIST rows are the list's; the rest only the detail's. */
static const struct {
	const char  *key;
	const char  *sql;
	enum cv_type type;
} callview_cols[] = {
	{ "call_sid",              "c.call_sid",              CV_STR },
	{ "direction",             "c.direction",             CV_STR },
	{ "from_number",           "c.from_number",           CV_STR },
	{ "to_number",             "c.to_number",             CV_STR },
	{ "call_status",           "c.call_status",           CV_STR },
	{ "call_duration",         "c.call_duration",         CV_INT },
	{ "created_at",            "c.created_at",            CV_TIME },
	{ "ended_at",              "c.ended_at",              CV_TIME },
	{ "recording_status",      "c.recording_status",      CV_STR },
	{ "transcript_status",     "c.transcript_status",     CV_STR },
	{ "summary_status",        "c.summary_status",        CV_STR },
	{ "last_error",            "c.last_error",            CV_STR },
	{ "retry_count",           "c.retry_count",           CV_INT },
	{ "extracted_service",     "c.extracted_service",     CV_STR },
	{ "extracted_city",        "c.extracted_city",        CV_STR },
	{ "extraction_confidence", "c.extraction_confidence", CV_DEC },
	{ "has_recording",         "c.recording_status = 'completed'", CV_BOOL },
	{ "id",                    "c.id",                    CV_HIDDEN },
	{ "created_ms",            "CAST(UNIX_TIMESTAMP(c.created_at) * 1000 AS UNSIGNED)", CV_HIDDEN },
	/* detail only */
	{ "transcription",         "c.transcription",         CV_JSON },
	{ "final_transcript",      "c.final_transcript",      CV_STR },
	{ "transcript_segments",   "c.transcript_segments",   CV_JSON },
	{ "transcript_language",   "c.transcript_language",   CV_STR },
	{ "summary",               "c.summary",               CV_STR },
};

#define CALLVIEW_NLIST 19  /* rows of callview_cols in the list */
#define CALLVIEW_NALL  (sizeof(callview_cols) / sizeof(callview_cols[0]))
#define CALLVIEW_COL_ID 17
#define CALLVIEW_COL_MS 18


enum cp_err
callview_iso(const char *t, char out[32])
{
	size_t n;

	/* "YYYY-MM-DD HH:MM:SS" then ".fff" (DATETIME(3)) or nothing. */
	if (t == NULL || (n = strlen(t)) < 19 || t[10] != ' ')
		return CP_INPUT;
	if (n == 19)
		snprintf(out, 32, "%.10sT%.8s.000Z", t, t + 11);
	else if (n >= 23 && t[19] == '.')
		snprintf(out, 32, "%.10sT%.12sZ", t, t + 11);
	else
		return CP_INPUT;
	return CP_OK;
}

enum cp_err
callview_time_parse(const char *iso, char out[32])
{
	struct tm tm, back;
	const char *rest;
	char frac[7] = "000000";
	size_t i = 0;
	time_t t;

	if (iso == NULL)
		return CP_INPUT;
	memset(&tm, 0, sizeof(tm));
	/* strptime accepts fewer digits and spaces; the shape is checked
	 * first so only RFC 3339's fixed-width fields pass. */
	if (strlen(iso) < 20 || iso[4] != '-' || iso[7] != '-' ||
	    iso[10] != 'T' || iso[13] != ':' || iso[16] != ':')
		return CP_INPUT;
	for (int k = 0; k < 19; k++)
		if (k != 4 && k != 7 && k != 10 && k != 13 && k != 16 &&
		    (iso[k] < '0' || iso[k] > '9'))
			return CP_INPUT;
	rest = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL || rest != iso + 19)
		return CP_INPUT;
	if (*rest == '.') {
		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			if (i < 6)
				frac[i++] = *rest;
			else
				return CP_INPUT;
		if (i == 0)
			return CP_INPUT;
	}
	if (strcmp(rest, "Z") != 0)
		return CP_INPUT;
	/* An impossible date or time (Feb 30, second 60 or 61, which glibc's
	 * strptime takes) comes back from timegm as another one. */
	back = tm;
	if ((t = timegm(&back)) == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon ||
	    back.tm_hour != tm.tm_hour || back.tm_min != tm.tm_min ||
	    back.tm_sec != tm.tm_sec)
		return CP_INPUT;
	/* The fields were checked digit by digit above: 19 bytes + 7. */
	memcpy(out, iso, 19);
	out[10] = ' ';
	out[19] = '.';
	memcpy(out + 20, frac, 7);
	return CP_OK;
}

enum cp_err
callview_cursor_parse(const char *s, struct callview_filter *f)
{
	char ms[24];
	const char *dash;

	if (s == NULL || (dash = strchr(s, '-')) == NULL ||
	    (size_t)(dash - s) >= sizeof(ms))
		return CP_INPUT;
	memcpy(ms, s, (size_t)(dash - s));
	ms[dash - s] = '\0';
	if (cp_parse_ll(ms, 0, LLONG_MAX, &f->cursor_ms) != CP_OK ||
	    cp_parse_ll(dash + 1, 1, LLONG_MAX, &f->cursor_id) != CP_OK)
		return CP_INPUT;
	f->has_cursor = true;
	return CP_OK;
}

/* Appends the SELECT list of the first n columns to sql (len bytes). */
static void
callview_select(char *sql, size_t len, size_t n)
{
	size_t used = strlen(sql);

	for (size_t i = 0; i < n; i++) {
		cp_fmt(sql + used, len - used, "%s%s", i ? ", " : "",
		    callview_cols[i].sql);
		used = strlen(sql);
	}
}

/* One column's JSON value, or NULL for null (json-c's null). */
static struct json_object *
callview_value(const struct db_result *res, size_t row, size_t col)
{
	const char *v = db_cell(res, row, col);
	char iso[32];
	long long n;

	if (v == NULL)
		return NULL;
	switch (callview_cols[col].type) {
	case CV_STR:
		return json_object_new_string(v);
	case CV_INT:
		return cp_parse_ll(v, LLONG_MIN, LLONG_MAX, &n) == CP_OK ?
		    json_object_new_int64(n) : NULL;
	case CV_TIME:
		return callview_iso(v, iso) == CP_OK ?
		    json_object_new_string(iso) : NULL;
	case CV_DEC:
		return json_object_new_double_s(strtod(v, NULL), v);
	case CV_BOOL:
		return json_object_new_boolean(v[0] == '1');
	case CV_JSON:
		return json_tokener_parse(v);
	case CV_HIDDEN:
		break;
	}
	return NULL;
}

/* The row'th call of res (its first ncols columns) as a new object. */
static struct json_object *
callview_object(const struct db_result *res, size_t row, size_t ncols)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	for (size_t c = 0; c < ncols; c++)
		if (callview_cols[c].type != CV_HIDDEN)
			json_object_object_add(o, callview_cols[c].key,
			    callview_value(res, row, c));
	return o;
}

/* The WHERE of a state filter over one status column (or all three). */
static void
callview_state_sql(char *sql, size_t len, enum callview_state st, int stage)
{
	size_t used = strlen(sql);

	if (st == CALLVIEW_ANY)
		return;
	if (stage >= 0 && stage <= CALLS_SUMMARY) {
		const char *c = calls_stage_col((enum calls_stage)stage);
		cp_fmt(sql + used, len - used,
		    st == CALLVIEW_FAILED ? " AND c.%s = 'failed'" :
		    st == CALLVIEW_COMPLETED ? " AND c.%s = 'completed'" :
		    " AND c.%s NOT IN ('failed', 'completed')", c);
		return;
	}
	cp_fmt(sql + used, len - used, "%s",
	    st == CALLVIEW_FAILED ? " AND 'failed' IN (c.recording_status, "
	    "c.transcript_status, c.summary_status)" :
	    st == CALLVIEW_COMPLETED ? " AND c.recording_status = 'completed' "
	    "AND c.transcript_status = 'completed' AND c.summary_status = "
	    "'completed'" :
	    " AND 'failed' NOT IN (c.recording_status, c.transcript_status, "
	    "c.summary_status) AND NOT (c.recording_status = 'completed' AND "
	    "c.transcript_status = 'completed' AND c.summary_status = "
	    "'completed')");
}

const char *
callview_list_sql(const struct callview_filter *f)
{
	static char sql[2048];
	size_t used;

	cp_fmt(sql, sizeof(sql), "SELECT ");
	callview_select(sql, sizeof(sql), CALLVIEW_NLIST);
	used = strlen(sql);
	/* FORCE INDEX: every list is one business's, and with
	 * ix_call_log_created (the DBAs' newest-first index) the optimizer may
	 * walk all businesses' calls in time order instead, which for a small
	 * business reads most of the table to fill one page. */
	cp_fmt(sql + used, sizeof(sql) - used, " FROM call_log c FORCE INDEX "
	    "(ix_call_log_business_created) WHERE c.business_id = ?%s%s",
	    f->since ? " AND c.created_at >= ?" : "",
	    f->phone ? " AND (c.from_number = ? OR c.to_number = ?)" : "");
	callview_state_sql(sql, sizeof(sql), f->state, f->stage);
	used = strlen(sql);
	/* (created_at, id) < cursor, written so that created_at alone bounds
	 * the index range. FROM_UNIXTIME reads the session's '+00:00'. */
	if (f->has_cursor)
		cp_fmt(sql + used, sizeof(sql) - used, " AND c.created_at <= "
		    "FROM_UNIXTIME(? / 1000) AND (c.created_at < FROM_UNIXTIME(? / "
		    "1000) OR c.id < ?)");
	used = strlen(sql);
	cp_fmt(sql + used, sizeof(sql) - used,
	    " ORDER BY c.created_at DESC, c.id DESC LIMIT ?");
	return sql;
}

enum cp_err
callview_list(struct db *db, long long business_id,
    const struct callview_filter *f, struct json_object **calls, char *next)
{
	struct db_param p[9];
	struct db_result *res = NULL;
	struct json_object *a;
	size_t np = 0, shown;
	const char *sql = callview_list_sql(f);

	*calls = NULL;
	next[0] = '\0';
	p[np++] = db_i64(business_id);
	if (f->since)
		p[np++] = db_str(f->since);
	if (f->phone) {
		p[np++] = db_str(f->phone);
		p[np++] = db_str(f->phone);
	}
	if (f->has_cursor) {
		p[np++] = db_i64(f->cursor_ms);
		p[np++] = db_i64(f->cursor_ms);
		p[np++] = db_i64(f->cursor_id);
	}
	/* One row more than the page tells whether a next page exists. */
	p[np++] = db_i64((long long)f->limit + 1);
	if (db_exec(db, sql, p, np, &res, NULL) != CP_OK)
		return CP_DB;
	if ((a = json_object_new_array()) == NULL) {
		db_result_free(res);
		return CP_NOMEM;
	}
	shown = res->nrows > (size_t)f->limit ? (size_t)f->limit : res->nrows;
	for (size_t i = 0; i < shown; i++)
		json_object_array_add(a, callview_object(res, i, CALLVIEW_NLIST));
	if (res->nrows > (size_t)f->limit && shown > 0) {
		const char *ms = db_cell(res, shown - 1, CALLVIEW_COL_MS);
		const char *id = db_cell(res, shown - 1, CALLVIEW_COL_ID);
		/* UNIX_TIMESTAMP is NULL past its range (2038 before MariaDB
		 * 11.5): no page could follow, so that is the server's error. */
		if (ms == NULL || id == NULL) {
			json_object_put(a);
			db_result_free(res);
			return CP_DB;
		}
		cp_fmt(next, CALLVIEW_CURSOR_MAX + 1, "%s-%s", ms, id);
	}
	db_result_free(res);
	*calls = a;
	return CP_OK;
}

/* The call's jobs, oldest first, as a JSON array. */
static enum cp_err
callview_jobs(struct db *db, const char *call_sid, struct json_object **out)
{
	static const char *const keys[] = { "kind", "state", "attempts",
	    "max_attempts", "last_error", "run_after", "created_at",
	    "updated_at" };
	struct db_param p[1] = { db_str(call_sid) };
	struct db_result *res = NULL;
	struct json_object *a;
	char iso[32];
	long long n;

	if (db_exec(db, "SELECT kind, state, attempts, max_attempts, last_error, "
	    "run_after, created_at, updated_at FROM jobs WHERE call_sid = ? "
	    "ORDER BY id", p, 1, &res, NULL) != CP_OK)
		return CP_DB;
	if ((a = json_object_new_array()) == NULL) {
		db_result_free(res);
		return CP_NOMEM;
	}
	for (size_t i = 0; i < res->nrows; i++) {
		struct json_object *o = json_object_new_object();
		for (size_t c = 0; c < sizeof(keys) / sizeof(keys[0]); c++) {
			const char *v = db_cell(res, i, c);
			struct json_object *j = NULL;
			if (v != NULL && (c == 2 || c == 3))
				j = cp_parse_ll(v, 0, LLONG_MAX, &n) == CP_OK ?
				    json_object_new_int64(n) : NULL;
			else if (v != NULL && c >= 5)
				j = callview_iso(v, iso) == CP_OK ?
				    json_object_new_string(iso) : NULL;
			else if (v != NULL)
				j = json_object_new_string(v);
			json_object_object_add(o, keys[c], j);
		}
		json_object_array_add(a, o);
	}
	db_result_free(res);
	*out = a;
	return CP_OK;
}

enum cp_err
callview_get(struct db *db, long long business_id, const char *call_sid,
    bool detail, struct json_object **call)
{
	char sql[2048] = "SELECT ";
	struct db_param p[2] = { db_str(call_sid), db_i64(business_id) };
	struct db_result *res = NULL;
	struct json_object *o, *jobs = NULL;
	size_t n = detail ? CALLVIEW_NALL : CALLVIEW_NLIST, used;
	enum cp_err rc;

	*call = NULL;
	callview_select(sql, sizeof(sql), n);
	used = strlen(sql);
	cp_fmt(sql + used, sizeof(sql) - used, " FROM call_log c WHERE "
	    "c.call_sid = ? AND c.business_id = ?");
	if (db_exec(db, sql, p, 2, &res, NULL) != CP_OK)
		return CP_DB;
	if (res->nrows != 1) {
		db_result_free(res);
		return CP_NOTFOUND;
	}
	o = callview_object(res, 0, n);
	db_result_free(res);
	if (o == NULL)
		return CP_NOMEM;
	if (detail) {
		if ((rc = callview_jobs(db, call_sid, &jobs)) != CP_OK) {
			json_object_put(o);
			return rc;
		}
		json_object_object_add(o, "jobs", jobs);
	}
	*call = o;
	return CP_OK;
}

enum cp_err
callview_business(struct db *db, const char *call_sid, long long *business_id)
{
	struct db_param p[1] = { db_str(call_sid) };
	struct db_result *res = NULL;
	enum cp_err rc;

	if (db_exec(db, "SELECT business_id FROM call_log WHERE call_sid = ?",
	    p, 1, &res, NULL) != CP_OK)
		return CP_DB;
	rc = db_cell_ll(res, 0, 0, 1, LLONG_MAX, business_id);
	db_result_free(res);
	return rc == CP_DB ? CP_DB : rc;
}

enum cp_err
callview_download_get(struct db *db, long long business_id,
    const char *call_sid, struct callview_download *out)
{
	struct db_param p[2] = { db_str(call_sid), db_i64(business_id) };
	struct db_result *res = NULL;

	memset(out, 0, sizeof(*out));
	if (db_exec(db, "SELECT recording_status, recording_sid, recording_url, "
	    "TIMESTAMPDIFF(SECOND, COALESCE(ended_at, created_at), NOW(3)), "
	    "recording_deleted_at IS NOT NULL "
	    "FROM call_log WHERE call_sid = ? AND business_id = ?", p, 2, &res,
	    NULL) != CP_OK)
		return CP_DB;
	if (res->nrows != 1) {
		db_result_free(res);
		return CP_NOTFOUND;
	}
	cp_fmt(out->recording_status, sizeof(out->recording_status), "%s",
	    db_cell(res, 0, 0) ? db_cell(res, 0, 0) : "");
	cp_fmt(out->recording_sid, sizeof(out->recording_sid), "%s",
	    db_cell(res, 0, 1) ? db_cell(res, 0, 1) : "");
	cp_fmt(out->recording_url, sizeof(out->recording_url), "%s",
	    db_cell(res, 0, 2) ? db_cell(res, 0, 2) : "");
	/* COALESCE(ended_at, created_at) is never NULL: created_at is NOT
	 * NULL. An unreadable age is past retention: fail closed. */
	if (db_cell_ll(res, 0, 3, LLONG_MIN, LLONG_MAX, &out->age_s) != CP_OK)
		out->age_s = LLONG_MAX;
	out->deleted = db_cell(res, 0, 4) == NULL ||
	    strcmp(db_cell(res, 0, 4), "0") != 0;
	db_result_free(res);
	return CP_OK;
}

enum cp_err
callview_stage_status(struct db *db, long long business_id,
    const char *call_sid, enum calls_stage stage, char *status)
{
	char sql[128];
	struct db_param p[2] = { db_str(call_sid), db_i64(business_id) };
	struct db_result *res = NULL;

	if ((int)stage < 0 || stage > CALLS_SUMMARY)
		return CP_INPUT;
	cp_fmt(sql, sizeof(sql), "SELECT %s FROM call_log WHERE call_sid = ? "
	    "AND business_id = ?", calls_stage_col(stage));
	if (db_exec(db, sql, p, 2, &res, NULL) != CP_OK)
		return CP_DB;
	if (res->nrows != 1 || db_cell(res, 0, 0) == NULL) {
		db_result_free(res);
		return CP_NOTFOUND;
	}
	cp_fmt(status, 16, "%s", db_cell(res, 0, 0));
	db_result_free(res);
	return CP_OK;
}
