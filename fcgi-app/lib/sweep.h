/*
 * sweep.h: the periodic sweep (DESIGN.md §5 stage 4 and "Periodic work";
 * issue 7 item 2), one job kind `sweep` keyed sweep:<p>, p = unix time /
 * worker.sweep_interval_s, so however many workers enqueue it, each
 * period runs once. It finds what lost webhooks and lost jobs left behind
 * and gives it a job again; a row of sweep_rules[] (sweep.c) each:
 *
 *   silent call    recording pending/recording, no recording_url, no event
 *                  for worker.sweep_after_s (its call_status and
 *                  stream_ended were lost)  -> reconcile:<CallSid>:sweep<p>
 *   lost fetch     recording `recording` with its recording_url set
 *                                   -> fetch:<RecordingSid>[:<n>]:sweep<p>
 *   lost stage     transcript / summary `processing`
 *                                   -> transcribe/summarize:<CallSid>:<n>:sweep<p>
 *   lost next job  recording completed, transcript pending (or transcript
 *                  completed, summary pending)      -> the same two keys
 *
 * each only with no queued or running job of its stage and, but for the
 * silent call, idle for longer than worker.lease_seconds (a live job would
 * have moved it or been put back by then); each gives its row's
 * last_error a note. Rows of the legacy upgrade (legacy_upgraded_at set)
 * are left out. Then finished jobs (done, dead) older than
 * jobs.retention_days are deleted, 1000 a statement. Every query is served
 * by an index (schema/006_sweep.sql, ix_jobs_call_sid, ix_jobs_finished).
 */
#ifndef CP_SWEEP_H
#define CP_SWEEP_H

#include <stdbool.h>
#include <stdio.h>
#include "conf.h"
#include "cp_err.h"
#include "db.h"
#include "jobs.h"

/* Rows one rule looks at in one sweep; the rest wait for the next period. */
#define SWEEP_BATCH        100
/* Finished jobs deleted by one DELETE ... LIMIT, and at most this many
 * statements a sweep. */
#define SWEEP_DELETE_BATCH 1000
#define SWEEP_DELETE_MAX   100

/* What one sweep did. */
struct sweep_counts {
	int       reconciles;    /* silent calls given a reconcile */
	int       requeued;      /* lost stages given their job again */
	long long jobs_deleted;  /* finished jobs past jobs.retention_days */
};

/* One rule of the sweep (sweep.c's table), exposed so a test can EXPLAIN
 * its query. */
struct sweep_rule {
	const char *name;    /* "silent call", ... (the printed lines) */
	const char *kind;    /* the job kind it enqueues */
	bool        silent;  /* idle for sweep_after_s (else lease_seconds) */
	/* SELECT call_sid, recording_sid, retry_count, idle seconds; params:
	 * idle seconds, SWEEP_BATCH. */
	const char *sql;
	const char *note;    /* last_error: "<note> (idle N s); <key> queued" */
};
extern const struct sweep_rule sweep_rules[];
extern const size_t sweep_nrules;

/* The DELETE of finished jobs (params: days, SWEEP_DELETE_BATCH). */
extern const char sweep_delete_sql[];

/*
 * One sweep of period p (jobkey_sweep_period) on db, with conf's
 * worker.sweep_after_s, worker.lease_seconds (seconds), worker.max_attempts
 * and jobs.retention_days (days). Each job is enqueued with its note in
 * its own transaction; a taken key (this period's sweep ran before) is
 * not counted. out (may be NULL) gets a line per job enqueued and per
 * delete. *counts gets the totals.
 * Returns CP_OK; CP_DB (what was done stays done; err says why); CP_INPUT
 * (p < 0).
 */
enum cp_err sweep_run(struct db *db, const struct cp_conf *conf,
    long long period, FILE *out, struct sweep_counts *counts, char *err,
    size_t errlen);

/*
 * Enqueues the sweep job of the period now is in (jobkey_sweep_period of
 * time(NULL), worker.sweep_interval_s) unless it exists, quietly
 * (queue_enqueue_periodic). *period gets the period. CP_OK, CP_DB.
 */
enum cp_err sweep_enqueue(struct db *db, const struct cp_conf *conf,
    long long *period);

/* The job-kind table's run of `sweep` (jobs.c): sweeps the period of the
 * job's key (row is NULL: the job has no call); its done writes nothing
 * (each enqueue committed on its own). */
void sweep_job_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o);

#endif
