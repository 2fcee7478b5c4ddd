/*
 * rest_start.h: the start_recording job of recording.mode = "rest"
 * (DESIGN.md §3, issue 7 item 1). The voice webhook answers TwiML without
 * <Start><Recording> and, in its transaction, enqueues start_recording
 * (dedupe key start:<CallSid>, jobkey_start); this job then starts the
 * recording over Twilio's REST API (twilio_start_recording):
 *
 *   201                 started: the stage moves pending -> recording with
 *                       the Recording's sid, recording_start_offset_ms set
 *   400 code 16108      a recording is already active ("more than one
 *                       active recording", TWILIO.md): counts as started;
 *                       the sid is read from the call's recording list
 *                       (an in-progress one), the offset stays NULL
 *   400 code 21220      "call not in-progress" (TWILIO.md: still ringing,
 *                       or ended): the Call resource is read —
 *                         queued/initiated/ringing/in-progress: try again
 *                         in 250 ms within this run (not an attempt), until
 *                         recording.rest_start_timeout_s has passed since
 *                         the run began (then an ordinary retried failure);
 *                         a final status (completed, busy, failed,
 *                         no-answer, canceled): the stage fails at once with
 *                         "call ended before the recording could start"
 *   429, 5xx, no answer retried with backoff (an attempt)
 *   other 4xx           the stage fails with Twilio's message
 *
 * recording_start_offset_ms = the 201's arrival minus callpipe's TwiML
 * answer. The answer time is the job's created_at: the job is inserted in
 * the voice webhook's transaction, which commits right before the TwiML is
 * written (so the offset is at most that commit and the FastCGI write too
 * large, a few ms). Both ends are on one clock, the database's: the run
 * asks the server for the job's age, TIMESTAMPDIFF(created_at, NOW(3)),
 * and adds the time the worker's CLOCK_MONOTONIC counted from that answer
 * to the 201's arrival, so the worker host's wall clock never enters.
 *
 * The lease is set to rest_start_timeout_s + 2 x twilio.request_timeout_ms
 * + 30 s when the run begins, so the ringing loop never outlives it.
 */
#ifndef CP_REST_START_H
#define CP_REST_START_H

#include <stdbool.h>
#include "jobs.h"

/* The pause between tries while Twilio says the call still rings (ms). */
#define REST_START_RETRY_MS 250

/*
 * The job's run (jobs.c table row start_recording): the loop above, outside
 * any transaction. Fills o: rc CP_OK (o->recording_sid, possibly "" after
 * 16108 when the list had no in-progress recording; o->start_offset_ms,
 * ms, -1 unknown), CP_NOAUDIO (the call ended first: a permanent failure),
 * CP_REJECTED (Twilio refused for good), CP_UPSTREAM (retry), CP_AGAIN
 * (still ringing after rest_start_timeout_s, or the lease was lost),
 * CP_DB; o->reason starts with "start_recording: ".
 */
void rest_start_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o);

/*
 * The job's done, in the finishing transaction: calls_recording_started
 * (recording_sid when known; pending -> recording) and
 * recording_start_offset_ms when o->start_offset_ms >= 0 and none is
 * stored yet; nothing when the run was skipped (o->rest_started false: the
 * stage had ended before it ran). *moved is false (no kind follows: the recording's callbacks
 * enqueue the fetch). Returns CP_OK or CP_DB.
 */
enum cp_err rest_start_done(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o, bool *moved);

/*
 * Enqueues start_recording for call_sid (key start:<CallSid>) with
 * conf->worker.max_attempts and no delay, in the caller's transaction (the
 * voice webhook's), when conf->recording.mode is "rest"; nothing otherwise.
 * A repeated voice webhook hits the same key and enqueues nothing.
 * Returns CP_OK, CP_INPUT (call_sid not CA + 32 hex), CP_DB.
 */
enum cp_err rest_start_enqueue(struct db *db, const struct cp_conf *conf,
    const char *call_sid);

/* True when conf->recording.mode is "rest". */
bool rest_start_mode(const struct cp_conf *conf);

#endif
