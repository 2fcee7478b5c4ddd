/*
 * worker.h: callpipe-worker, the polling loop over the jobs table
 * (DESIGN.md §5). What each job kind does is in the job-kind table
 * (jobs.h); this is the loop: claim, run the kind, write the outcome.
 *
 * A job's work runs outside any transaction; its outcome and the job's
 * completion are then written in one db_tx, guarded by the lease (see
 * queue.h). Outcomes: success -> stage completed and the next stage's job
 * enqueued; a transient failure (Twilio 404, upstream or database error)
 * -> retried with exponential backoff and jitter while attempts remain, the
 * stage staying in its working state with last_error set; a permanent
 * failure (no audio, empty transcript, bad input, an upstream's permanent
 * refusal) or the last attempt ->
 * job dead, stage failed, last_error set. A stageless kind
 * (refill_recording) retries and dies the same way, but its reason stays
 * in jobs.last_error: no call_log column moves.
 *
 * The MP3 copy of a recording is made here too: fetch_recording encodes
 * it from the stored WAV (jobs.c, store_encode_mp3), so the download route
 * never encodes or fetches while a client waits.
 */
#ifndef CP_WORKER_H
#define CP_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include "conf.h"
#include "cp_err.h"
#include "db.h"
#include "queue.h"
#include "jobs.h"

struct worker;

/*
 * Creates a worker for conf (borrowed) with id "host:pid" and opens its
 * database connection (a database that is down is retried by the loop).
 * Returns CP_OK or CP_NOMEM.
 */
enum cp_err worker_new(const struct cp_conf *conf, struct worker **out);
void worker_free(struct worker *w);

/*
 * Polls until *stop becomes non-zero: puts back expired leases every 5 s,
 * claims a job, runs it and claims again at once; sleeps
 * worker.poll_interval_ms +-50% when the queue is empty (the sleep ends
 * early on a signal). Returns 0 when stopped.
 */
int worker_loop(struct worker *w, volatile sig_atomic_t *stop);

/*
 * Writes o for job in one transaction, guarded by the lease. Returns CP_OK;
 * CP_NOTFOUND when the lease was lost (nothing is written); CP_DB.
 */
enum cp_err worker_finish(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o);

#endif
