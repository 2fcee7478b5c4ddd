/*
 * metrics.c: the metrics table, the counters' layout in a scoreboard slot,
 * and the text exposition of GET /metrics (metrics.h).
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "log.h"
#include "routes.h"
#include "scoreboard.h"

/* Statuses counted by their code; any other counts as "other". Every
 * status callpipe or nginx-through-callpipe answers is here. */
static const int m_statuses[] = {
	200, 202, 204, 206, 304, 400, 401, 403, 404, 405, 409, 410, 411, 413,
	415, 416, 429, 500, 502, 503,
};
#define M_NSTATUS_CODES (sizeof(m_statuses) / sizeof(m_statuses[0]))
#define M_NSTATUS       (M_NSTATUS_CODES + 1)   /* + "other" */

/* Route rows counted; row 0 is "no route", the route table follows. */
#define M_ROUTES_MAX 32
/* Job kinds counted; the last row is "unknown". */
#define M_KINDS_MAX  16
#define M_NSTAGES    3

/* Job duration buckets (seconds, upper bounds): a sweep or a refill takes
 * milliseconds, a fetch about a second, an STT or summary call seconds to
 * minutes (stt.request_timeout_s allows 600). */
static const double m_buckets[] = {
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
};
#define M_NBUCKETS (sizeof(m_buckets) / sizeof(m_buckets[0]))

static const char *const m_results[METRICS_JOB_NRESULTS] = {
	"done", "retry", "wait", "dead"
};
static const char *const m_stages[M_NSTAGES] = {
	"recording", "transcript", "summary"
};

/* The counters' places in a slot (scoreboard.h: SB_NCOUNTERS each). A
 * histogram keeps one count per bucket, non-cumulative, plus one past the
 * last bound (+Inf only), so _count is their sum and always equals the
 * +Inf bucket, whatever a concurrent writer is doing. */
enum {
	M_REQ       = 0,
	M_STAGE     = M_REQ + M_ROUTES_MAX * M_NSTATUS,
	M_JOB_RUN   = M_STAGE + M_NSTAGES * 2,
	M_JOB_BKT   = M_JOB_RUN + M_KINDS_MAX * METRICS_JOB_NRESULTS,
	M_JOB_SUMUS = M_JOB_BKT + M_KINDS_MAX * (M_NBUCKETS + 1),
	M_RECONNECT = M_JOB_SUMUS + M_KINDS_MAX,
	M_END       = M_RECONNECT + 1
};
_Static_assert(M_END <= SB_NCOUNTERS, "metrics do not fit a scoreboard slot");

/* ------------------------------------------------------------- counting */

static size_t
m_status_index(int status)
{
	for (size_t i = 0; i < M_NSTATUS_CODES; i++)
		if (m_statuses[i] == status)
			return i;
	return M_NSTATUS_CODES;
}

void
metrics_count_request(int route, int status)
{
	size_t row = route < 0 || (size_t)route + 1 >= M_ROUTES_MAX ? 0 :
	    (size_t)route + 1;

	scoreboard_add(M_REQ + row * M_NSTATUS + m_status_index(status), 1);
}

void
metrics_count_stage(enum calls_stage stage, bool ok)
{
	if ((int)stage < 0 || (int)stage >= M_NSTAGES)
		return;
	scoreboard_add(M_STAGE + (size_t)stage * 2 + (ok ? 0 : 1), 1);
}

/* The row of kind in jobs_kinds, or M_KINDS_MAX - 1 ("unknown"). */
static size_t
m_kind_index(const char *kind)
{
	for (size_t i = 0; i < M_KINDS_MAX - 1 && jobs_kinds[i].kind; i++)
		if (strcmp(jobs_kinds[i].kind, kind) == 0)
			return i;
	return M_KINDS_MAX - 1;
}

void
metrics_count_job(const char *kind, enum metrics_job_result result,
    double seconds)
{
	size_t k = m_kind_index(kind), b = 0;

	if ((int)result < 0 || result >= METRICS_JOB_NRESULTS)
		return;
	scoreboard_add(M_JOB_RUN + k * METRICS_JOB_NRESULTS + result, 1);
	if (seconds < 0)
		return;
	while (b < M_NBUCKETS && seconds > m_buckets[b])
		b++;
	scoreboard_add(M_JOB_BKT + k * (M_NBUCKETS + 1) + b, 1);
	scoreboard_add(M_JOB_SUMUS + k, (unsigned long long)(seconds * 1e6));
}

void
metrics_count_reconnect(void)
{
	scoreboard_add(M_RECONNECT, 1);
}

/* ----------------------------------------------------------- queue SQL */

enum cp_err
metrics_oldest_due_age(struct db *db, double *age_s)
{
	struct db_result *res = NULL;
	long long us = 0;
	enum cp_err rc;

	*age_s = 0;
	/* A range of ix_jobs_claim (state, run_after, id): the first due row. */
	rc = db_exec(db, "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(run_after), "
	    "UTC_TIMESTAMP(6)) FROM jobs WHERE state = 'queued' AND "
	    "run_after <= UTC_TIMESTAMP(3)", NULL, 0, &res, NULL);
	if (rc != CP_OK)
		return rc;
	rc = db_cell_ll(res, 0, 0, 0, 1000000LL * 86400 * 36500, &us);
	db_result_free(res);
	if (rc == CP_NOTFOUND)
		return CP_OK;            /* NULL: nothing is due */
	if (rc != CP_OK)
		return CP_DB;
	*age_s = (double)us / 1e6;
	return CP_OK;
}

/* Queue gauges by kind (the kinds table's rows; "unknown" last). */
struct m_queue {
	bool               up;
	unsigned long long queued[M_KINDS_MAX], running[M_KINDS_MAX],
	    dead[M_KINDS_MAX];
	double             age_s[M_KINDS_MAX];
};

/*
 * One pass over the claim index's states that are not done (most rows of
 * a busy jobs table are done and old): counts and the oldest run_after of
 * the queued ones. v_queue_depth (schema 002) says the same for a DBA but
 * groups the whole table, done rows included.
 */
static enum cp_err
m_queue_read(struct db *db, struct m_queue *q)
{
	struct db_result *res = NULL;
	enum cp_err rc;

	memset(q, 0, sizeof(*q));
	rc = db_exec(db, "SELECT kind, state, COUNT(*), GREATEST(0, "
	    "TIMESTAMPDIFF(MICROSECOND, MIN(run_after), UTC_TIMESTAMP(6))) "
	    "FROM jobs WHERE state IN ('queued', 'running', 'dead') "
	    "GROUP BY kind, state", NULL, 0, &res, NULL);
	if (rc != CP_OK)
		return rc;
	for (size_t i = 0; i < res->nrows; i++) {
		const char *kind = db_cell(res, i, 0), *state = db_cell(res, i, 1);
		long long n = 0, us = 0;
		size_t k;

		if (kind == NULL || state == NULL ||
		    db_cell_ll(res, i, 2, 0, 1LL << 62, &n) != CP_OK) {
			db_result_free(res);
			return CP_DB;
		}
		k = m_kind_index(kind);
		if (strcmp(state, "queued") == 0) {
			q->queued[k] += (unsigned long long)n;
			if (db_cell_ll(res, i, 3, 0, 1LL << 62, &us) == CP_OK &&
			    (double)us / 1e6 > q->age_s[k])
				q->age_s[k] = (double)us / 1e6;
		} else if (strcmp(state, "running") == 0)
			q->running[k] += (unsigned long long)n;
		else
			q->dead[k] += (unsigned long long)n;
	}
	db_result_free(res);
	q->up = true;
	return CP_OK;
}

/* ------------------------------------------------------------ rendering */

struct m_ctx {
	FILE                   *f;
	const struct sb_totals *t;
	const struct m_queue   *q;
};

typedef void (*m_render_fn)(const struct m_ctx *c, const char *name);

/* Writes v as a label value: backslash, double quote and newline escaped
 * (exposition format 0.0.4). */
static void
m_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
m_status_label(FILE *f, size_t s)
{
	if (s < M_NSTATUS_CODES)
		fprintf(f, "%d", m_statuses[s]);
	else
		fputs("other", f);
}

/* The kinds shown: the table's rows that fit, then "unknown". */
static size_t
m_nkinds(void)
{
	size_t n = 0;

	while (n < M_KINDS_MAX - 1 && jobs_kinds[n].kind != NULL)
		n++;
	return n;
}

static const char *
m_kind_name(size_t k)
{
	return k < m_nkinds() ? jobs_kinds[k].kind : "unknown";
}

/* The kind rows to show: the table's, and "unknown" when it has counts. */
static bool
m_kind_shown(const struct m_ctx *c, size_t k)
{
	if (k < m_nkinds())
		return true;
	if (k != M_KINDS_MAX - 1)
		return false;
	for (size_t r = 0; r < METRICS_JOB_NRESULTS; r++)
		if (c->t->v[M_JOB_RUN + k * METRICS_JOB_NRESULTS + r])
			return true;
	return c->q->queued[k] || c->q->running[k] || c->q->dead[k];
}

static void
m_requests(const struct m_ctx *c, const char *name)
{
	size_t nroutes = routes_count();

	for (size_t row = 0; row <= nroutes && row < M_ROUTES_MAX; row++)
		for (size_t s = 0; s < M_NSTATUS; s++) {
			unsigned long long v = c->t->v[M_REQ + row * M_NSTATUS + s];
			const char *method = "none", *pattern = "none";
			bool dl;

			/* Only the pairs that happened: routes x statuses would
			 * be some 300 series of zeros. */
			if (v == 0)
				continue;
			if (row > 0)
				routes_row(row - 1, &method, &pattern, &dl);
			fprintf(c->f, "%s{route=\"", name);
			m_label(c->f, pattern);
			fputs("\",method=\"", c->f);
			m_label(c->f, method);
			fputs("\",status=\"", c->f);
			m_status_label(c->f, s);
			fprintf(c->f, "\"} %llu\n", v);
		}
}

/* The download route's rows (GET and HEAD) summed by status. */
static void
m_downloads(const struct m_ctx *c, const char *name)
{
	size_t nroutes = routes_count();
	unsigned long long by[M_NSTATUS] = { 0 };

	for (size_t row = 1; row <= nroutes && row < M_ROUTES_MAX; row++) {
		const char *method, *pattern;
		bool dl = false;

		routes_row(row - 1, &method, &pattern, &dl);
		if (!dl)
			continue;
		for (size_t s = 0; s < M_NSTATUS; s++)
			by[s] += c->t->v[M_REQ + row * M_NSTATUS + s];
	}
	for (size_t s = 0; s < M_NSTATUS; s++) {
		if (by[s] == 0)
			continue;
		fprintf(c->f, "%s{status=\"", name);
		m_status_label(c->f, s);
		fprintf(c->f, "\"} %llu\n", by[s]);
	}
}

static void
m_stage(const struct m_ctx *c, const char *name)
{
	for (size_t st = 0; st < M_NSTAGES; st++)
		for (int o = 0; o < 2; o++)
			fprintf(c->f, "%s{stage=\"%s\",outcome=\"%s\"} %llu\n", name,
			    m_stages[st], o == 0 ? "completed" : "failed",
			    c->t->v[M_STAGE + st * 2 + (size_t)o]);
}

static void
m_job_duration(const struct m_ctx *c, const char *name)
{
	for (size_t k = 0; k < M_KINDS_MAX; k++) {
		unsigned long long cum = 0;

		if (!m_kind_shown(c, k))
			continue;
		for (size_t b = 0; b <= M_NBUCKETS; b++) {
			cum += c->t->v[M_JOB_BKT + k * (M_NBUCKETS + 1) + b];
			fprintf(c->f, "%s_bucket{kind=\"%s\",le=\"", name,
			    m_kind_name(k));
			if (b < M_NBUCKETS)
				fprintf(c->f, "%g", m_buckets[b]);
			else
				fputs("+Inf", c->f);
			fprintf(c->f, "\"} %llu\n", cum);
		}
		fprintf(c->f, "%s_sum{kind=\"%s\"} %.6f\n", name, m_kind_name(k),
		    (double)c->t->v[M_JOB_SUMUS + k] / 1e6);
		fprintf(c->f, "%s_count{kind=\"%s\"} %llu\n", name,
		    m_kind_name(k), cum);
	}
}

static void
m_job_attempts(const struct m_ctx *c, const char *name)
{
	for (size_t k = 0; k < M_KINDS_MAX; k++) {
		if (!m_kind_shown(c, k))
			continue;
		for (size_t r = 0; r < METRICS_JOB_NRESULTS; r++)
			fprintf(c->f, "%s{kind=\"%s\",result=\"%s\"} %llu\n", name,
			    m_kind_name(k), m_results[r],
			    c->t->v[M_JOB_RUN + k * METRICS_JOB_NRESULTS + r]);
	}
}

static void
m_queue_jobs(const struct m_ctx *c, const char *name)
{
	if (!c->q->up)
		return;
	for (size_t k = 0; k < M_KINDS_MAX; k++) {
		if (!m_kind_shown(c, k))
			continue;
		fprintf(c->f, "%s{kind=\"%s\",state=\"queued\"} %llu\n", name,
		    m_kind_name(k), c->q->queued[k]);
		fprintf(c->f, "%s{kind=\"%s\",state=\"running\"} %llu\n", name,
		    m_kind_name(k), c->q->running[k]);
		fprintf(c->f, "%s{kind=\"%s\",state=\"dead\"} %llu\n", name,
		    m_kind_name(k), c->q->dead[k]);
	}
}

static void
m_queue_age(const struct m_ctx *c, const char *name)
{
	if (!c->q->up)
		return;
	for (size_t k = 0; k < M_KINDS_MAX; k++)
		if (m_kind_shown(c, k))
			fprintf(c->f, "%s{kind=\"%s\"} %.3f\n", name,
			    m_kind_name(k), c->q->age_s[k]);
}

static void
m_db_up(const struct m_ctx *c, const char *name)
{
	fprintf(c->f, "%s %d\n", name, c->q->up ? 1 : 0);
}

static void
m_reconnects(const struct m_ctx *c, const char *name)
{
	fprintf(c->f, "%s %llu\n", name, c->t->v[M_RECONNECT]);
}

static const char *const m_procs[SB_NPROC] = { "child", "worker" };

static void
m_alive(const struct m_ctx *c, const char *name)
{
	for (int p = 0; p < SB_NPROC; p++)
		fprintf(c->f, "%s{process=\"%s\"} %d\n", name, m_procs[p],
		    c->t->alive[p]);
}

static void
m_respawns(const struct m_ctx *c, const char *name)
{
	for (int p = 0; p < SB_NPROC; p++)
		for (int k = 0; k < SB_NCAUSE; k++)
			fprintf(c->f, "%s{process=\"%s\",cause=\"%s\"} %llu\n", name,
			    m_procs[p], k == SB_RECYCLED ? "recycled" : "died",
			    c->t->respawns[p][k]);
}

/* The metrics. Scan this table for what /metrics shows. */
static const struct {
	const char  *name;
	const char  *type;     /* counter, gauge, histogram */
	const char  *labels;   /* for the reader; the fn writes them */
	m_render_fn  fn;
	const char  *help;
} m_table[] = {
	{ "callpipe_http_requests_total", "counter", "route method status",
	  m_requests, "Requests answered by callpipe-fcgi, by route (the "
	  "route table's pattern; none: no route), method and status." },
	{ "callpipe_downloads_total", "counter", "status", m_downloads,
	  "Recording downloads (GET/HEAD /api/calls/{sid}/download) by status." },
	{ "callpipe_stage_transitions_total", "counter", "stage outcome",
	  m_stage, "Call stages the worker moved to completed or failed." },
	{ "callpipe_job_duration_seconds", "histogram", "kind le",
	  m_job_duration, "Wall-clock time of a job run, claim to written "
	  "outcome, by kind." },
	{ "callpipe_job_attempts_total", "counter", "kind result",
	  m_job_attempts, "Job runs by kind and how they ended (done, retry, "
	  "wait, dead)." },
	{ "callpipe_queue_jobs", "gauge", "kind state", m_queue_jobs,
	  "Jobs queued, running and dead by kind (SQL at scrape time)." },
	{ "callpipe_queue_oldest_age_seconds", "gauge", "kind", m_queue_age,
	  "Seconds the oldest due queued job of a kind has waited since its "
	  "run_after (SQL at scrape time; 0 when none is due)." },
	{ "callpipe_database_up", "gauge", "", m_db_up,
	  "1 when the scrape's queue query succeeded, 0 when the database "
	  "failed (the queue gauges are then absent)." },
	{ "callpipe_db_reconnects_total", "counter", "", m_reconnects,
	  "Database connections made again after one was lost." },
	{ "callpipe_processes_alive", "gauge", "process", m_alive,
	  "FastCGI children and workers holding a scoreboard slot." },
	{ "callpipe_respawns_total", "counter", "process cause", m_respawns,
	  "Processes the master started again after one exited (recycled: "
	  "exit 0, e.g. fcgi.max_requests; died: a signal or another status)." },
};

enum cp_err
metrics_render(struct db *db, char **out, size_t *len)
{
	struct sb_totals *t;
	struct m_queue q;
	struct m_ctx c;
	char *buf = NULL;
	size_t n = 0;
	enum cp_err rc;
	FILE *f;

	*out = NULL;
	*len = 0;
	/* Rows past the layout's room would count as "none" / "unknown":
	 * say so rather than serve such counts silently. */
	if (routes_count() + 1 > M_ROUTES_MAX ||
	    (m_nkinds() == M_KINDS_MAX - 1 &&
	    jobs_kinds[M_KINDS_MAX - 1].kind != NULL))
		log_warn("metrics: the route table (%zu rows) or the job kinds "
		    "table outgrows the counters (M_ROUTES_MAX %d, M_KINDS_MAX "
		    "%d): the rest count as none/unknown", routes_count(),
		    M_ROUTES_MAX, M_KINDS_MAX);
	if ((t = malloc(sizeof(*t))) == NULL)
		return CP_NOMEM;
	if ((rc = scoreboard_read(t)) != CP_OK) {
		free(t);
		return rc;
	}
	if (m_queue_read(db, &q) != CP_OK) {
		log_warn("metrics: queue gauges: %s", db_error(db));
		memset(&q, 0, sizeof(q));   /* up false, no partial counts */
	}
	if ((f = open_memstream(&buf, &n)) == NULL) {
		free(t);
		return CP_NOMEM;
	}
	c.f = f;
	c.t = t;
	c.q = &q;
	for (size_t i = 0; i < sizeof(m_table) / sizeof(m_table[0]); i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m_table[i].name,
		    m_table[i].help, m_table[i].name, m_table[i].type);
		m_table[i].fn(&c, m_table[i].name);
	}
	free(t);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return CP_NOMEM;
	}
	if (fclose(f) != 0) {
		free(buf);
		return CP_NOMEM;
	}
	*out = buf;
	*len = n;
	return CP_OK;
}
