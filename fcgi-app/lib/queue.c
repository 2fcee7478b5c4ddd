#include "queue.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

const char queue_claim_sql[] =
    "SELECT id, kind, call_sid, dedupe_key, attempts, max_attempts "
    "FROM jobs "
    "WHERE state = 'queued' AND run_after <= NOW(3) "
    "ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED";

static void
queue_copy(char *dst, size_t cap, const char *src)
{
	cp_fmt(dst, cap, "%s", src ? src : "");
}

/*
 * The job in row `row` of r, whose columns are id, kind, call_sid,
 * dedupe_key, attempts, max_attempts and, optionally, locked_by (the
 * SELECTs of queue_claim_sql and queue_requeue_expired); locked_by is ""
 * without that column. Returns CP_OK, or CP_DB (logged) when a number
 * column holds something else.
 */
static enum cp_err
queue_job_from_row(const struct db_result *r, size_t row,
    struct queue_job *j)
{
	long long id, attempts, max_attempts;

	memset(j, 0, sizeof(*j));
	/* attempts stays below INT_MAX: a claim adds one. */
	if (db_cell_ll(r, row, 0, 1, LLONG_MAX, &id) != CP_OK ||
	    db_cell_ll(r, row, 4, 0, INT_MAX - 1, &attempts) != CP_OK ||
	    db_cell_ll(r, row, 5, 0, INT_MAX, &max_attempts) != CP_OK) {
		log_error("queue: jobs row with id %s is not readable",
		    db_cell(r, row, 0) ? db_cell(r, row, 0) : "NULL");
		return CP_DB;
	}
	j->id = (unsigned long long)id;
	j->attempts = (int)attempts;
	j->max_attempts = (int)max_attempts;
	queue_copy(j->kind, sizeof(j->kind), db_cell(r, row, 1));
	queue_copy(j->call_sid, sizeof(j->call_sid), db_cell(r, row, 2));
	queue_copy(j->dedupe_key, sizeof(j->dedupe_key), db_cell(r, row, 3));
	queue_copy(j->locked_by, sizeof(j->locked_by), db_cell(r, row, 6));
	return CP_OK;
}

/* queue_enqueue; quiet: the periodic kinds' enqueue, which every worker
 * repeats each period, logs a new job at debug and a taken key not at
 * all. */
static enum cp_err
queue_insert(struct db *db, const char *kind, const char *call_sid,
    const char *dedupe_key, int max_attempts, long delay_ms, bool *inserted,
    bool quiet)
{
	struct db_param p[5];
	unsigned long long n = 0;

	if (strlen(kind) > QUEUE_KIND_MAX || strlen(dedupe_key) > QUEUE_KEY_MAX)
		return CP_INPUT;
	p[0] = db_str(kind);
	p[1] = db_str(call_sid);
	p[2] = db_str(dedupe_key);
	p[3] = db_i64(max_attempts);
	p[4] = db_i64((long long)delay_ms * 1000);
	if (db_exec(db, "INSERT INTO jobs (kind, call_sid, dedupe_key, "
	    "max_attempts, run_after) VALUES (?, ?, ?, ?, "
	    "NOW(3) + INTERVAL ? MICROSECOND) "
	    "ON DUPLICATE KEY UPDATE id = id", p, 5, NULL, &n) != CP_OK)
		return CP_DB;
	if (inserted != NULL)
		*inserted = (n == 1);
	if (n == 1)
		log_msg(quiet ? LOG_LVL_DEBUG : LOG_LVL_INFO, "queue: enqueued %s %s",
		    kind, dedupe_key);
	else if (!quiet)
		log_info("queue: %s already enqueued, not again", dedupe_key);
	return CP_OK;
}

enum cp_err
queue_enqueue(struct db *db, const char *kind, const char *call_sid,
    const char *dedupe_key, int max_attempts, long delay_ms, bool *inserted)
{
	return queue_insert(db, kind, call_sid, dedupe_key, max_attempts,
	    delay_ms, inserted, false);
}

enum cp_err
queue_enqueue_periodic(struct db *db, const char *kind,
    const char *dedupe_key, int max_attempts, bool *inserted)
{
	return queue_insert(db, kind, NULL, dedupe_key, max_attempts, 0,
	    inserted, true);
}

enum cp_err
queue_wake(struct db *db, const char *dedupe_key, bool *pending)
{
	struct db_param p[1];
	struct db_result *res = NULL;
	unsigned long long n = 0;
	const char *st;

	if (strlen(dedupe_key) > QUEUE_KEY_MAX)
		return CP_INPUT;
	p[0] = db_str(dedupe_key);
	if (db_exec(db, "UPDATE jobs SET run_after = NOW(3) WHERE dedupe_key = ? "
	    "AND state = 'queued' AND run_after > NOW(3)", p, 1, NULL, &n) !=
	    CP_OK)
		return CP_DB;
	if (n == 1)
		log_info("queue: %s woken: someone waits for it", dedupe_key);
	if (pending == NULL)
		return CP_OK;
	if (db_exec(db, "SELECT state FROM jobs WHERE dedupe_key = ?", p, 1, &res,
	    NULL) != CP_OK)
		return CP_DB;
	st = db_cell(res, 0, 0);
	*pending = st != NULL && (strcmp(st, "queued") == 0 ||
	    strcmp(st, "running") == 0);
	db_result_free(res);
	return CP_OK;
}

struct queue_claim_ctx {
	const char       *owner;
	int               lease_s;
	struct queue_job *job;
	bool              got;
};

static enum cp_err
queue_claim_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct queue_claim_ctx *c = arg;
	struct db_result *r = NULL;
	struct db_param p[3];
	unsigned long long n = 0;
	enum cp_err rc;

	c->got = false;
	if (db_exec(db, queue_claim_sql, NULL, 0, &r, NULL) != CP_OK)
		return CP_DB;
	if (r->nrows == 0) {
		db_result_free(r);
		return CP_OK;
	}
	rc = queue_job_from_row(r, 0, c->job);
	db_result_free(r);
	if (rc != CP_OK)
		return rc;
	c->job->attempts++;     /* this run, as the UPDATE below counts it */
	queue_copy(c->job->locked_by, sizeof(c->job->locked_by), c->owner);

	p[0] = db_str(c->owner);
	p[1] = db_i64(c->lease_s);
	p[2] = db_i64((long long)c->job->id);
	if (db_exec(db, "UPDATE jobs SET state = 'running', locked_by = ?, "
	    "locked_until = NOW(3) + INTERVAL ? SECOND, "
	    "attempts = attempts + 1 WHERE id = ?", p, 3, NULL, &n) != CP_OK)
		return CP_DB;
	c->got = (n == 1);
	return CP_OK;
}

enum cp_err
queue_claim(struct db *db, const char *owner, int lease_s,
    struct queue_job *job, bool *got)
{
	struct queue_claim_ctx c = { owner, lease_s, job, false };
	char err[CP_REASON_MAX + 1];
	enum cp_err rc;

	*got = false;
	if ((rc = db_tx(db, queue_claim_tx, &c, err, sizeof(err))) != CP_OK)
		return rc;
	*got = c.got;
	return CP_OK;
}

void
queue_claim_batch_sql(char *out, size_t outlen, int max)
{
	cp_fmt(out, outlen, "SELECT id, kind, call_sid, dedupe_key, attempts, "
	    "max_attempts FROM jobs WHERE state = 'queued' AND run_after <= "
	    "NOW(3) ORDER BY run_after, id LIMIT %d FOR UPDATE SKIP LOCKED", max);
}

struct queue_batch_ctx {
	const char       *owner;
	int               lease_s, max;
	unsigned long    *reconnects;
	struct queue_job *jobs;
	int               n;
};

/* "UPDATE jobs SET ... WHERE id IN (?, ..., ?)" with max placeholders, so
 * one text per batch size (db.c keeps it prepared); unused ones get 0,
 * which no job has. */
static enum cp_err
queue_batch_mark(struct db *db, struct queue_batch_ctx *c, int take)
{
	char sql[QUEUE_BATCH_MAX * 3 + 300];
	struct db_param p[QUEUE_BATCH_MAX + 5];
	unsigned long long n = 0;
	size_t len;

	/* The held jobs' lease is QUEUE_HELD_LEASE_S: behind a slow first
	 * job, the lease check of another worker puts them back within
	 * seconds (queue_requeue_expired), not after lease_s. */
	cp_fmt(sql, sizeof(sql), "UPDATE jobs SET state = 'running', "
	    "locked_by = ?, locked_until = NOW(3) + INTERVAL IF(id = ?, ?, ?) "
	    "SECOND, attempts = attempts + (id = ?) WHERE id IN (?");
	for (int i = 1; i < c->max; i++) {
		len = strlen(sql);
		cp_fmt(sql + len, sizeof(sql) - len, ", ?");
	}
	len = strlen(sql);
	cp_fmt(sql + len, sizeof(sql) - len, ")");
	p[0] = db_str(c->owner);
	p[1] = db_i64((long long)c->jobs[0].id);
	p[2] = db_i64(c->lease_s);
	p[3] = db_i64(c->lease_s < QUEUE_HELD_LEASE_S ? c->lease_s :
	    QUEUE_HELD_LEASE_S);
	p[4] = db_i64((long long)c->jobs[0].id);
	for (int i = 0; i < c->max; i++)
		p[5 + i] = db_i64(i < take ? (long long)c->jobs[i].id : 0);
	if (db_exec(db, sql, p, (size_t)c->max + 5, NULL, &n) != CP_OK)
		return CP_DB;
	if (n != (unsigned long long)take) {
		/* The rows are locked FOR UPDATE: this cannot happen. */
		log_error("queue: batch claim marked %llu of %d jobs", n, take);
		return CP_DB;
	}
	return CP_OK;
}

static enum cp_err
queue_claim_batch_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct queue_batch_ctx *c = arg;
	struct db_result *r = NULL;
	char sql[400];
	enum cp_err rc = CP_OK;
	unsigned long now = db_connect_count(db);
	int take;

	(void)err;
	(void)errlen;
	c->n = 0;
	if (now != *c->reconnects && queue_release_owner(db, c->owner, 0,
	    "put back: claimed by a transaction whose COMMIT reply was lost "
	    "(the worker reconnected)", true, NULL) != CP_OK)
		return CP_DB;
	queue_claim_batch_sql(sql, sizeof(sql), c->max);
	if (db_exec(db, sql, NULL, 0, &r, NULL) != CP_OK)
		return CP_DB;
	take = r->nrows == (size_t)c->max ? c->max : r->nrows > 0 ? 1 : 0;
	for (int i = 0; i < take && rc == CP_OK; i++)
		rc = queue_job_from_row(r, (size_t)i, &c->jobs[i]);
	db_result_free(r);
	if (rc != CP_OK || take == 0)
		return rc;
	if ((rc = queue_batch_mark(db, c, take)) != CP_OK)
		return rc;
	for (int i = 0; i < take; i++)
		queue_copy(c->jobs[i].locked_by, sizeof(c->jobs[i].locked_by),
		    c->owner);
	c->jobs[0].attempts++;  /* this run, as the UPDATE counts it */
	c->n = take;
	return CP_OK;
}

enum cp_err
queue_claim_batch(struct db *db, const char *owner, int lease_s, int max,
    unsigned long *reconnects, struct queue_job *jobs, int *n)
{
	struct queue_batch_ctx c = { owner, lease_s, max, reconnects, jobs, 0 };
	char err[CP_REASON_MAX + 1];
	enum cp_err rc;

	*n = 0;
	if (max < 1 || max > QUEUE_BATCH_MAX)
		return CP_INPUT;
	if ((rc = db_tx(db, queue_claim_batch_tx, &c, err, sizeof(err))) != CP_OK)
		return rc;
	/* Committed: what the release in it covered is done. */
	*reconnects = db_connect_count(db);
	*n = c.n;
	return CP_OK;
}

enum cp_err
queue_start_held(struct db *db, struct queue_job *job, int lease_s)
{
	struct db_param p[4] = { db_i64(lease_s), db_i64((long long)job->id),
	    db_str(job->locked_by), db_i64(job->attempts) };
	unsigned long long n = 0;

	if (db_exec(db, "UPDATE jobs SET attempts = attempts + 1, "
	    "locked_until = NOW(3) + INTERVAL ? SECOND WHERE id = ? AND "
	    "locked_by = ? AND attempts = ? AND state = 'running'", p, 4, NULL,
	    &n) != CP_OK)
		return CP_DB;
	if (n == 0)
		return CP_NOTFOUND;
	job->attempts++;
	return CP_OK;
}

struct queue_held_ctx {
	const struct queue_job *jobs;
	int                     n, released;
};

static enum cp_err
queue_release_held_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct queue_held_ctx *c = arg;

	(void)err;
	(void)errlen;
	c->released = 0;
	for (int i = 0; i < c->n; i++) {
		struct db_param p[3] = { db_i64((long long)c->jobs[i].id),
		    db_str(c->jobs[i].locked_by), db_i64(c->jobs[i].attempts) };
		unsigned long long k = 0;
		if (db_exec(db, "UPDATE jobs SET state = 'queued', locked_by = "
		    "NULL, locked_until = NULL WHERE id = ? AND locked_by = ? AND "
		    "attempts = ? AND state = 'running'", p, 3, NULL, &k) != CP_OK)
			return CP_DB;
		c->released += (int)k;
	}
	return CP_OK;
}

enum cp_err
queue_release_held(struct db *db, const struct queue_job *jobs, int n,
    int *released)
{
	struct queue_held_ctx c = { jobs, n, 0 };
	char err[CP_REASON_MAX + 1];
	enum cp_err rc;

	if (released != NULL)
		*released = 0;
	if (n <= 0)
		return CP_OK;
	if ((rc = db_tx(db, queue_release_held_tx, &c, err, sizeof(err))) != CP_OK)
		return rc;
	if (released != NULL)
		*released = c.released;
	return CP_OK;
}

static enum cp_err
queue_guarded(struct db *db, const struct queue_job *job, const char *set,
    const struct db_param *setp, size_t nsetp)
{
	char sql[512];
	struct db_param p[6];
	unsigned long long n = 0;

	if (nsetp > 3)
		return CP_INPUT;
	cp_fmt(sql, sizeof(sql), "UPDATE jobs SET %s, locked_by = NULL, "
	    "locked_until = NULL WHERE id = ? AND locked_by = ? AND "
	    "attempts = ? AND state = 'running'", set);
	for (size_t i = 0; i < nsetp; i++)
		p[i] = setp[i];
	p[nsetp] = db_i64((long long)job->id);
	p[nsetp + 1] = db_str(job->locked_by);
	p[nsetp + 2] = db_i64(job->attempts);
	if (db_exec(db, sql, p, nsetp + 3, NULL, &n) != CP_OK)
		return CP_DB;
	if (n == 0) {
		log_warn("queue: job %llu (%s) lease lost: finished by another "
		    "run, this run's result is dropped", job->id, job->dedupe_key);
		return CP_NOTFOUND;
	}
	return CP_OK;
}

enum cp_err
queue_finish_done(struct db *db, const struct queue_job *job)
{
	return queue_guarded(db, job, "state = 'done', last_error = NULL",
	    NULL, 0);
}

enum cp_err
queue_finish_retry(struct db *db, const struct queue_job *job, long delay_ms,
    const char *reason)
{
	struct db_param p[2] = { db_i64((long long)delay_ms * 1000),
	    db_strn(reason, cp_utf8_prefix(reason, CP_REASON_MAX)) };

	return queue_guarded(db, job, "state = 'queued', run_after = NOW(3) + "
	    "INTERVAL ? MICROSECOND, last_error = ?", p, 2);
}

enum cp_err
queue_finish_dead(struct db *db, const struct queue_job *job,
    const char *reason)
{
	struct db_param p[1] = { db_strn(reason, cp_utf8_prefix(reason, CP_REASON_MAX)) };

	return queue_guarded(db, job, "state = 'dead', last_error = ?", p, 1);
}

enum cp_err
queue_finish_wait(struct db *db, const struct queue_job *job, long delay_ms,
    const char *reason)
{
	struct db_param p[2] = { db_i64((long long)delay_ms * 1000),
	    db_strn(reason, cp_utf8_prefix(reason, CP_REASON_MAX)) };

	/* The WHERE (attempts = ?) is read before the SET takes one off. */
	return queue_guarded(db, job, "state = 'queued', run_after = NOW(3) + "
	    "INTERVAL ? MICROSECOND, last_error = ?, attempts = attempts - 1",
	    p, 2);
}

enum cp_err
queue_extend_lease(struct db *db, const struct queue_job *job, int lease_s)
{
	struct db_param p[4] = { db_i64(lease_s), db_i64((long long)job->id),
	    db_str(job->locked_by), db_i64(job->attempts) };
	unsigned long long n = 0;

	if (db_exec(db, "UPDATE jobs SET locked_until = NOW(3) + INTERVAL ? "
	    "SECOND WHERE id = ? AND locked_by = ? AND attempts = ? AND "
	    "state = 'running'", p, 4, NULL, &n) != CP_OK)
		return CP_DB;
	return n == 1 ? CP_OK : CP_NOTFOUND;
}

enum cp_err
queue_requeue_expired(struct db *db, int *requeued, struct queue_job *expired,
    int max, int *nexpired)
{
	unsigned long long n = 0;
	struct db_result *r = NULL;
	struct db_param p[1];

	*requeued = 0;
	*nexpired = 0;
	if (db_exec(db, "UPDATE jobs SET state = 'queued', run_after = NOW(3), "
	    "locked_by = NULL, locked_until = NULL, last_error = 'lease expired' "
	    "WHERE state = 'running' AND locked_until < NOW(3) "
	    "AND attempts < max_attempts", NULL, 0, NULL, &n) != CP_OK)
		return CP_DB;
	*requeued = (int)n;
	if (n > 0)
		log_warn("queue: %llu job(s) with an expired lease put back", n);
	if (max <= 0)
		return CP_OK;
	p[0] = db_i64(max);
	if (db_exec(db, "SELECT id, kind, call_sid, dedupe_key, attempts, "
	    "max_attempts, locked_by FROM jobs WHERE state = 'running' AND "
	    "locked_until < NOW(3) AND attempts >= max_attempts "
	    "ORDER BY id LIMIT ?", p, 1, &r, NULL) != CP_OK)
		return CP_DB;
	for (size_t i = 0; i < r->nrows && *nexpired < max; i++)
		if (queue_job_from_row(r, i, &expired[*nexpired]) == CP_OK)
			(*nexpired)++;
	db_result_free(r);
	return CP_OK;
}

void
queue_owner_id(char *out, size_t outlen, long pid)
{
	char host[64] = "localhost";

	(void)gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	cp_fmt(out, outlen, "%.63s:%ld", host, pid);
}

enum cp_err
queue_release_owner(struct db *db, const char *owner,
    unsigned long long keep_id, const char *reason, bool refund, int *n)
{
	struct db_param p[3];
	unsigned long long changed = 0;

	if (n != NULL)
		*n = 0;
	if (owner == NULL || owner[0] == '\0' || strlen(owner) > QUEUE_OWNER_MAX)
		return CP_INPUT;
	if (reason == NULL)
		reason = "put back: its worker lost it";
	p[0] = db_strn(reason, cp_utf8_prefix(reason, CP_REASON_MAX));
	p[1] = db_str(owner);
	p[2] = db_i64((long long)keep_id);
	if (db_exec(db, refund ?
	    "UPDATE jobs SET state = 'queued', run_after = NOW(3), "
	    "attempts = IF(attempts > 0, attempts - 1, 0), locked_by = NULL, "
	    "locked_until = NULL, last_error = ? WHERE state = 'running' AND "
	    "locked_by = ? AND id <> ?" :
	    "UPDATE jobs SET state = 'queued', run_after = NOW(3), "
	    "locked_by = NULL, locked_until = NULL, last_error = ? WHERE "
	    "state = 'running' AND locked_by = ? AND id <> ? AND "
	    "attempts < max_attempts", p, 3, NULL, &changed) != CP_OK)
		return CP_DB;
	if (n != NULL)
		*n = (int)changed;
	if (changed > 0)
		log_warn("queue: %llu running job(s) of %s back in the queue (%s)",
		    changed, owner, reason);
	return CP_OK;
}

long
queue_backoff_ms(int attempt, long base_ms, long max_ms)
{
	double d = (double)base_ms;
	double jitter;

	for (int i = 1; i < attempt && d < (double)max_ms; i++)
		d *= 2.0;
	if (d > (double)max_ms)
		d = (double)max_ms;
	/* random() is seeded per process by the worker (pid ^ time). */
	jitter = ((double)random() / (double)RAND_MAX) * 0.5 - 0.25;
	d += d * jitter;
	return d < 1.0 ? 1 : (long)d;
}
