#include "calls.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "jobkey.h"
#include "sid.h"
#include "log.h"
#include "phone.h"
#include "queue.h"

/* Final CallStatus values (TWILIO.md "CallStatus values"). */
#define CALLS_FINAL_SQL "('completed','busy','failed','no-answer','canceled')"

bool
calls_status_final(const char *status)
{
	static const char *const fin[] = { "completed", "busy", "failed",
	    "no-answer", "canceled" };
	for (size_t i = 0; i < sizeof(fin) / sizeof(fin[0]); i++)
		if (status != NULL && strcmp(status, fin[i]) == 0)
			return true;
	return false;
}

static enum cp_err
calls_exec(struct db *db, const char *sql, const struct db_param *p,
    size_t n, unsigned long long *affected)
{
	return db_exec(db, sql, p, n, NULL, affected) == CP_OK ? CP_OK : CP_DB;
}

enum cp_err
calls_ensure(struct db *db, const char *call_sid)
{
	struct db_param p[1] = { db_str(call_sid) };

	return calls_exec(db, "INSERT INTO call_log (call_sid) VALUES (?) "
	    "ON DUPLICATE KEY UPDATE call_sid = call_sid", p, 1, NULL);
}

enum cp_err
calls_business_for(struct db *db, const char *direction, const char *from,
    const char *to, long default_id, long long *business_id)
{
	const char *number = direction != NULL &&
	    strcmp(direction, "inbound") == 0 ? to : from;
	struct db_param p[1] = { db_str(number) };
	struct db_result *r = NULL;
	enum cp_err rc;

	*business_id = default_id;
	if (!phone_e164(number))
		return CP_OK;
	if (db_exec(db, "SELECT business_id FROM business_numbers "
	    "WHERE number = ?", p, 1, &r, NULL) != CP_OK)
		return CP_DB;
	rc = db_cell_ll(r, 0, 0, 1, LLONG_MAX, business_id);
	db_result_free(r);
	return rc == CP_DB ? CP_DB : CP_OK;   /* CP_NOTFOUND: no row */
}

/*
 * The voice webhook's row in one statement (no SELECT before the write):
 * created with everything when it is new, else direction and numbers
 * replaced, call_status never moved back from a final one, business_id
 * kept once set. Its business is the business_numbers row of number when
 * number is non-NULL and has one, else fallback (<= 0: NULL).
 */
static enum cp_err
calls_voice_upsert(struct db *db, const char *call_sid, const char *direction,
    const char *from, const char *to, const char *call_status,
    const char *number, long long fallback)
{
	struct db_param p[7];

	p[0] = db_str(call_sid);
	p[1] = db_str(direction);
	p[2] = db_str(from);
	p[3] = db_str(to);
	p[4] = db_str(call_status);
	p[5] = db_str(number);
	p[6] = fallback > 0 ? db_i64(fallback) : db_null();
	return calls_exec(db, "INSERT INTO call_log (call_sid, direction, "
	    "from_number, to_number, call_status, business_id) "
	    "VALUES (?, ?, ?, ?, ?, COALESCE((SELECT business_id FROM "
	    "business_numbers WHERE number = ?), ?)) "
	    "ON DUPLICATE KEY UPDATE direction = VALUES(direction), "
	    "from_number = VALUES(from_number), to_number = VALUES(to_number), "
	    "call_status = IF(call_status IN " CALLS_FINAL_SQL
	    ", call_status, COALESCE(VALUES(call_status), call_status)), "
	    "business_id = COALESCE(business_id, VALUES(business_id))",
	    p, 7, NULL);
}

enum cp_err
calls_voice(struct db *db, const char *call_sid, const char *direction,
    const char *from, const char *to, const char *call_status,
    long long business_id)
{
	return calls_voice_upsert(db, call_sid, direction, from, to,
	    call_status, NULL, business_id);
}

enum cp_err
calls_voice_business(struct db *db, const char *call_sid,
    const char *direction, const char *from, const char *to,
    const char *call_status, long default_id)
{
	const char *number = direction != NULL &&
	    strcmp(direction, "inbound") == 0 ? to : from;

	/* Same rule as calls_business_for, inside the one statement. */
	return calls_voice_upsert(db, call_sid, direction, from, to,
	    call_status, phone_e164(number) ? number : NULL, default_id);
}

enum cp_err
calls_status(struct db *db, const char *call_sid, const char *call_status,
    long call_duration)
{
	struct db_param p[4];

	p[0] = db_str(call_sid);
	p[1] = db_str(call_status);
	p[2] = call_duration >= 0 ? db_i64(call_duration) : db_null();
	p[3] = db_i64(calls_status_final(call_status) ? 1 : 0);
	/* One statement: a final status is never replaced by a late
	 * non-final one; ended_at is set by the first final status. */
	return calls_exec(db, "INSERT INTO call_log (call_sid, call_status, "
	    "call_duration, ended_at) VALUES (?, ?, ?, IF(? = 1, NOW(3), NULL)) "
	    "ON DUPLICATE KEY UPDATE "
	    "call_status = IF(call_status IN " CALLS_FINAL_SQL
	    ", call_status, VALUES(call_status)), "
	    "call_duration = COALESCE(VALUES(call_duration), call_duration), "
	    "ended_at = COALESCE(ended_at, VALUES(ended_at))", p, 4, NULL);
}

enum cp_err
calls_stream_ended(struct db *db, const char *call_sid)
{
	struct db_param p[1] = { db_str(call_sid) };

	return calls_exec(db, "INSERT INTO call_log (call_sid, stream_ended_at) "
	    "VALUES (?, NOW(3)) ON DUPLICATE KEY UPDATE stream_ended_at = "
	    "COALESCE(stream_ended_at, VALUES(stream_ended_at))", p, 1, NULL);
}

enum cp_err
calls_recording_started(struct db *db, const char *call_sid,
    const char *recording_sid)
{
	struct db_param p[2] = { db_str(call_sid), db_str(recording_sid) };

	/* A new row starts as pending, which this moves to recording. */
	return calls_exec(db, "INSERT INTO call_log (call_sid, recording_sid, "
	    "recording_started_at, recording_status) VALUES (?, ?, NOW(3), "
	    "'recording') ON DUPLICATE KEY UPDATE "
	    "recording_sid = COALESCE(recording_sid, VALUES(recording_sid)), "
	    "recording_started_at = COALESCE(recording_started_at, "
	    "VALUES(recording_started_at)), "
	    "recording_status = IF(recording_status = 'pending', 'recording', "
	    "recording_status)", p, 2, NULL);
}

enum cp_err
calls_recording_completed(struct db *db, const char *call_sid,
    const char *recording_sid, const char *recording_url, long duration_s,
    int channels, int max_attempts, bool *enqueued)
{
	struct db_param p[5];
	struct db_result *r = NULL;
	const char *st;
	char key[QUEUE_KEY_MAX + 1];
	bool open_stage;

	if (enqueued != NULL)
		*enqueued = false;
	if (calls_ensure(db, call_sid) != CP_OK)
		return CP_DB;
	p[0] = db_str(call_sid);
	/* Lock the row so two deliveries of the callback serialise here. */
	if (db_exec(db, "SELECT recording_status FROM call_log "
	    "WHERE call_sid = ? FOR UPDATE", p, 1, &r, NULL) != CP_OK)
		return CP_DB;
	st = db_cell(r, 0, 0);
	open_stage = st != NULL && (strcmp(st, "pending") == 0 ||
	    strcmp(st, "recording") == 0);
	db_result_free(r);
	if (!open_stage) {
		log_info("call %s: recording %s completed again; the stage has "
		    "ended, nothing enqueued", call_sid, recording_sid);
		return CP_OK;
	}
	p[0] = db_str(recording_sid);
	p[1] = db_str(recording_url);
	p[2] = duration_s >= 0 ? db_i64(duration_s) : db_null();
	p[3] = channels > 0 ? db_i64(channels) : db_null();
	p[4] = db_str(call_sid);
	if (calls_exec(db, "UPDATE call_log SET recording_sid = ?, "
	    "recording_url = ?, recording_duration = ?, recording_channels = ?, "
	    "recording_started_at = COALESCE(recording_started_at, NOW(3)), "
	    "recording_status = 'recording' WHERE call_sid = ? AND "
	    "recording_status IN ('pending','recording')", p, 5, NULL) != CP_OK)
		return CP_DB;
	if (jobkey_fetch(key, sizeof(key), call_sid, recording_sid, 0) != CP_OK)
		return CP_INPUT;
	return queue_enqueue(db, JOB_FETCH_RECORDING, call_sid, key,
	    max_attempts, 0, enqueued);
}

const char *
calls_stage_col(enum calls_stage s)
{
	switch (s) {
	case CALLS_RECORDING:  return "recording_status";
	case CALLS_TRANSCRIPT: return "transcript_status";
	case CALLS_SUMMARY:    return "summary_status";
	}
	return "recording_status";
}

static const char *
calls_stage_working(enum calls_stage s)
{
	return s == CALLS_RECORDING ? "recording" : "processing";
}

enum cp_err
calls_stage_failed(struct db *db, const char *call_sid, enum calls_stage stage,
    const char *reason)
{
	char sql[256];
	struct db_param p[2] = { db_strn(reason, cp_utf8_prefix(reason, CP_REASON_MAX)),
	    db_str(call_sid) };

	if (calls_ensure(db, call_sid) != CP_OK)
		return CP_DB;
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET %s = 'failed', "
	    "last_error = ? WHERE call_sid = ? AND %s IN ('pending','%s')",
	    calls_stage_col(stage), calls_stage_col(stage),
	    calls_stage_working(stage));
	log_warn("call %s: %s failed: %s", call_sid, calls_stage_col(stage),
	    reason);
	return calls_exec(db, sql, p, 2, NULL);
}

enum cp_err
calls_recording_absent(struct db *db, const char *call_sid,
    const char *recording_sid, const char *reason)
{
	struct db_param p[4] = { db_strn(reason, cp_utf8_prefix(reason,
	    CP_REASON_MAX)), db_str(recording_sid), db_str(call_sid),
	    db_str(recording_sid) };

	if (calls_ensure(db, call_sid) != CP_OK)
		return CP_DB;
	/* Only when no other recording of the call is on its way: an absent
	 * callback of one recording must not fail a fetch of another. */
	log_warn("call %s: recording %s reported absent/failed", call_sid,
	    recording_sid);
	return calls_exec(db, "UPDATE call_log SET recording_status = 'failed', "
	    "last_error = ?, recording_sid = COALESCE(recording_sid, ?) "
	    "WHERE call_sid = ? AND recording_status IN ('pending','recording') "
	    "AND (recording_url IS NULL OR recording_sid = ?)", p, 4, NULL);
}

enum cp_err
calls_note_error(struct db *db, const char *call_sid, const char *reason)
{
	struct db_param p[2] = { db_strn(reason, cp_utf8_prefix(reason, CP_REASON_MAX)),
	    db_str(call_sid) };

	return calls_exec(db, "UPDATE call_log SET last_error = ? "
	    "WHERE call_sid = ?", p, 2, NULL);
}

enum cp_err
calls_stage_start(struct db *db, const char *call_sid, enum calls_stage stage,
    bool *moved)
{
	char sql[256];
	struct db_param p[1] = { db_str(call_sid) };
	unsigned long long n = 0;

	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET %s = '%s' "
	    "WHERE call_sid = ? AND %s = 'pending'", calls_stage_col(stage),
	    calls_stage_working(stage), calls_stage_col(stage));
	if (calls_exec(db, sql, p, 1, &n) != CP_OK)
		return CP_DB;
	*moved = n > 0;
	return CP_OK;
}

enum cp_err
calls_recording_stored(struct db *db, const char *call_sid, long long bytes,
    bool *moved)
{
	struct db_param p[2] = { db_i64(bytes), db_str(call_sid) };
	unsigned long long n = 0;

	if (calls_exec(db, "UPDATE call_log SET recording_status = 'completed', "
	    "recording_stored_at = NOW(3), recording_bytes = ?, "
	    "last_error = NULL WHERE call_sid = ? AND "
	    "recording_status IN ('pending','recording')", p, 2, &n) != CP_OK)
		return CP_DB;
	*moved = n > 0;
	return CP_OK;
}

enum cp_err
calls_transcript_done(struct db *db, const char *call_sid,
    const char *transcription, const char *final_transcript,
    const char *segments_json, const char *language, bool *moved)
{
	struct db_param p[5] = { db_str(transcription), db_str(final_transcript),
	    db_str(segments_json), language && language[0] ? db_str(language) :
	    db_null(), db_str(call_sid) };
	unsigned long long n = 0;

	if (calls_exec(db, "UPDATE call_log SET transcription = ?, "
	    "final_transcript = ?, transcript_segments = ?, "
	    "transcript_language = ?, "
	    "transcript_status = 'completed', last_error = NULL "
	    "WHERE call_sid = ? AND "
	    "transcript_status IN ('pending','processing')", p, 5, &n) != CP_OK)
		return CP_DB;
	*moved = n > 0;
	return CP_OK;
}

enum cp_err
calls_summary_done(struct db *db, const char *call_sid, const char *service,
    const char *city, double confidence, const char *summary, bool *moved)
{
	struct db_param p[5] = { db_str(service), db_str(city),
	    db_dbl(confidence), db_str(summary), db_str(call_sid) };
	unsigned long long n = 0;

	if (calls_exec(db, "UPDATE call_log SET extracted_service = ?, "
	    "extracted_city = ?, extraction_confidence = ?, summary = ?, "
	    "summary_status = 'completed', last_error = NULL "
	    "WHERE call_sid = ? AND summary_status IN ('pending','processing')",
	    p, 5, &n) != CP_OK)
		return CP_DB;
	*moved = n > 0;
	return CP_OK;
}

enum cp_err
calls_get(struct db *db, const char *call_sid, struct calls_row *row)
{
	struct db_param p[1] = { db_str(call_sid) };
	struct db_result *r = NULL;
	long long retries = 0, duration = -1;
	enum cp_err rc = CP_OK;

	memset(row, 0, sizeof(*row));
	if (db_exec(db, "SELECT recording_sid, recording_url, recording_status, "
	    "transcript_status, summary_status, final_transcript IS NOT NULL, "
	    "business_id, retry_count, recording_duration, "
	    "from_number IS NOT NULL OR to_number IS NOT NULL, b.language, "
	    "c.transcript_language FROM call_log c LEFT JOIN businesses b "
	    "ON b.id = c.business_id WHERE c.call_sid = ?",
	    p, 1, &r, NULL) != CP_OK)
		return CP_DB;
	if (r->nrows == 1) {
		row->found = true;
		cp_fmt(row->recording_sid, sizeof(row->recording_sid), "%s",
		    db_cell(r, 0, 0) ? db_cell(r, 0, 0) : "");
		cp_fmt(row->recording_url, sizeof(row->recording_url), "%s",
		    db_cell(r, 0, 1) ? db_cell(r, 0, 1) : "");
		cp_fmt(row->recording_status, sizeof(row->recording_status), "%s",
		    db_cell(r, 0, 2));
		cp_fmt(row->transcript_status, sizeof(row->transcript_status),
		    "%s", db_cell(r, 0, 3));
		cp_fmt(row->summary_status, sizeof(row->summary_status), "%s",
		    db_cell(r, 0, 4));
		row->final_transcript_present = db_cell(r, 0, 5)[0] == '1';
		row->voice_seen = db_cell(r, 0, 9)[0] == '1';
		cp_fmt(row->business_language, sizeof(row->business_language),
		    "%s", db_cell(r, 0, 10) ? db_cell(r, 0, 10) : "");
		cp_fmt(row->transcript_language, sizeof(row->transcript_language),
		    "%s", db_cell(r, 0, 11) ? db_cell(r, 0, 11) : "");
		/* NULL business_id stays 0, NULL recording_duration -1. */
		if (db_cell_ll(r, 0, 6, 1, LLONG_MAX, &row->business_id) == CP_DB ||
		    db_cell_ll(r, 0, 7, 0, INT_MAX, &retries) != CP_OK ||
		    db_cell_ll(r, 0, 8, 0, LONG_MAX, &duration) == CP_DB)
			rc = CP_DB;
		row->retry_count = (int)retries;
		row->recording_duration = (long)duration;
	}
	db_result_free(r);
	return rc;
}

enum cp_err
calls_get_transcript(struct db *db, const char *call_sid, char **transcript)
{
	struct db_param p[1] = { db_str(call_sid) };
	struct db_result *r = NULL;
	const char *v;

	*transcript = NULL;
	if (db_exec(db, "SELECT final_transcript FROM call_log "
	    "WHERE call_sid = ?", p, 1, &r, NULL) != CP_OK)
		return CP_DB;
	if ((v = db_cell(r, 0, 0)) != NULL && (*transcript = strdup(v)) == NULL) {
		db_result_free(r);
		return CP_NOMEM;
	}
	db_result_free(r);
	return CP_OK;
}

enum cp_err
calls_retry_reset(struct db *db, const char *call_sid, int want,
    enum calls_stage *stage, int *retry_count, char *recording_sid)
{
	/* Pipeline order: the SELECT's columns 0..2 are the stages. */
	static const enum calls_stage order[] = { CALLS_RECORDING,
	    CALLS_TRANSCRIPT, CALLS_SUMMARY };
	struct db_param p[2] = { db_str(call_sid) };
	struct db_result *r = NULL;
	const char *rec_sid, *rec_url;
	char sql[400];
	long long prev;
	size_t i, len;
	int n;

	recording_sid[0] = '\0';
	for (i = 0; want >= 0 && i < sizeof(order) / sizeof(order[0]); i++)
		if ((int)order[i] == want)
			break;
	if (want < -1 || i == sizeof(order) / sizeof(order[0]))
		return CP_INPUT;   /* no such stage */
	if (want >= 0)
		*stage = order[i];
	if (db_exec(db, "SELECT recording_status, transcript_status, "
	    "summary_status, recording_sid, recording_url, retry_count "
	    "FROM call_log WHERE call_sid = ? FOR UPDATE", p, 1, &r,
	    NULL) != CP_OK)
		return CP_DB;
	if (r->nrows == 0) {
		db_result_free(r);
		return CP_NOTFOUND;
	}
	if (db_cell_ll(r, 0, 5, 0, INT_MAX - 1, &prev) != CP_OK) {
		db_result_free(r);
		return CP_DB;
	}
	n = (int)prev + 1;
	/* want: that stage must be failed; -1: the first failed one. */
	if (want < 0)
		for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
			if (strcmp(db_cell(r, 0, i), "failed") == 0)
				break;
	if (i == sizeof(order) / sizeof(order[0]) ||
	    strcmp(db_cell(r, 0, i), "failed") != 0) {
		db_result_free(r);
		return CP_INPUT;
	}
	*stage = order[i];
	rec_sid = db_cell(r, 0, 3);
	rec_url = db_cell(r, 0, 4);
	if (rec_sid != NULL && rec_url != NULL && sid_valid(rec_sid, "RE"))
		memcpy(recording_sid, rec_sid, SID_LEN + 1);
	db_result_free(r);
	/* "UPDATE call_log SET <stage> = 'pending', <later> = 'pending', ..." */
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET ");
	for (size_t k = i; k < sizeof(order) / sizeof(order[0]); k++) {
		len = strlen(sql);
		cp_fmt(sql + len, sizeof(sql) - len, "%s = 'pending', ",
		    calls_stage_col(order[k]));
	}
	len = strlen(sql);
	cp_fmt(sql + len, sizeof(sql) - len, "retry_count = ?, last_error = "
	    "NULL WHERE call_sid = ?");
	p[0] = db_i64(n);
	p[1] = db_str(call_sid);
	if (calls_exec(db, sql, p, 2, NULL) != CP_OK)
		return CP_DB;
	*retry_count = n;
	log_info("call %s: retry %d of the %s stage", call_sid, n,
	    calls_stage_col(*stage));
	return CP_OK;
}
