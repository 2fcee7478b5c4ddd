#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "jobkey.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "purge.h"
#include "store.h"
#include "sweep.h"

#define WORKER_REQUEUE_EVERY_S 5
#define WORKER_EXPIRED_BATCH   16
/* A batch's held jobs go back to the queue once it has been held this
 * long, so jobs behind a slow one are not kept from idle workers. */
#define WORKER_BATCH_HOLD_MS   1000

struct worker {
	const struct cp_conf *conf;
	struct db            *db;
	char                  id[QUEUE_OWNER_MAX + 1];
	unsigned long         connects;  /* db_connect_count at the last check */
	long long             swept;   /* the last sweep period enqueued, -1 */
	/* The claimed batch (queue_claim_batch): batch[next..n-1] are held,
	 * not started; batch[0] was started by the claim. */
	struct queue_job      batch[QUEUE_BATCH_MAX];
	int                   n, next;
	struct timespec       claimed;   /* CLOCK_MONOTONIC of the claim */
};

enum cp_err
worker_new(const struct cp_conf *conf, struct worker **out)
{
	struct worker *w;
	char err[CP_REASON_MAX + 1];

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return CP_NOMEM;
	w->conf = conf;
	/* "host:pid": the master names a reaped worker's jobs the same way. */
	queue_owner_id(w->id, sizeof(w->id), (long)getpid());
	w->swept = -1;
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	/* A database that is down is not fatal: the loop reconnects. */
	(void)db_open(conf, &w->db, err, sizeof(err));
	if (w->db == NULL) {
		free(w);
		return CP_NOMEM;
	}
	w->connects = db_connect_count(w->db);
	*out = w;
	return CP_OK;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	db_close(w->db);
	free(w);
}

/*
 * Failures never retried: the input is wrong (bad URL, SID, a stage run
 * out of order), there is nothing to work on (no audio, no speech, no row),
 * or an upstream refused for good (OPENAI.md: quota, 4xx, 3xx).
 */
static bool
worker_permanent(enum cp_err rc)
{
	return rc == CP_INPUT || rc == CP_NOAUDIO || rc == CP_EMPTY ||
	    rc == CP_NOTFOUND || rc == CP_REJECTED;
}

static void
worker_execute(struct worker *w, const struct queue_job *job,
    struct job_outcome *o)
{
	const struct job_kind *k = jobs_find(job->kind);
	struct job_ctx ctx = { w->conf, w->db, job };
	struct calls_row row;
	const char *st;

	memset(o, 0, sizeof(*o));
	o->retry_after_ms = -1;
	if (k == NULL) {
		o->rc = CP_INPUT;
		cp_fmt(o->reason, sizeof(o->reason), "unknown job kind %s",
		    job->kind);
		return;
	}
	/* A job of no call (purge, sweep): its run gets no row. */
	if (k->stageless && job->call_sid[0] == '\0') {
		k->run(&ctx, NULL, o);
		return;
	}
	if (!sid_valid(job->call_sid, "CA")) {
		o->rc = CP_INPUT;
		cp_fmt(o->reason, sizeof(o->reason), "job without a call_sid");
		return;
	}
	if (calls_get(w->db, job->call_sid, &row) != CP_OK) {
		o->rc = CP_DB;
		cp_fmt(o->reason, sizeof(o->reason), "%s: %s", job->kind,
		    db_error(w->db));
		return;
	}
	if (!row.found) {
		o->rc = CP_NOTFOUND;
		cp_fmt(o->reason, sizeof(o->reason), "%s: no call_log row",
		    job->kind);
		return;
	}
	st = k->stage == CALLS_RECORDING ? row.recording_status :
	    k->stage == CALLS_TRANSCRIPT ? row.transcript_status :
	    row.summary_status;
	if (!k->redo_finished && (strcmp(st, "completed") == 0 ||
	    strcmp(st, "failed") == 0)) {
		/* The row refuses to redo a finished stage (DESIGN.md §5). */
		o->rc = CP_OK;
		log_info("job %llu %s: stage already %s, nothing to do",
		    job->id, job->dedupe_key, st);
		return;
	}
	k->run(&ctx, &row, o);
}

struct worker_finish_ctx {
	const struct cp_conf    *conf;
	const struct queue_job  *job;
	struct job_outcome      *o;
	/* Set by the transaction's last run, counted once it committed. */
	enum metrics_job_result  result;
	int                      stage_moved;  /* 1 completed, -1 failed, 0 */
};

/* Success: stage result, next stage's job, job done — one transaction. */
static enum cp_err
worker_finish_ok(struct db *db, struct worker_finish_ctx *c)
{
	const struct queue_job *job = c->job;
	const struct job_kind *k = jobs_find(job->kind);
	struct calls_row row;
	bool moved = false;
	enum cp_err rc;

	if ((rc = queue_finish_done(db, job)) != CP_OK)
		return rc;
	if (k == NULL)
		return CP_OK;
	if ((rc = k->done(db, c->conf, job, c->o, &moved)) != CP_OK)
		return rc;
	if (moved && !k->stageless)
		c->stage_moved = 1;
	if (k->next == NULL || !moved)
		return CP_OK;
	if (calls_get(db, job->call_sid, &row) != CP_OK)
		return CP_DB;
	/* A manual retry bumps retry_count, so its jobs get new keys. */
	return jobs_enqueue(db, k->next, job->call_sid, row.recording_sid,
	    row.retry_count, c->conf->worker.max_attempts, 0, NULL);
}

static enum cp_err
worker_finish_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct worker_finish_ctx *c = arg;
	const struct queue_job *job = c->job;
	struct job_outcome *o = c->o;
	const struct job_kind *k = jobs_find(job->kind);
	enum cp_err rc;

	c->stage_moved = 0;
	c->result = METRICS_JOB_DONE;
	if (o->rc == CP_OK)
		return worker_finish_ok(db, c);
	c->result = METRICS_JOB_WAIT;
	if (o->wait_ms > 0) {
		/* Not a failure: back in the queue, the attempt given back. */
		if ((rc = queue_finish_wait(db, job, o->wait_ms, o->reason)) !=
		    CP_OK)
			return rc;
		return job->call_sid[0] && (k == NULL || !k->stageless) ?
		    calls_note_error(db, job->call_sid, o->reason) : CP_OK;
	}
	c->result = METRICS_JOB_RETRY;
	if (!worker_permanent(o->rc) && job->attempts < job->max_attempts) {
		long delay = queue_backoff_ms(job->attempts,
		    c->conf->worker.backoff_base_ms,
		    c->conf->worker.backoff_max_ms);
		/* Never sooner than the service asked (Retry-After /
		 * retry-after-ms, capped where the backends read it). */
		if (o->retry_after_ms > delay)
			delay = o->retry_after_ms;
		char note[CP_REASON_MAX + 1];
		cp_fmt(note, sizeof(note), "%s (attempt %d of %d, retry in "
		    "%ld ms)", o->reason, job->attempts, job->max_attempts, delay);
		if ((rc = queue_finish_retry(db, job, delay, note)) != CP_OK)
			return rc;
		/* A stageless kind's failure is its job's alone: the row's
		 * last_error belongs to the stages. */
		return job->call_sid[0] && (k == NULL || !k->stageless) ?
		    calls_note_error(db, job->call_sid, note) : CP_OK;
	}
	c->result = METRICS_JOB_DEAD;
	if ((rc = queue_finish_dead(db, job, o->reason)) != CP_OK)
		return rc;
	if (k != NULL && !k->stageless && job->call_sid[0]) {
		c->stage_moved = -1;
		return calls_stage_failed(db, job->call_sid, k->stage, o->reason);
	}
	return CP_OK;
}

/* Counts a committed outcome (metrics.h): the attempt, its time
 * (seconds; < 0 not measured) and a stage that moved. */
static void
worker_count(const struct worker_finish_ctx *c, double seconds)
{
	const struct job_kind *k = jobs_find(c->job->kind);

	metrics_count_job(c->job->kind, c->result, seconds);
	if (c->stage_moved != 0 && k != NULL)
		metrics_count_stage(k->stage, c->stage_moved > 0);
}

static enum cp_err
worker_finish_timed(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o,
    const struct timespec *t0)
{
	struct worker_finish_ctx c = { conf, job, o, METRICS_JOB_DONE, 0 };
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err rc = db_tx(db, worker_finish_tx, &c, err, sizeof(err));

	if (rc == CP_OK) {
		struct timespec t1;
		double secs = -1;
		if (t0 != NULL) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			secs = (double)(t1.tv_sec - t0->tv_sec) +
			    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
		}
		worker_count(&c, secs);
	}

	/* A job without a call that did its work (the sweep, each period)
	 * logs at debug: its own lines say what it changed. */
	if (rc == CP_OK)
		log_msg(o->rc == CP_OK && job->call_sid[0] == '\0' ?
		    LOG_LVL_DEBUG : LOG_LVL_INFO, "job %llu %s attempt %d: %s%s%s",
		    job->id,
		    job->dedupe_key, job->attempts,
		    o->rc == CP_OK ? "done" : cp_strerror(o->rc),
		    o->rc == CP_OK ? "" : ": ", o->rc == CP_OK ? "" : o->reason);
	else if (rc != CP_NOTFOUND)
		log_error("job %llu %s: finishing failed: %s", job->id,
		    job->dedupe_key, err);
	return rc;
}

enum cp_err
worker_finish(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o)
{
	return worker_finish_timed(db, conf, job, o, NULL);
}

/* Milliseconds since *t0 (CLOCK_MONOTONIC). */
static long
worker_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L +
	    (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/*
 * Puts the held jobs of the batch back (queue_release_held: attempts as
 * they were) and forgets them. CP_OK, or CP_DB when that failed: they stay
 * held and the next worker_next_job tries again before claiming (their
 * lease, or the master after this worker's death, also frees them).
 */
static enum cp_err
worker_release_batch(struct worker *w, const char *why)
{
	int released = 0;

	if (w->next >= w->n)
		return CP_OK;
	if (queue_release_held(w->db, &w->batch[w->next], w->n - w->next,
	    &released) != CP_OK) {
		log_warn("worker: putting back %d claimed job(s) failed: %s",
		    w->n - w->next, db_error(w->db));
		return CP_DB;
	}
	log_debug("worker: %d of %d claimed job(s) put back unstarted (%s)",
	    released, w->n - w->next, why);
	w->n = w->next = 0;
	return CP_OK;
}

/*
 * The next job to run into *job: the next held one of the batch, started
 * (queue_start_held), or the first of a new batch of up to
 * worker.claim_batch (queue_claim_batch, which also puts back jobs a lost
 * COMMIT reply left under this worker's id, issue 7 item 7). A batch held
 * longer than WORKER_BATCH_HOLD_MS goes back first. *got is false when
 * nothing is due. CP_OK or CP_DB.
 */
static enum cp_err
worker_next_job(struct worker *w, struct queue_job *job, bool *got)
{
	enum cp_err rc;

	*got = false;
	if (w->next < w->n && worker_ms_since(&w->claimed) > WORKER_BATCH_HOLD_MS &&
	    worker_release_batch(w, "held too long") != CP_OK)
		return CP_DB;
	while (w->next < w->n) {
		*job = w->batch[w->next];
		rc = queue_start_held(w->db, job, w->conf->worker.lease_seconds);
		if (rc == CP_DB) {
			(void)worker_release_batch(w, "starting one failed");
			return CP_DB;
		}
		w->next++;
		if (rc == CP_OK) {
			*got = true;
			return CP_OK;
		}
		log_info("job %llu %s: put back or claimed by another before it "
		    "started here; skipped", job->id, job->dedupe_key);
	}
	w->n = w->next = 0;
	if ((rc = queue_claim_batch(w->db, w->id, w->conf->worker.lease_seconds,
	    w->conf->worker.claim_batch, &w->connects, w->batch, &w->n)) != CP_OK)
		return rc;
	if (w->n == 0)
		return CP_OK;
	clock_gettime(CLOCK_MONOTONIC, &w->claimed);
	*job = w->batch[0];
	w->next = 1;
	*got = true;
	return CP_OK;
}

static enum cp_err
worker_run_one(struct worker *w, bool *ran)
{
	struct queue_job job;
	struct job_outcome o;
	struct timespec t0;
	enum cp_err rc;

	*ran = false;
	if ((rc = worker_next_job(w, &job, ran)) != CP_OK)
		return rc;
	if (!*ran)
		return CP_OK;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Every line until the job is written names it (log.h context). */
	log_ctx_set_job(job.id, job.kind, job.call_sid);
	log_msg(job.call_sid[0] ? LOG_LVL_INFO : LOG_LVL_DEBUG,
	    "job %llu %s: claimed (attempt %d of %d)", job.id,
	    job.dedupe_key, job.attempts, job.max_attempts);
	worker_execute(w, &job, &o);
	rc = worker_finish_timed(w->db, w->conf, &job, &o, &t0);
	job_outcome_free(&o);
	if (rc != CP_OK && rc != CP_NOTFOUND) {
		/* The result could not be written (a value the table refuses,
		 * the database going away): record that as this attempt's
		 * failure, so it is retried with backoff and, at the end, the
		 * stage says failed with the real reason — not a lease that
		 * silently expires. */
		struct job_outcome f;
		memset(&f, 0, sizeof(f));
		f.retry_after_ms = -1;
		f.rc = CP_SYSTEM;
		cp_fmt(f.reason, sizeof(f.reason), "%s: writing the result "
		    "failed: %u %s", job.kind, db_errno(w->db), db_error(w->db));
		(void)worker_finish_timed(w->db, w->conf, &job, &f, &t0);
	}
	log_ctx_clear();
	return CP_OK;
}

/* Jobs whose lease expired on their last attempt: dead, stage failed. */
static void
worker_reap_expired(struct worker *w)
{
	struct queue_job exp[WORKER_EXPIRED_BATCH];
	int requeued = 0, n = 0;

	if (queue_requeue_expired(w->db, &requeued, exp, WORKER_EXPIRED_BATCH,
	    &n) != CP_OK) {
		log_warn("worker: lease check failed: %s", db_error(w->db));
		return;
	}
	for (int i = 0; i < n; i++) {
		struct job_outcome o;
		memset(&o, 0, sizeof(o));
		o.retry_after_ms = -1;
		o.rc = CP_SYSTEM;
		cp_fmt(o.reason, sizeof(o.reason), "%s: lease expired on the "
		    "last attempt (%d of %d); the worker died or hung",
		    exp[i].kind, exp[i].attempts, exp[i].max_attempts);
		log_ctx_set_job(exp[i].id, exp[i].kind, exp[i].call_sid);
		(void)worker_finish(w->db, w->conf, &exp[i], &o);
		log_ctx_clear();
	}
}

/*
 * Each worker enqueues the sweep of the period it is in (sweep.h), once a
 * period: the first insert wins, the others find the key taken, quietly.
 * A failure (the database away) is tried again on the next loop; the
 * claim's own failure is what gets logged.
 */
static void
worker_enqueue_sweep(struct worker *w)
{
	long long period = jobkey_sweep_period((long long)time(NULL),
	    w->conf->worker.sweep_interval_s);

	if (period == w->swept)
		return;
	if (sweep_enqueue(w->db, w->conf, &period) == CP_OK)
		w->swept = period;
}

static void
worker_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	(void)nanosleep(&ts, NULL);   /* a signal ends it early: fine */
}

int
worker_loop(struct worker *w, volatile sig_atomic_t *stop)
{
	time_t last_reap = 0;
	long poll = w->conf->worker.poll_interval_ms;
	int db_down = 0;

	log_info("worker %s: polling every %ld ms", w->id, poll);
	{
		/* Downloads cut short by a killed process leave temp files. */
		int n = 0;
		if (store_sweep_tmp(w->conf, 3600, &n) == CP_OK && n > 0)
			log_info("worker: removed %d stale temporary file(s) from %s",
			    n, w->conf->recording.cache_dir);
	}
	while (!*stop) {
		bool ran = false;
		time_t now = time(NULL);

		if (now - last_reap >= WORKER_REQUEUE_EVERY_S) {
			worker_reap_expired(w);
			/* Today's retention purge (acts once a UTC day). */
			purge_tick(w->conf, w->db, now);
			last_reap = now;
		}
		worker_enqueue_sweep(w);
		if (worker_run_one(w, &ran) != CP_OK) {
			if (db_down++ % 50 == 0)
				log_error("worker: claim failed: %u %s",
				    db_errno(w->db), db_error(w->db));
			worker_sleep_ms(1000);
			continue;
		}
		if (db_down > 0)
			log_info("worker: database is back");
		db_down = 0;
		if (ran)
			continue;
		/* +-50% jitter so several workers do not poll in step. */
		worker_sleep_ms(poll / 2 + random() % (poll + 1));
	}
	/* Claimed jobs not started go back now, not when their lease ends
	 * (the master skips its put-back while stopping). */
	(void)worker_release_batch(w, "stopping");
	log_info("worker %s: stopping", w->id);
	return 0;
}
