/*
 * db.h: one MySQL/MariaDB connection (MariaDB Connector/C) and prepared
 * statements with a small parameter/result vocabulary.
 *
 * Every statement is prepared (DESIGN.md §7); results come back as strings
 * (NULL for SQL NULL). Connections use utf8mb4 and time_zone '+00:00'.
 * Transient errors are named here so callers can retry: deadlock (1213) and
 * lock wait timeout (1205) retry the transaction; a lost connection (2006
 * server gone, 2013 lost during query) reconnects.
 * Source: MariaDB Connector/C API, mysql_stmt_* (mariadb.com/kb, "Prepared
 * Statement Functions"); server error codes (mariadb.com/kb "MariaDB Error
 * Codes").
 */
#ifndef CP_DB_H
#define CP_DB_H

#include <stdbool.h>
#include <stddef.h>
#include "conf.h"
#include "cp_err.h"

struct db;

enum db_ptype { DB_P_NULL = 0, DB_P_STR, DB_P_I64, DB_P_DBL };

struct db_param {
	enum db_ptype type;
	const char   *s;     /* DB_P_STR: bytes (need not be NUL-terminated) */
	size_t        len;   /* DB_P_STR: length in bytes */
	long long     i;     /* DB_P_I64 */
	double        d;     /* DB_P_DBL */
};

/* Parameter constructors. A NULL string becomes SQL NULL. */
struct db_param db_str(const char *s);
struct db_param db_strn(const char *s, size_t len);
struct db_param db_i64(long long i);
struct db_param db_dbl(double d);
struct db_param db_null(void);

/* A fully fetched result: nrows x ncols cells, row-major. */
struct db_result {
	size_t  nrows, ncols;
	char  **cells;       /* NUL-terminated strings, NULL for SQL NULL */
	size_t *lens;        /* byte lengths */
};

/* Cell (row, col) or NULL (SQL NULL or out of range). */
const char *db_cell(const struct db_result *r, size_t row, size_t col);

/*
 * Cell (row, col) as an integer in [min, max], parsed by cp_parse_ll.
 * Returns CP_OK with *out set; CP_NOTFOUND when the cell is SQL NULL or
 * out of range of the result; CP_DB when it holds anything else (the
 * column is not the integer the query was written for). *out is untouched
 * unless CP_OK.
 */
enum cp_err db_cell_ll(const struct db_result *r, size_t row, size_t col,
    long long min, long long max, long long *out);
void db_result_free(struct db_result *r);

/*
 * Opens a connection for conf (borrowed; must outlive db).
 * Returns CP_OK; CP_DB with err (errlen bytes) naming the server's error
 * when the connection fails (*out is still set: db_exec reconnects later);
 * CP_NOMEM.
 */
enum cp_err db_open(const struct cp_conf *conf, struct db **out,
    char *err, size_t errlen);

/* Closes and frees; db may be NULL. */
void db_close(struct db *db);

/*
 * Runs one prepared statement with nparams parameters (? placeholders,
 * at most 128). The statement is prepared once per connection and kept,
 * keyed by the text of sql (64 per connection, least recently used
 * closed first; all prepared again after a reconnect; one the server
 * asks to prepare again, 1615, is, and run once more).
 * With res non-NULL, the whole result set is fetched into *res (free with
 * db_result_free). affected, when non-NULL, gets the rows changed (for
 * UPDATE: rows matched with CLIENT_FOUND_ROWS off = rows actually changed).
 * Outside a transaction a lost connection (2006/2013) is reconnected and
 * the statement run once more; inside one it is CP_DB and the caller's
 * db_tx runs the transaction again.
 * At most DB_MAX_PARAMS parameters (more: CP_DB, "too many parameters").
 * Returns CP_OK or CP_DB (db_errno/db_error say why) or CP_NOMEM.
 */
#define DB_MAX_PARAMS 256   /* their binds live on db_exec's stack (~30 KB) */
enum cp_err db_exec(struct db *db, const char *sql,
    const struct db_param *params, size_t nparams,
    struct db_result **res, unsigned long long *affected);

/* AUTO_INCREMENT id of the last INSERT on this connection. */
unsigned long long db_insert_id(struct db *db);

/* Server or client error number and message of the last failure. */
unsigned int db_errno(const struct db *db);
const char *db_error(const struct db *db);

/*
 * Runs fn(db, arg, err, errlen) inside one transaction at READ COMMITTED
 * (DESIGN.md §5): BEGIN, fn, COMMIT. fn returns CP_OK to commit, anything
 * else to roll back (that value is returned). A deadlock (1213), lock wait
 * timeout (1205) during fn or COMMIT rolls back and runs fn again, at most
 * 3 times in all; a lost connection (2002/2006/2013) reconnects with
 * backoff (250 ms, doubling) for up to 8 s, then runs fn again. fn must therefore have no effects outside the DB.
 */
typedef enum cp_err (*db_tx_fn)(struct db *db, void *arg,
    char *err, size_t errlen);
enum cp_err db_tx(struct db *db, db_tx_fn fn, void *arg,
    char *err, size_t errlen);

/*
 * db_tx with another reconnect budget: budget_ms bounds how long a lost
 * connection is retried (a voice webhook, whose TwiML must not wait, uses
 * 1000; db_tx uses 8000, inside Twilio's 15 s webhook timeout).
 */
enum cp_err db_tx_within(struct db *db, long budget_ms, db_tx_fn fn,
    void *arg, char *err, size_t errlen);

/*
 * db_tx_within for an fn that runs exactly one statement, which must be
 * safe to run twice (an upsert): no START TRANSACTION and COMMIT around it
 * (two round trips fewer; the statement commits by itself), the same
 * retries (deadlock, lock wait timeout; a lost connection within
 * budget_ms — the statement may then have committed before it is run
 * again). Same returns as db_tx.
 */
enum cp_err db_single_within(struct db *db, long budget_ms, db_tx_fn fn,
    void *arg, char *err, size_t errlen);

/*
 * How many times db has connected successfully (the first connect
 * included), so a caller sees that a reconnect happened in between — a
 * transaction may have committed though its COMMIT reply was lost (the
 * worker then looks for jobs it claimed without knowing, worker.c).
 */
unsigned long db_connect_count(const struct db *db);

/* Pings; reconnects when the connection was lost. CP_OK or CP_DB. */
enum cp_err db_ping(struct db *db);

#endif
