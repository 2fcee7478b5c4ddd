/*
 * callview.h: the read side of call_log and jobs for the browser API
 * (api.c, download.c): a call as JSON, the keyset-paginated list, and the
 * few columns the download route needs. Only SELECTs; the status moves stay
 * in calls.c. Every read is scoped to one business (a call of another
 * business is CP_NOTFOUND, as if it did not exist: DESIGN.md §6) but
 * callview_business, which is how the owner is found.
 *
 * Timestamps are ISO-8601 UTC with milliseconds and "Z"
 * ("2026-12-01T11:00:00.123Z"); the connection's time_zone is '+00:00'
 * (db.h), so DATETIME values are UTC.
 */
#ifndef CP_CALLVIEW_H
#define CP_CALLVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include "calls.h"
#include "cp_err.h"
#include "db.h"

struct json_object;

/* The list's state filter (GET /api/calls?state=). */
enum callview_state {
	CALLVIEW_ANY = 0,
	CALLVIEW_FAILED,       /* a stage (or the chosen one) failed */
	CALLVIEW_IN_PROGRESS,  /* neither failed nor completed */
	CALLVIEW_COMPLETED     /* all stages (or the chosen one) completed */
};

#define CALLVIEW_CURSOR_MAX 48  /* bytes of a cursor, without the NUL */

struct callview_filter {
	const char         *phone;       /* E.164: from_number or to_number; NULL any */
	enum callview_state state;
	int                 stage;       /* enum calls_stage, or -1: all stages */
	const char         *since;       /* "YYYY-MM-DD HH:MM:SS.fff" UTC, or NULL */
	int                 limit;       /* 1 .. 200 */
	bool                has_cursor;  /* continue after (cursor_ms, cursor_id) */
	long long           cursor_ms;   /* created_at, ms since the epoch */
	long long           cursor_id;   /* call_log.id */
};

/*
 * The business of call_sid into *business_id. CP_OK; CP_NOTFOUND (no such
 * call, or a call without a business); CP_DB.
 */
enum cp_err callview_business(struct db *db, const char *call_sid,
    long long *business_id);

/* What the download route needs of a call of business_id. */
struct callview_download {
	char      recording_status[16];
	char      recording_sid[40];   /* "" when none */
	char      recording_url[520];  /* "" when none */
	long long age_s;               /* seconds since it ended (or began) */
	bool      deleted;             /* recording_deleted_at set: the purge
	                                  deleted it at Twilio */
};

/* CP_OK; CP_NOTFOUND (no such call in business_id); CP_DB. */
enum cp_err callview_download_get(struct db *db, long long business_id,
    const char *call_sid, struct callview_download *out);

/*
 * One page of the business's calls, newest first (created_at DESC, id
 * DESC), as a JSON array into *calls (caller puts it), and the cursor of
 * the next page into next (CALLVIEW_CURSOR_MAX + 1 bytes; "" on the last
 * page). Keyset pagination (no OFFSET): a page starts after the cursor's
 * (created_at, id), so calls that arrive meanwhile never shift a page; the
 * index ix_call_log_business_created (business_id, created_at, and id as
 * InnoDB appends the primary key) serves the order. CP_OK; CP_DB; CP_NOMEM.
 */
enum cp_err callview_list(struct db *db, long long business_id,
    const struct callview_filter *f, struct json_object **calls,
    char *next);

/* The SQL of callview_list for f (for tests that EXPLAIN it): a static
 * buffer, overwritten by the next call. */
const char *callview_list_sql(const struct callview_filter *f);

/*
 * Parses a cursor of callview_list ("<ms>-<id>") into f. CP_OK or
 * CP_INPUT.
 */
enum cp_err callview_cursor_parse(const char *s, struct callview_filter *f);

/*
 * The call as a JSON object into *call (caller puts it): the list's fields,
 * and with detail also transcription, final_transcript,
 * transcript_segments, transcript_language, summary and the call's jobs.
 * CP_OK; CP_NOTFOUND (not a call of business_id); CP_DB; CP_NOMEM.
 */
enum cp_err callview_get(struct db *db, long long business_id,
    const char *call_sid, bool detail, struct json_object **call);

/* A stage's status of call_sid of business_id into status (16 bytes).
 * CP_OK, CP_NOTFOUND (not a call of business_id), CP_DB. */
enum cp_err callview_stage_status(struct db *db, long long business_id,
    const char *call_sid, enum calls_stage stage, char *status);

/*
 * "YYYY-MM-DD HH:MM:SS[.fff]" (a DATETIME as MariaDB prints it) as
 * ISO-8601 UTC "YYYY-MM-DDTHH:MM:SS.fffZ" into out (32 bytes). CP_OK or
 * CP_INPUT.
 */
enum cp_err callview_iso(const char *sql_time, char out[32]);

/*
 * The other way, for ?since=: "YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z" (RFC 3339,
 * UTC only) into "YYYY-MM-DD HH:MM:SS.ffffff" (out, 32 bytes). CP_OK, or
 * CP_INPUT for any other shape or an impossible date or time (a leap
 * second 60 too: MariaDB's DATETIME has none).
 */
enum cp_err callview_time_parse(const char *iso, char out[32]);

#endif
