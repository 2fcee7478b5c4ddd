/*
 * rest_start.c: the start_recording job (see rest_start.h).
 */
#include "rest_start.h"

#include <limits.h>
#include <string.h>
#include <time.h>

#include "jobkey.h"
#include "log.h"
#include "twilio_api.h"

/* Twilio's error codes (TWILIO.md "Starting a recording"). */
#define REST_ERR_CALL_STATE      21220   /* call not in-progress */
#define REST_ERR_ALREADY_ACTIVE  16108   /* more than one active recording */

/* Extra lease beyond rest_start_timeout_s and two requests (s). */
#define REST_LEASE_MARGIN_S 30

bool
rest_start_mode(const struct cp_conf *conf)
{
	return conf->recording.mode != NULL &&
	    strcmp(conf->recording.mode, "rest") == 0;
}

enum cp_err
rest_start_enqueue(struct db *db, const struct cp_conf *conf,
    const char *call_sid)
{
	char key[QUEUE_KEY_MAX + 1];

	if (!rest_start_mode(conf))
		return CP_OK;
	if (jobkey_start(key, sizeof(key), call_sid, NULL, 0) != CP_OK)
		return CP_INPUT;
	return queue_enqueue(db, JOB_START_RECORDING, call_sid, key,
	    conf->worker.max_attempts, 0, NULL);
}

static long long
rest_mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void
rest_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/* The job's age on the database's clock (ms since created_at), -1 when
 * it cannot be read. */
static long long
rest_job_age_ms(const struct job_ctx *c)
{
	struct db_param p[1] = { db_i64((long long)c->job->id) };
	struct db_result *r = NULL;
	long long us = -1;

	if (db_exec(c->db, "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, "
	    "NOW(3)) FROM jobs WHERE id = ?", p, 1, &r, NULL) != CP_OK)
		return -1;
	if (db_cell_ll(r, 0, 0, LLONG_MIN / 2, LLONG_MAX / 2, &us) != CP_OK)
		us = -1000;
	db_result_free(r);
	return us < 0 ? -1 : us / 1000;
}

/* A call that may still be answered or is answered: any status that is
 * not final (calls_status_final holds the one list), "" included. */
static bool
rest_call_live(const char *status)
{
	return !calls_status_final(status);
}

/* 16108: the recording runs already; its sid from the call's list. */
static void
rest_already(const struct job_ctx *c, struct job_outcome *o)
{
	struct twilio_recording recs[TWILIO_LIST_MAX];
	char err[CP_REASON_MAX + 1];
	int n = 0;

	o->rc = CP_OK;
	o->rest_started = true;
	o->start_offset_ms = -1;
	if (twilio_call_recordings(c->conf, c->job->call_sid, recs, &n, err,
	    sizeof(err)) != CP_OK)
		n = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(recs[i].status, "in-progress") == 0) {
			memcpy(o->recording_sid, recs[i].sid, sizeof(o->recording_sid));
			break;
		}
	log_info("call %s: Twilio says a recording is already active (16108): "
	    "counted as started%s%s", c->job->call_sid,
	    o->recording_sid[0] ? ", recording " : "", o->recording_sid);
}

/*
 * One try: POST the start. Returns true when the run is over (o filled),
 * false when the call still rings (try again after REST_START_RETRY_MS).
 */
static bool
rest_try(const struct job_ctx *c, const char *callback, long long age_ms,
    long long t0, struct job_outcome *o)
{
	struct twilio_start st;
	struct twilio_call call;
	char err[CP_REASON_MAX + 1] = "";

	o->rc = twilio_start_recording(c->conf, c->job->call_sid, callback, &st,
	    err, sizeof(err));
	if (o->rc != CP_OK) {
		cp_fmt(o->reason, sizeof(o->reason), "%s", err);
		return true;
	}
	if (st.status == 201) {
		o->start_offset_ms = age_ms < 0 ? -1 :
		    age_ms + (rest_mono_ms() - t0);
		memcpy(o->recording_sid, st.sid, sizeof(o->recording_sid));
		o->rest_started = true;
		log_info("call %s: recording %s started over REST, %lld ms after "
		    "the TwiML answer", c->job->call_sid, st.sid, o->start_offset_ms);
		return true;
	}
	if (st.code == REST_ERR_ALREADY_ACTIVE) {
		rest_already(c, o);
		return true;
	}
	if (st.status == 429 || st.status >= 500 || st.status < 400) {
		o->rc = CP_UPSTREAM;
		cp_fmt(o->reason, sizeof(o->reason), "Twilio answered HTTP %ld "
		    "to the recording start%s%s", st.status,
		    st.message[0] ? ": " : "", st.message);
		return true;
	}
	if (st.code != REST_ERR_CALL_STATE) {
		o->rc = CP_REJECTED;
		cp_fmt(o->reason, sizeof(o->reason), "Twilio refused the "
		    "recording start: HTTP %ld, code %ld%s%s", st.status, st.code,
		    st.message[0] ? ": " : "", st.message);
		return true;
	}
	/* 21220: ringing, or ended (TWILIO.md). The Call resource says which. */
	o->rc = twilio_fetch_call(c->conf, c->job->call_sid, &call, err,
	    sizeof(err));
	if (o->rc != CP_OK) {
		cp_fmt(o->reason, sizeof(o->reason), "21220, then %s", err);
		return true;
	}
	if (!rest_call_live(call.status)) {
		o->rc = CP_NOAUDIO;
		cp_fmt(o->reason, sizeof(o->reason), "call ended before the "
		    "recording could start (Twilio call status %s)", call.status);
		return true;
	}
	cp_fmt(o->reason, sizeof(o->reason), "the call is still %s "
	    "(Twilio 21220)", call.status[0] ? call.status : "not in-progress");
	return false;
}

void
rest_start_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	const struct cp_conf *conf = c->conf;
	long long lease = (long long)conf->recording.rest_start_timeout_s +
	    2 * (conf->twilio.request_timeout_ms / 1000 + 1) + REST_LEASE_MARGIN_S;
	char callback[1024];
	long long age_ms, t0, deadline;
	enum cp_err rc;
	int tries = 0;

	(void)row;
	o->start_offset_ms = -1;
	if (lease < conf->worker.lease_seconds)
		lease = conf->worker.lease_seconds;
	if ((rc = queue_extend_lease(c->db, c->job, (int)(lease < 86400 ?
	    lease : 86400))) != CP_OK) {
		o->rc = rc == CP_NOTFOUND ? CP_AGAIN : CP_DB;
		cp_fmt(o->reason, sizeof(o->reason), "start_recording: %s",
		    rc == CP_NOTFOUND ? "lease lost before the work began" :
		    db_error(c->db));
		return;
	}
	cp_fmt(callback, sizeof(callback), "%s/webhook/handle_recording",
	    conf->public_base_url);
	age_ms = rest_job_age_ms(c);
	t0 = rest_mono_ms();
	deadline = t0 + (long long)conf->recording.rest_start_timeout_s * 1000;
	for (;;) {
		tries++;
		if (rest_try(c, callback, age_ms, t0, o))
			break;
		if (rest_mono_ms() + REST_START_RETRY_MS > deadline) {
			/* An ordinary failure: retried with backoff. */
			char tmp[CP_REASON_MAX + 1];
			cp_fmt(tmp, sizeof(tmp), "%s after %d tries in %d s",
			    o->reason, tries, conf->recording.rest_start_timeout_s);
			memcpy(o->reason, tmp, sizeof(tmp));
			o->rc = CP_AGAIN;
			break;
		}
		rest_sleep_ms(REST_START_RETRY_MS);
	}
	if (tries > 1)
		log_info("call %s: start_recording tried %d times (21220 while "
		    "the call rang)", c->job->call_sid, tries);
	if (o->rc != CP_OK) {
		char tmp[CP_REASON_MAX + 1];
		cp_fmt(tmp, sizeof(tmp), "start_recording: %s", o->reason);
		memcpy(o->reason, tmp, sizeof(tmp));
	}
}

enum cp_err
rest_start_done(struct db *db, const struct cp_conf *conf,
    const struct queue_job *job, struct job_outcome *o, bool *moved)
{
	struct db_param p[2];

	(void)conf;
	*moved = false;
	if (!o->rest_started)   /* the stage had ended: the run was skipped */
		return CP_OK;
	if (calls_recording_started(db, job->call_sid, o->recording_sid[0] ?
	    o->recording_sid : NULL) != CP_OK)
		return CP_DB;
	if (o->start_offset_ms < 0)
		return CP_OK;
	p[0] = db_i64(o->start_offset_ms < INT_MAX ? o->start_offset_ms :
	    INT_MAX);
	p[1] = db_str(job->call_sid);
	return db_exec(db, "UPDATE call_log SET recording_start_offset_ms = ? "
	    "WHERE call_sid = ? AND recording_start_offset_ms IS NULL", p, 2,
	    NULL, NULL);
}
