#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"

#define MIGRATE_MAX_FILES 1000
#define MIGRATE_MAX_BYTES (4 * 1024 * 1024)

static const char migrate_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT UNSIGNED NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " checksum CHAR(64) CHARACTER SET ascii NOT NULL,"
    " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/* "NNN_name.sql" -> version NNN. Returns -1 for any other name. */
static long
migrate_version(const char *name)
{
	const char *p = name;
	long v = 0;
	size_t n = strlen(name);

	if (n < 6 || strcmp(name + n - 4, ".sql") != 0)
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > 999999)
			return -1;
		p++;
	}
	if (p == name || *p != '_')
		return -1;
	return v;
}

static int
migrate_cmp(const void *a, const void *b)
{
	long va = migrate_version(*(char *const *)a);
	long vb = migrate_version(*(char *const *)b);
	return (va > vb) - (va < vb);
}

static enum cp_err
migrate_read(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return CP_SYSTEM;
	if ((buf = malloc(MIGRATE_MAX_BYTES + 1)) == NULL) {
		fclose(f);
		return CP_NOMEM;
	}
	n = fread(buf, 1, MIGRATE_MAX_BYTES + 1, f);
	if (ferror(f) || n > MIGRATE_MAX_BYTES) {
		fclose(f);
		free(buf);
		return CP_INPUT;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return CP_OK;
}

/* Runs the statements of one file (those keep accepts, all when keep is
 * NULL). sql is modified in place. */
static enum cp_err
migrate_apply(struct db *db, const char *name, char *sql,
    migrate_keep_fn keep, void *arg, char *err, size_t errlen)
{
	char *stmt = sql, *line = sql;
	int nstmt = 0;

	while (*line != '\0') {
		char *eol = strchr(line, '\n');
		char *end = eol ? eol : line + strlen(line);
		char *last = end;
		/* Blank out comment lines so they never reach the server. */
		char *q = line;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (end - q >= 2 && q[0] == '-' && q[1] == '-')
			memset(line, ' ', (size_t)(end - line));
		while (last > line && (last[-1] == ' ' || last[-1] == '\t' ||
		    last[-1] == '\r'))
			last--;
		if (last > line && last[-1] == ';') {
			last[-1] = '\0';
			nstmt++;
			if ((keep == NULL || keep(stmt, arg)) &&
			    db_exec(db, stmt, NULL, 0, NULL, NULL) != CP_OK) {
				cp_fmt(err, errlen, "%s: statement %d: %u %s", name,
				    nstmt, db_errno(db), db_error(db));
				return CP_DB;
			}
			stmt = eol ? eol + 1 : end;
		}
		if (eol == NULL)
			break;
		line = eol + 1;
	}
	for (char *q = stmt; *q; q++)
		if (*q != ' ' && *q != '\n' && *q != '\t' && *q != '\r') {
			cp_fmt(err, errlen, "%s: text after the last ';'", name);
			return CP_INPUT;
		}
	return CP_OK;
}

static enum cp_err migrate_locked(struct db *db, const char *dir,
    const long *skip, size_t nskip, int *applied, char *err, size_t errlen);

enum cp_err
migrate_run(struct db *db, const char *dir, int *applied, char *err,
    size_t errlen)
{
	return migrate_run_except(db, dir, NULL, 0, applied, err, errlen);
}

enum cp_err
migrate_run_except(struct db *db, const char *dir, const long *skip,
    size_t nskip, int *applied, char *err, size_t errlen)
{
	enum cp_err rc;

	*applied = 0;
	/* Two hosts deploying at once must not both apply a migration. */
	{
		struct db_result *lock = NULL;
		const char *got;
		if (db_exec(db, "SELECT GET_LOCK('callpipe.migrate', 120)", NULL, 0,
		    &lock, NULL) != CP_OK) {
			cp_fmt(err, errlen, "GET_LOCK: %u %s", db_errno(db),
			    db_error(db));
			return CP_DB;
		}
		got = db_cell(lock, 0, 0);
		if (got == NULL || strcmp(got, "1") != 0) {
			db_result_free(lock);
			cp_fmt(err, errlen, "another migrate holds the lock "
			    "callpipe.migrate (waited 120 s)");
			return CP_DB;
		}
		db_result_free(lock);
	}
	rc = migrate_locked(db, dir, skip, nskip, applied, err, errlen);
	(void)db_exec(db, "SELECT RELEASE_LOCK('callpipe.migrate')", NULL, 0,
	    NULL, NULL);
	return rc;
}

static bool
migrate_skipped(long v, const long *skip, size_t nskip)
{
	for (size_t i = 0; i < nskip; i++)
		if (skip[i] == v)
			return true;
	return false;
}

static enum cp_err
migrate_locked(struct db *db, const char *dir, const long *skip,
    size_t nskip, int *applied, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	char *names[MIGRATE_MAX_FILES];
	size_t nnames = 0;
	enum cp_err rc = CP_OK;

	if (db_exec(db, migrate_table_sql, NULL, 0, NULL, NULL) != CP_OK) {
		cp_fmt(err, errlen, "schema_migrations: %u %s", db_errno(db),
		    db_error(db));
		return CP_DB;
	}
	if ((d = opendir(dir)) == NULL) {
		cp_fmt(err, errlen, "%s: %s", dir, strerror(errno));
		return CP_SYSTEM;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".sql") == NULL)
			continue;
		if (migrate_version(de->d_name) < 0) {
			cp_fmt(err, errlen, "%s/%s: not named NNN_name.sql", dir,
			    de->d_name);
			rc = CP_INPUT;
			break;
		}
		if (nnames == MIGRATE_MAX_FILES ||
		    (names[nnames] = strdup(de->d_name)) == NULL) {
			rc = CP_NOMEM;
			break;
		}
		nnames++;
	}
	closedir(d);
	if (rc == CP_OK)
		qsort(names, nnames, sizeof(names[0]), migrate_cmp);

	for (size_t i = 0; rc == CP_OK && i < nnames; i++) {
		char path[4096], sum[AUTH_SHA256_HEX + 1], *sql = NULL;
		size_t len;
		long v = migrate_version(names[i]);
		struct db_result *res = NULL;
		struct db_param p[3];
		const char *have;

		if (i > 0 && migrate_version(names[i - 1]) == v) {
			cp_fmt(err, errlen, "%s and %s: same version", names[i - 1],
			    names[i]);
			rc = CP_INPUT;
			break;
		}
		if (migrate_skipped(v, skip, nskip))
			continue;
		cp_fmt(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((rc = migrate_read(path, &sql, &len)) != CP_OK) {
			cp_fmt(err, errlen, "%s: cannot read", path);
			break;
		}
		if ((rc = auth_sha256_hex(sql, len, sum)) != CP_OK) {
			free(sql);
			break;
		}
		p[0] = db_i64(v);
		if ((rc = db_exec(db, "SELECT checksum FROM schema_migrations "
		    "WHERE version = ?", p, 1, &res, NULL)) != CP_OK) {
			cp_fmt(err, errlen, "schema_migrations: %s", db_error(db));
			free(sql);
			break;
		}
		have = db_cell(res, 0, 0);
		if (have != NULL) {
			if (strcmp(have, sum) != 0) {
				cp_fmt(err, errlen, "%s: changed after it was applied "
				    "(checksum %.12s, recorded %.12s)", names[i], sum,
				    have);
				rc = CP_INPUT;
			}
			db_result_free(res);
			free(sql);
			continue;
		}
		db_result_free(res);
		log_info("migrate: applying %s", names[i]);
		rc = migrate_apply(db, names[i], sql, NULL, NULL, err, errlen);
		free(sql);
		if (rc != CP_OK)
			break;
		p[1] = db_str(names[i]);
		p[2] = db_str(sum);
		if ((rc = db_exec(db, "INSERT INTO schema_migrations "
		    "(version, name, checksum) VALUES (?, ?, ?)", p, 3, NULL,
		    NULL)) != CP_OK) {
			cp_fmt(err, errlen, "schema_migrations: %s", db_error(db));
			break;
		}
		(*applied)++;
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	return rc;
}

/* dir's file of version v: its name (namelen bytes), its text (*sql, the
 * caller frees) and checksum. CP_NOTFOUND when dir has no such file. */
static enum cp_err
migrate_file(const char *dir, long v, char *name, size_t namelen,
    char **sql, char sum[AUTH_SHA256_HEX + 1], char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	char path[4096];
	size_t len;
	enum cp_err rc;

	if ((d = opendir(dir)) == NULL) {
		cp_fmt(err, errlen, "%s: %s", dir, strerror(errno));
		return CP_SYSTEM;
	}
	name[0] = '\0';
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && migrate_version(de->d_name) == v) {
			cp_fmt(name, namelen, "%s", de->d_name);
			break;
		}
	closedir(d);
	if (name[0] == '\0') {
		cp_fmt(err, errlen, "%s: no migration %03ld", dir, v);
		return CP_NOTFOUND;
	}
	cp_fmt(path, sizeof(path), "%s/%s", dir, name);
	if ((rc = migrate_read(path, sql, &len)) != CP_OK) {
		cp_fmt(err, errlen, "%s: cannot read", path);
		return rc;
	}
	if ((rc = auth_sha256_hex(*sql, len, sum)) != CP_OK) {
		free(*sql);
		*sql = NULL;
	}
	return rc;
}

enum cp_err
migrate_apply_some(struct db *db, const char *dir, long version,
    migrate_keep_fn keep, void *arg, char *err, size_t errlen)
{
	char name[256], sum[AUTH_SHA256_HEX + 1], *sql = NULL;
	enum cp_err rc;

	if ((rc = migrate_file(dir, version, name, sizeof(name), &sql, sum, err,
	    errlen)) != CP_OK)
		return rc;
	rc = migrate_apply(db, name, sql, keep, arg, err, errlen);
	free(sql);
	return rc;
}

enum cp_err
migrate_record(struct db *db, const char *dir, long version,
    char sum_out[AUTH_SHA256_HEX + 1], char *err, size_t errlen)
{
	char name[256], sum[AUTH_SHA256_HEX + 1], *sql = NULL;
	struct db_result *res = NULL;
	struct db_param p[3];
	const char *have;
	enum cp_err rc;

	if ((rc = migrate_file(dir, version, name, sizeof(name), &sql, sum, err,
	    errlen)) != CP_OK)
		return rc;
	free(sql);
	if (sum_out != NULL)
		memcpy(sum_out, sum, sizeof(sum));
	if (db_exec(db, migrate_table_sql, NULL, 0, NULL, NULL) != CP_OK) {
		cp_fmt(err, errlen, "schema_migrations: %u %s", db_errno(db),
		    db_error(db));
		return CP_DB;
	}
	p[0] = db_i64(version);
	p[1] = db_str(name);
	p[2] = db_str(sum);
	if (db_exec(db, "SELECT checksum FROM schema_migrations WHERE version = ?",
	    p, 1, &res, NULL) != CP_OK) {
		cp_fmt(err, errlen, "schema_migrations: %s", db_error(db));
		return CP_DB;
	}
	have = db_cell(res, 0, 0);
	if (have != NULL) {
		rc = strcmp(have, sum) == 0 ? CP_OK : CP_INPUT;
		if (rc != CP_OK)
			cp_fmt(err, errlen, "%s: recorded with checksum %.12s, the "
			    "file has %.12s", name, have, sum);
		db_result_free(res);
		return rc;
	}
	db_result_free(res);
	if (db_exec(db, "INSERT INTO schema_migrations (version, name, checksum) "
	    "VALUES (?, ?, ?)", p, 3, NULL, NULL) != CP_OK) {
		cp_fmt(err, errlen, "schema_migrations: %s", db_error(db));
		return CP_DB;
	}
	return CP_OK;
}

enum cp_err
migrate_checksum(const char *dir, long version, char sum[AUTH_SHA256_HEX + 1],
    char *err, size_t errlen)
{
	char name[256], *sql = NULL;
	enum cp_err rc = migrate_file(dir, version, name, sizeof(name), &sql, sum,
	    err, errlen);

	free(sql);
	return rc;
}
