/*
 * migrate.h: numbered SQL migrations (schema/NNN_name.sql), applied in
 * order, each once, recorded in schema_migrations (version, checksum,
 * applied_at). The checksum is the hex SHA-256 of the file; a recorded
 * migration whose file changed afterwards stops migrate (never silently
 * re-applied or ignored).
 */
#ifndef CP_MIGRATE_H
#define CP_MIGRATE_H

#include "cp_err.h"
#include <stdbool.h>
#include "db.h"

/*
 * Applies the migrations in dir that schema_migrations does not hold yet.
 * *applied gets how many were applied now (0 when up to date).
 * Statements in a file are separated by a ';' at the end of a line;
 * "--" comment lines are skipped. MySQL commits DDL implicitly, so a
 * migration that fails half-way is reported with its file and statement
 * number and is not recorded.
 * Returns CP_OK; CP_INPUT (bad file name, checksum mismatch, err says
 * which); CP_DB; CP_SYSTEM (dir unreadable); CP_NOMEM.
 */
enum cp_err migrate_run(struct db *db, const char *dir, int *applied,
    char *err, size_t errlen);

/*
 * migrate_run, passing over the nskip versions in skip: they are neither
 * applied nor recorded (callpipectl upgrade-legacy brings call_log to
 * 001 and 003 itself and records them last). Same returns.
 */
enum cp_err migrate_run_except(struct db *db, const char *dir,
    const long *skip, size_t nskip, int *applied, char *err, size_t errlen);

/* Says whether one statement of a migration file is to run (arg is the
 * caller's). */
typedef bool (*migrate_keep_fn)(const char *stmt, void *arg);

/*
 * Runs the statements of dir's migration number version that keep accepts
 * (all when keep is NULL), without recording it. Returns CP_OK;
 * CP_NOTFOUND (no such file); CP_DB (err names the file and statement);
 * CP_SYSTEM, CP_INPUT, CP_NOMEM as migrate_run.
 */
enum cp_err migrate_apply_some(struct db *db, const char *dir, long version,
    migrate_keep_fn keep, void *arg, char *err, size_t errlen);

/*
 * Records dir's migration number version as applied, with the checksum
 * migrate_run would record (hex SHA-256 of the file, into sum_out when not
 * NULL), without running it. Already recorded with that checksum: CP_OK,
 * nothing written; with another: CP_INPUT. CP_NOTFOUND (no such file);
 * CP_DB; CP_SYSTEM; CP_NOMEM.
 */
enum cp_err migrate_record(struct db *db, const char *dir, long version,
    char sum_out[65], char *err, size_t errlen);

/*
 * The checksum migrate_run records for dir's migration number version
 * (hex SHA-256 of the file, 64 characters + NUL into sum). CP_OK;
 * CP_NOTFOUND; CP_SYSTEM; CP_INPUT (file too large); CP_NOMEM.
 */
enum cp_err migrate_checksum(const char *dir, long version, char sum[65],
    char *err, size_t errlen);

#endif
