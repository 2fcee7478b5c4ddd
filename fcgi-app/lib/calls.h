/*
 * calls.h: the call_log row and its status moves (DESIGN.md §4).
 *
 *   recording_status : pending -> recording -> completed | failed
 *   transcript_status: pending -> processing -> completed | failed
 *   summary_status   : pending -> processing -> completed | failed
 *
 * Every move is an UPDATE whose WHERE names the states it may leave, so a
 * late or repeated event never moves a stage backwards; skipping forward
 * (pending -> completed) is allowed. Every function here runs inside the
 * caller's db_tx, so a webhook's row change and the job it enqueues commit
 * together. Each returns CP_OK, CP_DB or CP_NOMEM unless said otherwise.
 */
#ifndef CP_CALLS_H
#define CP_CALLS_H

#include <stdbool.h>
#include "cp_err.h"
#include "db.h"

enum calls_stage { CALLS_RECORDING, CALLS_TRANSCRIPT, CALLS_SUMMARY };

/* The status column of a stage: "recording_status", "transcript_status",
 * "summary_status". */
const char *calls_stage_col(enum calls_stage s);

/* Creates the row for call_sid when it does not exist yet (any webhook may
 * come first). */
enum cp_err calls_ensure(struct db *db, const char *call_sid);

/*
 * Business of a call (DESIGN.md §4): the business_numbers row of To for an
 * inbound call (direction "inbound"), of From otherwise; default_id when
 * that number is not E.164 (phone_e164: SIP, client identities) or has no
 * row.
 * *business_id gets it; 0 means none.
 */
enum cp_err calls_business_for(struct db *db, const char *direction,
    const char *from, const char *to, long default_id,
    long long *business_id);

/* Voice webhook: direction, numbers, call_status (never moved back from a
 * final CallStatus), business_id (kept once set; 0 leaves it NULL). */
enum cp_err calls_voice(struct db *db, const char *call_sid,
    const char *direction, const char *from, const char *to,
    const char *call_status, long long business_id);

/*
 * calls_voice with the business found by calls_business_for's rule
 * (business_numbers of To for "inbound", of From otherwise; default_id
 * when not E.164 or no row) inside the same single statement (an INSERT
 * ... ON DUPLICATE KEY UPDATE, no SELECT before it). CP_OK or CP_DB.
 */
enum cp_err calls_voice_business(struct db *db, const char *call_sid,
    const char *direction, const char *from, const char *to,
    const char *call_status, long default_id);


/* True for a final CallStatus: completed, busy, failed, no-answer,
 * canceled (TWILIO.md "CallStatus values"). */
bool calls_status_final(const char *call_status);

/* statusCallback: call_status, call_duration (seconds, -1 = absent), and
 * ended_at = now when the status is final (completed, busy, failed,
 * no-answer, canceled). */
enum cp_err calls_status(struct db *db, const char *call_sid,
    const char *call_status, long call_duration);

/* <Connect action>: stream_ended_at = now (first time only). */
enum cp_err calls_stream_ended(struct db *db, const char *call_sid);

/* Recording in-progress: recording_sid, recording_started_at, and
 * recording_status pending -> recording. */
enum cp_err calls_recording_started(struct db *db, const char *call_sid,
    const char *recording_sid);

/*
 * Recording completed at Twilio (its callback, or reconcile finding it):
 * saves recording_sid, recording_url, recording_duration (seconds, -1
 * unknown), recording_channels; recording_status pending -> recording (it
 * becomes completed when the file is stored), and enqueues the
 * fetch_recording job (dedupe key fetch:<RecordingSid>, max_attempts) in
 * the caller's transaction, so a second delivery, even days later,
 * enqueues nothing. A stage already completed or failed is not redone:
 * *enqueued (may be NULL) tells whether a fetch was newly enqueued.
 */
enum cp_err calls_recording_completed(struct db *db, const char *call_sid,
    const char *recording_sid, const char *recording_url, long duration_s,
    int channels, int max_attempts, bool *enqueued);

/*
 * Moves stage to failed (from pending or its working state) and writes
 * last_error = reason (at most CP_REASON_MAX bytes).
 */
enum cp_err calls_stage_failed(struct db *db, const char *call_sid,
    enum calls_stage stage, const char *reason);

/*
 * Twilio reported recording_sid absent or failed (reason names the
 * ErrorCode): recording_status -> failed, unless a completed recording of
 * the call (another RecordingSid) is already being fetched.
 */
enum cp_err calls_recording_absent(struct db *db, const char *call_sid,
    const char *recording_sid, const char *reason);

/* Writes last_error only (a retry is scheduled; the stage stays in its
 * working state). */
enum cp_err calls_note_error(struct db *db, const char *call_sid,
    const char *reason);

/* Moves stage pending -> working state (recording / processing).
 * *moved tells whether it moved (false: already past it). */
enum cp_err calls_stage_start(struct db *db, const char *call_sid,
    enum calls_stage stage, bool *moved);

/* The recording file is stored: recording_status -> completed,
 * recording_stored_at, recording_bytes. *moved false when the stage had
 * already ended (completed or failed). */
enum cp_err calls_recording_stored(struct db *db, const char *call_sid,
    long long bytes, bool *moved);

/* Transcript results; transcript_status -> completed. language: the
 * ISO-639-1 code of the transcript ("" or NULL: unknown, stored NULL). */
enum cp_err calls_transcript_done(struct db *db, const char *call_sid,
    const char *transcription, const char *final_transcript,
    const char *segments_json, const char *language, bool *moved);

/* Summary results; summary_status -> completed. service/city may be NULL. */
enum cp_err calls_summary_done(struct db *db, const char *call_sid,
    const char *service, const char *city, double confidence,
    const char *summary, bool *moved);

/*
 * The row side of a manual retry (DESIGN.md §4: failed -> pending,
 * retry_count + 1), in the caller's transaction, the row locked FOR
 * UPDATE: stage `want` (an enum calls_stage; -1: the first failed stage)
 * and every stage after it in pipeline order go back to pending and
 * last_error is cleared. *stage gets the stage restarted (also set to want
 * when want is not failed, so the caller can name it), *retry_count the new
 * count, recording_sid (SID_LEN + 1 bytes) the call's RecordingSid (""
 * when no recording URL is known: nothing to fetch). jobs_retry_stage
 * (jobs.h) then enqueues the job that restarts the stage.
 * Returns CP_OK; CP_NOTFOUND (no such call); CP_INPUT (want is not a
 * stage, or that stage is not failed; -1: no stage failed — nothing is
 * changed); CP_DB.
 */
enum cp_err calls_retry_reset(struct db *db, const char *call_sid, int want,
    enum calls_stage *stage, int *retry_count, char *recording_sid);

/* The fields a stage's job needs. Strings are "" when NULL in the row. */
struct calls_row {
	bool found;
	char recording_sid[40];
	char recording_url[520];
	char recording_status[16];
	char transcript_status[16];
	char summary_status[16];
	char final_transcript_present;  /* 1 when final_transcript is set */
	long long business_id;          /* 0 = NULL */
	long recording_duration;        /* seconds, -1 = NULL */
	bool voice_seen;                /* a voice webhook stored From/To */
	int  retry_count;
	char business_language[8];      /* businesses.language, "" = NULL */
	char transcript_language[8];    /* call_log.transcript_language, "" = NULL */
};

enum cp_err calls_get(struct db *db, const char *call_sid,
    struct calls_row *row);

/* The merged transcript of a call, malloc'd (caller frees), or NULL. */
enum cp_err calls_get_transcript(struct db *db, const char *call_sid,
    char **transcript);

#endif
