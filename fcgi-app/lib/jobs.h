/*
 * jobs.h: the job kinds, one table (jobs.c) that says for each kind which
 * call_log stage it works on, what runs, which kind follows it on success,
 * and how its dedupe key is built (DESIGN.md §5, "Job kinds are one
 * table"). The pipeline reads top to bottom in that table:
 *
 *   fetch_recording  recording   -> transcribe   fetch:<RecordingSid>[:<retry>]
 *   transcribe       transcript  -> summarize    transcribe:<CallSid>:<retry>
 *   summarize        summary     -> (end)        summarize:<CallSid>:<retry>
 *   reconcile        recording   -> (fetch, when it finds the recording)
 *                                                reconcile:<CallSid>[:<retry>]
 *
 * <retry> is call_log.retry_count: a manual retry bumps it, so the stage's
 * job gets a new key while a repeated webhook keeps hitting the old one.
 * worker.c claims a job, looks its kind up here, runs it outside any
 * transaction, and writes the outcome with the kind's done() in one
 * transaction with the job's completion.
 */
#ifndef CP_JOBS_H
#define CP_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include "calls.h"
#include "conf.h"
#include "cp_err.h"
#include "db.h"
#include "queue.h"
#include "sid.h"
#include "stt.h"
#include "summary.h"

/* The result of running one job, before it is written. */
struct job_outcome {
	enum cp_err rc;                   /* CP_OK: the stage succeeded */
	char        reason[CP_REASON_MAX + 1];
	long        retry_after_ms;       /* an upstream asked to wait, -1 none */
	long long   bytes;                /* fetch_recording: file size */
	bool        has_stt;
	struct stt_result stt;            /* transcribe */
	bool        has_summary;
	struct summary_result summary;    /* summarize */
	/* reconcile: the recording Twilio lists for the call, when found */
	char        recording_sid[SID_LEN + 1];
	long        recording_duration;   /* seconds, -1 unknown */
	int         recording_channels;
	/* reconcile: the Call resource, when no voice webhook was stored */
	bool        has_voice;
	char        call_from[65], call_to[65], call_direction[33];
};

/* Frees what an outcome holds. */
void job_outcome_free(struct job_outcome *o);

/* What a job's run gets besides its row. */
struct job_ctx {
	const struct cp_conf   *conf;
	struct db              *db;
	const struct queue_job *job;
};

struct job_kind {
	const char       *kind;   /* jobs.kind */
	enum calls_stage  stage;  /* the call_log stage it works on */
	/* The work, outside any transaction. */
	void (*run)(const struct job_ctx *c, const struct calls_row *row,
	    struct job_outcome *o);
	/* Writes a successful outcome inside the finishing transaction;
	 * *moved tells whether the stage moved (then next is enqueued). */
	enum cp_err (*done)(struct db *db, const struct cp_conf *conf,
	    const struct queue_job *job, struct job_outcome *o, bool *moved);
	const char       *next;   /* kind enqueued when the stage moved; NULL: none */
	/* The dedupe key for call_sid / recording_sid at retry count n into
	 * out (outlen bytes). CP_OK or CP_INPUT (does not fit). */
	enum cp_err (*key)(char *out, size_t outlen, const char *call_sid,
	    const char *recording_sid, int n);
	bool              redo_finished; /* runs even when the stage has ended */
	bool              restarts;      /* a manual retry of its stage enqueues it */
};

/*
 * A manual retry: calls_retry_reset on the row, then the kind that
 * restarts the stage (its row has restarts set; a recording whose URL
 * never came is asked of Twilio again, reconcile) enqueued under its key
 * at the new retry count — fetch:<RecordingSid>:<n>, reconcile:<CallSid>:<n>,
 * transcribe:/summarize:<CallSid>:<n> — in the caller's transaction.
 * *stage and *retry_count as calls_retry_reset gives them.
 * Returns CP_OK; CP_NOTFOUND (no such call); CP_INPUT (nothing failed);
 * CP_DB.
 */
enum cp_err jobs_retry(struct db *db, const struct cp_conf *conf,
    const char *call_sid, enum calls_stage *stage, int *retry_count);

/* The table, ended by a row whose kind is NULL. */
extern const struct job_kind jobs_kinds[];

/* The row of kind, or NULL for a kind this build does not know. */
const struct job_kind *jobs_find(const char *kind);

/*
 * Enqueues the job of kind for call_sid (recording_sid may be NULL for the
 * kinds keyed by call_sid) at retry count n, delay_ms from now, with
 * max_attempts, in the caller's transaction; the dedupe key comes from the
 * kind's row. *inserted (may be NULL): whether a job was made.
 * Returns CP_OK; CP_INPUT (unknown kind, key does not fit); CP_DB.
 */
enum cp_err jobs_enqueue(struct db *db, const char *kind,
    const char *call_sid, const char *recording_sid, int n, int max_attempts,
    long delay_ms, bool *inserted);

#endif
