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
 *   refill_recording (none)      -> (end)        refill:<RecordingSid>:<minute>
 *   purge            (none, no call) -> (end)    purge:<YYYYMMDD UTC> (purge.h)
 *   start_recording  recording   -> (end: the recording callbacks go on)
 *                                                start:<CallSid>[:<retry>]
 *   sweep            (none)      -> (end)        sweep:<unix time / sweep_interval_s>
 *
 * <retry> is call_log.retry_count: a manual retry bumps it, so the stage's
 * job gets a new key while a repeated webhook keeps hitting the old one.
 * refill_recording is stageless: it puts a completed recording's files
 * back into the cache for a download and moves no call_log column; its
 * failures are retried and end dead in jobs.last_error only.
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
#include "store.h"
#include "stt.h"
#include "summary.h"

/* The result of running one job, before it is written. */
struct job_outcome {
	enum cp_err rc;                   /* CP_OK: the stage succeeded */
	char        reason[CP_REASON_MAX + 1];
	long        retry_after_ms;       /* an upstream asked to wait, -1 none */
	/* > 0: not a failure but a wait — the job goes back to the queue
	 * this many ms from now and the run does not count toward
	 * max_attempts (reconcile of a call that is still live). */
	long        wait_ms;
	long long   bytes;                /* fetch_recording: file size */
	bool        has_stt;
	struct stt_result stt;            /* transcribe */
	bool        has_summary;
	struct summary_result summary;    /* summarize */
	/* reconcile: the recording Twilio lists for the call, when found */
	char        recording_sid[SID_LEN + 1];
	long        recording_duration;   /* seconds, -1 unknown */
	int         recording_channels;
	/* start_recording: the 201's arrival minus the TwiML answer (the
	 * job's created_at), ms; -1 unknown ("already recording");
	 * rest_started: the run started it (false: the run was skipped) */
	long long   start_offset_ms;
	bool        rest_started;
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
	/* Moves no call_log column: stage is not its own, a retry does not
	 * note last_error, the dead job does not fail the stage. */
	bool              stageless;
};

/*
 * A manual retry of one stage (POST /api/calls/<sid>/retry, callpipectl
 * retry): calls_retry_reset(want) on the row — stage want (an enum
 * calls_stage, or -1 for the first failed stage) and every later stage to
 * pending, retry_count + 1, last_error NULL — then the kind that restarts
 * the stage (its row has restarts set; a recording whose URL never came is
 * asked of Twilio again, reconcile) enqueued under its key at the new
 * retry count — fetch:<RecordingSid>:<n>, reconcile:<CallSid>:<n>,
 * transcribe:/summarize:<CallSid>:<n> — with worker.max_attempts, in the
 * caller's transaction (the row is locked FOR UPDATE until it ends).
 * *stage gets the stage restarted (want itself when want is not failed),
 * *retry_count the new count.
 * Returns CP_OK; CP_NOTFOUND (no such call); CP_INPUT (want is not failed
 * — the API's 409 — or, for -1, no stage failed; nothing changed); CP_DB.
 */
enum cp_err jobs_retry_stage(struct db *db, const struct cp_conf *conf,
    const char *call_sid, int want, enum calls_stage *stage,
    int *retry_count);

/* jobs_retry_stage(db, conf, call_sid, -1, stage, retry_count): retries
 * the first failed stage (callpipectl retry). */
enum cp_err jobs_retry(struct db *db, const struct cp_conf *conf,
    const char *call_sid, enum calls_stage *stage, int *retry_count);

/*
 * A download found recording_sid's fmt file (STORE_WAV or STORE_MP3) of
 * call_sid missing from the cache: queues a refill_recording job, dedupe
 * key refill:<RecordingSid>:<unix minute> (jobkey_refill), with
 * worker.max_attempts and no delay, in the caller's transaction. A second
 * call within the same minute finds the key taken, wakes the job when it
 * sleeps out a backoff (queue_wake), and is CP_OK too. *pending (may be
 * NULL): whether this minute's job is queued or running (false: it is dead
 * or done already, so waiting for it is pointless). The job stores the WAV (fetched
 * from the row's recording_url) and encodes the MP3 whenever it is
 * missing, whichever fmt was asked, so one job a minute serves both
 * formats; it changes no call_log column.
 * Returns CP_OK; CP_INPUT (call_sid not CA + 32 hex, recording_sid not
 * RE + 32 hex, fmt not a store_format); CP_DB.
 */
enum cp_err jobs_enqueue_refill(struct db *db, const struct cp_conf *conf,
    const char *call_sid, const char *recording_sid, enum store_format fmt,
    bool *pending);

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
