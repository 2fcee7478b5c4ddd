/*
 * metrics.h: what callpipe counts and how GET /metrics shows it, in the
 * Prometheus text exposition format, version 0.0.4 (Prometheus docs,
 * "Exposition formats", https://prometheus.io/docs/instrumenting/
 * exposition_formats/: "# HELP", "# TYPE", one sample per line,
 * histograms as _bucket{le=...} cumulative, +Inf, _sum, _count).
 *
 * The metrics are one table in metrics.c (name, type, help, labels). The
 * counters live in the scoreboard (scoreboard.h), summed over every
 * process of callpipe-fcgi (children and the workers it spawned); the
 * queue gauges come from SQL at scrape time. Every label has a bounded set
 * of values: routes from the route table (routes.c), statuses from a fixed
 * list (others count as "other"), job kinds from the job kinds table
 * (jobs.c), the three stages, fixed outcomes.
 *
 * The metrics_count_* functions are the hook points; each is a few relaxed
 * atomic stores into this process's scoreboard slot and never fails.
 */
#ifndef CP_METRICS_H
#define CP_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "calls.h"
#include "cp_err.h"
#include "db.h"

/* How a job's run ended (callpipe_job_attempts_total's result). */
enum metrics_job_result {
	METRICS_JOB_DONE = 0,   /* succeeded: job done */
	METRICS_JOB_RETRY,      /* failed, queued again with backoff */
	METRICS_JOB_WAIT,       /* not ready (a live call): queued again, the
	                           attempt given back */
	METRICS_JOB_DEAD,       /* failed for good or out of attempts */
	METRICS_JOB_NRESULTS
};

/*
 * One answered request: route is the index in the route table (routes.c,
 * routes_count), -1 when no route took it (404, 405, a request nginx
 * passed without its URI); status is the HTTP status answered.
 */
void metrics_count_request(int route, int status);

/* A stage of a call moved to completed (ok) or failed. */
void metrics_count_stage(enum calls_stage stage, bool ok);

/*
 * One run of a job of kind (jobs.kind; a kind the table lacks counts as
 * "unknown") ended as result after seconds of wall-clock time (claim to
 * written outcome; < 0: not measured, only the attempt is counted).
 */
void metrics_count_job(const char *kind, enum metrics_job_result result,
    double seconds);

/* The database connection was made again after it was lost (db.c). */
void metrics_count_reconnect(void);

/*
 * The whole exposition: the scoreboard's totals and the queue gauges read
 * from db now. *out gets a malloc'd text (free it), *len its length in
 * bytes. A database that fails is no error: callpipe_database_up is 0 and
 * the queue gauges are left out. Returns CP_OK; CP_NOTFOUND (this process
 * has no shared scoreboard: callpipe-fcgi's children always have one);
 * CP_BUSY (scoreboard_read: the master died folding); CP_NOMEM.
 */
enum cp_err metrics_render(struct db *db, char **out, size_t *len);

/*
 * The oldest due job's wait: seconds since the smallest run_after of the
 * jobs queued with run_after <= now (0 when none is due), into *age_s.
 * Reads the claim index (state, run_after). Returns CP_OK or CP_DB.
 */
enum cp_err metrics_oldest_due_age(struct db *db, double *age_s);

/* The Content-Type of the exposition (format version 0.0.4). */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
