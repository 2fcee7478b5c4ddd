/*
 * ctl_ops.c: callpipectl status, calls list/show, queue list/retry-dead
 * (ctl_ops.h). Read-only but for retry-dead; every query is bounded by a
 * LIMIT or served by an index named beside it.
 */
#include "ctl_ops.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "cp_num.h"
#include "jobs.h"
#include "phone.h"
#include "sid.h"

/* A DATETIME(3) column as ISO-8601 UTC with milliseconds (the session is
 * '+00:00', db.h), NULL staying NULL. */
#define CTL_ISO(c) "CONCAT(LEFT(DATE_FORMAT(" c ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"
/* The same inside a cp_fmt format. */
#define CTL_ISO_F(c) "CONCAT(LEFT(DATE_FORMAT(" c ", '%%Y-%%m-%%dT%%H:%%i:%%s.%%f'), 23), 'Z')"

#define CTL_LIMIT_MAX 1000

/* Prints row r of res as one tab-separated line, columns 0..ncols-1. */
static void
ctl_print_row(const struct db_result *res, size_t r)
{
	for (size_t c = 0; c < res->ncols; c++) {
		if (c > 0)
			putchar('\t');
		ctl_print_field(db_cell(res, r, c));
	}
	putchar('\n');
}

/* Runs sql with p[0..np-1] on a new connection and prints header, then
 * each row as a tab-separated line. Returns 0, or 1 after "callpipectl:
 * <name>: <database error>" on stderr (nothing on stdout). */
static int
ctl_query_print(const struct cp_conf *conf, const char *name,
    const char *header, const char *sql, const struct db_param *p, size_t np)
{
	struct db_result *res = NULL;
	struct db *db;

	if ((db = ctl_db(conf)) == NULL)
		return 1;
	if (db_exec(db, sql, p, np, &res, NULL) != CP_OK) {
		fprintf(stderr, "callpipectl: %s: %s\n", name, db_error(db));
		db_close(db);
		return 1;
	}
	db_close(db);
	printf("%s\n", header);
	for (size_t r = 0; r < res->nrows; r++)
		ctl_print_row(res, r);
	db_result_free(res);
	return 0;
}

/* Parses "--limit N" at argv[*i] into *limit (1..CTL_LIMIT_MAX). Returns
 * 1 when argv[*i] is --limit and N good (*i moved past N), 0 when it is
 * not --limit, 2 after the usage message when N is missing or bad. */
static int
ctl_opt_limit(const char *name, int argc, char **argv, int *i, int *limit)
{
	long long n;

	if (strcmp(argv[*i], "--limit") != 0)
		return 0;
	if (*i + 1 >= argc || cp_parse_ll(argv[*i + 1], 1, CTL_LIMIT_MAX, &n) !=
	    CP_OK)
		return ctl_arg_error(name, "--limit takes a number of rows, 1 to "
		    "%d", CTL_LIMIT_MAX);
	*limit = (int)n;
	*i += 1;
	return 1;
}

/* Parses "--kind K" like ctl_opt_limit: K must be a kind of jobs.c's
 * table (a typo would match nothing and say nothing). */
static int
ctl_opt_kind(const char *name, int argc, char **argv, int *i,
    const char **kind)
{
	char known[512] = "";
	size_t used = 0;

	if (strcmp(argv[*i], "--kind") != 0)
		return 0;
	if (*i + 1 < argc && jobs_find(argv[*i + 1]) != NULL) {
		*kind = argv[++*i];
		return 1;
	}
	for (const struct job_kind *k = jobs_kinds; k->kind != NULL; k++) {
		cp_fmt(known + used, sizeof(known) - used, "%s%s",
		    used ? ", " : "", k->kind);
		used = strlen(known);
	}
	return ctl_arg_error(name, "--kind takes a job kind (%s)", known);
}

/* ------------------------------------------------------------ status */

/* Every value of each stage's ENUM (schema/001_init.sql), in pipeline
 * order, so a status no call has yet is printed as 0. */
static const struct {
	const char        *stage;
	enum calls_stage   col;
	const char *const *statuses;
} ctl_stages[] = {
	{ "recording", CALLS_RECORDING, (const char *const[]){ "pending",
	    "recording", "completed", "failed", NULL } },
	{ "transcript", CALLS_TRANSCRIPT, (const char *const[]){ "pending",
	    "processing", "completed", "failed", NULL } },
	{ "summary", CALLS_SUMMARY, (const char *const[]){ "pending",
	    "processing", "completed", "failed", NULL } },
};
#define CTL_NSTAGES (sizeof(ctl_stages) / sizeof(ctl_stages[0]))

/* Counts per status of one stage: GROUP BY over the stage's leading index
 * (ix_call_log_sweep_*), an index-only scan. */
static int
ctl_status_stage(struct db *db, size_t s)
{
	struct db_result *res = NULL;
	char sql[256];
	const char *col = calls_stage_col(ctl_stages[s].col);

	cp_fmt(sql, sizeof(sql), "SELECT %s, COUNT(*) FROM call_log GROUP BY "
	    "%s", col, col);
	if (db_exec(db, sql, NULL, 0, &res, NULL) != CP_OK) {
		fprintf(stderr, "callpipectl: status: %s\n", db_error(db));
		return 1;
	}
	for (const char *const *st = ctl_stages[s].statuses; *st != NULL; st++) {
		const char *n = "0";
		for (size_t r = 0; r < res->nrows; r++)
			if (db_cell(res, r, 0) != NULL &&
			    strcmp(db_cell(res, r, 0), *st) == 0)
				n = db_cell(res, r, 1);
		printf("%s\t%s\t%s\n", ctl_stages[s].stage, *st, n);
	}
	db_result_free(res);
	return 0;
}

int
ctl_status(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	struct db_result *res = NULL;
	struct db *db;
	int rc = 0;

	if (argc != 0)
		return ctl_arg_error(name, "takes no arguments, not '%s'", argv[0]);
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	printf("stage\tstatus\tcalls\n");
	for (size_t s = 0; s < CTL_NSTAGES && rc == 0; s++)
		rc = ctl_status_stage(db, s);
	/* Done jobs (most of the table) are never read: the state range of
	 * ix_jobs_claim (state, run_after, id). */
	if (rc == 0 && db_exec(db, "SELECT kind, SUM(state = 'queued'), "
	    "SUM(state = 'queued' AND run_after <= UTC_TIMESTAMP(3)), "
	    "SUM(state = 'running'), SUM(state = 'dead'), "
	    "TIMESTAMPDIFF(SECOND, MIN(CASE WHEN state = 'queued' AND run_after "
	    "<= UTC_TIMESTAMP(3) THEN run_after END), UTC_TIMESTAMP(3)) "
	    "FROM jobs WHERE state IN ('queued', 'running', 'dead') "
	    "GROUP BY kind ORDER BY kind", NULL, 0, &res, NULL) != CP_OK) {
		fprintf(stderr, "callpipectl: status: %s\n", db_error(db));
		rc = 1;
	}
	db_close(db);
	if (rc != 0)
		return rc;
	printf("\nkind\tqueued\tdue\trunning\tdead\toldest_due_age_s\n");
	/* Every kind of this build, then any other the table holds. */
	for (const struct job_kind *k = jobs_kinds; k->kind != NULL; k++) {
		size_t r;
		for (r = 0; r < res->nrows; r++)
			if (strcmp(db_cell(res, r, 0), k->kind) == 0)
				break;
		if (r < res->nrows)
			ctl_print_row(res, r);
		else
			printf("%s\t0\t0\t0\t0\t-\n", k->kind);
	}
	for (size_t r = 0; r < res->nrows; r++)
		if (jobs_find(db_cell(res, r, 0)) == NULL)
			ctl_print_row(res, r);
	db_result_free(res);
	return 0;
}

/* ------------------------------------------------------------ calls */

/*
 * Where calls list finds its calls, newest first, without walking the
 * whole table for a filter few calls pass:
 *   neither     ix_call_log_created, stopping at the limit;
 *   --phone     the number's calls as caller and as called, each branch
 *               along ix_call_log_from_created / ix_call_log_to_created
 *               (008_ctl_phone.sql) stopping at the limit, --failed
 *               tested there;
 *   --failed    the failed calls of each stage, each branch a range on
 *               its status index (ix_call_log_sweep_*): as many rows as
 *               calls failed.
 * The branches' ids are then joined to their rows (STRAIGHT_JOIN and the
 * primary key: the optimizer must not scan call_log to probe the few ids)
 * and ordered again.
 */
#define CTL_CALLS_COLS "c.call_sid, " CTL_ISO_F("c.created_at") ", " \
	"c.business_id, c.direction, c.from_number, c.to_number, " \
	"c.call_status, c.recording_status, c.transcript_status, " \
	"c.summary_status, c.last_error"
#define CTL_FAILED_ANY "'failed' IN (recording_status, transcript_status, " \
	"summary_status)"

int
ctl_calls_list(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	const char *phone = NULL;
	bool failed = false;
	int limit = 20, got;
	struct db_param p[5];
	size_t np = 0;
	char sql[2048];

	for (int i = 0; i < argc; i++) {
		if ((got = ctl_opt_limit(name, argc, argv, &i, &limit)) == 2)
			return 2;
		if (got == 1)
			continue;
		if (strcmp(argv[i], "--failed") == 0)
			failed = true;
		else if (strcmp(argv[i], "--phone") == 0 && i + 1 < argc) {
			phone = argv[++i];
			if (!phone_e164(phone))
				return ctl_arg_error(name, "--phone %s is not an E.164 "
				    "number ('+', a digit 1-9, 2 to 15 digits in all)",
				    phone);
		} else
			return ctl_bad_arg(name, argv[i]);
	}
	if (phone) {
		cp_fmt(sql, sizeof(sql), "SELECT STRAIGHT_JOIN " CTL_CALLS_COLS " FROM (("
		    "SELECT id FROM call_log FORCE INDEX (ix_call_log_from_created) "
		    "WHERE from_number = ?%s ORDER BY created_at DESC, id DESC "
		    "LIMIT ?) UNION (SELECT id FROM call_log FORCE INDEX "
		    "(ix_call_log_to_created) WHERE to_number = ?%s ORDER BY "
		    "created_at DESC, id DESC LIMIT ?)) m JOIN call_log c FORCE "
		    "INDEX (PRIMARY) ON c.id = m.id ORDER BY c.created_at DESC, "
		    "c.id DESC LIMIT ?",
		    failed ? " AND " CTL_FAILED_ANY : "",
		    failed ? " AND " CTL_FAILED_ANY : "");
		p[np++] = db_str(phone);
		p[np++] = db_i64(limit);
		p[np++] = db_str(phone);
		p[np++] = db_i64(limit);
	} else if (failed)
		cp_fmt(sql, sizeof(sql), "SELECT STRAIGHT_JOIN " CTL_CALLS_COLS " FROM ("
		    "SELECT id FROM call_log WHERE recording_status = 'failed' "
		    "UNION SELECT id FROM call_log WHERE transcript_status = "
		    "'failed' UNION SELECT id FROM call_log WHERE summary_status = "
		    "'failed') m JOIN call_log c FORCE INDEX (PRIMARY) ON c.id = "
		    "m.id ORDER BY c.created_at DESC, c.id DESC LIMIT ?");
	else
		cp_fmt(sql, sizeof(sql), "SELECT " CTL_CALLS_COLS " FROM call_log "
		    "c FORCE INDEX (ix_call_log_created) ORDER BY c.created_at "
		    "DESC, c.id DESC LIMIT ?");
	p[np++] = db_i64(limit);
	return ctl_query_print(conf, name, "call_sid\tcreated\tbusiness\t"
	    "direction\tfrom\tto\tcall_status\trecording\ttranscript\tsummary\t"
	    "last_error", sql, p, np);
}

/* The call_log columns calls show prints, in this order: the name shown,
 * the SQL, and whether it is a block of text (printed after the fields,
 * each line indented by two spaces). */
static const struct {
	const char *name;
	const char *sql;
	bool        block;
} ctl_show_cols[] = {
	{ "call_sid",                  "call_sid", false },
	{ "business_id",               "business_id", false },
	{ "direction",                 "direction", false },
	{ "from_number",               "from_number", false },
	{ "to_number",                 "to_number", false },
	{ "call_status",               "call_status", false },
	{ "call_duration_s",           "call_duration", false },
	{ "created_at",                CTL_ISO("created_at"), false },
	{ "updated_at",                CTL_ISO("updated_at"), false },
	{ "ended_at",                  CTL_ISO("ended_at"), false },
	{ "stream_ended_at",           CTL_ISO("stream_ended_at"), false },
	{ "recording_status",          "recording_status", false },
	{ "recording_sid",             "recording_sid", false },
	{ "recording_url",             "recording_url", false },
	{ "recording_duration_s",      "recording_duration", false },
	{ "recording_channels",        "recording_channels", false },
	{ "recording_started_at",      CTL_ISO("recording_started_at"), false },
	{ "recording_start_offset_ms", "recording_start_offset_ms", false },
	{ "recording_stored_at",       CTL_ISO("recording_stored_at"), false },
	{ "recording_bytes",           "recording_bytes", false },
	{ "recording_audio_ms",        "recording_audio_ms", false },
	{ "recording_coverage",        "recording_coverage", false },
	{ "recording_coverage_low",    "recording_coverage_low", false },
	{ "recording_deleted_at",      CTL_ISO("recording_deleted_at"), false },
	{ "transcript_status",         "transcript_status", false },
	{ "transcript_language",       "transcript_language", false },
	{ "transcription_bytes",       "LENGTH(transcription)", false },
	{ "transcript_segments_bytes", "LENGTH(transcript_segments)", false },
	{ "transcript_purged_at",      CTL_ISO("transcript_purged_at"), false },
	{ "summary_status",            "summary_status", false },
	{ "extracted_service",         "extracted_service", false },
	{ "extracted_city",            "extracted_city", false },
	{ "extraction_confidence",     "extraction_confidence", false },
	{ "last_error",                "last_error", false },
	{ "retry_count",               "retry_count", false },
	{ "legacy_upgraded_at",        CTL_ISO("legacy_upgraded_at"), false },
	{ "summary",                   "summary", true },
	{ "final_transcript",          "final_transcript", true },
};
#define CTL_NSHOW (sizeof(ctl_show_cols) / sizeof(ctl_show_cols[0]))

/* A block field: "name:" then each line of s indented ("  -" for NULL). */
static void
ctl_print_block(const char *name, const char *s)
{
	printf("%s:\n", name);
	if (s == NULL || *s == '\0') {
		printf("  -\n");
		return;
	}
	fputs("  ", stdout);
	for (; *s != '\0'; s++) {
		if (*s == '\n') {
			fputs(s[1] != '\0' ? "\n  " : "", stdout);
			continue;
		}
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	}
	putchar('\n');
}

int
ctl_calls_show(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	struct db_result *row = NULL, *jobs = NULL;
	struct db_param p[1];
	struct db *db;
	char sql[4096];
	size_t used;

	if (argc != 1 || argv[0][0] == '-')
		return ctl_arg_error(name, "takes one CALL_SID");
	if (!sid_valid(argv[0], "CA"))
		return ctl_arg_error(name, "%s is not a CallSid (CA + 32 hex)",
		    argv[0]);
	cp_fmt(sql, sizeof(sql), "SELECT ");
	for (size_t i = 0; i < CTL_NSHOW; i++) {
		used = strlen(sql);
		cp_fmt(sql + used, sizeof(sql) - used, "%s%s", i ? ", " : "",
		    ctl_show_cols[i].sql);
	}
	used = strlen(sql);
	cp_fmt(sql + used, sizeof(sql) - used, " FROM call_log WHERE call_sid = ?");
	p[0] = db_str(argv[0]);
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	/* ux_call_log_call_sid, then ix_jobs_call_sid. */
	if (db_exec(db, sql, p, 1, &row, NULL) != CP_OK ||
	    db_exec(db, "SELECT id, kind, state, attempts, max_attempts, "
	    CTL_ISO("run_after") ", " CTL_ISO("updated_at") ", locked_by, "
	    "last_error FROM jobs WHERE call_sid = ? ORDER BY id", p, 1, &jobs,
	    NULL) != CP_OK) {
		fprintf(stderr, "callpipectl: %s: %s\n", name, db_error(db));
		db_result_free(row);
		db_close(db);
		return 1;
	}
	db_close(db);
	if (row->nrows == 0) {
		fprintf(stderr, "callpipectl: %s: no call %s\n", name, argv[0]);
		db_result_free(row);
		db_result_free(jobs);
		return 1;
	}
	for (size_t i = 0; i < CTL_NSHOW; i++) {
		if (ctl_show_cols[i].block)
			continue;
		printf("%s\t", ctl_show_cols[i].name);
		ctl_print_field(db_cell(row, 0, i));
		putchar('\n');
	}
	for (size_t i = 0; i < CTL_NSHOW; i++)
		if (ctl_show_cols[i].block)
			ctl_print_block(ctl_show_cols[i].name, db_cell(row, 0, i));
	printf("jobs:\nid\tkind\tstate\tattempts\tmax_attempts\trun_after\t"
	    "updated_at\tlocked_by\tlast_error\n");
	for (size_t r = 0; r < jobs->nrows; r++)
		ctl_print_row(jobs, r);
	db_result_free(row);
	db_result_free(jobs);
	return 0;
}

/* ------------------------------------------------------------ queue */

int
ctl_queue_list(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	const char *kind = NULL;
	bool dead = false;
	int limit = 50, got;
	struct db_param p[2];
	size_t np = 0;
	char sql[1024];

	for (int i = 0; i < argc; i++) {
		if ((got = ctl_opt_limit(name, argc, argv, &i, &limit)) == 2)
			return 2;
		if (got == 0 && (got = ctl_opt_kind(name, argc, argv, &i, &kind)) ==
		    2)
			return 2;
		if (got == 1)
			continue;
		if (strcmp(argv[i], "--dead") == 0)
			dead = true;
		else
			return ctl_bad_arg(name, argv[i]);
	}
	/* Live jobs: the state range of ix_jobs_claim (state, run_after, id),
	 * few rows; dead ones newest first along ix_jobs_finished (state,
	 * updated_at). */
	cp_fmt(sql, sizeof(sql), "SELECT id, kind, state, attempts, "
	    "max_attempts, " CTL_ISO_F("run_after") ", " CTL_ISO_F("updated_at")
	    ", call_sid, locked_by, last_error FROM jobs WHERE %s%s ORDER BY %s "
	    "LIMIT ?", dead ? "state = 'dead'" : "state IN ('queued', 'running')",
	    kind ? " AND kind = ?" : "",
	    dead ? "updated_at DESC, id DESC" : "run_after, id");
	if (kind)
		p[np++] = db_str(kind);
	p[np++] = db_i64(limit);
	return ctl_query_print(conf, name, "id\tkind\tstate\tattempts\t"
	    "max_attempts\trun_after\tupdated_at\tcall_sid\tlocked_by\t"
	    "last_error", sql, p, np);
}

#define CTL_REVIVE_BATCH 500

struct ctl_revive {
	const struct cp_conf *conf;
	const char        *kind;       /* NULL: every kind */
	unsigned long long before_id;  /* keyset: ids below this */
	unsigned long long last_id;    /* the batch's lowest */
	int                jobs;       /* this batch's */
	int                stages;
	int                restarted;  /* of stages: by jobs_retry_stage */
	int                superseded; /* left dead: their stage is not failed */
	bool               more;       /* the batch was full */
};

static enum cp_err
ctl_revive_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct ctl_revive *v = arg;
	struct db_param p[3];
	struct db_result *res = NULL;
	size_t np = 0;
	long long id;

	/* db_tx may run this again: only the caller moves before_id. */
	v->jobs = v->stages = v->restarted = v->superseded = 0;
	v->more = false;
	v->last_id = v->before_id;
	p[np++] = db_i64((long long)v->before_id);
	if (v->kind)
		p[np++] = db_str(v->kind);
	p[np++] = db_i64(CTL_REVIVE_BATCH);
	/* Newest first, so of a stage's dead jobs (a manual retry's, the
	 * sweep's, the first one) the last to be made is the one revived.
	 * ix_jobs_finished (state, updated_at, id) holds the dead ones. */
	if (db_exec(db, v->kind ? "SELECT id, kind, call_sid FROM jobs WHERE "
	    "state = 'dead' AND id < ? AND kind = ? ORDER BY id DESC LIMIT ? "
	    "FOR UPDATE" : "SELECT id, kind, call_sid FROM jobs WHERE state = "
	    "'dead' AND id < ? ORDER BY id DESC LIMIT ? FOR UPDATE", p, np, &res,
	    NULL) != CP_OK) {
		cp_fmt(err, errlen, "%s", db_error(db));
		return CP_DB;
	}
	v->more = res->nrows == CTL_REVIVE_BATCH;
	for (size_t r = 0; r < res->nrows; r++) {
		const struct job_kind *k = jobs_find(db_cell(res, r, 1));
		const char *sid = db_cell(res, r, 2);
		unsigned long long n = 0;
		char sql[256];

		if (db_cell_ll(res, r, 0, 1, LLONG_MAX, &id) != CP_OK) {
			db_result_free(res);
			cp_fmt(err, errlen, "jobs.id is not an id");
			return CP_DB;
		}
		v->last_id = (unsigned long long)id;
		/*
		 * The dead job failed its stage (worker.c), and a stage still
		 * failed would make the worker skip the job as finished: it
		 * goes back to pending. A job of a stage that is not failed
		 * (a retry or a later job of the stage has run or runs now, or
		 * another dead job of it was revived just now) stays dead:
		 * revived, it would run the stage a second time beside that.
		 */
		/*
		 * A kind that does not restart its stage (start_recording: the
		 * call has ended; reconcile, when the recording is known now):
		 * the stage is restarted as callpipectl retry does it (a
		 * retry_count + 1 and the stage's own job under its new key),
		 * and the dead job stays dead.
		 */
		if (k != NULL && !k->stageless && !k->restarts && sid != NULL &&
		    *sid != '\0') {
			enum calls_stage stage;
			int retry;
			enum cp_err rc = jobs_retry_stage(db, v->conf, sid,
			    (int)k->stage, &stage, &retry);

			if (rc == CP_DB)
				goto db_fail;
			if (rc != CP_OK) {   /* not failed, or no such call */
				v->superseded++;
				continue;
			}
			v->stages++;
			v->restarted++;
			continue;
		}
		if (k != NULL && !k->stageless && sid != NULL && *sid != '\0') {
			cp_fmt(sql, sizeof(sql), "UPDATE call_log SET %s = "
			    "'pending' WHERE call_sid = ? AND %s = 'failed'",
			    calls_stage_col(k->stage), calls_stage_col(k->stage));
			p[0] = db_str(sid);
			if (db_exec(db, sql, p, 1, NULL, &n) != CP_OK)
				goto db_fail;
			if (n == 0) {
				v->superseded++;
				continue;
			}
			v->stages += (int)n;
		}
		p[0] = db_i64(id);
		if (db_exec(db, "UPDATE jobs SET state = 'queued', attempts = 0, "
		    "run_after = UTC_TIMESTAMP(3), locked_by = NULL, locked_until "
		    "= NULL WHERE id = ? AND state = 'dead'", p, 1, NULL, &n) !=
		    CP_OK)
			goto db_fail;
		v->jobs += (int)n;
	}
	db_result_free(res);
	return CP_OK;
db_fail:
	cp_fmt(err, errlen, "%s", db_error(db));
	db_result_free(res);
	return CP_DB;
}

int
ctl_queue_retry_dead(const struct cp_conf *conf, const char *name,
    int argc, char **argv)
{
	struct ctl_revive v = { conf, NULL, LLONG_MAX, 0, 0, 0, 0, 0, false };
	char err[CP_REASON_MAX + 1] = "";
	int jobs = 0, stages = 0, restarted = 0, superseded = 0, got;
	struct db *db;
	enum cp_err rc;

	for (int i = 0; i < argc; i++) {
		if ((got = ctl_opt_kind(name, argc, argv, &i, &v.kind)) == 2)
			return 2;
		if (got == 0)
			return ctl_bad_arg(name, argv[i]);
	}
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	do {
		rc = db_tx(db, ctl_revive_tx, &v, err, sizeof(err));
		if (rc == CP_OK) {
			v.before_id = v.last_id;
			jobs += v.jobs;
			stages += v.stages;
			restarted += v.restarted;
			superseded += v.superseded;
		}
	} while (rc == CP_OK && v.more);
	db_close(db);
	/* What committed stays committed: the counts say how far it got. */
	printf("%d dead job(s) queued again with attempts reset; %d failed "
	    "stage(s) back to pending, %d of them restarted by a new job as "
	    "retry does; %d left dead (their stage is not failed)\n", jobs,
	    stages, restarted, superseded);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: %s: %s\n", name, err[0] ? err :
		    cp_strerror(rc));
		return 1;
	}
	return 0;
}
