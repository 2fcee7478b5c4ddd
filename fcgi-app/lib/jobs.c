/*
 * jobs.c: the job-kind table and the work of each kind (see jobs.h).
 *
 * A run function does the slow part (download, speech to text, a chat
 * completion, Twilio's REST API) outside any transaction and fills a
 * job_outcome; worker.c then writes it: on success with the kind's done()
 * and the next kind's enqueue in the transaction that marks the job done,
 * else as a retry or a dead job with the stage failed.
 */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coverage.h"
#include "jobkey.h"
#include "log.h"
#include "purge.h"
#include "rest_start.h"
#include "store.h"
#include "sweep.h"
#include "twilio_api.h"

void
job_outcome_free(struct job_outcome *o)
{
	if (o->has_stt)
		stt_result_free(&o->stt);
	if (o->has_summary)
		summary_result_free(&o->summary);
	o->has_stt = o->has_summary = false;
}

/* ------------------------------------------------------------ helpers */

/* Puts "what (backend): " (or "what: " without a backend) before the
 * reason of a failed outcome: every stage's last_error names its job. */
static void
jobs_reason_prefix(struct job_outcome *o, const char *what,
    const char *backend)
{
	char tmp[CP_REASON_MAX + 1];

	if (backend != NULL)
		cp_fmt(tmp, sizeof(tmp), "%s (%s): %s", what, backend, o->reason);
	else
		cp_fmt(tmp, sizeof(tmp), "%s: %s", what, o->reason);
	memcpy(o->reason, tmp, sizeof(tmp));
}

/* The stage before this one must be completed (DESIGN.md §4). */
static bool
jobs_needs(const char *status, const char *what, const char *stage,
    struct job_outcome *o)
{
	if (strcmp(status, "completed") == 0)
		return true;
	o->rc = CP_INPUT;
	cp_fmt(o->reason, sizeof(o->reason), "%s: %s is %s, not completed",
	    what, stage, status);
	return false;
}

static bool
jobs_stage_start(const struct job_ctx *c, enum calls_stage stage,
    const char *what, struct job_outcome *o)
{
	bool moved;

	if (calls_stage_start(c->db, c->job->call_sid, stage, &moved) == CP_OK)
		return true;
	o->rc = CP_DB;
	cp_fmt(o->reason, sizeof(o->reason), "%s: %s", what, db_error(c->db));
	return false;
}

/* Sets the lease to want seconds from now (at most a day). */
static bool
jobs_extend_lease(const struct job_ctx *c, long want, const char *what,
    struct job_outcome *o)
{
	enum cp_err rc = queue_extend_lease(c->db, c->job,
	    (int)(want < 86400 ? want : 86400));

	if (rc == CP_OK)
		return true;
	o->rc = rc == CP_NOTFOUND ? CP_AGAIN : CP_DB;
	cp_fmt(o->reason, sizeof(o->reason), "%s: %s", what,
	    rc == CP_NOTFOUND ? "lease lost before the work began" :
	    db_error(c->db));
	return false;
}

/* ------------------------------------------------------------ fetch_recording */

/*
 * The WAV is the recording (the transcript is made from it): an MP3 that
 * does not encode is logged and the stage still completes, since failing
 * or retrying the stage would hold back the transcript for a copy. It is
 * not lost: a download of the MP3 finds it missing and queues a
 * refill_recording job, which encodes again and, failing, keeps the
 * reason in jobs.last_error.
 */
static void
jobs_fetch_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	char path[4096], err[CP_REASON_MAX + 1];
	long long mp3_bytes;

	o->rc = store_ensure(c->conf, row->recording_url, row->recording_sid,
	    STORE_WAV, c->conf->twilio.request_timeout_ms, path, sizeof(path),
	    &o->bytes, o->reason, sizeof(o->reason));
	/* store_ensure of the MP3 finds the WAV just stored and encodes. */
	if (o->rc == CP_OK && store_ensure(c->conf, row->recording_url,
	    row->recording_sid, STORE_MP3, c->conf->twilio.request_timeout_ms,
	    path, sizeof(path), &mp3_bytes, err, sizeof(err)) != CP_OK)
		log_warn("call %s: recording %s stored, but its MP3 was not "
		    "encoded (a download of it queues a refill): %s",
		    c->job->call_sid, row->recording_sid, err);
}

/* The stored WAV's length goes with it, for its coverage of the call
 * (coverage.h; read from the local file's header, no effect outside the
 * database, so the transaction may run this again). */
static enum cp_err
jobs_fetch_done(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o, bool *moved)
{
	struct calls_row row;
	char path[4096];
	double secs;
	enum cp_err rc = calls_recording_stored(db, job->call_sid, o->bytes,
	    moved);

	if (rc != CP_OK || calls_get(db, job->call_sid, &row) != CP_OK ||
	    store_path(conf, row.recording_sid, STORE_WAV, path, sizeof(path)) !=
	    CP_OK || store_audio_seconds(path, &secs) != CP_OK)
		return rc;
	return coverage_store(db, conf, job->call_sid,
	    (long long)(secs * 1000.0 + 0.5));
}

/* ------------------------------------------------------------ transcribe */

/*
 * The lease must outlast the work: the backend says how long a recording
 * this long may take (stt_backend.max_seconds). The lease is set again
 * from now, since the download before it may have used much of the one
 * the claim gave.
 */
static bool
jobs_transcribe_lease(const struct job_ctx *c, const struct calls_row *row,
    const char *path, struct job_outcome *o)
{
	const struct stt_backend *b = stt_backend_find(c->conf->stt.backend);
	double secs = (double)row->recording_duration;
	long want = c->conf->worker.lease_seconds;

	if (secs <= 0 && store_audio_seconds(path, &secs) != CP_OK)
		secs = 0;
	if (b != NULL && b->max_seconds(c->conf, secs) > want)
		want = b->max_seconds(c->conf, secs);
	return jobs_extend_lease(c, want, "transcribe", o);
}

static void
jobs_transcribe_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	char path[4096];

	if (!jobs_needs(row->recording_status, "transcribe", "recording", o) ||
	    !jobs_stage_start(c, CALLS_TRANSCRIPT, "transcribe", o))
		return;
	o->rc = store_ensure(c->conf, row->recording_url, row->recording_sid,
	    STORE_WAV, c->conf->twilio.request_timeout_ms, path, sizeof(path),
	    &o->bytes, o->reason, sizeof(o->reason));
	if (o->rc != CP_OK || !jobs_transcribe_lease(c, row, path, o))
		return;
	/* The business's language wins over the configured one. */
	o->rc = stt_transcribe_file(c->conf, path, row->business_language[0] ?
	    row->business_language : NULL, &o->stt, &o->retry_after_ms,
	    o->reason, sizeof(o->reason));
	o->has_stt = (o->rc == CP_OK);
	if (o->rc != CP_OK)
		jobs_reason_prefix(o, "transcribe", c->conf->stt.backend);
}

static enum cp_err
jobs_transcribe_done(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o, bool *moved)
{
	*moved = false;
	if (!o->has_stt)
		return CP_OK;
	return calls_transcript_done(db, job->call_sid, o->stt.transcription,
	    o->stt.final_transcript, o->stt.segments_json, o->stt.language,
	    moved);
}

/* ------------------------------------------------------------ summarize */

static void
jobs_summarize_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	const struct summary_backend *b;
	struct summary_request req;
	char *transcript = NULL;

	if (!jobs_needs(row->transcript_status, "summarize", "transcript", o) ||
	    !jobs_stage_start(c, CALLS_SUMMARY, "summarize", o))
		return;
	if (calls_get_transcript(c->db, c->job->call_sid, &transcript) !=
	    CP_OK) {
		o->rc = CP_DB;
		cp_fmt(o->reason, sizeof(o->reason), "summarize: %s",
		    db_error(c->db));
		return;
	}
	/* A chat completion may take its whole timeout: keep the lease. */
	b = summary_backend_find(c->conf->summary.backend);
	if (b != NULL && b->max_seconds != NULL &&
	    b->max_seconds(c->conf) > c->conf->worker.lease_seconds &&
	    !jobs_extend_lease(c, b->max_seconds(c->conf), "summarize", o)) {
		free(transcript);
		return;
	}
	req.transcript = transcript ? transcript : "";
	req.language = row->transcript_language;
	o->rc = summary_run(c->conf, &req, &o->summary, &o->retry_after_ms,
	    o->reason, sizeof(o->reason));
	o->has_summary = (o->rc == CP_OK);
	if (o->rc != CP_OK)
		jobs_reason_prefix(o, "summarize", c->conf->summary.backend);
	free(transcript);
}

static enum cp_err
jobs_summarize_done(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o, bool *moved)
{
	*moved = false;
	if (!o->has_summary)
		return CP_OK;
	return calls_summary_done(db, job->call_sid, o->summary.service,
	    o->summary.city, o->summary.confidence, o->summary.summary, moved);
}

/* ------------------------------------------------------------ reconcile */

/*
 * The Call resource, for a call whose voice webhook was never stored —
 * e.g. the database was down while Twilio waited for TwiML — so the row
 * gets its numbers and its business after all.
 */
static void
jobs_reconcile_voice(const struct job_ctx *c, const struct twilio_call *call,
    struct job_outcome *o)
{
	if (call->from[0] && call->to[0] && call->direction[0]) {
		o->has_voice = true;
		memcpy(o->call_from, call->from, sizeof(o->call_from));
		memcpy(o->call_to, call->to, sizeof(o->call_to));
		memcpy(o->call_direction, call->direction,
		    sizeof(o->call_direction));
	}
}

/*
 * The Call resource's status (TWILIO.md "CallStatus values") while the
 * recording is still needed: a call still queued, ringing or in progress
 * (the sweep found it silent, or a retry came early) has no final
 * recording yet, so the job waits worker.reconcile_delay_s without
 * spending an attempt (o->wait_ms); a final status no status callback
 * stored is stored now (ended_at), so the row says the call ended; a call
 * that ended unanswered fails the stage at once (CP_NOAUDIO, permanent).
 * Returns true when the recording should be looked for.
 */
static bool
jobs_reconcile_live(const struct job_ctx *c, const struct twilio_call *call,
    struct job_outcome *o)
{
	/* Live is every status that is not final (queued, initiated,
	 * ringing, in-progress): calls_status_final holds the one list. */
	if (!calls_status_final(call->status)) {
		o->rc = CP_AGAIN;
		o->wait_ms = 1000L * (c->conf->worker.reconcile_delay_s > 0 ?
		    c->conf->worker.reconcile_delay_s : 1);
		cp_fmt(o->reason, sizeof(o->reason), "the call is still %s "
		    "at Twilio; asking again in %ld s (no attempt spent)",
		    call->status[0] ? call->status : "(no status)",
		    o->wait_ms / 1000);
		return false;
	}
	/* The duration too, and with it the coverage when the WAV is
	 * stored already (as the call status callback would have). */
	if (calls_status_final(call->status) && (calls_status(c->db,
	    c->job->call_sid, call->status, call->duration_s) != CP_OK ||
	    (call->duration_s > 0 && coverage_store(c->db, c->conf,
	    c->job->call_sid, -1) != CP_OK)))
		log_warn("call %s: reconcile could not store call status %s: %s",
		    c->job->call_sid, call->status, db_error(c->db));
	/* busy, no-answer, canceled, failed: never answered, so nothing was
	 * recorded; asking Twilio max_attempts times would only end in a
	 * misleading "no recording" failure. */
	if (calls_status_final(call->status) &&
	    strcmp(call->status, "completed") != 0) {
		o->rc = CP_NOAUDIO;
		cp_fmt(o->reason, sizeof(o->reason), "call %s at Twilio: it was "
		    "never answered, so nothing was recorded", call->status);
		return false;
	}
	return true;
}

/*
 * The recording callback may never come (TWILIO.md "Retries and
 * failures"): list the call's recordings and pick up a completed one, or
 * report what Twilio says. Only the list's sid, status, duration and
 * channels are used: the media URL is built from our own api_base.
 */
static void
jobs_reconcile_recording(const struct job_ctx *c, struct job_outcome *o)
{
	struct twilio_recording recs[TWILIO_LIST_MAX];
	const char *absent = NULL;
	bool processing = false;
	int n = 0;

	o->rc = twilio_call_recordings(c->conf, c->job->call_sid, recs, &n,
	    o->reason, sizeof(o->reason));
	if (o->rc != CP_OK)
		return;
	for (int i = 0; i < n; i++) {
		if (strcmp(recs[i].status, "completed") == 0) {
			memcpy(o->recording_sid, recs[i].sid, sizeof(o->recording_sid));
			o->recording_duration = recs[i].duration_s;
			o->recording_channels = recs[i].channels;
			log_info("call %s: reconcile found recording %s that no "
			    "callback reported", c->job->call_sid, o->recording_sid);
			return;
		}
		if (strcmp(recs[i].status, "in-progress") == 0 ||
		    strcmp(recs[i].status, "processing") == 0)
			processing = true;
		else if (strcmp(recs[i].status, "absent") == 0 ||
		    strcmp(recs[i].status, "failed") == 0)
			absent = recs[i].sid;
	}
	if (processing) {
		o->rc = CP_AGAIN;
		cp_fmt(o->reason, sizeof(o->reason), "the recording is still "
		    "processing at Twilio");
	} else if (absent != NULL) {
		o->rc = CP_NOAUDIO;
		cp_fmt(o->reason, sizeof(o->reason), "Twilio reports recording "
		    "%s absent or failed", absent);
	} else {
		o->rc = CP_AGAIN;
		cp_fmt(o->reason, sizeof(o->reason), "no recording callback "
		    "came and Twilio lists no recording for the call");
	}
}

/* reconcile (DESIGN.md §5 stage 4): after the call ended (or when the
 * sweep found it silent, while it may still be live: then it waits without
 * spending an attempt), fill in what lost webhooks left out — the voice
 * details, the final call status and the recording. */
static void
jobs_reconcile_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	bool need_rec = row->recording_url[0] == '\0' &&
	    (strcmp(row->recording_status, "pending") == 0 ||
	    strcmp(row->recording_status, "recording") == 0);

	struct twilio_call call;
	enum cp_err crc = CP_OK;

	o->rc = CP_OK;
	if (!row->voice_seen || need_rec)
		crc = twilio_fetch_call(c->conf, c->job->call_sid, &call,
		    o->reason, sizeof(o->reason));
	/* Without the Call resource the voice details cannot be filled in;
	 * the recording list is still worth asking for. */
	if (!row->voice_seen && crc != CP_OK)
		o->rc = crc;
	else if (!row->voice_seen)
		jobs_reconcile_voice(c, &call, o);
	if (o->rc == CP_OK && need_rec &&
	    (crc != CP_OK || jobs_reconcile_live(c, &call, o)))
		jobs_reconcile_recording(c, o);
	if (o->rc != CP_OK)
		jobs_reason_prefix(o, "reconcile", NULL);
}

static enum cp_err
jobs_reconcile_done(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o, bool *moved)
{
	char url[1024];

	*moved = false;   /* it enqueues its fetch itself, keyed by the RE */
	if (o->has_voice) {
		long long business;
		if (calls_business_for(db, o->call_direction, o->call_from,
		    o->call_to, conf->default_business_id, &business) != CP_OK ||
		    calls_voice(db, job->call_sid, o->call_direction, o->call_from,
		    o->call_to, NULL, business) != CP_OK)
			return CP_DB;
		log_info("call %s: reconcile stored the voice details no webhook "
		    "stored (business %lld)", job->call_sid, business);
	}
	if (o->recording_sid[0] == '\0')
		return CP_OK;
	if (store_recording_url(conf, o->recording_sid, url, sizeof(url)) !=
	    CP_OK)
		return CP_INPUT;
	return calls_recording_completed(db, job->call_sid, o->recording_sid,
	    url, o->recording_duration, o->recording_channels,
	    conf->worker.max_attempts, NULL);
}

/* ------------------------------------------------------------ refill_recording */

/*
 * A download found the cache without the file (cleared, a new disk, an
 * MP3 that did not encode): the WAV again from the row's recording_url,
 * then the MP3 when it is missing. Stageless: the call's own fetch is long
 * done, so nothing here or in its failure moves a call_log column.
 */
static void
jobs_refill_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	char path[4096];
	long long mp3_bytes;

	if (!jobs_needs(row->recording_status, "refill", "recording", o))
		return;
	/* Both files: the WAV first (a download may wait for it while the MP3
	 * is still cached), then the MP3, encoded from it when missing. */
	o->rc = store_ensure(c->conf, row->recording_url, row->recording_sid,
	    STORE_WAV, c->conf->twilio.request_timeout_ms, path, sizeof(path),
	    &o->bytes, o->reason, sizeof(o->reason));
	if (o->rc == CP_OK)
		o->rc = store_ensure(c->conf, row->recording_url,
		    row->recording_sid, STORE_MP3, c->conf->twilio.request_timeout_ms,
		    path, sizeof(path), &mp3_bytes, o->reason, sizeof(o->reason));
	if (o->rc != CP_OK)
		jobs_reason_prefix(o, "refill", NULL);
}

/* The done of the kinds whose run wrote what it did itself (refill,
 * purge, sweep, noop): stageless, nothing more to write. */
static enum cp_err
jobs_done_nothing(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o, bool *moved)
{
	(void)db;
	(void)conf;
	(void)job;
	(void)o;
	*moved = false;
	return CP_OK;
}

/* ------------------------------------------------------------ the table */

/* ------------------------------------------------------------ noop */

static void
jobs_noop_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	(void)c;
	(void)row;
	o->rc = CP_OK;
}

/* noop:<n> (a bench numbers its own jobs; call_sid and recording_sid are
 * unused). CP_OK, or CP_INPUT when n < 0 or it does not fit. */
static enum cp_err
jobs_noop_key(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	(void)call_sid;
	(void)recording_sid;
	if (n < 0 || (size_t)snprintf(out, outlen, "noop:%d", n) >= outlen)
		return CP_INPUT;
	return CP_OK;
}

const struct job_kind jobs_kinds[] = {
	/* kind                stage             run
	 *   done                 next on success  dedupe key
	 *                                                   redo  restarts stageless */
	{ JOB_FETCH_RECORDING, CALLS_RECORDING,  jobs_fetch_run,
	  jobs_fetch_done,      JOB_TRANSCRIBE, jobkey_fetch,
	                                                     false, true,  false },
	{ JOB_TRANSCRIBE,      CALLS_TRANSCRIPT, jobs_transcribe_run,
	  jobs_transcribe_done, JOB_SUMMARIZE,  jobkey_transcribe,
	                                                     false, true,  false },
	{ JOB_SUMMARIZE,       CALLS_SUMMARY,    jobs_summarize_run,
	  jobs_summarize_done,  NULL,           jobkey_summarize,
	                                                     false, true,  false },
	/* reconcile enqueues the fetch it finds itself (keyed by the RE). */
	{ JOB_RECONCILE,       CALLS_RECORDING,  jobs_reconcile_run,
	  jobs_reconcile_done,  NULL,           jobkey_reconcile,
	                                                     true,  false, false },
	/* A download's cache miss; the stage is only read (it must be
	 * completed), never written. */
	{ JOB_REFILL_RECORDING, CALLS_RECORDING, jobs_refill_run,
	  jobs_done_nothing,    NULL,           jobkey_refill,
	                                                     true,  false, true },
	/* The daily retention purge's database side (purge.h): no call. */
	{ JOB_PURGE,           CALLS_RECORDING,  purge_job_run,
	  jobs_done_nothing,    NULL,           jobkey_purge,
	                                                     true,  false, true },
	/* recording.mode "rest": the voice webhook's job (rest_start.c);
	 * pending -> recording, the callbacks do the rest. */
	{ JOB_START_RECORDING, CALLS_RECORDING,  rest_start_run,
	  rest_start_done,      NULL,           jobkey_start,
	                                                     false, false, false },
	/* Periodic, without a call (sweep.c): lost webhooks and jobs get a
	 * job again, old finished jobs are deleted. */
	{ JOB_SWEEP,           CALLS_RECORDING,  sweep_job_run,
	  jobs_done_nothing,    NULL,           jobkey_sweep,
	                                                     true,  false, true },
	/* Does nothing and finishes at once: tests/bench/bench-queue
	 * measures the queue itself with it. No call. */
	{ JOB_NOOP,            CALLS_RECORDING,  jobs_noop_run,
	  jobs_done_nothing,    NULL,           jobs_noop_key,
	                                                     true,  false, true },
	{ NULL, CALLS_RECORDING, NULL, NULL, NULL, NULL, false, false, false }
};

const struct job_kind *
jobs_find(const char *kind)
{
	for (const struct job_kind *k = jobs_kinds; kind && k->kind; k++)
		if (strcmp(k->kind, kind) == 0)
			return k;
	return NULL;
}

enum cp_err
jobs_enqueue(struct db *db, const char *kind, const char *call_sid,
    const char *recording_sid, int n, int max_attempts, long delay_ms,
    bool *inserted)
{
	const struct job_kind *k = jobs_find(kind);
	char key[QUEUE_KEY_MAX + 1];

	if (k == NULL || k->key(key, sizeof(key), call_sid, recording_sid, n) !=
	    CP_OK)
		return CP_INPUT;
	return queue_enqueue(db, k->kind, call_sid, key, max_attempts, delay_ms,
	    inserted);
}

enum cp_err
jobs_retry_stage(struct db *db, const struct cp_conf *conf,
    const char *call_sid, int want, enum calls_stage *stage, int *retry_count)
{
	char rec_sid[SID_LEN + 1];
	const char *kind = NULL;
	enum cp_err rc;

	if ((rc = calls_retry_reset(db, call_sid, want, stage, retry_count,
	    rec_sid)) != CP_OK)
		return rc;
	for (const struct job_kind *k = jobs_kinds; k->kind != NULL; k++)
		if (k->restarts && k->stage == *stage) {
			kind = k->kind;
			break;
		}
	if (kind == NULL)
		return CP_INPUT;
	/* No recording URL yet: nothing to fetch, ask Twilio (reconcile). */
	if (*stage == CALLS_RECORDING && rec_sid[0] == '\0')
		kind = JOB_RECONCILE;
	return jobs_enqueue(db, kind, call_sid, rec_sid[0] ? rec_sid : NULL,
	    *retry_count, conf->worker.max_attempts, 0, NULL);
}

enum cp_err
jobs_retry(struct db *db, const struct cp_conf *conf, const char *call_sid,
    enum calls_stage *stage, int *retry_count)
{
	return jobs_retry_stage(db, conf, call_sid, -1, stage, retry_count);
}

enum cp_err
jobs_enqueue_refill(struct db *db, const struct cp_conf *conf,
    const char *call_sid, const char *recording_sid, enum store_format fmt,
    bool *pending)
{
	char key[QUEUE_KEY_MAX + 1];
	bool inserted = false, dummy;
	enum cp_err rc;

	if (pending == NULL)
		pending = &dummy;
	*pending = false;
	if (!sid_valid(call_sid, "CA") || !sid_valid(recording_sid, "RE") ||
	    (fmt != STORE_WAV && fmt != STORE_MP3) ||
	    jobkey_refill(key, sizeof(key), call_sid, recording_sid,
	    jobkey_minute((long long)time(NULL))) != CP_OK)
		return CP_INPUT;
	rc = queue_enqueue(db, JOB_REFILL_RECORDING, call_sid, key,
	    conf->worker.max_attempts, 0, &inserted);
	if (rc == CP_OK && inserted) {
		log_info("call %s: %s of %s not cached, refill queued", call_sid,
		    store_ext(fmt), recording_sid);
		*pending = true;
	}
	/* This minute's job exists: a client waits now, so a job sleeping out
	 * its backoff (Twilio failed a moment ago) runs again at once. Its
	 * attempts stay bounded by max_attempts per minute; one that is dead
	 * or done already is not waited for. */
	else if (rc == CP_OK)
		rc = queue_wake(db, key, pending);
	return rc;
}
