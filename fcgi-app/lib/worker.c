#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "calls.h"
#include "http.h"
#include "log.h"
#include "store.h"

#define WORKER_REQUEUE_EVERY_S 5
#define WORKER_EXPIRED_BATCH   16

struct worker {
	const struct cp_conf *conf;
	struct db            *db;
	char                  id[QUEUE_OWNER_MAX + 1];
};

void
worker_outcome_free(struct worker_outcome *o)
{
	if (o->has_stt)
		stt_result_free(&o->stt);
	if (o->has_summary)
		summary_result_free(&o->summary);
	o->has_stt = o->has_summary = false;
}

enum cp_err
worker_new(const struct cp_conf *conf, struct worker **out)
{
	struct worker *w;
	char host[64] = "localhost", err[CP_REASON_MAX + 1];

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return CP_NOMEM;
	w->conf = conf;
	(void)gethostname(host, sizeof(host) - 1);
	cp_fmt(w->id, sizeof(w->id), "%.63s:%ld", host, (long)getpid());
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	/* A database that is down is not fatal: the loop reconnects. */
	(void)db_open(conf, &w->db, err, sizeof(err));
	if (w->db == NULL) {
		free(w);
		return CP_NOMEM;
	}
	*out = w;
	return CP_OK;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	db_close(w->db);
	free(w);
}

static bool
worker_permanent(enum cp_err rc)
{
	return rc == CP_INPUT || rc == CP_NOAUDIO || rc == CP_EMPTY ||
	    rc == CP_NOTFOUND;
}

static bool
worker_kind_stage(const char *kind, enum calls_stage *stage)
{
	if (strcmp(kind, "fetch_recording") == 0 ||
	    strcmp(kind, "reconcile") == 0)
		*stage = CALLS_RECORDING;
	else if (strcmp(kind, "transcribe") == 0)
		*stage = CALLS_TRANSCRIPT;
	else if (strcmp(kind, "summarize") == 0)
		*stage = CALLS_SUMMARY;
	else
		return false;
	return true;
}

/* Puts "what (backend): " before the reason of a failed outcome. */
static void
worker_reason_prefix(struct worker_outcome *o, const char *what,
    const char *backend)
{
	char tmp[CP_REASON_MAX + 1];

	cp_fmt(tmp, sizeof(tmp), "%s (%s): %s", what, backend, o->reason);
	memcpy(o->reason, tmp, sizeof(tmp));
}

/* Work of fetch_recording: make sure the WAV is in the cache. */
static void
worker_fetch(struct worker *w, const struct queue_job *job,
    const struct calls_row *row, struct worker_outcome *o)
{
	char path[4096];

	o->rc = store_ensure(w->conf, row->recording_url, row->recording_sid,
	    STORE_WAV, w->conf->twilio.request_timeout_ms, path, sizeof(path),
	    &o->bytes, o->reason, sizeof(o->reason));
}

static void
worker_transcribe(struct worker *w, const struct queue_job *job,
    const struct calls_row *row, struct worker_outcome *o)
{
	char path[4096];
	bool moved;

	if (strcmp(row->recording_status, "completed") != 0) {
		o->rc = CP_INPUT;
		cp_fmt(o->reason, sizeof(o->reason), "transcribe: recording "
		    "is %s, not completed", row->recording_status);
		return;
	}
	if (calls_stage_start(w->db, job->call_sid, CALLS_TRANSCRIPT,
	    &moved) != CP_OK) {
		o->rc = CP_DB;
		cp_fmt(o->reason, sizeof(o->reason), "transcribe: %s",
		    db_error(w->db));
		return;
	}
	o->rc = store_ensure(w->conf, row->recording_url, row->recording_sid,
	    STORE_WAV, w->conf->twilio.request_timeout_ms, path, sizeof(path),
	    &o->bytes, o->reason, sizeof(o->reason));
	if (o->rc != CP_OK)
		return;
	/* Offline STT costs about 1 CPU-second per second of a two-channel
	 * call: keep the lease well past that, so a long call is not taken
	 * over by another worker half-way. */
	{
		/* The file says how long it is when Twilio did not. */
		double secs = (double)row->recording_duration;
		long want;
		if (secs <= 0 && store_audio_seconds(path, &secs) != CP_OK)
			secs = 0;
		want = 3 * (long)secs + 60;
		if (want > w->conf->worker.lease_seconds &&
		    queue_extend_lease(w->db, job, (int)(want < 86400 ? want :
		    86400)) == CP_NOTFOUND) {
			o->rc = CP_AGAIN;
			cp_fmt(o->reason, sizeof(o->reason), "transcribe: lease "
			    "lost before decoding");
			return;
		}
	}
	o->rc = stt_transcribe_file(w->conf, path, &o->stt, o->reason,
	    sizeof(o->reason));
	o->has_stt = (o->rc == CP_OK);
	if (o->rc != CP_OK)
		worker_reason_prefix(o, "transcribe", w->conf->stt.backend);
}

static void
worker_summarize(struct worker *w, const struct queue_job *job,
    const struct calls_row *row, struct worker_outcome *o)
{
	char *transcript = NULL;
	bool moved;

	if (strcmp(row->transcript_status, "completed") != 0) {
		o->rc = CP_INPUT;
		cp_fmt(o->reason, sizeof(o->reason), "summarize: transcript "
		    "is %s, not completed", row->transcript_status);
		return;
	}
	if (calls_stage_start(w->db, job->call_sid, CALLS_SUMMARY,
	    &moved) != CP_OK ||
	    calls_get_transcript(w->db, job->call_sid, &transcript) != CP_OK) {
		o->rc = CP_DB;
		cp_fmt(o->reason, sizeof(o->reason), "summarize: %s",
		    db_error(w->db));
		return;
	}
	o->rc = summary_rules(w->conf, transcript ? transcript : "",
	    &o->summary, o->reason, sizeof(o->reason));
	o->has_summary = (o->rc == CP_OK);
	if (o->rc != CP_OK)
		worker_reason_prefix(o, "summarize", w->conf->summary.backend);
	free(transcript);
}

/* GETs a Twilio REST JSON document into *root (json-c, caller puts it). */
static enum cp_err
worker_twilio_json(struct worker *w, const char *url, const char *what,
    struct json_object **root, struct worker_outcome *o)
{
	const struct cp_conf *c = w->conf;
	char *buf = NULL;
	size_t len = 0;
	long status = 0;
	FILE *mem;
	enum cp_err rc;

	*root = NULL;
	if ((mem = open_memstream(&buf, &len)) == NULL) {
		cp_fmt(o->reason, sizeof(o->reason), "reconcile: out of memory");
		return CP_NOMEM;
	}
	rc = http_get_to_file(url, c->twilio.account_sid, c->twilio.auth_token,
	    c->twilio.request_timeout_ms, mem, 1024 * 1024, &status, o->reason,
	    sizeof(o->reason));
	fclose(mem);
	if (rc == CP_OK && status != 200) {
		rc = CP_UPSTREAM;
		cp_fmt(o->reason, sizeof(o->reason), "reconcile: Twilio answered "
		    "HTTP %ld to %s", status, what);
	}
	if (rc == CP_OK && (*root = json_tokener_parse(buf)) == NULL) {
		rc = CP_UPSTREAM;
		cp_fmt(o->reason, sizeof(o->reason), "reconcile: %s is not JSON",
		    what);
	}
	free(buf);
	return rc;
}

static const char *
worker_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * The Call resource (GET .../Calls/{CallSid}.json; Twilio OpenAPI
 * FetchCall: from, to, direction), for a call whose voice webhook was never
 * stored — e.g. the database was down while Twilio waited for TwiML — so
 * the row gets its numbers and its business after all.
 */
static void
worker_reconcile_voice(struct worker *w, const struct queue_job *job,
    struct worker_outcome *o)
{
	const struct cp_conf *c = w->conf;
	struct json_object *root = NULL;
	const char *from, *to, *dir;
	char url[1024];

	cp_fmt(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Calls/%s.json",
	    c->twilio.api_base, c->twilio.account_sid, job->call_sid);
	if ((o->rc = worker_twilio_json(w, url, "the Call resource", &root,
	    o)) != CP_OK)
		return;
	from = worker_json_str(root, "from");
	to = worker_json_str(root, "to");
	dir = calls_token(worker_json_str(root, "direction"));
	if (from != NULL && strlen(from) <= 64 && to != NULL && strlen(to) <= 64
	    && dir != NULL) {
		o->has_voice = true;
		cp_fmt(o->call_from, sizeof(o->call_from), "%s", from);
		cp_fmt(o->call_to, sizeof(o->call_to), "%s", to);
		cp_fmt(o->call_direction, sizeof(o->call_direction), "%s", dir);
	}
	json_object_put(root);
}

/*
 * The recording callback may never come (TWILIO.md "Retries and
 * failures"): GET .../Calls/{CallSid}/Recordings.json (TWILIO.md; Twilio
 * OpenAPI ListRecording) and pick up a completed recording, or report what
 * Twilio says. Only the list's sid, status, duration and channels are
 * used: the media URL is built from our own api_base and AccountSid.
 */
static void
worker_reconcile_recording(struct worker *w, const struct queue_job *job,
    struct worker_outcome *o)
{
	const struct cp_conf *c = w->conf;
	struct json_object *root = NULL, *list = NULL;
	bool processing = false;
	const char *absent = NULL;
	char url[1024];

	cp_fmt(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Calls/%s/"
	    "Recordings.json", c->twilio.api_base, c->twilio.account_sid,
	    job->call_sid);
	if ((o->rc = worker_twilio_json(w, url, "the call's recording list",
	    &root, o)) != CP_OK)
		return;
	if (!json_object_object_get_ex(root, "recordings", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		o->rc = CP_UPSTREAM;
		cp_fmt(o->reason, sizeof(o->reason), "reconcile: Twilio's "
		    "recording list has no recordings array");
	}
	for (size_t i = 0; o->rc == CP_OK && i < json_object_array_length(list);
	    i++) {
		struct json_object *r = json_object_array_get_idx(list, i), *v;
		const char *sid = worker_json_str(r, "sid");
		const char *st = worker_json_str(r, "status");
		if (!sid_valid(sid, "RE") || st == NULL)
			continue;
		if (strcmp(st, "completed") == 0) {
			const char *d = worker_json_str(r, "duration");
			cp_fmt(o->recording_sid, sizeof(o->recording_sid), "%s", sid);
			o->recording_duration = -1;
			if (d != NULL) {
				char *end;
				long n = strtol(d, &end, 10);
				if (*end == '\0' && n >= 0 && n < 1000000)
					o->recording_duration = n;
			}
			o->recording_channels =
			    json_object_object_get_ex(r, "channels", &v) ?
			    json_object_get_int(v) : 0;
			if (o->recording_channels < 1 || o->recording_channels > 2)
				o->recording_channels = 0;
			break;
		}
		if (strcmp(st, "in-progress") == 0 || strcmp(st, "processing") == 0)
			processing = true;
		else if (strcmp(st, "absent") == 0 || strcmp(st, "failed") == 0)
			absent = sid;
	}
	if (o->rc == CP_OK && o->recording_sid[0] == '\0') {
		if (processing) {
			o->rc = CP_AGAIN;
			cp_fmt(o->reason, sizeof(o->reason), "reconcile: the "
			    "recording is still processing at Twilio");
		} else if (absent != NULL) {
			o->rc = CP_NOAUDIO;
			cp_fmt(o->reason, sizeof(o->reason), "reconcile: Twilio "
			    "reports recording %s absent or failed", absent);
		} else {
			o->rc = CP_AGAIN;
			cp_fmt(o->reason, sizeof(o->reason), "reconcile: no "
			    "recording callback came and Twilio lists no recording "
			    "for the call");
		}
	}
	if (o->rc == CP_OK)
		log_info("call %s: reconcile found recording %s that no callback "
		    "reported", job->call_sid, o->recording_sid);
	json_object_put(root);
}

/* reconcile (DESIGN.md §5 stage 4): after the call ended, fill in what
 * lost webhooks left out — the voice details and the recording. */
static void
worker_reconcile(struct worker *w, const struct queue_job *job,
    const struct calls_row *row, struct worker_outcome *o)
{
	bool need_rec = row->recording_url[0] == '\0' &&
	    (strcmp(row->recording_status, "pending") == 0 ||
	    strcmp(row->recording_status, "recording") == 0);

	o->rc = CP_OK;
	if (!row->voice_seen)
		worker_reconcile_voice(w, job, o);
	if (o->rc == CP_OK && need_rec)
		worker_reconcile_recording(w, job, o);
}

static void
worker_execute(struct worker *w, const struct queue_job *job,
    struct worker_outcome *o)
{
	struct calls_row row;
	enum calls_stage stage;
	const char *st;

	memset(o, 0, sizeof(*o));
	if (!worker_kind_stage(job->kind, &stage)) {
		o->rc = CP_INPUT;
		cp_fmt(o->reason, sizeof(o->reason), "unknown job kind %s",
		    job->kind);
		return;
	}
	if (!sid_valid(job->call_sid, "CA")) {
		o->rc = CP_INPUT;
		cp_fmt(o->reason, sizeof(o->reason), "job without a call_sid");
		return;
	}
	if (calls_get(w->db, job->call_sid, &row) != CP_OK) {
		o->rc = CP_DB;
		cp_fmt(o->reason, sizeof(o->reason), "%s: %s", job->kind,
		    db_error(w->db));
		return;
	}
	if (!row.found) {
		o->rc = CP_NOTFOUND;
		cp_fmt(o->reason, sizeof(o->reason), "%s: no call_log row",
		    job->kind);
		return;
	}
	if (strcmp(job->kind, "reconcile") == 0) {
		worker_reconcile(w, job, &row, o);
		return;
	}
	st = stage == CALLS_RECORDING ? row.recording_status :
	    stage == CALLS_TRANSCRIPT ? row.transcript_status :
	    row.summary_status;
	if (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0) {
		/* The row refuses to redo a finished stage (DESIGN.md §5). */
		o->rc = CP_OK;
		log_info("job %llu %s: stage already %s, nothing to do",
		    job->id, job->dedupe_key, st);
		return;
	}
	switch (stage) {
	case CALLS_RECORDING:  worker_fetch(w, job, &row, o); break;
	case CALLS_TRANSCRIPT: worker_transcribe(w, job, &row, o); break;
	case CALLS_SUMMARY:    worker_summarize(w, job, &row, o); break;
	}
}

struct worker_finish_ctx {
	const struct cp_conf    *conf;
	const struct queue_job  *job;
	struct worker_outcome   *o;
};

/* Success: stage result, next stage's job, job done — one transaction. */
static enum cp_err
worker_finish_ok(struct db *db, struct worker_finish_ctx *c)
{
	const struct queue_job *job = c->job;
	struct worker_outcome *o = c->o;
	struct calls_row row;
	const char *next = NULL;
	char key[QUEUE_KEY_MAX + 1];
	bool moved = false;
	enum cp_err rc;

	if ((rc = queue_finish_done(db, job)) != CP_OK)
		return rc;
	if (strcmp(job->kind, "reconcile") == 0) {
		char url[1024];
		if (o->has_voice) {
			long long business;
			if (calls_business_for(db, o->call_direction, o->call_from,
			    o->call_to, c->conf->default_business_id,
			    &business) != CP_OK)
				return CP_DB;
			if (calls_voice(db, job->call_sid, o->call_direction,
			    o->call_from, o->call_to, NULL, business) != CP_OK)
				return CP_DB;
			log_info("call %s: reconcile stored the voice details no "
			    "webhook stored (business %lld)", job->call_sid, business);
		}
		if (o->recording_sid[0] == '\0')
			return CP_OK;
		if (store_recording_url(c->conf, o->recording_sid, url,
		    sizeof(url)) != CP_OK)
			return CP_INPUT;
		return calls_recording_completed(db, job->call_sid,
		    o->recording_sid, url, o->recording_duration,
		    o->recording_channels, c->conf->worker.max_attempts, NULL);
	}
	if (strcmp(job->kind, "fetch_recording") == 0) {
		if (calls_recording_stored(db, job->call_sid, o->bytes,
		    &moved) != CP_OK)
			return CP_DB;
		next = "transcribe";
	} else if (strcmp(job->kind, "transcribe") == 0 && o->has_stt) {
		if (calls_transcript_done(db, job->call_sid, o->stt.transcription,
		    o->stt.final_transcript, o->stt.segments_json,
		    &moved) != CP_OK)
			return CP_DB;
		next = "summarize";
	} else if (strcmp(job->kind, "summarize") == 0 && o->has_summary) {
		if (calls_summary_done(db, job->call_sid, o->summary.service,
		    o->summary.city, o->summary.confidence, o->summary.summary,
		    &moved) != CP_OK)
			return CP_DB;
	}
	if (next == NULL || !moved)
		return CP_OK;
	if (calls_get(db, job->call_sid, &row) != CP_OK)
		return CP_DB;
	/* A manual retry bumps retry_count, so its jobs get new keys. */
	cp_fmt(key, sizeof(key), "%s:%s:%d", next, job->call_sid,
	    row.retry_count);
	return queue_enqueue(db, next, job->call_sid, key,
	    c->conf->worker.max_attempts, 0, NULL);
}

static enum cp_err
worker_finish_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct worker_finish_ctx *c = arg;
	const struct queue_job *job = c->job;
	struct worker_outcome *o = c->o;
	enum calls_stage stage = CALLS_RECORDING;
	bool known = worker_kind_stage(job->kind, &stage);
	enum cp_err rc;

	if (o->rc == CP_OK)
		return worker_finish_ok(db, c);
	if (!worker_permanent(o->rc) && job->attempts < job->max_attempts) {
		long delay = queue_backoff_ms(job->attempts,
		    c->conf->worker.backoff_base_ms,
		    c->conf->worker.backoff_max_ms);
		char note[CP_REASON_MAX + 1];
		cp_fmt(note, sizeof(note), "%s (attempt %d of %d, retry in "
		    "%ld ms)", o->reason, job->attempts, job->max_attempts, delay);
		if ((rc = queue_finish_retry(db, job, delay, note)) != CP_OK)
			return rc;
		return job->call_sid[0] ? calls_note_error(db, job->call_sid,
		    note) : CP_OK;
	}
	if ((rc = queue_finish_dead(db, job, o->reason)) != CP_OK)
		return rc;
	if (known && job->call_sid[0])
		return calls_stage_failed(db, job->call_sid, stage, o->reason);
	return CP_OK;
}

enum cp_err
worker_finish(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct worker_outcome *o)
{
	struct worker_finish_ctx c = { conf, job, o };
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err rc = db_tx(db, worker_finish_tx, &c, err, sizeof(err));

	if (rc == CP_OK)
		log_info("job %llu %s attempt %d: %s%s%s", job->id,
		    job->dedupe_key, job->attempts,
		    o->rc == CP_OK ? "done" : cp_strerror(o->rc),
		    o->rc == CP_OK ? "" : ": ", o->rc == CP_OK ? "" : o->reason);
	else if (rc != CP_NOTFOUND)
		log_error("job %llu %s: finishing failed: %s", job->id,
		    job->dedupe_key, err);
	return rc;
}

static enum cp_err
worker_run_one(struct worker *w, bool *ran)
{
	struct queue_job job;
	struct worker_outcome o;
	enum cp_err rc;

	*ran = false;
	if ((rc = queue_claim(w->db, w->id, w->conf->worker.lease_seconds, &job,
	    ran)) != CP_OK || !*ran)
		return rc;
	log_info("job %llu %s: claimed (attempt %d of %d)", job.id,
	    job.dedupe_key, job.attempts, job.max_attempts);
	worker_execute(w, &job, &o);
	rc = worker_finish(w->db, w->conf, &job, &o);
	worker_outcome_free(&o);
	if (rc != CP_OK && rc != CP_NOTFOUND) {
		/* The result could not be written (a value the table refuses,
		 * the database going away): record that as this attempt's
		 * failure, so it is retried with backoff and, at the end, the
		 * stage says failed with the real reason — not a lease that
		 * silently expires. */
		struct worker_outcome f;
		memset(&f, 0, sizeof(f));
		f.rc = CP_SYSTEM;
		cp_fmt(f.reason, sizeof(f.reason), "%s: writing the result "
		    "failed: %u %s", job.kind, db_errno(w->db), db_error(w->db));
		(void)worker_finish(w->db, w->conf, &job, &f);
	}
	return CP_OK;
}

/* Jobs whose lease expired on their last attempt: dead, stage failed. */
static void
worker_reap_expired(struct worker *w)
{
	struct queue_job exp[WORKER_EXPIRED_BATCH];
	int requeued = 0, n = 0;

	if (queue_requeue_expired(w->db, &requeued, exp, WORKER_EXPIRED_BATCH,
	    &n) != CP_OK) {
		log_warn("worker: lease check failed: %s", db_error(w->db));
		return;
	}
	for (int i = 0; i < n; i++) {
		struct worker_outcome o;
		memset(&o, 0, sizeof(o));
		o.rc = CP_SYSTEM;
		cp_fmt(o.reason, sizeof(o.reason), "%s: lease expired on the "
		    "last attempt (%d of %d); the worker died or hung",
		    exp[i].kind, exp[i].attempts, exp[i].max_attempts);
		(void)worker_finish(w->db, w->conf, &exp[i], &o);
	}
}

static void
worker_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	(void)nanosleep(&ts, NULL);   /* a signal ends it early: fine */
}

int
worker_loop(struct worker *w, volatile sig_atomic_t *stop)
{
	time_t last_reap = 0;
	long poll = w->conf->worker.poll_interval_ms;
	int db_down = 0;

	log_info("worker %s: polling every %ld ms", w->id, poll);
	{
		/* Downloads cut short by a killed process leave temp files. */
		int n = 0;
		if (store_sweep_tmp(w->conf, 3600, &n) == CP_OK && n > 0)
			log_info("worker: removed %d stale temporary file(s) from %s",
			    n, w->conf->recording.cache_dir);
	}
	while (!*stop) {
		bool ran = false;
		time_t now = time(NULL);

		if (now - last_reap >= WORKER_REQUEUE_EVERY_S) {
			worker_reap_expired(w);
			last_reap = now;
		}
		if (worker_run_one(w, &ran) != CP_OK) {
			if (db_down++ % 50 == 0)
				log_error("worker: claim failed: %u %s",
				    db_errno(w->db), db_error(w->db));
			worker_sleep_ms(1000);
			continue;
		}
		if (db_down > 0)
			log_info("worker: database is back");
		db_down = 0;
		if (ran)
			continue;
		/* +-50% jitter so several workers do not poll in step. */
		worker_sleep_ms(poll / 2 + random() % (poll + 1));
	}
	log_info("worker %s: stopping", w->id);
	return 0;
}
