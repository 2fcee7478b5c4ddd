/*
 * sweep.c: the periodic sweep (see sweep.h).
 */
#include "sweep.h"

#include <limits.h>
#include <string.h>
#include <time.h>

#include "calls.h"
#include "cp_num.h"
#include "jobkey.h"
#include "log.h"
#include "queue.h"
#include "sid.h"

/* The columns every rule selects, and the guards every rule shares: not a
 * legacy row, idle longer than the first parameter (seconds). The rules'
 * WHERE reads an index of 006_sweep.sql left to right: a status, the
 * legacy mark (IS NULL is an equality), the updated_at range. */
#define SWEEP_COLS "SELECT c.call_sid, c.recording_sid, c.retry_count, " \
	"TIMESTAMPDIFF(SECOND, c.updated_at, NOW(3)) FROM call_log c WHERE "
#define SWEEP_IDLE " AND c.legacy_upgraded_at IS NULL " \
	"AND c.updated_at < NOW(3) - INTERVAL ? SECOND "
/* No queued or running job of these kinds for the call (ix_jobs_call_sid). */
#define SWEEP_NOJOB(kinds) "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE " \
	"j.call_sid = c.call_sid AND j.state IN ('queued','running') AND " \
	"j.kind IN (" kinds ")) LIMIT ?"
#define SWEEP_REC_KINDS "'" JOB_RECONCILE "','" JOB_FETCH_RECORDING \
	"','" JOB_START_RECORDING "'"

const struct sweep_rule sweep_rules[] = {
	/* name           kind                silent
	 *   query
	 *   note */
	{ "silent call",  JOB_RECONCILE,       true,
	  SWEEP_COLS "c.recording_status IN ('pending','recording')" SWEEP_IDLE
	  "AND (c.recording_url IS NULL OR c.recording_url = '') "
	  SWEEP_NOJOB(SWEEP_REC_KINDS),
	  "no event and no recording URL (the call status and stream end "
	  "callbacks were lost?)" },
	{ "lost fetch",   JOB_FETCH_RECORDING, false,
	  SWEEP_COLS "c.recording_status = 'recording'" SWEEP_IDLE
	  "AND c.recording_url <> '' AND c.recording_sid IS NOT NULL "
	  SWEEP_NOJOB(SWEEP_REC_KINDS),
	  "recording with its URL but no fetch job" },
	{ "lost transcript", JOB_TRANSCRIBE,   false,
	  SWEEP_COLS "c.transcript_status = 'processing'" SWEEP_IDLE
	  SWEEP_NOJOB("'" JOB_TRANSCRIBE "'"),
	  "transcript processing with no job" },
	{ "lost summary", JOB_SUMMARIZE,       false,
	  SWEEP_COLS "c.summary_status = 'processing'" SWEEP_IDLE
	  SWEEP_NOJOB("'" JOB_SUMMARIZE "'"),
	  "summary processing with no job" },
	{ "transcript never queued", JOB_TRANSCRIBE, false,
	  SWEEP_COLS "c.transcript_status = 'pending'" SWEEP_IDLE
	  "AND c.recording_status = 'completed' "
	  SWEEP_NOJOB("'" JOB_TRANSCRIBE "'"),
	  "recording completed, transcript pending with no job" },
	{ "summary never queued", JOB_SUMMARIZE, false,
	  SWEEP_COLS "c.summary_status = 'pending'" SWEEP_IDLE
	  "AND c.transcript_status = 'completed' "
	  SWEEP_NOJOB("'" JOB_SUMMARIZE "'"),
	  "transcript completed, summary pending with no job" },
};
const size_t sweep_nrules = sizeof(sweep_rules) / sizeof(sweep_rules[0]);

/* ix_jobs_finished (state, updated_at). */
const char sweep_delete_sql[] =
    "DELETE FROM jobs WHERE state IN ('done','dead') AND "
    "updated_at < NOW(3) - INTERVAL ? DAY LIMIT ?";

/* One job to give: the row the rule found and the key it gets. */
struct sweep_give {
	const struct sweep_rule *rule;
	const struct cp_conf    *conf;
	const char              *call_sid;
	char                     key[QUEUE_KEY_MAX + 1];
	char                     note[CP_REASON_MAX + 1];
	bool                     inserted;
};

static enum cp_err
sweep_give_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct sweep_give *g = arg;
	enum cp_err rc;

	g->inserted = false;
	rc = queue_enqueue(db, g->rule->kind, g->call_sid, g->key,
	    g->conf->worker.max_attempts, 0, &g->inserted);
	if (rc == CP_OK && g->inserted)
		rc = calls_note_error(db, g->call_sid, g->note);
	if (rc != CP_OK)
		cp_fmt(err, errlen, "%s", db_error(db));
	return rc;
}

/*
 * The job of rule for row i of r (call_sid, recording_sid, retry_count,
 * idle seconds), keyed <the kind's key at retry_count>:sweep<period>.
 * *given: whether a job was made. CP_OK (a row whose key cannot be built
 * is logged and skipped), CP_DB.
 */
static enum cp_err
sweep_give(struct db *db, const struct cp_conf *conf,
    const struct sweep_rule *rule, const struct db_result *r, size_t i,
    long long period, FILE *out, bool *given, char *err, size_t errlen)
{
	const struct job_kind *k = jobs_find(rule->kind);
	const char *rec = db_cell(r, i, 1);
	struct sweep_give g;
	char base[QUEUE_KEY_MAX + 1];
	long long retry, idle;
	enum cp_err rc;

	*given = false;
	memset(&g, 0, sizeof(g));
	g.rule = rule;
	g.conf = conf;
	g.call_sid = db_cell(r, i, 0);
	if (db_cell_ll(r, i, 2, 0, INT_MAX, &retry) != CP_OK)
		retry = 0;
	if (db_cell_ll(r, i, 3, 0, LLONG_MAX, &idle) != CP_OK)
		idle = 0;
	if (k == NULL || g.call_sid == NULL ||
	    k->key(base, sizeof(base), g.call_sid, rec, (int)retry) != CP_OK ||
	    jobkey_swept(g.key, sizeof(g.key), base, period) != CP_OK) {
		log_warn("sweep: %s: call %s: no %s key can be made, left alone",
		    rule->name, g.call_sid ? g.call_sid : "(null)", rule->kind);
		return CP_OK;
	}
	cp_fmt(g.note, sizeof(g.note), "sweep: %s (idle %lld s); %s queued",
	    rule->note, idle, g.key);
	if ((rc = db_tx(db, sweep_give_tx, &g, err, errlen)) != CP_OK)
		return rc;
	*given = g.inserted;
	if (g.inserted) {
		log_info("call %s: %s", g.call_sid, g.note);
		if (out != NULL)
			fprintf(out, "%s\t%s\t%s\tidle %lld s\n", rule->name,
			    g.call_sid, g.key, idle);
	}
	return CP_OK;
}

static enum cp_err
sweep_rule_run(struct db *db, const struct cp_conf *conf,
    const struct sweep_rule *rule, long long period, FILE *out,
    struct sweep_counts *counts, char *err, size_t errlen)
{
	struct db_param p[2];
	struct db_result *r = NULL;
	enum cp_err rc = CP_OK;

	p[0] = db_i64(rule->silent ? conf->worker.sweep_after_s :
	    conf->worker.lease_seconds);
	p[1] = db_i64(SWEEP_BATCH);
	if (db_exec(db, rule->sql, p, 2, &r, NULL) != CP_OK) {
		cp_fmt(err, errlen, "sweep: %s: %s", rule->name, db_error(db));
		return CP_DB;
	}
	for (size_t i = 0; i < r->nrows && rc == CP_OK; i++) {
		bool given = false;
		rc = sweep_give(db, conf, rule, r, i, period, out, &given, err,
		    errlen);
		if (given && rule->silent)
			counts->reconciles++;
		else if (given)
			counts->requeued++;
	}
	db_result_free(r);
	return rc;
}

/* Finished jobs past jobs.retention_days, SWEEP_DELETE_BATCH at a time
 * (short statements: no long lock on the queue). */
static enum cp_err
sweep_delete_jobs(struct db *db, const struct cp_conf *conf,
    struct sweep_counts *counts, char *err, size_t errlen)
{
	struct db_param p[2] = { db_i64(conf->jobs.retention_days),
	    db_i64(SWEEP_DELETE_BATCH) };

	for (int i = 0; i < SWEEP_DELETE_MAX; i++) {
		unsigned long long n = 0;
		if (db_exec(db, sweep_delete_sql, p, 2, NULL, &n) != CP_OK) {
			cp_fmt(err, errlen, "sweep: deleting finished jobs: %s",
			    db_error(db));
			return CP_DB;
		}
		counts->jobs_deleted += (long long)n;
		if (n < SWEEP_DELETE_BATCH)
			break;
	}
	return CP_OK;
}

enum cp_err
sweep_run(struct db *db, const struct cp_conf *conf, long long period,
    FILE *out, struct sweep_counts *counts, char *err, size_t errlen)
{
	enum cp_err rc = CP_OK;

	memset(counts, 0, sizeof(*counts));
	if (period < 0) {
		cp_fmt(err, errlen, "sweep: period %lld < 0", period);
		return CP_INPUT;
	}
	for (size_t i = 0; i < sweep_nrules && rc == CP_OK; i++)
		rc = sweep_rule_run(db, conf, &sweep_rules[i], period, out, counts,
		    err, errlen);
	if (rc == CP_OK)
		rc = sweep_delete_jobs(db, conf, counts, err, errlen);
	if (out != NULL && rc == CP_OK && counts->jobs_deleted > 0)
		fprintf(out, "deleted\t%lld finished job(s) older than %d day(s)\n",
		    counts->jobs_deleted, conf->jobs.retention_days);
	if (counts->reconciles || counts->requeued || counts->jobs_deleted)
		log_info("sweep %lld: %d reconcile(s), %d stage job(s) again, %lld "
		    "finished job(s) deleted", period, counts->reconciles,
		    counts->requeued, counts->jobs_deleted);
	return rc;
}

enum cp_err
sweep_enqueue(struct db *db, const struct cp_conf *conf, long long *period)
{
	char key[QUEUE_KEY_MAX + 1];

	*period = jobkey_sweep_period((long long)time(NULL),
	    conf->worker.sweep_interval_s);
	if (jobkey_sweep_at(key, sizeof(key), *period) != CP_OK)
		return CP_INPUT;
	return queue_enqueue_periodic(db, JOB_SWEEP, key,
	    conf->worker.max_attempts, NULL);
}

void
sweep_job_run(const struct job_ctx *c, const struct calls_row *row,
    struct job_outcome *o)
{
	struct sweep_counts counts;
	long long period = -1;

	if (strncmp(c->job->dedupe_key, "sweep:", 6) != 0 ||
	    cp_parse_ll(c->job->dedupe_key + 6, 0, LLONG_MAX, &period) != CP_OK) {
		o->rc = CP_INPUT;
		cp_fmt(o->reason, sizeof(o->reason), "sweep: key %s is not "
		    "sweep:<period>", c->job->dedupe_key);
		return;
	}
	o->rc = sweep_run(c->db, c->conf, period, NULL, &counts, o->reason,
	    sizeof(o->reason));
}

