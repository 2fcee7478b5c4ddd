/*
 * purge.c: the retention purge (see purge.h).
 */
#include "purge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobkey.h"
#include "log.h"
#include "queue.h"
#include "sid.h"
#include "twilio_api.h"

#define PURGE_MARKER      ".purge-cache-"

/* A batch's ids are one IN (...) of db_exec parameters. */
_Static_assert(PURGE_BATCH <= DB_MAX_PARAMS, "PURGE_BATCH exceeds db_exec's parameters");
#define PURGE_LINE_MAX    512
#define PURGE_STR_(x)     #x
#define PURGE_STR(x)      PURGE_STR_(x)

/* One cached file of a batch. */
struct purge_file {
	char      name[48];          /* RE<32 hex>.wav | .mp3 */
	char      sid[SID_LEN + 1];
	time_t    mtime;
	long long size;
};

/* A call looked up for a batch of files. */
struct purge_call {
	char      recording_sid[SID_LEN + 1];
	char      call_sid[SID_LEN + 1];
	long long age_s;
};

static void
purge_note(purge_note_fn note, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
purge_note(purge_note_fn note, void *arg, const char *fmt, ...)
{
	char line[PURGE_LINE_MAX];
	va_list ap;

	if (note == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	note(arg, line);
}

/* Seconds of a retention of days days. */
static long long
purge_secs(int days)
{
	return (long long)days * 86400;
}

/* "RE<32 hex>.wav" or ".mp3": the sid into sid (SID_LEN + 1 bytes). */
static bool
purge_cache_name(const char *name, char *sid)
{
	size_t n = strlen(name);

	if (n != SID_LEN + 4 || (strcmp(name + SID_LEN, ".wav") != 0 &&
	    strcmp(name + SID_LEN, ".mp3") != 0))
		return false;
	memcpy(sid, name, SID_LEN);
	sid[SID_LEN] = '\0';
	return sid_valid(sid, "RE");
}

/*
 * The calls of a batch's recordings into calls (at most max, *ncalls the
 * count): SELECT ... WHERE recording_sid IN (one ? per file). CP_OK,
 * CP_DB, CP_NOMEM.
 */
static enum cp_err
purge_cache_lookup(struct db *db, const struct purge_file *files, int n,
    struct purge_call *calls, int max, int *ncalls)
{
	static const char head[] = "SELECT recording_sid, call_sid, "
	    "TIMESTAMPDIFF(SECOND, COALESCE(ended_at, created_at), NOW(3)) "
	    "FROM call_log WHERE recording_sid IN (";
	struct db_param p[PURGE_BATCH];
	struct db_result *res = NULL;
	char sql[sizeof(head) + 2 * PURGE_BATCH + 4];
	size_t len = sizeof(head) - 1;

	*ncalls = 0;
	memcpy(sql, head, len);
	for (int i = 0; i < n; i++) {
		p[i] = db_str(files[i].sid);
		sql[len++] = '?';
		sql[len++] = i + 1 < n ? ',' : ')';
	}
	sql[len] = '\0';
	if (db_exec(db, sql, p, (size_t)n, &res, NULL) != CP_OK)
		return CP_DB;
	for (size_t r = 0; r < res->nrows && *ncalls < max; r++) {
		struct purge_call *c = &calls[*ncalls];
		const char *rs = db_cell(res, r, 0), *cs = db_cell(res, r, 1);
		if (rs == NULL || cs == NULL || strlen(rs) != SID_LEN ||
		    strlen(cs) != SID_LEN)
			continue;
		memcpy(c->recording_sid, rs, SID_LEN + 1);
		memcpy(c->call_sid, cs, SID_LEN + 1);
		/* An unreadable age is young: never delete on a doubt. */
		if (db_cell_ll(res, r, 2, LLONG_MIN, LLONG_MAX, &c->age_s) != CP_OK)
			c->age_s = LLONG_MIN;
		(*ncalls)++;
	}
	db_result_free(res);
	return CP_OK;
}

/* Decides and deletes (or, dry, reports) the files of one batch. */
static enum cp_err
purge_cache_batch(const struct cp_conf *conf, struct db *db,
    const struct purge_file *files, int n, bool dry_run, purge_note_fn note,
    void *arg, struct purge_stats *st)
{
	struct purge_call calls[PURGE_BATCH];
	long long keep = purge_secs(conf->recording.retention_days);
	time_t now = time(NULL);
	int ncalls = 0;
	enum cp_err rc;

	if (n == 0)
		return CP_OK;
	if ((rc = purge_cache_lookup(db, files, n, calls, PURGE_BATCH,
	    &ncalls)) != CP_OK)
		return rc;
	for (int i = 0; i < n; i++) {
		const struct purge_file *f = &files[i];
		const struct purge_call *call = NULL;
		bool young = false;
		char path[4096], why[128];

		for (int j = 0; j < ncalls; j++)
			if (strcmp(calls[j].recording_sid, f->sid) == 0) {
				call = &calls[j];
				young = young || calls[j].age_s <= keep;
			}
		if (call != NULL && !young)
			cp_fmt(why, sizeof(why), "call %s, %lld days old",
			    call->call_sid, call->age_s / 86400);
		else if (call == NULL && now - f->mtime > keep)
			cp_fmt(why, sizeof(why), "no call has it, file %lld days "
			    "old", (long long)(now - f->mtime) / 86400);
		else
			continue;   /* inside the retention */
		cp_fmt(path, sizeof(path), "%s/%s", conf->recording.cache_dir,
		    f->name);
		if (!dry_run && unlink(path) != 0) {
			if (errno != ENOENT)
				log_warn("purge: %s: %s", path, strerror(errno));
			continue;
		}
		st->cache_files++;
		st->cache_bytes += f->size;
		purge_note(note, arg, "cache: %s %s (%s, %lld bytes)",
		    dry_run ? "would delete" : "deleted", f->name, why, f->size);
	}
	return CP_OK;
}

enum cp_err
purge_cache(const struct cp_conf *conf, struct db *db, bool dry_run,
    purge_note_fn note, void *arg, struct purge_stats *stats, char *err,
    size_t errlen)
{
	struct purge_file *files;
	struct dirent *de;
	DIR *d;
	int n = 0;
	enum cp_err rc = CP_OK;

	if ((d = opendir(conf->recording.cache_dir)) == NULL) {
		if (errno == ENOENT)
			return CP_OK;
		cp_fmt(err, errlen, "purge: %s: %s", conf->recording.cache_dir,
		    strerror(errno));
		return CP_SYSTEM;
	}
	if ((files = calloc(PURGE_BATCH, sizeof(*files))) == NULL) {
		closedir(d);
		return CP_NOMEM;
	}
	while (rc == CP_OK && (de = readdir(d)) != NULL) {
		struct purge_file *f = &files[n];
		char path[4096];
		struct stat sb;

		if (!purge_cache_name(de->d_name, f->sid))
			continue;
		cp_fmt(path, sizeof(path), "%s/%s", conf->recording.cache_dir,
		    de->d_name);
		if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		cp_fmt(f->name, sizeof(f->name), "%s", de->d_name);
		f->mtime = sb.st_mtime;
		f->size = (long long)sb.st_size;
		if (++n == PURGE_BATCH) {
			rc = purge_cache_batch(conf, db, files, n, dry_run, note,
			    arg, stats);
			n = 0;
		}
	}
	if (rc == CP_OK)
		rc = purge_cache_batch(conf, db, files, n, dry_run, note, arg,
		    stats);
	closedir(d);
	free(files);
	if (rc == CP_DB)
		cp_fmt(err, errlen, "purge: cache: %s", db_error(db));
	return rc;
}

/* ------------------------------------------------------------ database side */

/* Keeps the job's lease ahead of the next batch. CP_OK without a job. */
static enum cp_err
purge_lease(const struct cp_conf *conf, struct db *db,
    const struct queue_job *job, char *err, size_t errlen)
{
	enum cp_err rc;

	if (job == NULL)
		return CP_OK;
	rc = queue_extend_lease(db, job, conf->worker.lease_seconds);
	if (rc == CP_NOTFOUND) {
		cp_fmt(err, errlen, "purge: the job's lease was lost");
		return CP_AGAIN;
	}
	if (rc != CP_OK)
		cp_fmt(err, errlen, "purge: %s", db_error(db));
	return rc;
}

/*
 * Both database purges walk their rows in (created_at, id) order from a
 * keyset cursor, so each batch is a range of ix_call_log_rec_deleted_created
 * or ix_call_log_tr_purged_created (InnoDB appends the primary key to a
 * secondary index) read from where the last one stopped (FORCE INDEX:
 * on a small table the optimizer would take ix_call_log_created and read
 * every old call). A row left unmarked (a failed delete, a call without
 * a recording) is read once a day, never sorted again for each batch.
 */
struct purge_cursor {
	char      created_at[32];   /* DATETIME(3) text of the last row */
	long long id;
};

#define PURGE_KEYSET \
    "AND (created_at > ? OR (created_at = ? AND id > ?)) " \
    "ORDER BY created_at, id LIMIT " PURGE_STR(PURGE_BATCH)

/* Moves the cursor to row r of res (created_at in column col). */
static void
purge_advance(struct purge_cursor *c, const struct db_result *res, size_t r,
    size_t col, long long id)
{
	const char *at = db_cell(res, r, col);

	cp_fmt(c->created_at, sizeof(c->created_at), "%s", at ? at : "");
	c->id = id;
}

#define PURGE_CURSOR_START { "1000-01-01 00:00:00.000", 0 }

/*
 * The next batch of a purge SELECT (sql: one of the two below, keep:
 * the retention in seconds) after the cursor into *res, the job's lease
 * extended first. CP_OK; CP_AGAIN when the lease was lost; CP_DB (err
 * says why).
 */
static enum cp_err
purge_next_batch(const struct cp_conf *conf, struct db *db,
    const struct queue_job *job, const char *sql, long long keep,
    const struct purge_cursor *cur, struct db_result **res, char *err,
    size_t errlen)
{
	/* keep (s) twice, then the cursor's created_at twice and its id. */
	struct db_param p[5] = { db_i64(keep), db_i64(keep),
	    db_str(cur->created_at), db_str(cur->created_at), db_i64(cur->id) };
	enum cp_err rc;

	if ((rc = purge_lease(conf, db, job, err, errlen)) != CP_OK)
		return rc;
	if (db_exec(db, sql, p, 5, res, NULL) != CP_OK) {
		cp_fmt(err, errlen, "purge: %s", db_error(db));
		return CP_DB;
	}
	return CP_OK;
}

/* The old calls not yet deleted at Twilio, after the cursor: a batch. */
static const char purge_twilio_sql[] =
    "SELECT id, call_sid, recording_sid, "
    "TIMESTAMPDIFF(SECOND, COALESCE(ended_at, created_at), NOW(3)), created_at "
    "FROM call_log FORCE INDEX (ix_call_log_rec_deleted_created) "
    "WHERE recording_deleted_at IS NULL "
    "AND created_at < NOW(3) - INTERVAL ? SECOND "
    "AND COALESCE(ended_at, created_at) < NOW(3) - INTERVAL ? SECOND "
    "AND recording_sid IS NOT NULL " PURGE_KEYSET;

static enum cp_err
purge_twilio(const struct cp_conf *conf, struct db *db,
    const struct queue_job *job, bool dry_run, purge_note_fn note, void *arg,
    struct purge_stats *st, char *err, size_t errlen)
{
	long long keep = purge_secs(conf->recording.retention_days);
	struct purge_cursor cur = PURGE_CURSOR_START;
	size_t got;
	enum cp_err rc;

	do {
		struct db_result *res = NULL;

		if ((rc = purge_next_batch(conf, db, job, purge_twilio_sql, keep,
		    &cur, &res, err, errlen)) != CP_OK)
			return rc;
		got = res->nrows;
		for (size_t r = 0; r < res->nrows; r++) {
			const char *cs = db_cell(res, r, 1), *rs = db_cell(res, r, 2);
			char why[CP_REASON_MAX + 1] = "";
			long long id = 0, age = 0;
			long status = 0;

			(void)db_cell_ll(res, r, 0, 1, LLONG_MAX, &id);
			(void)db_cell_ll(res, r, 3, LLONG_MIN, LLONG_MAX, &age);
			purge_advance(&cur, res, r, 4, id);
			if (cs == NULL || rs == NULL)
				continue;
			if (dry_run) {
				st->twilio_deleted++;
				purge_note(note, arg, "twilio: would delete recording %s "
				    "(call %s, %lld days old)", rs, cs, age / 86400);
				continue;
			}
			if (twilio_delete_recording(conf, rs, &status, why,
			    sizeof(why)) != CP_OK) {
				st->twilio_failed++;
				log_warn("purge: recording %s of call %s: %s", rs, cs, why);
				purge_note(note, arg, "twilio: delete of recording %s "
				    "(call %s) failed: %s", rs, cs, why);
				/* Twilio unreachable or failing (no answer, 429, 5xx):
				 * the rest would each wait out the request timeout
				 * under one lease; the run stops, and the job's
				 * retry with backoff (CP_UPSTREAM from the failed
				 * count) goes on from the rows not yet deleted. A
				 * 4xx is this recording's own: the next one goes on. */
				if (status == 0 || status == 429 || status >= 500) {
					db_result_free(res);
					return CP_OK;
				}
				continue;
			}
			{
				struct db_param q[1] = { db_i64(id) };
				if (db_exec(db, "UPDATE call_log SET recording_deleted_at "
				    "= NOW(3) WHERE id = ? AND recording_deleted_at IS "
				    "NULL", q, 1, NULL, NULL) != CP_OK) {
					db_result_free(res);
					cp_fmt(err, errlen, "purge: %s", db_error(db));
					return CP_DB;
				}
			}
			st->twilio_deleted++;
			log_info("purge: recording %s of call %s deleted at Twilio "
			    "(HTTP %ld)", rs, cs, status);
			purge_note(note, arg, "twilio: deleted recording %s (call %s, "
			    "%lld days old; HTTP %ld%s)", rs, cs, age / 86400, status,
			    status == 404 ? ": gone already" : "");
		}
		db_result_free(res);
	} while (got == PURGE_BATCH);
	return CP_OK;
}

/*
 * The old calls whose transcripts were not cleared yet, after the cursor.
 * A stage still processing is left for the next day's run: a worker's
 * answer landing after the clear would keep the text past retention.
 */
static const char purge_transcript_sql[] =
    "SELECT id, call_sid, "
    "TIMESTAMPDIFF(SECOND, COALESCE(ended_at, created_at), NOW(3)), "
    "transcription IS NOT NULL OR final_transcript IS NOT NULL OR "
    "transcript_segments IS NOT NULL OR summary IS NOT NULL OR "
    "extracted_service IS NOT NULL OR extracted_city IS NOT NULL, created_at "
    "FROM call_log FORCE INDEX (ix_call_log_tr_purged_created) "
    "WHERE transcript_purged_at IS NULL "
    "AND created_at < NOW(3) - INTERVAL ? SECOND "
    "AND COALESCE(ended_at, created_at) < NOW(3) - INTERVAL ? SECOND "
    "AND transcript_status <> 'processing' AND summary_status <> 'processing' "
    PURGE_KEYSET;

/* Clears what the caller said, and what was drawn from it. */
static const char purge_clear_head[] =
    "UPDATE call_log SET transcription = NULL, final_transcript = NULL, "
    "transcript_segments = NULL, summary = NULL, extracted_service = NULL, "
    "extracted_city = NULL, extraction_confidence = NULL, "
    "transcript_purged_at = NOW(3) "
    "WHERE transcript_purged_at IS NULL AND id IN (";

static enum cp_err
purge_transcripts(const struct cp_conf *conf, struct db *db,
    const struct queue_job *job, bool dry_run, purge_note_fn note, void *arg,
    struct purge_stats *st, char *err, size_t errlen)
{
	long long keep = purge_secs(conf->transcript.retention_days);
	struct purge_cursor cur = PURGE_CURSOR_START;
	size_t got;
	enum cp_err rc;

	do {
		struct db_param p[PURGE_BATCH];
		char sql[sizeof(purge_clear_head) + 2 * PURGE_BATCH + 4];
		size_t len = sizeof(purge_clear_head) - 1, n = 0;
		struct db_result *res = NULL;

		if ((rc = purge_next_batch(conf, db, job, purge_transcript_sql,
		    keep, &cur, &res, err, errlen)) != CP_OK)
			return rc;
		got = res->nrows;
		memcpy(sql, purge_clear_head, len);
		for (size_t r = 0; r < res->nrows; r++) {
			const char *cs = db_cell(res, r, 1), *has = db_cell(res, r, 3);
			long long id = 0, age = 0;

			if (db_cell_ll(res, r, 0, 1, LLONG_MAX, &id) != CP_OK)
				continue;
			(void)db_cell_ll(res, r, 2, LLONG_MIN, LLONG_MAX, &age);
			purge_advance(&cur, res, r, 4, id);
			p[n++] = db_i64(id);
			sql[len++] = '?';
			sql[len++] = ',';
			/* A row with nothing to clear is marked, not reported. */
			if (has == NULL || strcmp(has, "1") != 0 || cs == NULL)
				continue;
			st->transcripts++;
			purge_note(note, arg, "transcript: %s call %s (%lld days old)",
			    dry_run ? "would clear" : "cleared", cs, age / 86400);
		}
		db_result_free(res);
		if (n == 0 || dry_run)
			continue;
		sql[len - 1] = ')';
		sql[len] = '\0';
		if (db_exec(db, sql, p, n, NULL, NULL) != CP_OK) {
			cp_fmt(err, errlen, "purge: %s", db_error(db));
			return CP_DB;
		}
	} while (got == PURGE_BATCH);
	return CP_OK;
}

enum cp_err
purge_database(const struct cp_conf *conf, struct db *db,
    const struct queue_job *job, bool dry_run, purge_note_fn note, void *arg,
    struct purge_stats *stats, char *err, size_t errlen)
{
	enum cp_err rc = CP_OK;

	if (conf->recording.delete_at_twilio)
		rc = purge_twilio(conf, db, job, dry_run, note, arg, stats, err,
		    errlen);
	if (rc == CP_OK && conf->transcript.retention_days > 0)
		rc = purge_transcripts(conf, db, job, dry_run, note, arg, stats,
		    err, errlen);
	return rc;
}

/* ------------------------------------------------------------ the daily tick */

/* Removes the markers of other days than day. */
static void
purge_old_markers(const struct cp_conf *conf, int day)
{
	char keep[64], path[4096];
	struct dirent *de;
	DIR *d;

	cp_fmt(keep, sizeof(keep), PURGE_MARKER "%d", day);
	if ((d = opendir(conf->recording.cache_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, PURGE_MARKER, strlen(PURGE_MARKER)) == 0 &&
		    strcmp(de->d_name, keep) != 0) {
			cp_fmt(path, sizeof(path), "%s/%s", conf->recording.cache_dir,
			    de->d_name);
			(void)unlink(path);
		}
	closedir(d);
}

/* This host's cache purge, when no process on this cache directory has
 * run it on day yet. true: done for the day (or nothing to do). */
static bool
purge_tick_cache(const struct cp_conf *conf, struct db *db, int day)
{
	struct purge_stats st = { 0 };
	char path[4096], err[CP_REASON_MAX + 1] = "";
	int fd;

	cp_fmt(path, sizeof(path), "%s/" PURGE_MARKER "%d",
	    conf->recording.cache_dir, day);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0) {
		if (errno == EEXIST || errno == ENOENT)
			return true;   /* another process did; or no cache here */
		log_warn("purge: %s: %s; the cache purge waits", path,
		    strerror(errno));
		return false;
	}
	close(fd);
	purge_old_markers(conf, day);
	if (purge_cache(conf, db, false, NULL, NULL, &st, err, sizeof(err)) !=
	    CP_OK) {
		log_warn("%s; tried again later", err);
		(void)unlink(path);
		return false;
	}
	log_info("purge: cache %s: %d file(s) of calls older than %d days "
	    "deleted (%lld bytes)", conf->recording.cache_dir, st.cache_files,
	    conf->recording.retention_days, st.cache_bytes);
	return true;
}

void
purge_tick(const struct cp_conf *conf, struct db *db, time_t now)
{
	/* One worker process is one thread: plain statics. */
	static int enqueued_day, cache_day;
	int day = jobkey_day((long long)now);
	char key[QUEUE_KEY_MAX + 1];

	if (day != enqueued_day &&
	    jobkey_purge(key, sizeof(key), NULL, NULL, day) == CP_OK) {
		if (queue_enqueue_periodic(db, JOB_PURGE, key,
		    conf->worker.max_attempts, NULL) == CP_OK)
			enqueued_day = day;
		else
			log_warn("purge: enqueueing %s: %s", key, db_error(db));
	}
	if (day != cache_day && purge_tick_cache(conf, db, day))
		cache_day = day;
}

/* ------------------------------------------------------------ the job */

static void
purge_log_note(void *arg, const char *line)
{
	(void)arg;
	log_info("purge: %s", line);
}

void
purge_job_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	struct purge_stats st = { 0 };

	(void)row;
	o->rc = purge_database(c->conf, c->db, c->job, false, purge_log_note,
	    NULL, &st, o->reason, sizeof(o->reason));
	if (o->rc != CP_OK)
		return;
	log_info("purge: %d recording(s) deleted at Twilio, %d failed; %d "
	    "call(s) had their transcripts cleared", st.twilio_deleted,
	    st.twilio_failed, st.transcripts);
	if (st.twilio_failed > 0) {
		o->rc = CP_UPSTREAM;
		cp_fmt(o->reason, sizeof(o->reason), "purge: %d recording "
		    "delete(s) at Twilio failed (the log names them)",
		    st.twilio_failed);
	}
}

