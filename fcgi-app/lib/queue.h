/*
 * queue.h: the jobs table as a queue (DESIGN.md §5).
 *
 * Claim: one short READ COMMITTED transaction, SELECT ... FOR UPDATE SKIP
 * LOCKED over ix_jobs_claim (state, run_after, id), then UPDATE by primary
 * key to running with a lease (locked_by, locked_until) and attempts + 1.
 * Finish: every update is guarded by id, locked_by and attempts, so a
 * worker whose lease expired and whose job was claimed again changes 0 rows
 * and its result is dropped. SKIP LOCKED: MariaDB 10.6+ (mariadb.com/kb
 * "SELECT ... SKIP LOCKED"); needs ROW binlog format under replication.
 */
#ifndef CP_QUEUE_H
#define CP_QUEUE_H

#include <stdbool.h>
#include "cp_err.h"
#include "db.h"
#include "sid.h"

#define QUEUE_KIND_MAX   32
#define QUEUE_KEY_MAX    191
#define QUEUE_OWNER_MAX  128

struct queue_job {
	unsigned long long id;
	char kind[QUEUE_KIND_MAX + 1];
	char call_sid[SID_LEN + 1];          /* "" when the job has none */
	char dedupe_key[QUEUE_KEY_MAX + 1];
	char locked_by[QUEUE_OWNER_MAX + 1]; /* the claiming worker's id */
	int  attempts;                       /* including this run */
	int  max_attempts;
};

/*
 * Moves the run_after of the queued job with dedupe_key to now when it lies
 * in the future (a job sleeping out its backoff, which someone now waits
 * for). A running, done or dead job is left alone. *pending (may be NULL):
 * whether the job is still queued or running, i.e. worth waiting for.
 * CP_OK, CP_INPUT (key too long), CP_DB.
 */
enum cp_err queue_wake(struct db *db, const char *dedupe_key, bool *pending);

/* The claim query, exposed so a test can EXPLAIN exactly what runs. */
extern const char queue_claim_sql[];

/*
 * Enqueues a job unless one with dedupe_key exists (whatever its state):
 * INSERT ... ON DUPLICATE KEY UPDATE id = id. Call it inside the same
 * db_tx as the row change that causes it. delay_ms: run_after = now + delay.
 * *inserted (may be NULL) tells whether a new job was made.
 * Returns CP_OK, CP_INPUT (kind/key too long), CP_DB.
 */
enum cp_err queue_enqueue(struct db *db, const char *kind,
    const char *call_sid, const char *dedupe_key, int max_attempts,
    long delay_ms, bool *inserted);

/*
 * queue_enqueue for a periodic kind (the sweep: every worker enqueues each
 * period's job, one insert wins): no call_sid, no delay, and quiet — a new
 * job is logged at debug, a taken key not at all, so N workers do not
 * write N lines a period. Same returns as queue_enqueue.
 */
enum cp_err queue_enqueue_periodic(struct db *db, const char *kind,
    const char *dedupe_key, int max_attempts, bool *inserted);

/*
 * Claims the oldest runnable job for owner (a worker id, e.g.
 * "host:pid") with a lease of lease_s seconds, in its own transaction.
 * *got is false when the queue has nothing runnable.
 * Returns CP_OK or CP_DB.
 */
enum cp_err queue_claim(struct db *db, const char *owner, int lease_s,
    struct queue_job *job, bool *got);

/*
 * Batch claims (worker.claim_batch): at most max (1 .. QUEUE_BATCH_MAX)
 * due jobs for owner in one transaction, the query being
 * queue_claim_batch_sql(max). All of them when the query finds max (the
 * queue is deeper than a batch), else only the first, so a short queue
 * stays spread over the workers. jobs[0] is claimed as queue_claim does
 * (running, lease_s, attempts + 1: it runs now). jobs[1..] are held:
 * running under owner with a lease of QUEUE_HELD_LEASE_S (at most
 * lease_s), so behind a first job that runs long they go back to the
 * queue at the next lease check of any worker (queue_requeue_expired)
 * instead of waiting lease_s; attempts NOT counted yet —
 * queue_start_held counts it when the worker gets to it. So every path
 * that puts a job back without touching attempts (the master after a
 * SIGKILL, an expired lease, queue_release_held) charges a held job
 * nothing, and a held job never ends dead without having run.
 * reconnects: the caller's db_connect_count at its last look; when the
 * connection was made again since (a claim whose COMMIT reply was lost
 * may have committed, and db_tx ran it again), every running job of owner
 * is put back first, in the same transaction, attempts - 1 (the caller
 * holds none when it claims; see queue_release_owner; a held job of that
 * lost batch is charged nothing, so it gets one back — a spare attempt,
 * never one too few), and *reconnects is updated. *n gets the count (0: nothing due). CP_OK, CP_INPUT (max out
 * of range), CP_DB.
 */
#define QUEUE_BATCH_MAX 100
#define QUEUE_HELD_LEASE_S 3   /* seconds; > the worker's 1 s hold */
enum cp_err queue_claim_batch(struct db *db, const char *owner, int lease_s,
    int max, unsigned long *reconnects, struct queue_job *jobs, int *n);

/* The claim query of a batch of max (1 .. QUEUE_BATCH_MAX) into out (at
 * least 300 bytes), for EXPLAIN. */
void queue_claim_batch_sql(char *out, size_t outlen, int max);

/*
 * Starts a held job (queue_claim_batch): attempts + 1 and the lease
 * renewed to lease_s from now, guarded by id, locked_by and attempts.
 * CP_OK (job->attempts is now this run's), CP_NOTFOUND (it was put back
 * or claimed by another since: skip it), CP_DB.
 */
enum cp_err queue_start_held(struct db *db, struct queue_job *job,
    int lease_s);

/*
 * Puts held jobs (claimed by queue_claim_batch, not started) back:
 * queued, lease cleared, run_after, attempts and last_error as they were,
 * each guarded like queue_start_held, in one transaction. *released (may
 * be NULL) gets the count. CP_OK or CP_DB.
 */
enum cp_err queue_release_held(struct db *db, const struct queue_job *jobs,
    int n, int *released);

/*
 * Guarded finishes, to be called inside the db_tx that also writes the
 * stage's result. Each returns CP_NOTFOUND when 0 rows matched (the lease
 * was lost: the caller must roll back), CP_OK, or CP_DB.
 *  done:  state done.
 *  retry: state queued, run_after = now + delay_ms, last_error = reason.
 *  dead:  state dead, last_error = reason.
 */
enum cp_err queue_finish_done(struct db *db, const struct queue_job *job);
enum cp_err queue_finish_retry(struct db *db, const struct queue_job *job,
    long delay_ms, const char *reason);
enum cp_err queue_finish_dead(struct db *db, const struct queue_job *job,
    const char *reason);

/*
 * Guarded like the finishes: back to queued, run_after = now + delay_ms,
 * last_error = reason, and attempts - 1, so the run does not count toward
 * max_attempts (reconcile waiting for a call that is still live). Same
 * returns as the finishes.
 */
enum cp_err queue_finish_wait(struct db *db, const struct queue_job *job,
    long delay_ms, const char *reason);

/*
 * Extends the lease of a running job to now + lease_s seconds, guarded
 * like a finish (id, locked_by, attempts). Used before work whose length
 * grows with the call (transcription), so the lease stays longer than the
 * job. Returns CP_OK, CP_NOTFOUND (lease already lost), CP_DB.
 */
enum cp_err queue_extend_lease(struct db *db, const struct queue_job *job,
    int lease_s);

/*
 * Puts running jobs whose lease ended back in the queue (run_after now,
 * attempts kept) when they have attempts left. Jobs without attempts left
 * are claimed into *expired (at most max, FOR UPDATE SKIP LOCKED inside the
 * caller's transaction is not needed: they are returned with their current
 * locked_by/attempts so the caller can finish them dead with the guard).
 * *requeued and *nexpired get the counts. Returns CP_OK or CP_DB.
 */
enum cp_err queue_requeue_expired(struct db *db, int *requeued,
    struct queue_job *expired, int max, int *nexpired);

/*
 * The lease owner id of process pid on this host: "<hostname>:<pid>"
 * (hostname cut at 63 bytes; "localhost" when gethostname fails), what a
 * worker writes to jobs.locked_by, so its master can name its jobs after
 * reaping it. out gets at most outlen bytes (QUEUE_OWNER_MAX + 1 suffices).
 */
void queue_owner_id(char *out, size_t outlen, long pid);

/*
 * Puts back the running jobs of owner (jobs.locked_by) other than keep_id
 * (0: keep none): state queued, run_after now, lease cleared, last_error =
 * reason (at most CP_REASON_MAX bytes). refund true: attempts - 1, for the
 * worker after a reconnect — a claim whose COMMIT reply was lost left a job
 * running under its id that it never ran (issue 7 item 7). refund false:
 * the run counts, for the master after it reaped a worker (prefork.c) — a
 * job that kills its worker every time must still reach max_attempts; one
 * already at max_attempts is left running for the lease path, which ends it
 * dead and fails its stage (queue_requeue_expired). Outside or inside a transaction; the rows are found
 * through ix_jobs_lease (state, locked_until). *n (may be NULL) gets the
 * count. Returns CP_OK, CP_INPUT (owner empty or longer than
 * QUEUE_OWNER_MAX), CP_DB.
 */
enum cp_err queue_release_owner(struct db *db, const char *owner,
    unsigned long long keep_id, const char *reason, bool refund, int *n);

/*
 * Backoff before retry number `attempt` (1 = after the first failure):
 * base_ms * 2^(attempt-1), capped at max_ms, then +-25% uniform jitter so
 * many failing jobs do not retry in lockstep. Returns milliseconds.
 */
long queue_backoff_ms(int attempt, long base_ms, long max_ms);

#endif
