#include "legacy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "log.h"
#include "migrate.h"

/*
 * The upgrade writes call_log exactly as 001_init.sql creates it with
 * 003_call_log_widths.sql applied; these are the files it was written
 * for (their SHA-256, as schema_migrations records them). A recorded
 * migration never changes (migrate.h), so a mismatch means a checkout
 * whose upgrade table below is stale.
 */
static const struct legacy_file {
	long        version;
	const char *sha256;
} legacy_files[] = {
	{ 1, "fee0913f86c95ac38c289121c66ef5845b02205a4bf237a65638d2cc001f5bc5" },
	{ 3, "0dcb185c720406630defd11fb2d0a6032600c90657ea883e4c3bb203d31b2108" },
};

#define LG_UTF8 "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci "
#define LG_REC_ENUM "ENUM('pending','recording','completed','failed')"
#define LG_STAGE_ENUM "ENUM('pending','processing','completed','failed')"

/*
 * call_log after 001 + 003, in its column order: the definition the
 * copying ALTER gives each column, and the one a column missing from the
 * legacy table is first added with (ALGORITHM=INSTANT; NULL: the same).
 * A missing status is added NULL so that the batches can tell "not
 * inferred yet" from pending. fit: the most characters the column takes
 * (0: no limit to check), ascii: the column is CHARACTER SET ascii.
 */
static const struct legacy_col {
	const char *name;
	const char *def;
	const char *add;
	int         fit;
	bool        ascii;
} legacy_cols[] = {
	{ "id", "BIGINT UNSIGNED NOT NULL AUTO_INCREMENT", NULL, 0, false },
	{ "call_sid", "CHAR(34) CHARACTER SET ascii NOT NULL", NULL, 34, true },
	{ "business_id", "BIGINT UNSIGNED NULL", NULL, 0, false },
	{ "direction", "VARCHAR(32) CHARACTER SET ascii NULL", NULL, 32, true },
	{ "from_number", "VARCHAR(64) " LG_UTF8 "NULL", NULL, 64, false },
	{ "to_number", "VARCHAR(64) " LG_UTF8 "NULL", NULL, 64, false },
	{ "call_status", "VARCHAR(32) CHARACTER SET ascii NULL", NULL, 32, true },
	{ "call_duration", "INT UNSIGNED NULL COMMENT 'seconds'", NULL, 0, false },
	{ "recording_sid", "CHAR(34) CHARACTER SET ascii NULL", NULL, 34, true },
	{ "recording_url", "VARCHAR(512) " LG_UTF8 "NULL", NULL, 512, false },
	{ "recording_duration", "INT UNSIGNED NULL COMMENT 'seconds'", NULL, 0,
	  false },
	{ "recording_channels", "TINYINT UNSIGNED NULL", NULL, 0, false },
	{ "recording_status", LG_REC_ENUM " NOT NULL DEFAULT 'pending'",
	  LG_REC_ENUM " NULL", 0, false },
	{ "transcription", "MEDIUMTEXT " LG_UTF8 "NULL COMMENT "
	  "'JSON: each channel raw STT text'", NULL, 0, false },
	{ "final_transcript", "MEDIUMTEXT " LG_UTF8 "NULL COMMENT "
	  "'Caller:/Agent: lines merged by time'", NULL, 0, false },
	{ "extracted_service", "VARCHAR(128) " LG_UTF8 "NULL", NULL, 128, false },
	{ "extracted_city", "VARCHAR(128) " LG_UTF8 "NULL", NULL, 128, false },
	{ "summary", "TEXT " LG_UTF8 "NULL", NULL, 0, false },
	{ "transcript_status", LG_STAGE_ENUM " NOT NULL DEFAULT 'pending'",
	  LG_STAGE_ENUM " NULL", 0, false },
	{ "summary_status", LG_STAGE_ENUM " NOT NULL DEFAULT 'pending'",
	  LG_STAGE_ENUM " NULL", 0, false },
	{ "last_error", "VARCHAR(500) " LG_UTF8 "NULL", NULL, 0, false },
	{ "retry_count", "INT UNSIGNED NOT NULL DEFAULT 0", NULL, 0, false },
	{ "created_at", "DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)",
	  "DATETIME(3) NULL", 0, false },
	{ "updated_at", "DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) "
	  "ON UPDATE CURRENT_TIMESTAMP(3)", NULL, 0, false },
	{ "ended_at", "DATETIME(3) NULL", NULL, 0, false },
	{ "stream_ended_at", "DATETIME(3) NULL", NULL, 0, false },
	{ "recording_started_at", "DATETIME(3) NULL", NULL, 0, false },
	{ "recording_stored_at", "DATETIME(3) NULL", NULL, 0, false },
	{ "recording_bytes", "BIGINT UNSIGNED NULL", NULL, 0, false },
	{ "transcript_segments", "JSON NULL", NULL, 0, false },
	{ "extraction_confidence", "DECIMAL(4,3) NULL", NULL, 0, false },
};
#define LG_NCOLS (sizeof(legacy_cols) / sizeof(legacy_cols[0]))

/*
 * Status words of the earlier system and what they become: rec for
 * recording_status, stage for transcript_status and summary_status (NULL:
 * not a word of that column). Compared lower-cased and trimmed. A value
 * found nowhere here, NULL or empty is inferred from the row as the
 * seeds' migration did (legacy_infer_*).
 */
static const struct legacy_word {
	const char *word;
	const char *rec;
	const char *stage;
} legacy_words[] = {
	{ "pending",      "pending",   "pending" },
	{ "queued",       "pending",   "pending" },
	{ "new",          "pending",   "pending" },
	{ "waiting",      "pending",   "pending" },
	{ "recording",    "recording", NULL },
	{ "processing",   "recording", "processing" },
	{ "in-progress",  "recording", "processing" },
	{ "in_progress",  "recording", "processing" },
	{ "started",      "recording", "processing" },
	{ "running",      "recording", "processing" },
	{ "transcribing", NULL,        "processing" },
	{ "summarizing",  NULL,        "processing" },
	{ "completed",    "completed", "completed" },
	{ "complete",     "completed", "completed" },
	{ "done",         "completed", "completed" },
	{ "success",      "completed", "completed" },
	{ "succeeded",    "completed", "completed" },
	{ "ok",           "completed", "completed" },
	{ "failed",       "failed",    "failed" },
	{ "fail",         "failed",    "failed" },
	{ "error",        "failed",    "failed" },
	{ "errored",      "failed",    "failed" },
	{ "dead",         "failed",    "failed" },
	{ "absent",       "failed",    NULL },
};
#define LG_NWORDS (sizeof(legacy_words) / sizeof(legacy_words[0]))

/*
 * The seeds' inference (issue 7 item 5), one SQL expression per status.
 * '$' stands before each column: lg_cat_cols writes it as nothing for
 * the batches' UPDATE and as "NEW." for the triggers.
 */
static const char legacy_infer_rec[] =
    "CASE WHEN $recording_url IS NOT NULL AND $recording_url <> '' "
    "THEN 'completed' WHEN $recording_sid IS NOT NULL AND $recording_sid <> '' "
    "THEN 'recording' ELSE 'pending' END";
static const char legacy_infer_transcript[] =
    "CASE WHEN CHAR_LENGTH($final_transcript) > 50 OR "
    "CHAR_LENGTH($transcription) > 50 THEN 'completed' ELSE 'pending' END";
static const char legacy_infer_summary[] =
    "CASE WHEN CHAR_LENGTH($summary) > 20 THEN 'completed' ELSE 'pending' END";

static const struct legacy_status {
	const char *col;
	bool        rec;         /* recording_status's words and values */
	const char *infer;
} legacy_statuses[] = {
	{ "recording_status",  true,  legacy_infer_rec },
	{ "transcript_status", false, legacy_infer_transcript },
	{ "summary_status",    false, legacy_infer_summary },
};
#define LG_NSTATUS (sizeof(legacy_statuses) / sizeof(legacy_statuses[0]))

/*
 * A call without a sid gets "LG" + its id in 32 digits: 34 ASCII
 * characters like a Twilio SID, unique, and no Twilio prefix. A row the
 * old system INSERTs during the upgrade has no id yet in the BEFORE
 * INSERT trigger (NEW.id is 0 for an AUTO_INCREMENT id, MariaDB KB
 * "Trigger Overview"), so it gets "LG" + a UUID's 32 hex digits instead.
 */
static const char legacy_placeholder[] =
    "IF($id > 0, CONCAT('LG', LPAD($id, 32, '0')), "
    "CONCAT('LG', REPLACE(UUID(), '-', '')))";

#define LG_SQL_MAX 32768
#define LG_MAX_HAVE 128

struct legacy {
	struct db  *db;
	const char *dir;
	long        batch;
	FILE       *out;
	char       *err;
	size_t      errlen;
	struct timespec t0;
	/* call_log's columns as found (information_schema). */
	size_t      nhave;
	char        have[LG_MAX_HAVE][65];
	char        type[LG_MAX_HAVE][65];
};

/* Appends to buf (cap bytes, *len used); false when it does not fit. */
static bool
lg_cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len) {
		*len = cap;
		return false;
	}
	*len += (size_t)n;
	return true;
}

static double
lg_elapsed(const struct legacy *lg)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - lg->t0.tv_sec) +
	    (double)(t.tv_nsec - lg->t0.tv_nsec) / 1e9;
}

static void
lg_say(struct legacy *lg, const char *fmt, ...)
{
	va_list ap;

	fprintf(lg->out, "upgrade-legacy: [%6.1f s] ", lg_elapsed(lg));
	va_start(ap, fmt);
	vfprintf(lg->out, fmt, ap);
	va_end(ap);
	fputc('\n', lg->out);
	fflush(lg->out);
}

/* db_exec; on failure err says what (what) and the server's message. */
static enum cp_err
lg_exec(struct legacy *lg, const char *what, const char *sql,
    const struct db_param *p, size_t np, struct db_result **res,
    unsigned long long *affected)
{
	enum cp_err rc = db_exec(lg->db, sql, p, np, res, affected);

	if (rc != CP_OK)
		cp_fmt(lg->err, lg->errlen, "%s: %u %s", what, db_errno(lg->db),
		    db_error(lg->db));
	return rc;
}

/* One integer from a one-cell query; NULL counts as dflt. */
static enum cp_err
lg_ll(struct legacy *lg, const char *what, const char *sql,
    const struct db_param *p, size_t np, long long dflt, long long *out)
{
	struct db_result *res = NULL;
	enum cp_err rc;

	if ((rc = lg_exec(lg, what, sql, p, np, &res, NULL)) != CP_OK)
		return rc;
	rc = db_cell_ll(res, 0, 0, -9223372036854775807LL, 9223372036854775807LL,
	    out);
	if (rc == CP_NOTFOUND) {
		*out = dflt;
		rc = CP_OK;
	} else if (rc != CP_OK)
		cp_fmt(lg->err, lg->errlen, "%s: not a number", what);
	db_result_free(res);
	return rc;
}

static enum cp_err
lg_read_columns(struct legacy *lg)
{
	struct db_result *res = NULL;
	enum cp_err rc;

	if ((rc = lg_exec(lg, "call_log columns", "SELECT column_name, "
	    "column_type FROM information_schema.columns WHERE table_schema = "
	    "DATABASE() AND table_name = 'call_log' ORDER BY ordinal_position",
	    NULL, 0, &res, NULL)) != CP_OK)
		return rc;
	lg->nhave = 0;
	for (size_t i = 0; i < res->nrows && lg->nhave < LG_MAX_HAVE; i++) {
		cp_fmt(lg->have[lg->nhave], sizeof(lg->have[0]), "%s",
		    db_cell(res, i, 0) ? db_cell(res, i, 0) : "");
		cp_fmt(lg->type[lg->nhave], sizeof(lg->type[0]), "%s",
		    db_cell(res, i, 1) ? db_cell(res, i, 1) : "");
		lg->nhave++;
	}
	db_result_free(res);
	return CP_OK;
}

/* call_log's column type, or NULL when it has no such column. */
static const char *
lg_has(const struct legacy *lg, const char *col)
{
	for (size_t i = 0; i < lg->nhave; i++)
		if (strcmp(lg->have[i], col) == 0)
			return lg->type[i];
	return NULL;
}

static bool
lg_known(const char *col)
{
	for (size_t i = 0; i < LG_NCOLS; i++)
		if (strcmp(legacy_cols[i].name, col) == 0)
			return true;
	return false;
}

/* The copying ALTER has run: id is callpipe's BIGINT UNSIGNED. */
static bool
lg_copied(const struct legacy *lg)
{
	const char *t = lg_has(lg, "id");

	return t != NULL && strncmp(t, "bigint", 6) == 0 &&
	    strstr(t, "unsigned") != NULL;
}

static enum cp_err
lg_check_files(struct legacy *lg)
{
	for (size_t i = 0; i < sizeof(legacy_files) / sizeof(legacy_files[0]);
	    i++) {
		char sum[AUTH_SHA256_HEX + 1];
		enum cp_err rc = migrate_checksum(lg->dir, legacy_files[i].version,
		    sum, lg->err, lg->errlen);
		if (rc != CP_OK)
			return rc;
		if (strcmp(sum, legacy_files[i].sha256) != 0) {
			cp_fmt(lg->err, lg->errlen, "migration %03ld in %s has checksum "
			    "%.12s, upgrade-legacy was written for %.12s: its column "
			    "table (legacy.c) must follow the file first",
			    legacy_files[i].version, lg->dir, sum,
			    legacy_files[i].sha256);
			return CP_INPUT;
		}
	}
	return CP_OK;
}

/*
 * Refuses a table whose data callpipe's columns cannot take without
 * losing some: columns callpipe does not know, values longer than the
 * column or not ASCII where it is ascii, business ids below 1. One scan.
 */
static enum cp_err
lg_preflight(struct legacy *lg)
{
	char sql[LG_SQL_MAX], cond[LG_NCOLS + 1][512];
	const char *what[LG_NCOLS + 1];
	int fit[LG_NCOLS + 1];
	bool ascii[LG_NCOLS + 1];
	size_t len = 0, nc = 0;
	struct db_result *res = NULL;
	enum cp_err rc;
	char unknown[1024] = "";
	size_t ulen = 0;

	for (size_t i = 0; i < lg->nhave; i++)
		if (!lg_known(lg->have[i]))
			(void)lg_cat(unknown, sizeof(unknown), &ulen, "%s%s",
			    ulen ? ", " : "", lg->have[i]);
	if (ulen > 0) {
		cp_fmt(lg->err, lg->errlen, "call_log has columns callpipe's "
		    "call_log does not: %s (drop or move them first, or they "
		    "would be lost)", unknown);
		return CP_INPUT;
	}
	if (lg_has(lg, "id") == NULL || lg_has(lg, "call_sid") == NULL) {
		cp_fmt(lg->err, lg->errlen, "call_log has no id or no call_sid: "
		    "not the earlier system's table");
		return CP_INPUT;
	}
	for (size_t i = 0; i < LG_NCOLS; i++) {
		const struct legacy_col *c = &legacy_cols[i];
		size_t cl = 0;
		if (c->fit == 0 || lg_has(lg, c->name) == NULL)
			continue;
		(void)lg_cat(cond[nc], sizeof(cond[0]), &cl, "CHAR_LENGTH(`%s`) > %d",
		    c->name, c->fit);
		if (c->ascii)
			(void)lg_cat(cond[nc], sizeof(cond[0]), &cl, " OR "
			    "CAST(CONVERT(`%s` USING ascii) AS BINARY) <> "
			    "CAST(`%s` AS BINARY)", c->name, c->name);
		fit[nc] = c->fit;
		ascii[nc] = c->ascii;
		what[nc++] = c->name;
	}
	if (lg_has(lg, "business_id") != NULL) {
		cp_fmt(cond[nc], sizeof(cond[0]), "business_id < 1");
		fit[nc] = 0;
		ascii[nc] = false;
		what[nc++] = "business_id";
	}
	(void)lg_cat(sql, sizeof(sql), &len, "SELECT ");
	for (size_t i = 0; i < nc; i++)
		(void)lg_cat(sql, sizeof(sql), &len, "%sCOALESCE(SUM(%s), 0), "
		    "MIN(IF(%s, id, NULL))", i ? ", " : "", cond[i], cond[i]);
	if (!lg_cat(sql, sizeof(sql), &len, " FROM call_log")) {
		cp_fmt(lg->err, lg->errlen, "preflight: SQL too long");
		return CP_NOMEM;
	}
	if ((rc = lg_exec(lg, "preflight", sql, NULL, 0, &res, NULL)) != CP_OK)
		return rc;
	{
		char msg[2048] = "";
		size_t ml = 0;
		for (size_t i = 0; i < nc; i++) {
			const char *n = db_cell(res, 0, 2 * i);
			if (n == NULL || strcmp(n, "0") == 0)
				continue;
			if (strcmp(what[i], "business_id") == 0)
				(void)lg_cat(msg, sizeof(msg), &ml, "%s%s rows with "
				    "business_id below 1 (first id %s)", ml ? "; " : "",
				    n, db_cell(res, 0, 2 * i + 1));
			else
				(void)lg_cat(msg, sizeof(msg), &ml, "%s%s rows whose %s "
				    "is longer than %d characters%s (first id %s)",
				    ml ? "; " : "", n, what[i], fit[i], ascii[i] ?
				    " or not ASCII" : "", db_cell(res, 0, 2 * i + 1));
		}
		db_result_free(res);
		if (ml > 0) {
			cp_fmt(lg->err, lg->errlen, "nothing changed: %s; fix these "
			    "rows and run upgrade-legacy again", msg);
			return CP_INPUT;
		}
	}
	return CP_OK;
}

/* 001's statements but call_log's, each only when its table is missing. */
struct lg_keep {
	struct legacy *lg;
	int            created;
};

static bool
lg_keep_001(const char *stmt, void *arg)
{
	struct lg_keep *k = arg;
	char name[65];
	size_t n = 0;
	const char *p = stmt;
	long long exists = 0;
	struct db_param prm;

	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	if (strncmp(p, "CREATE TABLE ", 13) != 0)
		return true;
	p += 13;
	while (n < sizeof(name) - 1 && (p[n] == '_' || (p[n] >= 'a' &&
	    p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9'))) {
		name[n] = p[n];
		n++;
	}
	name[n] = '\0';
	if (strcmp(name, "call_log") == 0)
		return false;
	prm = db_str(name);
	if (lg_ll(k->lg, "tables", "SELECT COUNT(*) FROM information_schema."
	    "tables WHERE table_schema = DATABASE() AND table_name = ?", &prm, 1,
	    0, &exists) != CP_OK)
		return true;   /* the CREATE then says what is wrong */
	if (exists == 0)
		k->created++;
	return exists == 0;
}

static enum cp_err
lg_tables(struct legacy *lg)
{
	struct lg_keep k = { lg, 0 };
	enum cp_err rc;

	rc = migrate_apply_some(lg->db, lg->dir, 1, lg_keep_001, &k, lg->err,
	    lg->errlen);
	if (rc == CP_OK && k.created > 0)
		lg_say(lg, "created %d table(s) of 001_init.sql", k.created);
	return rc;
}

/* A businesses row "legacy N" for every business id call_log names. */
static enum cp_err
lg_businesses(struct legacy *lg)
{
	struct db_result *res = NULL;
	enum cp_err rc;
	unsigned long long added = 0;

	if ((rc = lg_exec(lg, "business ids", "SELECT DISTINCT c.business_id "
	    "FROM call_log c LEFT JOIN businesses b ON b.id = c.business_id "
	    "WHERE c.business_id IS NOT NULL AND b.id IS NULL", NULL, 0, &res,
	    NULL)) != CP_OK)
		return rc;
	for (size_t i = 0; i < res->nrows && rc == CP_OK; i++) {
		long long id;
		struct db_param p[2];
		unsigned long long n = 0;
		char name[64];
		if (db_cell_ll(res, i, 0, 1, 9223372036854775807LL, &id) != CP_OK)
			continue;   /* below 1: the preflight refuses those */
		cp_fmt(name, sizeof(name), "legacy %lld", id);
		p[0] = db_i64(id);
		p[1] = db_str(name);
		rc = lg_exec(lg, "businesses", "INSERT IGNORE INTO businesses "
		    "(id, name) VALUES (?, ?)", p, 2, NULL, &n);
		added += n;
	}
	db_result_free(res);
	if (rc == CP_OK && added > 0)
		lg_say(lg, "businesses: %llu row(s) \"legacy N\" for the business "
		    "ids of the old rows", added);
	return rc;
}

static enum cp_err
lg_add_columns(struct legacy *lg)
{
	char sql[LG_SQL_MAX], names[2048] = "";
	size_t len = 0, nl = 0;
	int n = 0;
	enum cp_err rc;

	(void)lg_cat(sql, sizeof(sql), &len, "ALTER TABLE call_log ");
	for (size_t i = 0; i < LG_NCOLS; i++) {
		const struct legacy_col *c = &legacy_cols[i];
		if (lg_has(lg, c->name) != NULL)
			continue;
		(void)lg_cat(sql, sizeof(sql), &len, "ADD COLUMN `%s` %s, ", c->name,
		    c->add ? c->add : c->def);
		(void)lg_cat(names, sizeof(names), &nl, "%s%s", n ? ", " : "",
		    c->name);
		n++;
	}
	if (n == 0)
		return CP_OK;
	if (!lg_cat(sql, sizeof(sql), &len, "ALGORITHM=INSTANT")) {
		cp_fmt(lg->err, lg->errlen, "add columns: SQL too long");
		return CP_NOMEM;
	}
	lg_say(lg, "adding %d column(s) (ALGORITHM=INSTANT: no copy, no lock): "
	    "%s", n, names);
	if ((rc = lg_exec(lg, "add columns", sql, NULL, 0, NULL, NULL)) != CP_OK)
		return rc;
	return lg_read_columns(lg);
}

/* Appends tmpl with each '$' written as prefix ("" or "NEW."). */
static bool
lg_cat_cols(char *buf, size_t cap, size_t *len, const char *tmpl,
    const char *prefix)
{
	bool ok = true;

	for (const char *p = tmpl; *p != '\0' && ok; p++)
		ok = *p == '$' ? lg_cat(buf, cap, len, "%s", prefix) :
		    lg_cat(buf, cap, len, "%c", *p);
	return ok;
}

/* col's value mapped by legacy_words, else inferred: SQL expression,
 * its columns written after prefix. */
static bool
lg_status_expr(char *buf, size_t cap, size_t *len,
    const struct legacy_status *s, const char *prefix)
{
	const char *targets[] = { "pending", "recording", "processing",
	    "completed", "failed" };
	bool ok = lg_cat(buf, cap, len, "CASE LOWER(TRIM(%s`%s`))", prefix,
	    s->col);

	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		size_t before = *len;
		int n = 0;
		ok = ok && lg_cat(buf, cap, len, " WHEN ");
		for (size_t w = 0; w < LG_NWORDS; w++) {
			const char *to = s->rec ? legacy_words[w].rec :
			    legacy_words[w].stage;
			if (to == NULL || strcmp(to, targets[t]) != 0)
				continue;
			/* CASE x WHEN a THEN ...: one WHEN per word. */
			ok = ok && lg_cat(buf, cap, len, "%s'%s' THEN '%s'",
			    n ? " WHEN " : "", legacy_words[w].word, targets[t]);
			n++;
		}
		if (n == 0)
			*len = before;
	}
	return ok && lg_cat(buf, cap, len, " ELSE ") &&
	    lg_cat_cols(buf, cap, len, s->infer, prefix) &&
	    lg_cat(buf, cap, len, " END");
}

/*
 * The row fixes as assignments, "a = x, b = y" with every column after
 * prefix: a placeholder sid, retry_count NULL or negative -> 0,
 * last_error cut to 500 characters, created_at NULL -> now, statuses
 * mapped or inferred. The batches' UPDATE and the triggers both use it,
 * and on a row already fixed it changes nothing.
 */
static bool
lg_fix_set(char *buf, size_t cap, size_t *len, const char *prefix)
{
	const char *x = prefix;
	bool ok = lg_cat(buf, cap, len, "%scall_sid = IF(%scall_sid IS NULL OR "
	    "%scall_sid = '', ", x, x, x) &&
	    lg_cat_cols(buf, cap, len, legacy_placeholder, prefix) &&
	    lg_cat(buf, cap, len, ", %scall_sid), %sretry_count = IF("
	    "%sretry_count IS NULL OR %sretry_count < 0, 0, %sretry_count), "
	    "%slast_error = LEFT(%slast_error, 500), %screated_at = IFNULL("
	    "%screated_at, NOW(3))", x, x, x, x, x, x, x, x, x);

	for (size_t i = 0; i < LG_NSTATUS; i++) {
		ok = ok && lg_cat(buf, cap, len, ", %s`%s` = ", prefix,
		    legacy_statuses[i].col);
		ok = ok && lg_status_expr(buf, cap, len, &legacy_statuses[i],
		    prefix);
	}
	return ok;
}

/* The rows the batches still have to fix (SQL condition). */
static bool
lg_need(char *buf, size_t cap, size_t *len)
{
	bool ok = lg_cat(buf, cap, len, "(call_sid IS NULL OR call_sid = '' OR "
	    "retry_count IS NULL OR retry_count < 0 OR created_at IS NULL OR "
	    "CHAR_LENGTH(last_error) > 500");

	for (size_t i = 0; i < LG_NSTATUS; i++)
		ok = ok && lg_cat(buf, cap, len, " OR `%s` IS NULL OR BINARY `%s` "
		    "NOT IN ('pending','%s','completed','failed')",
		    legacy_statuses[i].col, legacy_statuses[i].col,
		    legacy_statuses[i].rec ? "recording" : "processing");
	return ok && lg_cat(buf, cap, len, ")");
}

/* Says once what each status value that is not callpipe's becomes. */
static enum cp_err
lg_report_words(struct legacy *lg)
{
	for (size_t i = 0; i < LG_NSTATUS; i++) {
		const struct legacy_status *s = &legacy_statuses[i];
		char sql[1024];
		struct db_result *res = NULL;
		enum cp_err rc;

		cp_fmt(sql, sizeof(sql), "SELECT `%s`, COUNT(*) FROM call_log WHERE "
		    "`%s` IS NOT NULL AND BINARY `%s` NOT IN ('pending','%s',"
		    "'completed','failed') GROUP BY BINARY `%s` LIMIT 50", s->col,
		    s->col, s->col, s->rec ? "recording" : "processing", s->col);
		if ((rc = lg_exec(lg, "status values", sql, NULL, 0, &res, NULL)) !=
		    CP_OK)
			return rc;
		for (size_t r = 0; r < res->nrows; r++) {
			const char *v = db_cell(res, r, 0), *to = NULL;
			char low[64];
			size_t k = 0, b = 0, e = strlen(v);
			while (b < e && v[b] == ' ')
				b++;
			while (e > b && v[e - 1] == ' ')
				e--;
			for (; b < e && k < sizeof(low) - 1; b++)
				low[k++] = (v[b] >= 'A' && v[b] <= 'Z') ?
				    (char)(v[b] - 'A' + 'a') : v[b];
			low[k] = '\0';
			for (size_t w = 0; w < LG_NWORDS && to == NULL; w++)
				if (strcmp(low, legacy_words[w].word) == 0)
					to = s->rec ? legacy_words[w].rec :
					    legacy_words[w].stage;
			lg_say(lg, "%s '%s' on %s row(s) -> %s", s->col, v,
			    db_cell(res, r, 1), to ? to :
			    "inferred from the row (not a status callpipe knows)");
		}
		db_result_free(res);
	}
	return CP_OK;
}

/*
 * The row fixes (lg_fix_set) on every row, in batches of lg->batch ids,
 * a progress line each unless quiet. Only rows that still need it are
 * written, so a rerun (or the pass after the triggers) skips what is
 * done.
 */
static enum cp_err
lg_fix_rows(struct legacy *lg, bool quiet)
{
	char sql[LG_SQL_MAX];
	size_t len = 0;
	long long lo = 0, hi = 0, rows = 0;
	unsigned long long total = 0;
	enum cp_err rc;
	bool ok;

	if ((rc = lg_ll(lg, "max id", "SELECT MAX(id) FROM call_log", NULL, 0, 0,
	    &hi)) != CP_OK || (rc = lg_ll(lg, "min id", "SELECT MIN(id) FROM "
	    "call_log", NULL, 0, 0, &lo)) != CP_OK)
		return rc;
	if (hi == 0 || lo == 0 || lo > hi)
		return CP_OK;
	if (!quiet && (rc = lg_ll(lg, "rows", "SELECT COUNT(*) FROM call_log", NULL,
	    0, 0, &rows)) != CP_OK)
		return rc;
	ok = lg_cat(sql, sizeof(sql), &len, "UPDATE call_log SET ") &&
	    lg_fix_set(sql, sizeof(sql), &len, "") &&
	    lg_cat(sql, sizeof(sql), &len, " WHERE id BETWEEN ? AND ? AND ") &&
	    lg_need(sql, sizeof(sql), &len);
	if (!ok) {
		cp_fmt(lg->err, lg->errlen, "row fixes: SQL too long");
		return CP_NOMEM;
	}
	for (long long a = lo; a <= hi; a += lg->batch) {
		struct db_param p[2];
		unsigned long long n = 0;
		long long b = a + lg->batch - 1 > hi ? hi : a + lg->batch - 1;
		p[0] = db_i64(a);
		p[1] = db_i64(b);
		if ((rc = lg_exec(lg, "row fixes", sql, p, 2, NULL, &n)) != CP_OK)
			return rc;
		total += n;
		if (!quiet)
			lg_say(lg, "statuses: ids %lld..%lld of %lld..%lld (%.0f%%), "
			    "%llu row(s) written so far (%lld rows in all)", a, b, lo,
			    hi, 100.0 * (double)(b - lo + 1) / (double)(hi - lo + 1),
			    total, rows);
	}
	if (quiet)
		lg_say(lg, "statuses: %llu row(s) the old system wrote during the "
		    "batches fixed (ids %lld..%lld scanned)", total, lo, hi);
	return CP_OK;
}

/*
 * The triggers that keep the old system's writes fit for the copy while
 * the upgrade runs: BEFORE INSERT and BEFORE UPDATE apply lg_fix_set to
 * NEW and give a new business id its "legacy N" row, so a row written
 * after the batches passed its id cannot fail the copying ALTER (a NULL
 * or an old word in a status, a NULL sid). CREATE TRIGGER waits for the
 * transactions open on call_log (metadata lock), so every write after it
 * returns goes through them; dropped once the copy is done. With binary
 * logging on, a user without SUPER needs log_bin_trust_function_creators
 * (MariaDB KB "CREATE TRIGGER").
 */
static const struct legacy_trigger {
	const char *name;
	const char *event;
	const char *business_changed;   /* when NEW.business_id is new */
} legacy_triggers[] = {
	{ "callpipe_upgrade_bi", "INSERT", "TRUE" },
	{ "callpipe_upgrade_bu", "UPDATE",
	  "NOT (NEW.business_id <=> OLD.business_id)" },
};
#define LG_NTRIGGERS (sizeof(legacy_triggers) / sizeof(legacy_triggers[0]))

static enum cp_err
lg_triggers_create(struct legacy *lg)
{
	for (size_t i = 0; i < LG_NTRIGGERS; i++) {
		const struct legacy_trigger *t = &legacy_triggers[i];
		char sql[LG_SQL_MAX];
		size_t len = 0;
		enum cp_err rc;
		bool ok = lg_cat(sql, sizeof(sql), &len, "CREATE OR REPLACE TRIGGER "
		    "%s BEFORE %s ON call_log FOR EACH ROW BEGIN SET ", t->name,
		    t->event) &&
		    lg_fix_set(sql, sizeof(sql), &len, "NEW.") &&
		    lg_cat(sql, sizeof(sql), &len, "; IF NEW.business_id >= 1 AND "
		    "%s THEN INSERT IGNORE INTO businesses (id, name) VALUES "
		    "(NEW.business_id, CONCAT('legacy ', NEW.business_id)); END IF; "
		    "END", t->business_changed);
		if (!ok) {
			cp_fmt(lg->err, lg->errlen, "trigger: SQL too long");
			return CP_NOMEM;
		}
		if ((rc = lg_exec(lg, t->name, sql, NULL, 0, NULL, NULL)) != CP_OK)
			return rc;
	}
	lg_say(lg, "triggers %s and %s fix what the old system writes until the "
	    "copy is done", legacy_triggers[0].name, legacy_triggers[1].name);
	return CP_OK;
}

static enum cp_err
lg_triggers_drop(struct legacy *lg)
{
	for (size_t i = 0; i < LG_NTRIGGERS; i++) {
		char sql[128];
		enum cp_err rc;
		cp_fmt(sql, sizeof(sql), "DROP TRIGGER IF EXISTS %s",
		    legacy_triggers[i].name);
		if ((rc = lg_exec(lg, legacy_triggers[i].name, sql, NULL, 0, NULL,
		    NULL)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

/*
 * The one ALTER that copies the table (ALGORITHM=COPY, LOCK=SHARED:
 * reads go on, writes wait): id and business_id INT -> BIGINT UNSIGNED
 * (the foreign key wants businesses.id's type), call_sid to CHAR(34)
 * ascii NOT NULL, every other type, the column order, the keys, the
 * foreign key and the table's collation. InnoDB cannot change these in
 * place (MariaDB KB "InnoDB Online DDL Operations with ALGORITHM=INPLACE":
 * changing a column's data type needs the table copied).
 */
static enum cp_err
lg_copy(struct legacy *lg)
{
	char sql[LG_SQL_MAX];
	size_t len = 0;
	struct db_result *res = NULL;
	enum cp_err rc;
	bool ok;

	ok = lg_cat(sql, sizeof(sql), &len, "ALTER TABLE call_log ");
	for (size_t i = 0; i < LG_NCOLS; i++) {
		if (i == 0)
			ok = ok && lg_cat(sql, sizeof(sql), &len, "MODIFY COLUMN `%s` %s "
			    "FIRST, ", legacy_cols[i].name, legacy_cols[i].def);
		else
			ok = ok && lg_cat(sql, sizeof(sql), &len, "MODIFY COLUMN `%s` %s "
			    "AFTER `%s`, ", legacy_cols[i].name, legacy_cols[i].def,
			    legacy_cols[i - 1].name);
	}
	if ((rc = lg_exec(lg, "indexes", "SELECT DISTINCT index_name FROM "
	    "information_schema.statistics WHERE table_schema = DATABASE() AND "
	    "table_name = 'call_log' AND index_name <> 'PRIMARY'", NULL, 0, &res,
	    NULL)) != CP_OK)
		return rc;
	for (size_t i = 0; i < res->nrows; i++)
		ok = ok && lg_cat(sql, sizeof(sql), &len, "DROP INDEX `%s`, ",
		    db_cell(res, i, 0));
	db_result_free(res);
	res = NULL;
	if ((rc = lg_exec(lg, "foreign keys", "SELECT constraint_name FROM "
	    "information_schema.table_constraints WHERE table_schema = DATABASE() "
	    "AND table_name = 'call_log' AND constraint_type = 'FOREIGN KEY'",
	    NULL, 0, &res, NULL)) != CP_OK)
		return rc;
	for (size_t i = 0; i < res->nrows; i++)
		ok = ok && lg_cat(sql, sizeof(sql), &len, "DROP FOREIGN KEY `%s`, ",
		    db_cell(res, i, 0));
	db_result_free(res);
	ok = ok && lg_cat(sql, sizeof(sql), &len,
	    "ADD UNIQUE KEY ux_call_log_call_sid (call_sid), "
	    "ADD KEY ix_call_log_business_created (business_id, created_at), "
	    "ADD CONSTRAINT fk_call_log_business FOREIGN KEY (business_id) "
	    "REFERENCES businesses (id) ON DELETE SET NULL, "
	    "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci, "
	    "ALGORITHM=COPY, LOCK=SHARED");
	if (!ok) {
		cp_fmt(lg->err, lg->errlen, "copy: SQL too long");
		return CP_NOMEM;
	}
	return lg_exec(lg, "the copying ALTER", sql, NULL, 0, NULL, NULL);
}

static enum cp_err
lg_recording_sid_index(struct legacy *lg)
{
	long long n = 0;
	enum cp_err rc;

	if ((rc = lg_ll(lg, "indexes", "SELECT COUNT(*) FROM information_schema."
	    "statistics WHERE table_schema = DATABASE() AND table_name = "
	    "'call_log' AND index_name = 'ix_call_log_recording_sid'", NULL, 0, 0,
	    &n)) != CP_OK || n > 0)
		return rc;
	lg_say(lg, "adding ix_call_log_recording_sid (ALGORITHM=INPLACE, "
	    "LOCK=NONE: reads and writes go on)");
	return lg_exec(lg, "ix_call_log_recording_sid", "ALTER TABLE call_log ADD "
	    "KEY ix_call_log_recording_sid (recording_sid), ALGORITHM=INPLACE, "
	    "LOCK=NONE", NULL, 0, NULL, NULL);
}

/* legacy_upgraded_at on every row not marked yet, in batches. */
static enum cp_err
lg_mark(struct legacy *lg)
{
	long long lo = 0, hi = 0;
	unsigned long long total = 0;
	enum cp_err rc;

	if ((rc = lg_ll(lg, "marks", "SELECT MIN(id) FROM call_log WHERE "
	    "legacy_upgraded_at IS NULL", NULL, 0, 0, &lo)) != CP_OK ||
	    (rc = lg_ll(lg, "max id", "SELECT MAX(id) FROM call_log", NULL, 0, 0,
	    &hi)) != CP_OK)
		return rc;
	if (lo == 0)
		return CP_OK;
	for (long long a = lo; a <= hi; a += lg->batch) {
		struct db_param p[2];
		unsigned long long n = 0;
		long long b = a + lg->batch - 1 > hi ? hi : a + lg->batch - 1;
		p[0] = db_i64(a);
		p[1] = db_i64(b);
		/* updated_at kept: the upgrade is not an event of the call. */
		if ((rc = lg_exec(lg, "legacy_upgraded_at", "UPDATE call_log SET "
		    "legacy_upgraded_at = UTC_TIMESTAMP(3), updated_at = updated_at "
		    "WHERE id BETWEEN ? AND ? AND legacy_upgraded_at IS NULL", p, 2,
		    NULL, &n)) != CP_OK)
			return rc;
		total += n;
		lg_say(lg, "legacy_upgraded_at: ids %lld..%lld of %lld..%lld (%.0f%%), "
		    "%llu row(s) marked so far", a, b, lo, hi,
		    100.0 * (double)(b - lo + 1) / (double)(hi - lo + 1), total);
	}
	return CP_OK;
}

static enum cp_err lg_run(struct legacy *lg);

enum cp_err
legacy_upgrade(struct db *db, const char *dir, long batch, FILE *out,
    char *err, size_t errlen)
{
	struct legacy lg;
	long long got = 0;
	enum cp_err rc;

	memset(&lg, 0, sizeof(lg));
	lg.db = db;
	lg.dir = dir;
	lg.batch = batch > 0 ? batch : 10000;
	lg.out = out;
	lg.err = err;
	lg.errlen = errlen;
	clock_gettime(CLOCK_MONOTONIC, &lg.t0);
	/* migrate and upgrade-legacy exclude each other; migrate_run takes
	 * the same lock again inside (GET_LOCK nests, MariaDB >= 10.0.2). */
	if ((rc = lg_ll(&lg, "GET_LOCK", "SELECT GET_LOCK('callpipe.migrate', "
	    "120)", NULL, 0, 0, &got)) != CP_OK)
		return rc;
	if (got != 1) {
		cp_fmt(err, errlen, "another migrate or upgrade-legacy holds the "
		    "lock callpipe.migrate (waited 120 s)");
		return CP_DB;
	}
	rc = lg_run(&lg);
	(void)db_exec(db, "SELECT RELEASE_LOCK('callpipe.migrate')", NULL, 0,
	    NULL, NULL);
	return rc;
}

/* schema_migrations holds version 1: a fresh migrate or a finished
 * upgrade. *yes false also when the table does not exist yet. */
static enum cp_err
lg_recorded(struct legacy *lg, long version, bool *yes)
{
	long long n = 0;
	struct db_param p = db_i64(version);
	enum cp_err rc;

	*yes = false;
	if ((rc = lg_ll(lg, "schema_migrations", "SELECT COUNT(*) FROM "
	    "information_schema.tables WHERE table_schema = DATABASE() AND "
	    "table_name = 'schema_migrations'", NULL, 0, 0, &n)) != CP_OK || n == 0)
		return rc;
	if ((rc = lg_ll(lg, "schema_migrations", "SELECT COUNT(*) FROM "
	    "schema_migrations WHERE version = ?", &p, 1, 0, &n)) != CP_OK)
		return rc;
	*yes = n > 0;
	return CP_OK;
}

static enum cp_err
lg_run(struct legacy *lg)
{
	static const long skip[] = { 1, 3 };
	bool done = false;
	int applied = 0;
	enum cp_err rc;

	if ((rc = lg_recorded(lg, 1, &done)) != CP_OK)
		return rc;
	if (done) {
		lg_say(lg, "nothing to do: schema_migrations records 001 (a fresh "
		    "migrate, or an upgrade that finished); run migrate for newer "
		    "migrations");
		return CP_OK;
	}
	/* Checksums of the files this upgrade was written for. */
	if ((rc = lg_check_files(lg)) != CP_OK)
		return rc;
	/* Repeatable-read gap locks of the batches would stop the old
	 * system's INSERTs at the end of the table; none are needed. */
	if ((rc = lg_exec(lg, "isolation", "SET SESSION TRANSACTION ISOLATION "
	    "LEVEL READ COMMITTED", NULL, 0, NULL, NULL)) != CP_OK)
		return rc;
	if ((rc = lg_read_columns(lg)) != CP_OK)
		return rc;
	if (lg->nhave == 0) {
		cp_fmt(lg->err, lg->errlen, "this database has no call_log: use "
		    "callpipectl migrate for a new database");
		return CP_INPUT;
	}
	if (!lg_copied(lg)) {
		if ((rc = lg_preflight(lg)) != CP_OK)
			return rc;
		lg_say(lg, "call_log is the earlier system's (id %s); upgrading",
		    lg_has(lg, "id"));
	} else
		lg_say(lg, "call_log has callpipe's types already (the copy ran); "
		    "going on from there");
	if ((rc = lg_tables(lg)) != CP_OK)
		return rc;
	if (!lg_copied(lg)) {
		/*
		 * The batches, then the triggers, then the businesses and the
		 * batches again: a row or business id the old system writes
		 * after the triggers is theirs, one written before them the
		 * second pass's, which only reads the rows the first one fixed
		 * (the triggers cost each row the batches write a second
		 * evaluation, so they are not there during the first pass).
		 */
		if ((rc = lg_businesses(lg)) != CP_OK ||
		    (rc = lg_add_columns(lg)) != CP_OK ||
		    (rc = lg_report_words(lg)) != CP_OK ||
		    (rc = lg_fix_rows(lg, false)) != CP_OK ||
		    (rc = lg_triggers_create(lg)) != CP_OK ||
		    (rc = lg_businesses(lg)) != CP_OK ||
		    (rc = lg_fix_rows(lg, true)) != CP_OK)
			return rc;
		lg_say(lg, "copying call_log (ALGORITHM=COPY, LOCK=SHARED): the "
		    "type change INT -> BIGINT UNSIGNED the foreign key needs "
		    "copies the table; reads go on, WRITES ARE BLOCKED until it "
		    "ends (8 s per million rows on the dev machine)");
		if ((rc = lg_copy(lg)) != CP_OK) {
			/* Left as it was; a rerun's preflight names bad rows. */
			char keep[512];
			cp_fmt(keep, sizeof(keep), "%s", lg->err);
			(void)lg_triggers_drop(lg);
			cp_fmt(lg->err, lg->errlen, "%s", keep);
			return rc;
		}
		lg_say(lg, "copy done; writes go on again");
		if ((rc = lg_read_columns(lg)) != CP_OK)
			return rc;
	}
	/* Also after an upgrade killed between the copy and this. */
	if ((rc = lg_triggers_drop(lg)) != CP_OK)
		return rc;
	if ((rc = lg_recording_sid_index(lg)) != CP_OK)
		return rc;
	if ((rc = migrate_run_except(lg->db, lg->dir, skip, 2, &applied, lg->err,
	    lg->errlen)) != CP_OK)
		return rc;
	if (applied > 0)
		lg_say(lg, "%d migration(s) applied (those after 001 and 003)",
		    applied);
	if ((rc = lg_mark(lg)) != CP_OK)
		return rc;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
		char sum[AUTH_SHA256_HEX + 1];
		if ((rc = migrate_record(lg->db, lg->dir, skip[i], sum, lg->err,
		    lg->errlen)) != CP_OK)
			return rc;
		lg_say(lg, "recorded %03ld as applied (checksum %.12s)", skip[i], sum);
	}
	lg_say(lg, "done: call_log is callpipe's");
	return CP_OK;
}
