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

#endif
