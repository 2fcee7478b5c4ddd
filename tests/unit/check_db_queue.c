/*
 * check_db_queue: the queue and migrations against a real MariaDB.
 *
 * Needs CALLPIPE_CONF (the local stack's config, etc/dev.sh up); it works
 * in its own database, <database.name>_test, which it drops and recreates,
 * so the running stack's workers never see its jobs. Without
 * CALLPIPE_CONF it exits 77 (automake's "skipped").
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "conf.h"
#include "db.h"
#include "jobkey.h"
#include "jobs.h"
#include "migrate.h"
#include "queue.h"
#include "store.h"
#include "sweep.h"
#include "worker.h"

static struct cp_conf conf;
static struct db *db;
static char dbname[128];

static void
exec_ok(const char *sql)
{
	ck_assert_msg(db_exec(db, sql, NULL, 0, NULL, NULL) == CP_OK,
	    "%s: %s", sql, db_error(db));
}

static long long
count(const char *sql)
{
	struct db_result *r = NULL;
	long long n;

	ck_assert_msg(db_exec(db, sql, NULL, 0, &r, NULL) == CP_OK, "%s: %s",
	    sql, db_error(db));
	n = strtoll(db_cell(r, 0, 0), NULL, 10);
	db_result_free(r);
	return n;
}

static char *
cell(const char *sql)
{
	struct db_result *r = NULL;
	char *s;

	ck_assert_msg(db_exec(db, sql, NULL, 0, &r, NULL) == CP_OK, "%s: %s",
	    sql, db_error(db));
	s = db_cell(r, 0, 0) ? strdup(db_cell(r, 0, 0)) : NULL;
	db_result_free(r);
	return s;
}

static void
random_sid(char *out, const char *prefix)
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, prefix, 2);
	for (int i = 2; i < 34; i++)
		out[i] = hex[random() % 16];
	out[34] = '\0';
}

/* Fresh test database with the schema applied: also the migrate test. */
static void
fresh_db(void)
{
	char sql[300], err[512] = "";
	int applied = -1;

	cp_fmt(sql, sizeof(sql), "DROP DATABASE IF EXISTS `%s`", dbname);
	exec_ok(sql);
	cp_fmt(sql, sizeof(sql), "CREATE DATABASE `%s` CHARACTER SET utf8mb4",
	    dbname);
	exec_ok(sql);
	cp_fmt(sql, sizeof(sql), "USE `%s`", dbname);
	exec_ok(sql);
	ck_assert_msg(migrate_run(db, TOP_SRCDIR "/schema", &applied, err,
	    sizeof(err)) == CP_OK, "migrate: %s", err);
	ck_assert_int_ge(applied, 1);
}

static void
setup(void)
{
	char err[512] = "";
	const char *path = getenv("CALLPIPE_CONF");

	ck_assert_msg(conf_load(path, &conf, err, sizeof(err)) == CP_OK, "%s",
	    err);
	cp_fmt(dbname, sizeof(dbname), "%s_test", conf.db.name);
	/* Connect to the stack's database, then switch to the test one. */
	ck_assert_msg(db_open(&conf, &db, err, sizeof(err)) == CP_OK, "%s", err);
	fresh_db();
	free(conf.db.name);
	conf.db.name = strdup(dbname);   /* reconnects land in the test db */
	srandom((unsigned)getpid());
}

static void
teardown(void)
{
	db_close(db);
	db = NULL;
	conf_free(&conf);
}

START_TEST(test_migrate_twice_changes_nothing)
{
	char err[512] = "";
	int applied = -1;
	long long before = count("SELECT COUNT(*) FROM schema_migrations");
	char *sum1 = cell("SELECT GROUP_CONCAT(checksum ORDER BY version) "
	    "FROM schema_migrations");
	char *sum2, *tables1, *tables2;

	tables1 = cell("SELECT GROUP_CONCAT(table_name ORDER BY table_name) "
	    "FROM information_schema.tables WHERE table_schema = DATABASE()");
	ck_assert_msg(migrate_run(db, TOP_SRCDIR "/schema", &applied, err,
	    sizeof(err)) == CP_OK, "%s", err);
	ck_assert_int_eq(applied, 0);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM schema_migrations"), before);
	sum2 = cell("SELECT GROUP_CONCAT(checksum ORDER BY version) "
	    "FROM schema_migrations");
	tables2 = cell("SELECT GROUP_CONCAT(table_name ORDER BY table_name) "
	    "FROM information_schema.tables WHERE table_schema = DATABASE()");
	ck_assert_str_eq(sum1, sum2);
	ck_assert_str_eq(tables1, tables2);
	ck_assert_ptr_nonnull(strstr(tables1, "call_log"));
	ck_assert_ptr_nonnull(strstr(tables1, "jobs"));
	free(sum1);
	free(sum2);
	free(tables1);
	free(tables2);
}
END_TEST

START_TEST(test_enqueue_dedupe_key)
{
	bool ins1 = false, ins2 = true;
	char ca[35];

	random_sid(ca, "CA");
	ck_assert_int_eq(queue_enqueue(db, "fetch_recording", ca, "fetch:REx",
	    4, 0, &ins1), CP_OK);
	ck_assert_int_eq(queue_enqueue(db, "fetch_recording", ca, "fetch:REx",
	    4, 0, &ins2), CP_OK);
	ck_assert(ins1);
	ck_assert(!ins2);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE "
	    "dedupe_key = 'fetch:REx'"), 1);
}
END_TEST

START_TEST(test_claim_query_uses_index_without_filesort)
{
	char sql[2048], *plan;

	/* 1,200 jobs in mixed states and times. */
	exec_ok("INSERT INTO jobs (kind, dedupe_key, state, max_attempts, "
	    "run_after) SELECT 'transcribe', CONCAT('bulk:', seq), "
	    "ELT(1 + seq % 4, 'queued', 'running', 'done', 'dead'), 4, "
	    "NOW(3) - INTERVAL (seq % 500) SECOND + INTERVAL (seq % 7) MINUTE "
	    "FROM seq_1_to_1200");
	exec_ok("ANALYZE TABLE jobs");
	ck_assert_int_ge(count("SELECT COUNT(*) FROM jobs"), 1000);
	cp_fmt(sql, sizeof(sql), "EXPLAIN FORMAT=JSON %s", queue_claim_sql);
	plan = cell(sql);
	ck_assert_ptr_nonnull(plan);
	ck_assert_msg(strstr(plan, "filesort") == NULL, "plan sorts: %s", plan);
	ck_assert_msg(strstr(plan, "\"key\": \"ix_jobs_claim\"") != NULL,
	    "plan does not use ix_jobs_claim: %s", plan);
	free(plan);
}
END_TEST

/* A claimed job whose lease ends is claimed by another worker; the first
 * worker's finish then matches 0 rows and its result is not written. */
START_TEST(test_lease_expired_result_dropped)
{
	struct queue_job a, b;
	struct job_outcome o;
	bool got = false;
	int requeued = 0, nexp = 0;
	char ca[35], key[64], sql[256], *st;
	struct queue_job exp[4];

	random_sid(ca, "CA");
	ck_assert_int_eq(calls_ensure(db, ca), CP_OK);
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET recording_status = "
	    "'completed', transcript_status = 'processing' WHERE call_sid = '%s'",
	    ca);
	exec_ok(sql);
	cp_fmt(key, sizeof(key), "transcribe:%s:0", ca);
	ck_assert_int_eq(queue_enqueue(db, "transcribe", ca, key, 4, 0, NULL),
	    CP_OK);
	exec_ok("UPDATE jobs SET state = 'done' WHERE dedupe_key LIKE 'bulk:%'");
	ck_assert_int_eq(queue_claim(db, "worker-a", 1, &a, &got), CP_OK);
	ck_assert(got);
	ck_assert_str_eq(a.dedupe_key, key);
	usleep(1300 * 1000);
	ck_assert_int_eq(queue_requeue_expired(db, &requeued, exp, 4, &nexp),
	    CP_OK);
	ck_assert_int_eq(requeued, 1);
	ck_assert_int_eq(queue_claim(db, "worker-b", 60, &b, &got), CP_OK);
	ck_assert(got);
	ck_assert_uint_eq(a.id, b.id);
	ck_assert_int_eq(b.attempts, 2);

	/* Worker A comes back with a finished transcript. */
	memset(&o, 0, sizeof(o));
	o.rc = CP_OK;
	o.has_stt = true;
	o.stt.transcription = strdup("{\"caller\":\"stale\"}");
	o.stt.final_transcript = strdup("Caller: stale\n");
	o.stt.segments_json = strdup("[]");
	ck_assert_int_eq(worker_finish(db, &conf, &a, &o), CP_NOTFOUND);
	job_outcome_free(&o);

	cp_fmt(sql, sizeof(sql), "SELECT transcript_status FROM call_log "
	    "WHERE call_sid = '%s'", ca);
	st = cell(sql);
	ck_assert_str_eq(st, "processing");
	free(st);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM call_log WHERE "
	    "call_sid = '%s' AND final_transcript IS NULL", ca);
	ck_assert_int_eq(count(sql), 1);
	cp_fmt(sql, sizeof(sql), "SELECT CONCAT(state, ' ', locked_by) FROM "
	    "jobs WHERE id = %llu", b.id);
	st = cell(sql);
	ck_assert_str_eq(st, "running worker-b");
	free(st);
	/* No summarize job was enqueued by the stale result. */
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE call_sid = "
	    "'%s' AND kind = 'summarize'", ca);
	ck_assert_int_eq(count(sql), 0);
}
END_TEST

/* A job that fails every time is retried with backoff, then dead; its
 * stage is failed with last_error, in the same transaction. */
START_TEST(test_failing_job_ends_dead_stage_failed)
{
	struct queue_job j;
	struct job_outcome o;
	bool got;
	char ca[35], key[64], sql[300], *v;

	random_sid(ca, "CA");
	ck_assert_int_eq(calls_ensure(db, ca), CP_OK);
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET recording_status = "
	    "'recording' WHERE call_sid = '%s'", ca);
	exec_ok(sql);
	cp_fmt(key, sizeof(key), "fetch:%s", ca);
	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	ck_assert_int_eq(queue_enqueue(db, "fetch_recording", ca, key, 3, 0,
	    NULL), CP_OK);
	for (int attempt = 1; attempt <= 3; attempt++) {
		ck_assert_int_eq(queue_claim(db, "worker-x", 60, &j, &got), CP_OK);
		ck_assert_msg(got, "attempt %d not claimable", attempt);
		ck_assert_int_eq(j.attempts, attempt);
		memset(&o, 0, sizeof(o));
		o.rc = CP_UPSTREAM;
		cp_fmt(o.reason, sizeof(o.reason), "recording media: Twilio "
		    "answered HTTP 500");
		ck_assert_int_eq(worker_finish(db, &conf, &j, &o), CP_OK);
		cp_fmt(sql, sizeof(sql), "SELECT state FROM jobs WHERE id = %llu",
		    j.id);
		v = cell(sql);
		ck_assert_str_eq(v, attempt < 3 ? "queued" : "dead");
		free(v);
		cp_fmt(sql, sizeof(sql), "SELECT recording_status FROM call_log "
		    "WHERE call_sid = '%s'", ca);
		v = cell(sql);
		/* Retrying keeps the working state; only dead fails the stage. */
		ck_assert_str_eq(v, attempt < 3 ? "recording" : "failed");
		free(v);
		if (attempt < 3) {
			/* The backoff put run_after in the future. */
			cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE "
			    "id = %llu AND run_after > NOW(3)", j.id);
			ck_assert_int_eq(count(sql), 1);
			cp_fmt(sql, sizeof(sql), "UPDATE jobs SET run_after = NOW(3) "
			    "WHERE id = %llu", j.id);
			exec_ok(sql);
		}
	}
	cp_fmt(sql, sizeof(sql), "SELECT last_error FROM call_log WHERE "
	    "call_sid = '%s'", ca);
	v = cell(sql);
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(strstr(v, "HTTP 500"));
	free(v);
	ck_assert_int_eq(queue_claim(db, "worker-x", 60, &j, &got), CP_OK);
	ck_assert(!got);
}
END_TEST

/* A job whose lease was extended is not taken back when the first lease
 * would have ended; an extension by a worker that lost the lease fails. */
START_TEST(test_extend_lease_keeps_job)
{
	struct queue_job j, stale;
	struct queue_job exp[4];
	bool got = false;
	int requeued = -1, nexp = -1;
	char ca[35], key[64];

	random_sid(ca, "CA");
	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	cp_fmt(key, sizeof(key), "transcribe:%s:0", ca);
	ck_assert_int_eq(queue_enqueue(db, "transcribe", ca, key, 4, 0, NULL),
	    CP_OK);
	ck_assert_int_eq(queue_claim(db, "worker-l", 1, &j, &got), CP_OK);
	ck_assert(got);
	ck_assert_int_eq(queue_extend_lease(db, &j, 60), CP_OK);
	usleep(1300 * 1000);
	ck_assert_int_eq(queue_requeue_expired(db, &requeued, exp, 4, &nexp),
	    CP_OK);
	ck_assert_int_eq(requeued, 0);
	ck_assert_int_eq(nexp, 0);
	stale = j;
	cp_fmt(stale.locked_by, sizeof(stale.locked_by), "worker-other");
	ck_assert_int_eq(queue_extend_lease(db, &stale, 60), CP_NOTFOUND);
}
END_TEST

/*
 * Issue 7 item 7 and the master's reap: the running jobs of one owner other
 * than the one it holds go back to the queue at once, attempts - 1; another
 * owner's job and the held one stay running.
 */
START_TEST(test_release_owner_puts_back_others)
{
	struct queue_job a, b, other;
	bool got = false;
	int n = -1;
	char ca[35], key[64], owner[QUEUE_OWNER_MAX + 1], host[64] = "";
	char sql[300], *s;

	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	for (int i = 0; i < 3; i++) {
		random_sid(ca, "CA");
		cp_fmt(key, sizeof(key), "transcribe:%s:0", ca);
		ck_assert_int_eq(queue_enqueue(db, "transcribe", ca, key, 4, 0,
		    NULL), CP_OK);
	}
	queue_owner_id(owner, sizeof(owner), 4242);
	(void)gethostname(host, sizeof(host) - 1);
	cp_fmt(sql, sizeof(sql), "%.63s:4242", host);
	ck_assert_str_eq(owner, sql);
	/* a: claimed by a transaction whose COMMIT reply was lost; b: the
	 * claim the worker knows of after reconnecting. */
	ck_assert_int_eq(queue_claim(db, owner, 300, &a, &got), CP_OK);
	ck_assert(got);
	ck_assert_int_eq(queue_claim(db, owner, 300, &b, &got), CP_OK);
	ck_assert(got);
	ck_assert_int_eq(queue_claim(db, "otherhost:1", 300, &other, &got), CP_OK);
	ck_assert(got);
	ck_assert_int_eq(queue_release_owner(db, owner, b.id, "put back: test", true,
	    &n), CP_OK);
	ck_assert_int_eq(n, 1);
	cp_fmt(sql, sizeof(sql), "SELECT CONCAT(state, ' ', attempts, ' ', "
	    "IFNULL(locked_by, '-'), ' ', IFNULL(locked_until, '-'), ' ', "
	    "last_error) FROM jobs WHERE id = %llu", a.id);
	s = cell(sql);
	ck_assert_str_eq(s, "queued 0 - - put back: test");
	free(s);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE state = "
	    "'running' AND id IN (%llu, %llu)", b.id, other.id);
	ck_assert_int_eq(count(sql), 2);
	/* Put back at once: claimable now, and its result guard still holds
	 * for the run that kept b. */
	ck_assert_int_eq(queue_claim(db, "w2:2", 300, &a, &got), CP_OK);
	ck_assert(got);
	ck_assert_int_eq(a.attempts, 1);
	ck_assert_int_eq(queue_finish_done(db, &b), CP_OK);
	/* The master after reaping: keep none, and the run counts (a job that
	 * kills its worker every time must still reach max_attempts). */
	ck_assert_int_eq(queue_release_owner(db, "w2:2", 0, NULL, false, &n), CP_OK);
	ck_assert_int_eq(n, 1);
	cp_fmt(sql, sizeof(sql), "SELECT CONCAT(state, ' ', attempts) FROM jobs "
	    "WHERE id = %llu", a.id);
	s = cell(sql);
	ck_assert_str_eq(s, "queued 1");
	free(s);
	ck_assert_int_eq(queue_release_owner(db, "w2:2", 0, NULL, false, &n), CP_OK);
	ck_assert_int_eq(n, 0);
	/* At max_attempts it is left running for the lease path, which ends it
	 * dead and fails its stage. */
	ck_assert_int_eq(queue_claim(db, "w2:2", 300, &a, &got), CP_OK);
	ck_assert(got);
	cp_fmt(sql, sizeof(sql), "UPDATE jobs SET max_attempts = attempts WHERE "
	    "id = %llu", a.id);
	exec_ok(sql);
	ck_assert_int_eq(queue_release_owner(db, "w2:2", 0, NULL, false, &n), CP_OK);
	ck_assert_int_eq(n, 0);
	cp_fmt(sql, sizeof(sql), "UPDATE jobs SET state = 'done' WHERE id = %llu",
	    a.id);
	exec_ok(sql);
	ck_assert_int_eq(queue_release_owner(db, "", 0, NULL, true, &n), CP_INPUT);
}
END_TEST

/* db_connect_count tells the worker that a reconnect happened: the
 * connection killed under it, the next statement reconnects. */
START_TEST(test_connect_count_after_reconnect)
{
	struct db *killer = NULL;
	char err[512] = "", sql[64], *id;
	unsigned long before = db_connect_count(db);
	struct queue_job j;
	bool got = true;

	ck_assert_uint_ge(before, 1);
	/* Prepared and kept before the kill: after it, the kept statement
	 * must not be what finds the connection gone (sent, so never run
	 * again); db_exec sees the closed socket first and reconnects. */
	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	ck_assert_msg(db_open(&conf, &killer, err, sizeof(err)) == CP_OK, "%s",
	    err);
	id = cell("SELECT CONNECTION_ID()");
	cp_fmt(sql, sizeof(sql), "KILL CONNECTION %s", id);
	free(id);
	ck_assert_int_eq(db_exec(killer, sql, NULL, 0, NULL, NULL), CP_OK);
	db_close(killer);
	usleep(100 * 1000);
	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	ck_assert_uint_eq(db_connect_count(db), before + 1);
	ck_assert_int_eq(queue_claim(db, "w:1", 300, &j, &got), CP_OK);
	ck_assert(!got);
	ck_assert_uint_eq(db_connect_count(db), before + 1);
}
END_TEST

static enum cp_err
tx_one_update(struct db *d, void *arg, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return db_exec(d, "UPDATE jobs SET state = 'done' WHERE state = "
	    "'queued' AND id = 0", NULL, 0, NULL, NULL);
}

/* A transaction on a connection the server has killed since reconnects
 * before START TRANSACTION is sent: no lost-connection retry is needed,
 * so it commits even with no reconnect budget (0 ms; found by sending,
 * db_tx_within gives up, and with a budget it sleeps 250 ms first). */
START_TEST(test_tx_after_kill_no_backoff)
{
	struct db *killer = NULL;
	char err[512] = "", sql[64], *id;
	unsigned long before = db_connect_count(db);

	ck_assert_msg(db_open(&conf, &killer, err, sizeof(err)) == CP_OK, "%s",
	    err);
	id = cell("SELECT CONNECTION_ID()");
	cp_fmt(sql, sizeof(sql), "KILL CONNECTION %s", id);
	free(id);
	ck_assert_int_eq(db_exec(killer, sql, NULL, 0, NULL, NULL), CP_OK);
	db_close(killer);
	usleep(100 * 1000);
	ck_assert_msg(db_tx_within(db, 0, tx_one_update, NULL, err,
	    sizeof(err)) == CP_OK, "%s", err);
	ck_assert_uint_eq(db_connect_count(db), before + 1);
}
END_TEST

static volatile sig_atomic_t worker_stop;

static void *
worker_thread(void *arg)
{
	(void)worker_loop(arg, &worker_stop);
	return NULL;
}

/*
 * Issue 7 item 7 through the worker itself: a job left running under the
 * worker's id with a 300 s lease (what a claim whose COMMIT reply was lost
 * leaves), then the worker's connection killed. The worker reconnects, puts
 * the job back (attempts 1 -> 0) and runs it at once: it ends dead after
 * that one run (no call_log row), attempts 1, within seconds — without
 * the look after the reconnect it would sit running until its lease ran out.
 */
START_TEST(test_worker_reconnect_puts_back_lost_claim)
{
	struct worker *w = NULL;
	struct db_result *r = NULL;
	pthread_t th;
	char owner[QUEUE_OWNER_MAX + 1], sql[512], ca[35], *s;
	struct db_param p[1];

	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	queue_owner_id(owner, sizeof(owner), (long)getpid());
	random_sid(ca, "CA");
	cp_fmt(sql, sizeof(sql), "INSERT INTO jobs (kind, call_sid, dedupe_key, "
	    "state, attempts, max_attempts, locked_by, locked_until) VALUES "
	    "('refill_recording', '%s', 'lost:%s', 'running', 1, 4, '%s', "
	    "NOW(3) + INTERVAL 300 SECOND)", ca, ca, owner);
	exec_ok(sql);
	ck_assert_int_eq(worker_new(&conf, &w), CP_OK);
	/* Kill every other connection to the test database: the worker's. */
	p[0] = db_str(dbname);
	ck_assert_int_eq(db_exec(db, "SELECT ID FROM information_schema.PROCESSLIST "
	    "WHERE DB = ? AND ID <> CONNECTION_ID()", p, 1, &r, NULL), CP_OK);
	ck_assert_uint_ge(r->nrows, 1);
	for (size_t i = 0; i < r->nrows; i++) {
		cp_fmt(sql, sizeof(sql), "KILL CONNECTION %s", db_cell(r, i, 0));
		exec_ok(sql);
	}
	db_result_free(r);
	worker_stop = 0;
	ck_assert_int_eq(pthread_create(&th, NULL, worker_thread, w), 0);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE dedupe_key = "
	    "'lost:%s' AND state = 'dead'", ca);
	for (int i = 0; i < 100 && count(sql) == 0; i++)
		usleep(50 * 1000);
	worker_stop = 1;
	pthread_join(th, NULL);
	worker_free(w);
	cp_fmt(sql, sizeof(sql), "SELECT CONCAT(state, ' ', attempts) FROM jobs "
	    "WHERE dedupe_key = 'lost:%s'", ca);
	s = cell(sql);
	ck_assert_str_eq(s, "dead 1");
	free(s);
}
END_TEST

/* Issue 8 item 6: a batch claim takes claim_batch jobs when that many are
 * due, else one; only the first counts an attempt; a held job counts when
 * it starts; put back unstarted (or by the master's reap) it is charged
 * nothing; a held job put back or taken by another is not started. */
START_TEST(test_claim_batch_counts_started_jobs_only)
{
	struct queue_job jobs[QUEUE_BATCH_MAX], one[QUEUE_BATCH_MAX];
	unsigned long rc_seen = db_connect_count(db);
	char key[64], sql[300];
	int n = -1, released = -1;

	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	for (int i = 0; i < 5; i++) {
		cp_fmt(key, sizeof(key), "noop:batch%d", i);
		ck_assert_int_eq(queue_enqueue(db, "noop", NULL, key, 3, 0, NULL),
		    CP_OK);
	}
	/* 5 due, batch of 8: the queue is shorter than a batch, so one. */
	ck_assert_int_eq(queue_claim_batch(db, "wb:1", 300, 8, &rc_seen, one,
	    &n), CP_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(one[0].attempts, 1);
	ck_assert_str_eq(one[0].locked_by, "wb:1");
	/* 4 due, batch of 4: all four, the first counted. */
	ck_assert_int_eq(queue_claim_batch(db, "wb:2", 300, 4, &rc_seen, jobs,
	    &n), CP_OK);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE state = "
	    "'running' AND locked_by = 'wb:2' AND locked_until > NOW(3)"), 4);
	ck_assert_int_eq(count("SELECT SUM(attempts) FROM jobs WHERE "
	    "locked_by = 'wb:2'"), 1);
	ck_assert_int_eq(jobs[0].attempts, 1);
	ck_assert_int_eq(jobs[1].attempts, 0);
	ck_assert_uint_lt(jobs[0].id, jobs[1].id);   /* claim order */
	/* jobs[1] starts: counted now. */
	ck_assert_int_eq(queue_start_held(db, &jobs[1], 300), CP_OK);
	ck_assert_int_eq(jobs[1].attempts, 1);
	cp_fmt(sql, sizeof(sql), "SELECT attempts FROM jobs WHERE id = %llu",
	    jobs[1].id);
	ck_assert_int_eq(count(sql), 1);
	/* The master reaps wb:2 (no refund): the two started keep their
	 * count, jobs[2] keeps 0 — it never ran. */
	ck_assert_int_eq(queue_release_owner(db, "wb:2", 0, NULL, false, &n),
	    CP_OK);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(count("SELECT SUM(attempts) FROM jobs WHERE state = "
	    "'queued' AND dedupe_key LIKE 'noop:batch%'"), 2);
	/* A held job put back is not started by its old holder. */
	ck_assert_int_eq(queue_start_held(db, &jobs[2], 300), CP_NOTFOUND);
	/* Claimed again, jobs put back unstarted: as they were. */
	ck_assert_int_eq(queue_claim_batch(db, "wb:3", 300, 4, &rc_seen, jobs,
	    &n), CP_OK);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(queue_release_held(db, &jobs[1], 3, &released), CP_OK);
	ck_assert_int_eq(released, 3);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE state = "
	    "'running' AND locked_by = 'wb:3'"), 1);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE state = "
	    "'queued' AND locked_by IS NULL AND locked_until IS NULL AND "
	    "dedupe_key LIKE 'noop:batch%'"), 3);
	ck_assert_int_eq(queue_claim_batch(db, "wb:4", 300, 0, &rc_seen, jobs,
	    &n), CP_INPUT);
	ck_assert_int_eq(queue_claim_batch(db, "wb:4", 300, 101, &rc_seen, jobs,
	    &n), CP_INPUT);
}
END_TEST

/* Held jobs behind a slow first job: their short lease (not lease_s)
 * runs out, any worker's lease check puts them back, another worker takes
 * one, and its first holder, reaching it at last, does not start it (one
 * run, charged once). */
START_TEST(test_held_job_behind_slow_one_goes_back)
{
	struct queue_job jobs[2], other[1];
	unsigned long rc_seen = db_connect_count(db);
	char key[64];
	int n = -1, requeued = -1, nexp = -1;

	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	for (int i = 0; i < 2; i++) {
		cp_fmt(key, sizeof(key), "noop:held%d", i);
		ck_assert_int_eq(queue_enqueue(db, "noop", NULL, key, 3, 0, NULL),
		    CP_OK);
	}
	ck_assert_int_eq(queue_claim_batch(db, "wh:1", 300, 2, &rc_seen, jobs,
	    &n), CP_OK);
	ck_assert_int_eq(n, 2);
	/* jobs[0] "runs" past the held lease (its own is lease_s). */
	sleep(QUEUE_HELD_LEASE_S + 1);
	ck_assert_int_eq(queue_requeue_expired(db, &requeued, NULL, 0, &nexp),
	    CP_OK);
	ck_assert_int_eq(requeued, 1);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE state = "
	    "'running' AND locked_by = 'wh:1' AND dedupe_key = 'noop:held0'"), 1);
	ck_assert_int_eq(queue_claim_batch(db, "wh:2", 300, 1, &rc_seen, other,
	    &n), CP_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(other[0].id, jobs[1].id);
	ck_assert_int_eq(other[0].attempts, 1);
	ck_assert_int_eq(queue_start_held(db, &jobs[1], 300), CP_NOTFOUND);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE dedupe_key = "
	    "'noop:held1' AND locked_by = 'wh:2' AND attempts = 1"), 1);
}
END_TEST

/* A kept statement's result buffers follow the data: a MEDIUMTEXT and a
 * JSON value grown (and shrunk) between executions of the same SQL text
 * come back whole; a SELECT * whose table gained a column returns it; a
 * SELECT run without fetching its rows leaves the connection usable. */
START_TEST(test_kept_statement_results_follow_data)
{
	static const char sel[] = "SELECT v, j FROM kept_t WHERE id = ?";
	struct db_param p[3];
	struct db_result *r = NULL;
	size_t sizes[] = { 10, 200000, 3, 70000 };
	unsigned long conns;
	long long stmts0;
	char *big;

	exec_ok("CREATE TABLE kept_t (id INT PRIMARY KEY, v MEDIUMTEXT, j JSON)");
	exec_ok("INSERT INTO kept_t VALUES (1, 'x', '[]')");
	big = malloc(200000 + 16);
	ck_assert_ptr_nonnull(big);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		for (size_t i = 0; i < n; i++)
			big[i] = (char)('a' + (i + k) % 26);
		big[n] = '\0';
		p[0] = db_strn(big, n);
		p[1] = db_strn(big, n);
		p[2] = db_i64(1);
		ck_assert_msg(db_exec(db, "UPDATE kept_t SET v = ?, "
		    "j = JSON_ARRAY(?) WHERE id = ?", p, 3, NULL, NULL) == CP_OK,
		    "%s", db_error(db));
		p[0] = db_i64(1);
		ck_assert_msg(db_exec(db, sel, p, 1, &r, NULL) == CP_OK, "%s",
		    db_error(db));
		ck_assert_uint_eq(r->nrows, 1);
		ck_assert_uint_eq(r->lens[0], n);
		ck_assert(memcmp(db_cell(r, 0, 0), big, n) == 0);
		ck_assert_uint_eq(r->lens[1], n + 4);   /* ["..."] */
		ck_assert(memcmp(db_cell(r, 0, 1) + 2, big, n) == 0);
		db_result_free(r);
		r = NULL;
	}
	free(big);

	ck_assert_int_eq(db_exec(db, "SELECT * FROM kept_t", NULL, 0, &r,
	    NULL), CP_OK);
	ck_assert_uint_eq(r->ncols, 3);
	db_result_free(r);
	exec_ok("ALTER TABLE kept_t ADD COLUMN w VARCHAR(8) NOT NULL DEFAULT 'new'");
	ck_assert_msg(db_exec(db, "SELECT * FROM kept_t", NULL, 0, &r,
	    NULL) == CP_OK, "%s", db_error(db));
	ck_assert_uint_eq(r->ncols, 4);
	ck_assert_str_eq(db_cell(r, 0, 3), "new");
	db_result_free(r);

	/* Rows not fetched (res NULL): the next statements still run, on
	 * the same connection (nothing left unread that db_exec's socket
	 * check would take for a closed connection). */
	conns = db_connect_count(db);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(db_exec(db, "SELECT id, v FROM kept_t", NULL, 0,
		    NULL, NULL) == CP_OK, "%s", db_error(db));
		ck_assert_int_eq(count("SELECT COUNT(*) FROM kept_t"), 1);
	}
	ck_assert_uint_eq(db_connect_count(db), conns);
	/* More texts than slots (64): the least recently used are closed
	 * (on the server too: its count of prepared statements grows by at
	 * most the slots, other processes' few aside) and prepared again when
	 * they come back; each answers its own. */
	stmts0 = count("SELECT VARIABLE_VALUE FROM information_schema."
	    "GLOBAL_STATUS WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'");
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 80; i++) {
			char q[64], want[16];
			cp_fmt(q, sizeof(q), "SELECT %d + ?", i);
			p[0] = db_i64(round);
			ck_assert_int_eq(db_exec(db, q, p, 1, &r, NULL), CP_OK);
			cp_fmt(want, sizeof(want), "%d", i + round);
			ck_assert_str_eq(db_cell(r, 0, 0), want);
			db_result_free(r);
			r = NULL;
		}
	ck_assert_uint_eq(db_connect_count(db), conns);
	ck_assert_int_le(count("SELECT VARIABLE_VALUE FROM information_schema."
	    "GLOBAL_STATUS WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'") - stmts0,
	    64 + 8);
	exec_ok("DROP TABLE kept_t");
}
END_TEST

/* The noop kind runs and finishes at once through the worker's finish. */
START_TEST(test_noop_job_done)
{
	struct queue_job j[1];
	struct job_outcome o;
	unsigned long seen = db_connect_count(db);
	const struct job_kind *k = jobs_find("noop");
	int n = 0;
	char sql[200], *s;

	ck_assert_ptr_nonnull(k);
	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	ck_assert_int_eq(jobs_enqueue(db, "noop", NULL, NULL, 7, 3, 0, NULL),
	    CP_OK);
	ck_assert_int_eq(queue_claim_batch(db, "wn:1", 60, 1, &seen, j, &n),
	    CP_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(j[0].dedupe_key, "noop:7");
	memset(&o, 0, sizeof(o));
	k->run(&(struct job_ctx){ &conf, db, &j[0] }, NULL, &o);
	ck_assert_int_eq(o.rc, CP_OK);
	ck_assert_int_eq(worker_finish(db, &conf, &j[0], &o), CP_OK);
	cp_fmt(sql, sizeof(sql), "SELECT CONCAT(state, ' ', attempts) FROM jobs "
	    "WHERE id = %llu", j[0].id);
	s = cell(sql);
	ck_assert_str_eq(s, "done 1");
	free(s);
}
END_TEST

/* v_calls_stuck shows a stage idle for 15 minutes, not a fresh one. */
START_TEST(test_dba_view_lists_stuck_calls)
{
	char old[35], fresh[35], sql[300];

	random_sid(old, "CA");
	random_sid(fresh, "CA");
	ck_assert_int_eq(calls_ensure(db, old), CP_OK);
	ck_assert_int_eq(calls_ensure(db, fresh), CP_OK);
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET recording_status = "
	    "'completed', transcript_status = 'processing', updated_at = "
	    "UTC_TIMESTAMP(3) - INTERVAL 20 MINUTE WHERE call_sid = '%s'", old);
	exec_ok(sql);
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET recording_status = "
	    "'completed', transcript_status = 'processing' WHERE call_sid = '%s'",
	    fresh);
	exec_ok(sql);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM v_calls_stuck WHERE "
	    "call_sid = '%s' AND idle_seconds >= 1200", old);
	ck_assert_int_eq(count(sql), 1);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM v_calls_stuck WHERE "
	    "call_sid = '%s'", fresh);
	ck_assert_int_eq(count(sql), 0);
	ck_assert_int_ge(count("SELECT COUNT(*) FROM v_calls_daily"), 1);
}
END_TEST

/* ------------------------------------------------ refill_recording */

/* A call whose three stages completed long ago, with its recording. */
static void
completed_call(char *ca, char *re)
{
	char url[600], sql[1200];

	random_sid(ca, "CA");
	random_sid(re, "RE");
	ck_assert_int_eq(calls_ensure(db, ca), CP_OK);
	ck_assert_int_eq(store_recording_url(&conf, re, url, sizeof(url)),
	    CP_OK);
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET recording_sid = '%s', "
	    "recording_url = '%s', recording_status = 'completed', "
	    "transcript_status = 'completed', summary_status = 'completed', "
	    "last_error = NULL WHERE call_sid = '%s'", re, url, ca);
	exec_ok(sql);
}

/* The three statuses, last_error and retry_count of ca, one string. */
static char *
row_state(const char *ca)
{
	char sql[300];

	cp_fmt(sql, sizeof(sql), "SELECT CONCAT_WS(' ', recording_status, "
	    "transcript_status, summary_status, COALESCE(last_error, 'NULL'), "
	    "retry_count) FROM call_log WHERE call_sid = '%s'", ca);
	return cell(sql);
}

/* Two refills of one recording within a minute are one job, keyed
 * refill:<RE>:<minute>; the next minute may queue another. */
START_TEST(test_refill_enqueue_dedupe_per_minute)
{
	char ca[35], re[35], sql[400], key[QUEUE_KEY_MAX + 1], *v;
	int m0, m1;

	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	do {   /* all calls in one minute: start again across a boundary */
		bool pending1 = false, pending2 = false, pending3 = true;
		completed_call(ca, re);
		m0 = jobkey_minute((long long)time(NULL));
		ck_assert_int_eq(jobs_enqueue_refill(db, &conf, ca, re, STORE_WAV,
		    &pending1), CP_OK);
		ck_assert_int_eq(jobs_enqueue_refill(db, &conf, ca, re, STORE_MP3,
		    &pending2), CP_OK);
		ck_assert(pending1 && pending2);   /* new, then queued */
		/* This minute's job died: not worth waiting for. */
		cp_fmt(sql, sizeof(sql), "UPDATE jobs SET state = 'dead' WHERE "
		    "call_sid = '%s'", ca);
		exec_ok(sql);
		ck_assert_int_eq(jobs_enqueue_refill(db, &conf, ca, re, STORE_WAV,
		    &pending3), CP_OK);
		ck_assert(!pending3);
		cp_fmt(sql, sizeof(sql), "UPDATE jobs SET state = 'queued' WHERE "
		    "call_sid = '%s'", ca);
		exec_ok(sql);
		m1 = jobkey_minute((long long)time(NULL));
	} while (m0 != m1);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE call_sid = "
	    "'%s'", ca);
	ck_assert_int_eq(count(sql), 1);
	cp_fmt(sql, sizeof(sql), "SELECT CONCAT_WS(' ', kind, state, "
	    "dedupe_key, max_attempts) FROM jobs WHERE call_sid = '%s'", ca);
	v = cell(sql);
	cp_fmt(key, sizeof(key), "refill_recording queued refill:%s:%d %d", re,
	    m0, conf.worker.max_attempts);
	ck_assert_str_eq(v, key);
	free(v);
	/* The next minute's key is another job. */
	ck_assert_int_eq(jobs_enqueue(db, JOB_REFILL_RECORDING, ca, re, m0 + 1,
	    conf.worker.max_attempts, 0, NULL), CP_OK);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE call_sid = "
	    "'%s'", ca);
	ck_assert_int_eq(count(sql), 2);
	/* The row is not touched by queueing. */
	v = row_state(ca);
	ck_assert_str_eq(v, "completed completed completed NULL 0");
	free(v);
	ck_assert_int_eq(jobs_enqueue_refill(db, &conf, "CA1", re, STORE_WAV, NULL),
	    CP_INPUT);
	ck_assert_int_eq(jobs_enqueue_refill(db, &conf, ca, ca, STORE_WAV, NULL),
	    CP_INPUT);
	ck_assert_int_eq(jobs_enqueue_refill(db, &conf, ca, re,
	    (enum store_format)7, NULL), CP_INPUT);
	ck_assert_int_eq(count(sql), 2);
}
END_TEST

/* A refill that fails every time is retried with the job backoff and ends
 * dead with jobs.last_error; the call's stages and last_error never move. */
START_TEST(test_refill_failing_ends_dead_row_untouched)
{
	struct queue_job j;
	struct job_outcome o;
	bool got;
	char ca[35], re[35], sql[300], *v;

	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	completed_call(ca, re);
	ck_assert_int_eq(jobs_enqueue(db, JOB_REFILL_RECORDING, ca, re,
	    jobkey_minute((long long)time(NULL)), 3, 0, NULL), CP_OK);
	for (int attempt = 1; attempt <= 3; attempt++) {
		ck_assert_int_eq(queue_claim(db, "worker-r", 60, &j, &got), CP_OK);
		ck_assert_msg(got, "attempt %d not claimable", attempt);
		ck_assert_str_eq(j.kind, JOB_REFILL_RECORDING);
		memset(&o, 0, sizeof(o));
		o.retry_after_ms = -1;
		o.rc = CP_UPSTREAM;
		cp_fmt(o.reason, sizeof(o.reason), "refill: recording media: "
		    "Twilio answered HTTP 503");
		ck_assert_int_eq(worker_finish(db, &conf, &j, &o), CP_OK);
		cp_fmt(sql, sizeof(sql), "SELECT CONCAT(state, ' ', "
		    "run_after > NOW(3)) FROM jobs WHERE id = %llu", j.id);
		v = cell(sql);
		ck_assert_str_eq(v, attempt < 3 ? "queued 1" : "dead 0");
		free(v);
		v = row_state(ca);
		ck_assert_str_eq(v, "completed completed completed NULL 0");
		free(v);
		cp_fmt(sql, sizeof(sql), "UPDATE jobs SET run_after = NOW(3) "
		    "WHERE id = %llu", j.id);
		exec_ok(sql);
	}
	cp_fmt(sql, sizeof(sql), "SELECT last_error FROM jobs WHERE id = %llu",
	    j.id);
	v = cell(sql);
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(strstr(v, "HTTP 503"));
	free(v);
}
END_TEST

/* A 2-channel 8 kHz WAV of secs seconds at path. */
static void
write_wav(const char *path, double secs)
{
	SF_INFO info;
	SNDFILE *sf;
	float fr[2];

	memset(&info, 0, sizeof(info));
	info.channels = 2;
	info.samplerate = 8000;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	sf = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(sf != NULL, "%s: %s", path, sf_strerror(NULL));
	for (int i = 0; i < (int)(secs * 8000); i++) {
		fr[0] = 0.4f * (float)sin(i * 0.3);
		fr[1] = 0.2f * (float)sin(i * 0.1);
		ck_assert(sf_writef_float(sf, fr, 1) == 1);
	}
	ck_assert_int_eq(sf_close(sf), 0);
}

static void
rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[600];

	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp-", 5) == 0) {
			cp_fmt(p, sizeof(p), "%s/%s", dir, de->d_name);
			(void)unlink(p);
		}
	if (d != NULL)
		closedir(d);
	(void)rmdir(dir);
}

/* The refill job's run (from the job-kind table), with the WAV still
 * cached and the MP3 gone: it encodes the MP3 without Twilio, finishes
 * done, and moves nothing in the row. A refill of a recording that never
 * completed is refused for good. */
START_TEST(test_refill_run_encodes_missing_mp3)
{
	const struct job_kind *k = jobs_find(JOB_REFILL_RECORDING);
	char dir[64] = "/tmp/check-db-refill.XXXXXX", wav[600], mp3[600];
	char ca[35], re[35], sql[300], *v;
	struct queue_job j;
	struct job_outcome o;
	struct calls_row row;
	struct job_ctx ctx = { &conf, NULL, &j };
	long long bytes;
	bool got;
	SF_INFO info;
	SNDFILE *sf;

	ck_assert_ptr_nonnull(k);
	ck_assert(k->stageless);
	ck_assert(k->redo_finished);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	free(conf.recording.cache_dir);
	conf.recording.cache_dir = strdup(dir);
	ctx.db = db;
	exec_ok("UPDATE jobs SET state = 'done' WHERE state IN ('queued','running')");
	completed_call(ca, re);
	ck_assert_int_eq(store_path(&conf, re, STORE_WAV, wav, sizeof(wav)),
	    CP_OK);
	write_wav(wav, 2.0);
	ck_assert_int_eq(store_cached(&conf, re, STORE_MP3, mp3, sizeof(mp3),
	    &bytes), CP_NOTFOUND);
	ck_assert_int_eq(jobs_enqueue_refill(db, &conf, ca, re, STORE_MP3, NULL),
	    CP_OK);
	ck_assert_int_eq(queue_claim(db, "worker-r", 60, &j, &got), CP_OK);
	ck_assert(got);
	ck_assert_int_eq(calls_get(db, ca, &row), CP_OK);
	memset(&o, 0, sizeof(o));
	o.retry_after_ms = -1;
	k->run(&ctx, &row, &o);
	ck_assert_msg(o.rc == CP_OK, "%s: %s", cp_strerror(o.rc), o.reason);
	ck_assert_int_eq(store_cached(&conf, re, STORE_MP3, mp3, sizeof(mp3),
	    &bytes), CP_OK);
	memset(&info, 0, sizeof(info));
	sf = sf_open(mp3, SFM_READ, &info);
	ck_assert_ptr_nonnull(sf);
	sf_close(sf);
	ck_assert_int_eq(info.channels, 2);
	ck_assert(fabs((double)info.frames / info.samplerate - 2.0) <= 0.1);
	ck_assert_int_eq(worker_finish(db, &conf, &j, &o), CP_OK);
	cp_fmt(sql, sizeof(sql), "SELECT state FROM jobs WHERE id = %llu", j.id);
	v = cell(sql);
	ck_assert_str_eq(v, "done");
	free(v);
	v = row_state(ca);
	ck_assert_str_eq(v, "completed completed completed NULL 0");
	free(v);
	/* Nothing else queued (no next kind). */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE state = "
	    "'queued'"), 0);

	/* A recording that failed has nothing to refill: permanent. */
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET recording_status = "
	    "'failed' WHERE call_sid = '%s'", ca);
	exec_ok(sql);
	ck_assert_int_eq(calls_get(db, ca, &row), CP_OK);
	memset(&o, 0, sizeof(o));
	k->run(&ctx, &row, &o);
	ck_assert_int_eq(o.rc, CP_INPUT);
	ck_assert_ptr_nonnull(strstr(o.reason, "refill"));
	rm_dir(dir);
}
END_TEST

/* ------------------------------------------------ jobs_retry_stage */

static void
set_stages(const char *ca, const char *rec, const char *tr, const char *su)
{
	char sql[400];

	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET recording_status = '%s', "
	    "transcript_status = '%s', summary_status = '%s', last_error = "
	    "'boom' WHERE call_sid = '%s'", rec, tr, su, ca);
	exec_ok(sql);
}

static long long
jobs_with_key(const char *prefix, const char *id, int n)
{
	char key[QUEUE_KEY_MAX + 1], sql[400];

	cp_fmt(key, sizeof(key), "%s:%s:%d", prefix, id, n);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE dedupe_key = "
	    "'%s' AND state = 'queued'", key);
	return count(sql);
}

START_TEST(test_retry_stage)
{
	char ca[35], re[35], *v;
	enum calls_stage stage = CALLS_RECORDING;
	int n = -1;

	completed_call(ca, re);
	set_stages(ca, "completed", "failed", "pending");

	/* A stage that is not failed: CP_INPUT (the API's 409), *stage names
	 * it, nothing changes. */
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, CALLS_RECORDING,
	    &stage, &n), CP_INPUT);
	ck_assert_int_eq(stage, CALLS_RECORDING);
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, CALLS_SUMMARY, &stage,
	    &n), CP_INPUT);
	ck_assert_int_eq(stage, CALLS_SUMMARY);
	v = row_state(ca);
	ck_assert_str_eq(v, "completed failed pending boom 0");
	free(v);
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, 3, &stage, &n),
	    CP_INPUT);
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, -2, &stage, &n),
	    CP_INPUT);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs"), 0);

	/* The failed transcript: it and the summary after it reset, the
	 * recording before it kept; transcribe:<CA>:1 queued. */
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, CALLS_TRANSCRIPT,
	    &stage, &n), CP_OK);
	ck_assert_int_eq(stage, CALLS_TRANSCRIPT);
	ck_assert_int_eq(n, 1);
	v = row_state(ca);
	ck_assert_str_eq(v, "completed pending pending NULL 1");
	free(v);
	ck_assert_int_eq(jobs_with_key("transcribe", ca, 1), 1);
	/* Retrying it again: no longer failed. */
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, CALLS_TRANSCRIPT,
	    &stage, &n), CP_INPUT);

	/* Only the summary failed: summarize:<CA>:2, the transcript kept. */
	set_stages(ca, "completed", "completed", "failed");
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, CALLS_SUMMARY, &stage,
	    &n), CP_OK);
	ck_assert_int_eq(n, 2);
	v = row_state(ca);
	ck_assert_str_eq(v, "completed completed pending NULL 2");
	free(v);
	ck_assert_int_eq(jobs_with_key("summarize", ca, 2), 1);

	/* The recording: every later stage resets, even completed ones, and
	 * the fetch is keyed by the RecordingSid. */
	set_stages(ca, "failed", "completed", "completed");
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, CALLS_RECORDING,
	    &stage, &n), CP_OK);
	ck_assert_int_eq(stage, CALLS_RECORDING);
	ck_assert_int_eq(n, 3);
	v = row_state(ca);
	ck_assert_str_eq(v, "pending pending pending NULL 3");
	free(v);
	ck_assert_int_eq(jobs_with_key("fetch", re, 3), 1);

	/* -1 (jobs_retry, callpipectl): the first failed stage. */
	set_stages(ca, "completed", "failed", "failed");
	ck_assert_int_eq(jobs_retry(db, &conf, ca, &stage, &n), CP_OK);
	ck_assert_int_eq(stage, CALLS_TRANSCRIPT);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(jobs_with_key("transcribe", ca, 4), 1);
	set_stages(ca, "completed", "completed", "completed");
	ck_assert_int_eq(jobs_retry(db, &conf, ca, &stage, &n), CP_INPUT);

	/* No such call. */
	random_sid(ca, "CA");
	ck_assert_int_eq(jobs_retry_stage(db, &conf, ca, CALLS_TRANSCRIPT,
	    &stage, &n), CP_NOTFOUND);
}
END_TEST

/* ------------------------------------------------ sweep */

/* A call row in the given state, idle for idle_s seconds; legacy marks it
 * as brought in by the legacy upgrade. */
static void
sweep_call(char *ca, const char *set, long idle_s, bool legacy)
{
	char sql[1200];

	random_sid(ca, "CA");
	ck_assert_int_eq(calls_ensure(db, ca), CP_OK);
	cp_fmt(sql, sizeof(sql), "UPDATE call_log SET %s, legacy_upgraded_at = "
	    "%s, updated_at = NOW(3) - INTERVAL %ld SECOND WHERE call_sid = '%s'",
	    set, legacy ? "NOW(3)" : "NULL", idle_s, ca);
	exec_ok(sql);
}

static long long
jobs_of(const char *ca, const char *key)
{
	char sql[400];

	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE call_sid = "
	    "'%s' AND dedupe_key = '%s' AND state = 'queued'", ca, key);
	return count(sql);
}

/* Which rows the sweep gives a job: silent calls past sweep_after_s a
 * reconcile, lost stages past the lease their job again (last_error
 * noted); recent rows, rows with a live job and legacy rows nothing.
 * Finished jobs past jobs.retention_days are deleted, newer ones kept;
 * a second sweep of the period gives nothing again. Each rule's query
 * reads an index. */
START_TEST(test_sweep_selection)
{
	char silent[35], recent[35], legacy[35], busy[35], tr[35], trbusy[35],
	    sum[35], next[35], legacy_tr[35], key[200], sql[600];
	struct sweep_counts n;
	char err[512] = "", *le;
	const long long p = 7;

	conf.worker.sweep_after_s = 600;
	conf.worker.lease_seconds = 60;
	conf.jobs.retention_days = 30;
	sweep_call(silent, "recording_status = 'pending'", 700, false);
	sweep_call(recent, "recording_status = 'recording'", 500, false);
	sweep_call(legacy, "recording_status = 'pending'", 7000, true);
	sweep_call(busy, "recording_status = 'pending'", 700, false);
	ck_assert_int_eq(jobs_enqueue(db, JOB_RECONCILE, busy, NULL, 0, 4,
	    60000, NULL), CP_OK);
	sweep_call(tr, "recording_status = 'completed', transcript_status = "
	    "'processing'", 120, false);
	sweep_call(trbusy, "recording_status = 'completed', transcript_status = "
	    "'processing'", 120, false);
	ck_assert_int_eq(jobs_enqueue(db, JOB_TRANSCRIBE, trbusy, NULL, 0, 4, 0,
	    NULL), CP_OK);
	cp_fmt(sql, sizeof(sql), "UPDATE jobs SET state = 'running' WHERE "
	    "call_sid = '%s'", trbusy);
	exec_ok(sql);
	sweep_call(sum, "recording_status = 'completed', transcript_status = "
	    "'completed', summary_status = 'processing'", 120, false);
	sweep_call(next, "recording_status = 'completed', transcript_status = "
	    "'completed', summary_status = 'pending'", 120, false);
	sweep_call(legacy_tr, "recording_status = 'completed', transcript_status "
	    "= 'processing'", 7000, true);
	/* Finished jobs: one past retention (40 days), two not. */
	exec_ok("INSERT INTO jobs (kind, dedupe_key, state, max_attempts, "
	    "updated_at) VALUES ('transcribe', 'old:done', 'done', 4, NOW(3) - "
	    "INTERVAL 40 DAY), ('transcribe', 'old:dead', 'dead', 4, NOW(3) - "
	    "INTERVAL 29 DAY), ('transcribe', 'old:queued', 'queued', 4, NOW(3) "
	    "- INTERVAL 40 DAY)");

	ck_assert_msg(sweep_run(db, &conf, p, NULL, &n, err, sizeof(err)) ==
	    CP_OK, "%s", err);
	ck_assert_int_eq(n.reconciles, 1);
	ck_assert_int_eq(n.requeued, 3);
	ck_assert_int_eq(n.jobs_deleted, 1);

	cp_fmt(key, sizeof(key), "reconcile:%s:sweep7", silent);
	ck_assert_int_eq(jobs_of(silent, key), 1);
	cp_fmt(key, sizeof(key), "transcribe:%s:0:sweep7", tr);
	ck_assert_int_eq(jobs_of(tr, key), 1);
	cp_fmt(key, sizeof(key), "summarize:%s:0:sweep7", sum);
	ck_assert_int_eq(jobs_of(sum, key), 1);
	cp_fmt(key, sizeof(key), "summarize:%s:0:sweep7", next);
	ck_assert_int_eq(jobs_of(next, key), 1);
	cp_fmt(sql, sizeof(sql), "SELECT last_error FROM call_log WHERE "
	    "call_sid = '%s'", tr);
	le = cell(sql);
	ck_assert_msg(le != NULL && strstr(le, "sweep: transcript processing "
	    "with no job") != NULL && strstr(le, "sweep7 queued") != NULL,
	    "last_error %s", le ? le : "NULL");
	free(le);
	/* Left alone: recent, legacy, with a live job. */
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE call_sid IN "
	    "('%s','%s','%s','%s') AND dedupe_key LIKE '%%:sweep%%'", recent,
	    legacy, busy, trbusy);
	ck_assert_int_eq(count(sql), 0);
	cp_fmt(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE call_sid = "
	    "'%s'", legacy_tr);
	ck_assert_int_eq(count(sql), 0);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM jobs WHERE dedupe_key "
	    "LIKE 'old:%'"), 2);

	/* The same period again (another worker, callpipectl sweep): the
	 * rows have queued jobs now, nothing new. */
	ck_assert_msg(sweep_run(db, &conf, p, NULL, &n, err, sizeof(err)) ==
	    CP_OK, "%s", err);
	ck_assert_int_eq(n.reconciles + n.requeued, 0);

	/* Every rule's query and the delete read an index (EXPLAIN's key). */
	for (size_t i = 0; i < sweep_nrules; i++) {
		char q[2048], *at;
		struct db_result *r = NULL;

		/* The two parameters as literals: idle seconds, batch. */
		cp_fmt(q, sizeof(q), "EXPLAIN %s", sweep_rules[i].sql);
		ck_assert_ptr_nonnull(at = strstr(q, "INTERVAL ? SECOND"));
		at[9] = '9';
		ck_assert_ptr_nonnull(at = strstr(q, "LIMIT ?"));
		at[6] = '9';
		ck_assert_msg(db_exec(db, q, NULL, 0, &r, NULL) == CP_OK, "%s: %s",
		    q, db_error(db));
		/* call_log (c) must read an index (a sweep one of 006 on a real table); the jobs subquery (j) is
		 * left to the optimizer, which scans this test's few jobs but
		 * reads ix_jobs_call_sid or ix_jobs_claim on a real queue. */
		for (size_t row = 0; row < r->nrows; row++) {
			const char *table = db_cell(r, row, 2), *k = db_cell(r, row, 5);
			if (table == NULL || strcmp(table, "c") != 0)
				continue;
			ck_assert_msg(k != NULL && strncmp(k, "ix_call_log_", 12)
			    == 0, "%s: call_log reads key %s", sweep_rules[i].name,
			    k ? k : "NULL");
		}
		db_result_free(r);
	}
	{
		struct db_result *r = NULL;
		ck_assert_int_eq(db_exec(db, "EXPLAIN DELETE FROM jobs WHERE state "
		    "IN ('done','dead') AND updated_at < NOW(3) - INTERVAL 30 DAY "
		    "LIMIT 1000", NULL, 0, &r, NULL), CP_OK);
		ck_assert_msg(db_cell(r, 0, 5) != NULL &&
		    strcmp(db_cell(r, 0, 5), "ix_jobs_finished") == 0,
		    "the delete reads key %s", db_cell(r, 0, 5) ?
		    db_cell(r, 0, 5) : "NULL");
		db_result_free(r);
	}
}
END_TEST

START_TEST(test_backoff_grows_with_jitter_and_cap)
{
	for (int i = 0; i < 200; i++) {
		long b1 = queue_backoff_ms(1, 1000, 60000);
		long b3 = queue_backoff_ms(3, 1000, 60000);
		long b20 = queue_backoff_ms(20, 1000, 60000);
		ck_assert(b1 >= 750 && b1 <= 1250);
		ck_assert(b3 >= 3000 && b3 <= 5000);
		ck_assert(b20 >= 45000 && b20 <= 75000);
	}
}
END_TEST

int
main(void)
{
	Suite *s;
	SRunner *sr;
	TCase *tc;
	int failed;

	if (getenv("CALLPIPE_CONF") == NULL) {
		fprintf(stderr, "check-db-queue: CALLPIPE_CONF not set "
		    "(run through etc/dev.sh check)\n");
		return 77;
	}
	mysql_library_init(0, NULL, NULL);
	s = suite_create("db-queue");
	tc = tcase_create("queue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_migrate_twice_changes_nothing);
	tcase_add_test(tc, test_enqueue_dedupe_key);
	tcase_add_test(tc, test_claim_query_uses_index_without_filesort);
	tcase_add_test(tc, test_lease_expired_result_dropped);
	tcase_add_test(tc, test_failing_job_ends_dead_stage_failed);
	tcase_add_test(tc, test_extend_lease_keeps_job);
	tcase_add_test(tc, test_release_owner_puts_back_others);
	tcase_add_test(tc, test_connect_count_after_reconnect);
	tcase_add_test(tc, test_tx_after_kill_no_backoff);
	tcase_add_test(tc, test_worker_reconnect_puts_back_lost_claim);
	tcase_add_test(tc, test_claim_batch_counts_started_jobs_only);
	tcase_add_test(tc, test_held_job_behind_slow_one_goes_back);
	tcase_add_test(tc, test_noop_job_done);
	tcase_add_test(tc, test_kept_statement_results_follow_data);
	tcase_add_test(tc, test_dba_view_lists_stuck_calls);
	tcase_add_test(tc, test_backoff_grows_with_jitter_and_cap);
	tcase_add_test(tc, test_refill_enqueue_dedupe_per_minute);
	tcase_add_test(tc, test_refill_failing_ends_dead_row_untouched);
	tcase_add_test(tc, test_refill_run_encodes_missing_mp3);
	tcase_add_test(tc, test_retry_stage);
	tcase_add_test(tc, test_sweep_selection);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	mysql_library_end();
	return failed == 0 ? 0 : 1;
}
