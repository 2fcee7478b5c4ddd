#include "db.h"

#include <errno.h>
#include <mysql.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cp_num.h"
#include "log.h"
#include "metrics.h"

/* Server/client error numbers (MariaDB "Error Codes" page, errmsg.h). */
#define DB_ER_LOCK_WAIT_TIMEOUT  1205
#define DB_ER_LOCK_DEADLOCK      1213
#define DB_ER_NEED_REPREPARE     1615
#define DB_ER_CONNECTION_KILLED  1927
#define DB_CR_CONNECTION_ERROR   2002
#define DB_CR_CONN_HOST_ERROR    2003
#define DB_CR_SERVER_GONE_ERROR  2006
#define DB_CR_SERVER_LOST        2013
#define DB_ER_CLIENT_TIMEOUT     4031
#define DB_CR_NEW_STMT_METADATA  2057

/*
 * Prepared statements kept per connection, keyed by their SQL text (the
 * text, not its pointer: some SQL is formatted into stack buffers). A
 * fixed table of DB_STMT_SLOTS, the least recently used one closed when a
 * new text needs a slot. All are dropped with the connection (a reconnect
 * prepares again). Between uses mysql_stmt_free_result frees the stored
 * rows on the client (mysql_stmt_execute flushes whatever is left; a
 * mysql_stmt_reset would cost a COM_STMT_RESET round trip for nothing);
 * a statement that failed is closed, not reused. Source: MariaDB
 * Connector/C mariadb_stmt.c (mysql_stmt_execute, mysql_stmt_free_result).
 */
#define DB_STMT_SLOTS 64

#define DB_TX_TRIES     3     /* deadlock / lock wait timeout */
#define DB_LOST_FIRST_MS 250   /* reconnect backoff: 250, 500, 1000 ... */
#define DB_LOST_BUDGET_MS 8000 /* default budget: Twilio waits 15 s */

struct db_stmt {
	MYSQL_STMT         *st;      /* NULL: free slot */
	char               *sql;     /* the key, NUL-terminated copy */
	size_t              len;
	unsigned long       hash;    /* FNV-1a of sql */
	unsigned long long  used;    /* db->clock at the last use */
};

struct db {
	const struct cp_conf *conf;
	MYSQL                *my;      /* NULL while disconnected */
	struct db_stmt        stmts[DB_STMT_SLOTS];
	unsigned long long    clock;   /* uses so far, for LRU */
	bool                  in_tx;
	bool                  sent;    /* the last statement reached execute */
	unsigned long         connects; /* successful connects so far */
	unsigned int          err_no;
	char                  err_msg[256];
};

struct db_param db_str(const char *s)
{
	struct db_param p = { .type = s ? DB_P_STR : DB_P_NULL, .s = s,
	    .len = s ? strlen(s) : 0 };
	return p;
}

struct db_param db_strn(const char *s, size_t len)
{
	struct db_param p = { .type = s ? DB_P_STR : DB_P_NULL, .s = s,
	    .len = len };
	return p;
}

struct db_param db_i64(long long i)
{
	struct db_param p = { .type = DB_P_I64, .i = i };
	return p;
}

struct db_param db_dbl(double d)
{
	struct db_param p = { .type = DB_P_DBL, .d = d };
	return p;
}

struct db_param db_null(void)
{
	struct db_param p = { .type = DB_P_NULL };
	return p;
}

const char *
db_cell(const struct db_result *r, size_t row, size_t col)
{
	if (r == NULL || row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

enum cp_err
db_cell_ll(const struct db_result *r, size_t row, size_t col,
    long long min, long long max, long long *out)
{
	const char *v = db_cell(r, row, col);

	if (v == NULL)
		return CP_NOTFOUND;
	return cp_parse_ll(v, min, max, out) == CP_OK ? CP_OK : CP_DB;
}

void
db_result_free(struct db_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	free(r->lens);
	free(r);
}

static void
db_set_err(struct db *db, unsigned int no, const char *msg)
{
	db->err_no = no;
	cp_fmt(db->err_msg, sizeof(db->err_msg), "%s", msg ? msg : "");
}

static bool
db_errno_lost(unsigned int no)
{
	return no == DB_CR_SERVER_GONE_ERROR || no == DB_CR_SERVER_LOST ||
	    no == DB_CR_CONNECTION_ERROR || no == DB_CR_CONN_HOST_ERROR ||
	    no == DB_ER_CONNECTION_KILLED || no == DB_ER_CLIENT_TIMEOUT;
}

static bool
db_errno_retry_tx(unsigned int no)
{
	return no == DB_ER_LOCK_DEADLOCK || no == DB_ER_LOCK_WAIT_TIMEOUT ||
	    db_errno_lost(no);
}

/* Frees slot s (its handle and key). After mysql_close the handle is
 * detached (Connector/C invalidates a closed connection's statements), so
 * mysql_stmt_close only frees it. */
static void
db_stmt_drop(struct db_stmt *s)
{
	if (s->st != NULL)
		mysql_stmt_close(s->st);
	free(s->sql);
	memset(s, 0, sizeof(*s));
}

static void
db_disconnect(struct db *db)
{
	if (db->my != NULL)
		mysql_close(db->my);
	db->my = NULL;
	for (size_t i = 0; i < DB_STMT_SLOTS; i++)
		db_stmt_drop(&db->stmts[i]);
	/* in_tx stays: statements of a broken transaction must fail, not
	 * run on a fresh connection outside it. db_tx clears it. */
}

/* Session settings every connection gets: UTC times, READ COMMITTED. */
static const char *const db_session_sql[] = {
	"SET time_zone = '+00:00'",
	"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
	"SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'",
};

static enum cp_err
db_connect(struct db *db)
{
	const struct cp_conf *c = db->conf;
	unsigned int timeout = (unsigned int)c->db.connect_timeout_s;
	unsigned int rw_timeout = 60;
	const char *host = (c->db.host && *c->db.host) ? c->db.host : NULL;
	const char *sock = host ? NULL : c->db.socket;

	db_disconnect(db);
	if ((db->my = mysql_init(NULL)) == NULL) {
		db_set_err(db, 0, "mysql_init: out of memory");
		return CP_NOMEM;
	}
	mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->my, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(db->my, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(db->my, host, c->db.user, c->db.password,
	    c->db.name, (unsigned int)c->db.port, sock, 0) == NULL) {
		db_set_err(db, mysql_errno(db->my), mysql_error(db->my));
		db_disconnect(db);
		return CP_DB;
	}
	for (size_t i = 0; i < sizeof(db_session_sql) / sizeof(db_session_sql[0]); i++)
		if (mysql_query(db->my, db_session_sql[i]) != 0) {
			db_set_err(db, mysql_errno(db->my), mysql_error(db->my));
			db_disconnect(db);
			return CP_DB;
		}
	if (db->connects++ > 0)
		metrics_count_reconnect();
	return CP_OK;
}

unsigned long
db_connect_count(const struct db *db)
{
	return db->connects;
}

enum cp_err
db_open(const struct cp_conf *conf, struct db **out, char *err, size_t errlen)
{
	struct db *db;
	enum cp_err rc;

	*out = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return CP_NOMEM;
	db->conf = conf;
	*out = db;
	rc = db_connect(db);
	if (rc != CP_OK && err != NULL)
		cp_fmt(err, errlen, "database connect: %s", db->err_msg);
	return rc;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

unsigned int db_errno(const struct db *db) { return db->err_no; }
const char *db_error(const struct db *db) { return db->err_msg; }

unsigned long long
db_insert_id(struct db *db)
{
	return db->my ? (unsigned long long)mysql_insert_id(db->my) : 0;
}

static void
db_stmt_err(struct db *db, MYSQL_STMT *st)
{
	db_set_err(db, mysql_stmt_errno(st), mysql_stmt_error(st));
}

/* Fetches the whole result set of an executed statement into *out. */
static enum cp_err
db_fetch_all(struct db *db, MYSQL_STMT *st, struct db_result **out)
{
	MYSQL_RES *meta;
	MYSQL_FIELD *fields;
	MYSQL_BIND *bind = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL, *errs = NULL;
	char **bufs = NULL;
	struct db_result *r;
	size_t ncols, cap = 0;
	enum cp_err rc = CP_NOMEM;
	int f;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CP_NOMEM;
	if ((meta = mysql_stmt_result_metadata(st)) == NULL) {
		*out = r;   /* a statement without a result set */
		return CP_OK;
	}
	ncols = mysql_num_fields(meta);
	r->ncols = ncols;
	/* STMT_ATTR_UPDATE_MAX_LENGTH is set at prepare (db_stmt_get). */
	if (mysql_stmt_store_result(st) != 0) {
		db_stmt_err(db, st);
		rc = CP_DB;
		goto out;
	}
	fields = mysql_fetch_fields(meta);
	bind = calloc(ncols, sizeof(*bind));
	lens = calloc(ncols, sizeof(*lens));
	nulls = calloc(ncols, sizeof(*nulls));
	errs = calloc(ncols, sizeof(*errs));
	bufs = calloc(ncols, sizeof(*bufs));
	if (!bind || !lens || !nulls || !errs || !bufs)
		goto out;
	for (size_t i = 0; i < ncols; i++) {
		/* max_length is exact for strings; numbers and dates fit 64. */
		size_t sz = fields[i].max_length < 64 ? 64 : fields[i].max_length;
		if ((bufs[i] = malloc(sz + 1)) == NULL)
			goto out;
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = bufs[i];
		bind[i].buffer_length = sz + 1;
		bind[i].length = &lens[i];
		bind[i].is_null = &nulls[i];
		bind[i].error = &errs[i];
	}
	if (mysql_stmt_bind_result(st, bind) != 0) {
		db_stmt_err(db, st);
		rc = CP_DB;
		goto out;
	}
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		if (r->nrows == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nc = realloc(r->cells, ncap * ncols * sizeof(*nc));
			size_t *nl;
			if (nc == NULL)
				goto out;
			r->cells = nc;
			if ((nl = realloc(r->lens, ncap * ncols * sizeof(*nl))) == NULL)
				goto out;
			r->lens = nl;
			cap = ncap;
		}
		for (size_t i = 0; i < ncols; i++) {
			size_t k = r->nrows * ncols + i;
			r->cells[k] = NULL;
			r->lens[k] = 0;
		}
		r->nrows++;
		for (size_t i = 0; i < ncols; i++) {
			size_t k = (r->nrows - 1) * ncols + i;
			char *cell;
			if (nulls[i])
				continue;
			if ((cell = malloc(lens[i] + 1)) == NULL)
				goto out;
			if (errs[i]) {
				/* Truncated: fetch this column again, whole. */
				MYSQL_BIND b;
				memset(&b, 0, sizeof(b));
				b.buffer_type = MYSQL_TYPE_STRING;
				b.buffer = cell;
				b.buffer_length = lens[i] + 1;
				if (mysql_stmt_fetch_column(st, &b, (unsigned int)i, 0) != 0) {
					free(cell);
					db_stmt_err(db, st);
					rc = CP_DB;
					goto out;
				}
			} else
				memcpy(cell, bufs[i], lens[i]);
			cell[lens[i]] = '\0';
			r->cells[k] = cell;
			r->lens[k] = lens[i];
		}
	}
	if (f != MYSQL_NO_DATA) {
		db_stmt_err(db, st);
		rc = CP_DB;
		goto out;
	}
	rc = CP_OK;
out:
	if (bufs)
		for (size_t i = 0; i < ncols; i++)
			free(bufs[i]);
	free(bufs);
	free(bind);
	free(lens);
	free(nulls);
	free(errs);
	mysql_free_result(meta);
	if (rc == CP_OK)
		*out = r;
	else
		db_result_free(r);
	return rc;
}

static unsigned long
db_hash(const char *s, size_t len)
{
	unsigned long h = 2166136261UL;   /* FNV-1a, 32-bit constants */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619UL;
	}
	return h;
}

/*
 * The prepared statement of sql on db's connection: the cached one, or a
 * new one prepared into the least recently used slot. *slot gets its
 * slot. Returns CP_OK; CP_DB (prepare failed: db_errno says why);
 * CP_NOMEM.
 */
static enum cp_err
db_stmt_get(struct db *db, const char *sql, struct db_stmt **slot)
{
	size_t len = strlen(sql), victim = 0;
	unsigned long h = db_hash(sql, len);
	struct db_stmt *s;
	my_bool update_max = 1;

	for (size_t i = 0; i < DB_STMT_SLOTS; i++) {
		s = &db->stmts[i];
		if (s->st != NULL && s->hash == h && s->len == len &&
		    memcmp(s->sql, sql, len) == 0) {
			s->used = ++db->clock;
			*slot = s;
			return CP_OK;
		}
		if (s->st == NULL || (db->stmts[victim].st != NULL &&
		    s->used < db->stmts[victim].used))
			victim = i;
	}
	s = &db->stmts[victim];
	db_stmt_drop(s);
	if ((s->sql = malloc(len + 1)) == NULL)
		return CP_NOMEM;
	memcpy(s->sql, sql, len + 1);
	if ((s->st = mysql_stmt_init(db->my)) == NULL) {
		db_set_err(db, mysql_errno(db->my), mysql_error(db->my));
		db_stmt_drop(s);
		return CP_NOMEM;
	}
	if (mysql_stmt_prepare(s->st, sql, (unsigned long)len) != 0) {
		db_stmt_err(db, s->st);
		db_stmt_drop(s);
		return CP_DB;
	}
	/* Exact column widths for db_fetch_all's buffers, every execute. */
	mysql_stmt_attr_set(s->st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
	s->len = len;
	s->hash = h;
	s->used = ++db->clock;
	*slot = s;
	return CP_OK;
}

/* Binds params to st and executes it. 0, or the Connector/C failure. */
static int
db_stmt_run(struct db *db, MYSQL_STMT *st, const struct db_param *params,
    size_t nparams)
{
	MYSQL_BIND bind[DB_MAX_PARAMS];
	unsigned long plens[DB_MAX_PARAMS];

	memset(bind, 0, sizeof(bind[0]) * nparams);
	for (size_t i = 0; i < nparams; i++) {
		const struct db_param *p = &params[i];
		switch (p->type) {
		case DB_P_NULL:
			bind[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		case DB_P_STR:
			plens[i] = (unsigned long)p->len;
			bind[i].buffer_type = MYSQL_TYPE_STRING;
			bind[i].buffer = (void *)p->s;
			bind[i].buffer_length = plens[i];
			bind[i].length = &plens[i];
			break;
		case DB_P_I64:
			bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
			bind[i].buffer = (void *)&p->i;
			break;
		case DB_P_DBL:
			bind[i].buffer_type = MYSQL_TYPE_DOUBLE;
			bind[i].buffer = (void *)&p->d;
			break;
		}
	}
	if (nparams > 0 && mysql_stmt_bind_param(st, bind) != 0)
		return 1;
	db->sent = true;
	return mysql_stmt_execute(st);
}

/*
 * True when the server has closed the connection (or sent something
 * unasked, such as the error packet of KILL CONNECTION before it closes):
 * between statements every result has been read, so a readable or hung-up
 * socket means the connection is gone. A kept statement would otherwise
 * be the first thing sent on it and fail after being sent, when db_exec
 * may not run it again; found here, nothing was sent and it reconnects.
 * One poll(2) with timeout 0. Connector/C: mysql_get_socket.
 */
static bool
db_conn_gone(struct db *db)
{
	struct pollfd p;

	p.fd = (int)mysql_get_socket(db->my);
	p.events = POLLIN;
	p.revents = 0;
	if (p.fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 &&
	    (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/*
 * A live connection before a statement is sent: outside a transaction a
 * connection the server closed is found by db_conn_gone and made again
 * (one poll per statement or transaction, not per statement inside one:
 * there a dead connection fails the statement as lost and db_tx runs the
 * transaction again). CP_OK; CP_DB when the connection was lost inside
 * a transaction or cannot be made.
 */
static enum cp_err
db_ready(struct db *db)
{
	if (db->my != NULL && !db->in_tx && db_conn_gone(db)) {
		log_info("db: the server closed the connection; reconnecting");
		db_disconnect(db);
	}
	if (db->my == NULL && db->in_tx) {
		db_set_err(db, DB_CR_SERVER_LOST, "connection lost in a transaction");
		return CP_DB;
	}
	return db->my == NULL ? db_connect(db) : CP_OK;
}

static enum cp_err
db_exec_once(struct db *db, const char *sql, const struct db_param *params,
    size_t nparams, struct db_result **res, unsigned long long *affected)
{
	struct db_stmt *s = NULL;
	enum cp_err rc;

	if ((rc = db_ready(db)) != CP_OK)
		return rc;
	if (nparams > DB_MAX_PARAMS) {
		db_set_err(db, 0, "too many parameters");
		log_error("db: %zu parameters (at most %d) in: %.80s", nparams,
		    DB_MAX_PARAMS, sql);
		return CP_DB;
	}
	if ((rc = db_stmt_get(db, sql, &s)) != CP_OK)
		goto out;
	if (mysql_stmt_param_count(s->st) != nparams) {
		db_set_err(db, 0, "parameter count mismatch");
		log_error("db: %lu placeholders, %zu parameters in: %.80s",
		    mysql_stmt_param_count(s->st), nparams, sql);
		rc = CP_DB;
		goto out;
	}
	if (db_stmt_run(db, s->st, params, nparams) != 0) {
		unsigned int no = mysql_stmt_errno(s->st);
		/* The table changed under a kept statement: prepare it again
		 * and run it once more. ER_NEED_REPREPARE: the server ran
		 * nothing. CR_NEW_STMT_METADATA: the client found the result
		 * set's columns changed after the server ran it — only a
		 * statement with a result set gets it (callpipe's are SELECTs,
		 * no RETURNING), so running it again changes nothing; closing
		 * the handle discards the unread rows. */
		if (no != DB_ER_NEED_REPREPARE && no != DB_CR_NEW_STMT_METADATA) {
			db_stmt_err(db, s->st);
			rc = CP_DB;
			goto out;
		}
		log_info("db: statement prepared again after %u: %.80s", no, sql);
		db_stmt_drop(s);
		db->sent = false;
		if ((rc = db_stmt_get(db, sql, &s)) != CP_OK)
			goto out;
		if (db_stmt_run(db, s->st, params, nparams) != 0) {
			db_stmt_err(db, s->st);
			rc = CP_DB;
			goto out;
		}
	}
	if (affected != NULL)
		*affected = (unsigned long long)mysql_stmt_affected_rows(s->st);
	rc = res != NULL ? db_fetch_all(db, s->st, res) : CP_OK;
	if (rc == CP_OK && mysql_stmt_free_result(s->st) != 0) {
		db_stmt_err(db, s->st);
		if (res != NULL) {
			db_result_free(*res);
			*res = NULL;
		}
		rc = CP_DB;
	}
out:
	/* A statement that failed is not trusted again: its slot is freed. */
	if (rc != CP_OK && s != NULL)
		db_stmt_drop(s);
	if (rc == CP_DB && db_errno_lost(db->err_no))
		db_disconnect(db);
	return rc;
}

enum cp_err
db_exec(struct db *db, const char *sql, const struct db_param *params,
    size_t nparams, struct db_result **res, unsigned long long *affected)
{
	bool in_tx = db->in_tx;
	enum cp_err rc;

	if (res != NULL)
		*res = NULL;
	db->sent = false;
	rc = db_exec_once(db, sql, params, nparams, res, affected);
	/* Run again only a statement the server never executed: after a
	 * connection lost during execute, it may have run (not idempotent). */
	if (rc == CP_DB && !in_tx && !db->sent && db_errno_lost(db->err_no)) {
		log_warn("db: connection lost (%u %s), reconnecting",
		    db->err_no, db->err_msg);
		rc = db_exec_once(db, sql, params, nparams, res, affected);
	}
	return rc;
}

enum cp_err
db_ping(struct db *db)
{
	if (db->my != NULL && mysql_ping(db->my) == 0)
		return CP_OK;
	return db_connect(db);
}

static enum cp_err
db_simple(struct db *db, const char *sql)
{
	/* As db_exec_once: a connection the server closed is found before
	 * START TRANSACTION is sent on it (found after, it cost db_tx a
	 * 250 ms backoff). */
	enum cp_err rc = db_ready(db);

	if (rc != CP_OK)
		return rc;
	if (mysql_query(db->my, sql) != 0) {
		db_set_err(db, mysql_errno(db->my), mysql_error(db->my));
		if (db_errno_lost(db->err_no))
			db_disconnect(db);
		return CP_DB;
	}
	return CP_OK;
}

static long
db_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L +
	    (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

enum cp_err
db_tx(struct db *db, db_tx_fn fn, void *arg, char *err, size_t errlen)
{
	return db_tx_within(db, DB_LOST_BUDGET_MS, fn, arg, err, errlen);
}

/* db_tx_within (tx true) and db_single_within (tx false: no START
 * TRANSACTION/COMMIT, fn's one statement commits by itself). */
static enum cp_err
db_run_within(struct db *db, long budget_ms, bool tx, db_tx_fn fn, void *arg,
    char *err, size_t errlen)
{
	enum cp_err rc = CP_DB;
	struct timespec t0;
	long wait_ms = DB_LOST_FIRST_MS;
	int conflicts = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int attempt = 1;; attempt++) {
		if (!tx) {
			if ((rc = fn(db, arg, err, errlen)) == CP_OK)
				return CP_OK;
		} else if ((rc = db_simple(db, "START TRANSACTION")) == CP_OK) {
			db->in_tx = true;
			rc = fn(db, arg, err, errlen);
			if (rc == CP_OK)
				rc = db_simple(db, "COMMIT");
			if (rc != CP_OK && db->my != NULL) {
				unsigned int no = db->err_no;
				char msg[sizeof(db->err_msg)];
				memcpy(msg, db->err_msg, sizeof(msg));
				(void)mysql_query(db->my, "ROLLBACK");
				db->err_no = no;   /* keep the first error */
				memcpy(db->err_msg, msg, sizeof(msg));
			}
			db->in_tx = false;
			if (rc == CP_OK)
				return CP_OK;
		}
		if (rc != CP_DB || !db_errno_retry_tx(db->err_no))
			break;
		if (db_errno_lost(db->err_no)) {
			/* A restart or failover: reconnect with backoff, within
			 * a budget that still answers Twilio in time. */
			long left = budget_ms - db_ms_since(&t0);
			if (left <= 0)
				break;
			db_disconnect(db);
			log_warn("db: connection lost (%u %s), reconnecting in "
			    "%ld ms (attempt %d)", db->err_no, db->err_msg,
			    wait_ms < left ? wait_ms : left, attempt);
			usleep((useconds_t)(wait_ms < left ? wait_ms : left) * 1000);
			wait_ms *= 2;
		} else {
			if (++conflicts >= DB_TX_TRIES)
				break;
			log_warn("db: transaction retried after %u %s (attempt %d)",
			    db->err_no, db->err_msg, attempt);
			usleep(20000U * (unsigned)conflicts);
		}
	}
	if (rc == CP_DB && err != NULL)
		cp_fmt(err, errlen, "database: %u %s", db->err_no, db->err_msg);
	return rc;
}

enum cp_err
db_tx_within(struct db *db, long budget_ms, db_tx_fn fn, void *arg,
    char *err, size_t errlen)
{
	return db_run_within(db, budget_ms, true, fn, arg, err, errlen);
}

enum cp_err
db_single_within(struct db *db, long budget_ms, db_tx_fn fn, void *arg,
    char *err, size_t errlen)
{
	return db_run_within(db, budget_ms, false, fn, arg, err, errlen);
}
