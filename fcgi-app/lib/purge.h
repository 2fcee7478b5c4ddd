/*
 * purge.h: the retention purge (issue 7 item 3; DESIGN.md §3 recording).
 *
 * Two sides, because the recording cache is per host and the database is
 * one:
 *
 *  - the cache side (purge_cache), on every host that has a cache: the
 *    WAV and MP3 files in recording.cache_dir of calls older than
 *    recording.retention_days are deleted. It reads the directory, looks
 *    the files' RecordingSids up in call_log in batches, and deletes the
 *    files of old calls (and files of no call at all whose mtime is older
 *    than the retention: no download can ever serve them). Each worker
 *    process calls purge_tick from its loop; the first process of a host
 *    to create the marker file <cache_dir>/.purge-cache-<YYYYMMDD>
 *    (O_EXCL) that UTC day runs it, so a host purges its cache once a day
 *    however many workers it runs, and two hosts sharing no directory
 *    each purge their own.
 *  - the database side (purge_database), once a day for all hosts: the
 *    job purge:<YYYYMMDD UTC> (jobkey_purge), enqueued by every worker's
 *    purge_tick (the dedupe key makes it one) and run by whichever worker
 *    claims it. With recording.delete_at_twilio: DELETE the recording at
 *    Twilio (twilio_delete_recording; 204, and 404 counts as deleted) and
 *    set call_log.recording_deleted_at. With transcript.retention_days >
 *    0: clear transcription, final_transcript, transcript_segments,
 *    summary, extracted_service, extracted_city and extraction_confidence
 *    (all of it is what the caller said, or drawn from it: the city is
 *    personal data too) and set transcript_purged_at; the stage statuses
 *    stay completed, transcript_purged_at says why the text is gone.
 *
 * "Older than N days" is the download route's rule (download_servable):
 * COALESCE(ended_at, created_at) more than N x 86400 s before the
 * database's NOW(3). created_at < the cutoff is added so the indexes
 * ix_call_log_rec_deleted_created / ix_call_log_tr_purged_created
 * (schema/007) read only the calls not purged yet. A call inside its
 * retention is never touched. Work goes in batches of PURGE_BATCH rows.
 * callpipectl purge [--dry-run] runs both sides at once (the cache of the
 * host it runs on).
 */
#ifndef CP_PURGE_H
#define CP_PURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "conf.h"
#include "cp_err.h"
#include "db.h"
#include "jobs.h"

#define PURGE_BATCH 200

/* What a purge did (or, dry, would do). */
struct purge_stats {
	int       cache_files;     /* WAV/MP3 files deleted from this host's cache */
	long long cache_bytes;     /* their size in bytes */
	int       twilio_deleted;  /* recordings deleted at Twilio (204 or 404) */
	int       twilio_failed;   /* deletes that failed; tried again next run */
	int       transcripts;     /* calls whose transcripts were cleared */
};

/* Receives one line (no newline) per thing deleted, or that would be. */
typedef void (*purge_note_fn)(void *arg, const char *line);

/*
 * This host's cache side (see above). dry_run: nothing is deleted, the
 * lines say "would delete". note (may be NULL) gets a line per file;
 * *stats is added to. Returns CP_OK (a missing cache directory is
 * nothing to do); CP_SYSTEM (the directory cannot be read); CP_DB; err
 * (errlen bytes) gets the reason. A file that cannot be unlinked is
 * logged and skipped.
 */
enum cp_err purge_cache(const struct cp_conf *conf, struct db *db,
    bool dry_run, purge_note_fn note, void *arg, struct purge_stats *stats,
    char *err, size_t errlen);

/*
 * The database side (see above), outside any transaction (each batch's
 * UPDATE commits alone; a Twilio DELETE is never inside a transaction).
 * job (may be NULL): the purge job whose lease is extended to
 * worker.lease_seconds before each batch. note, stats as purge_cache.
 * Returns CP_OK (also when some Twilio deletes failed: stats says how
 * many); CP_DB; err (errlen bytes) gets the reason.
 */
enum cp_err purge_database(const struct cp_conf *conf, struct db *db,
    const struct queue_job *job, bool dry_run, purge_note_fn note,
    void *arg, struct purge_stats *stats, char *err, size_t errlen);

/*
 * Called by each worker process from its loop (every few seconds; it
 * acts once per UTC day of now): enqueues today's purge:<YYYYMMDD> job
 * (a no-op when another worker did) and, when this process is the first
 * on this cache directory today, runs purge_cache. Failures are logged and
 * tried again on a later tick.
 */
void purge_tick(const struct cp_conf *conf, struct db *db, time_t now);

/* The purge job kind's run (jobs_kinds[]); stageless, no call. A
 * run whose Twilio deletes partly failed is CP_UPSTREAM, so the job is
 * retried with backoff (the rows done are not done again). */
void purge_job_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o);

#endif
