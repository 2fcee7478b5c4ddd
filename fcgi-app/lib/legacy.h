/*
 * legacy.h: callpipectl upgrade-legacy, which turns the call_log the
 * earlier system left (issue 7 item 5: id INT, call_sid VARCHAR(64) NULL
 * UNIQUE, business_id INT, created_at DATETIME, the seeds' tracking
 * columns present or not) into callpipe's, so that the database ends up as
 * a fresh `callpipectl migrate` leaves it.
 */
#ifndef CP_LEGACY_H
#define CP_LEGACY_H

#include <stdio.h>

#include "cp_err.h"
#include "db.h"

/*
 * Upgrades the legacy call_log of db's database with the migrations of
 * dir (schema/). Steps, each checking what is already done, so a second
 * run is a no-op and an interrupted run resumes:
 *   the other tables of 001; a "legacy N" businesses row per business id;
 *   the missing columns (ALGORITHM=INSTANT); row fixes and inferred
 *   statuses in batches of batch rows by id range (online); the one
 *   copying ALTER (types, order, keys, foreign key: blocks writes, not
 *   reads); ix_call_log_recording_sid (INPLACE, LOCK=NONE); the other
 *   migrations (002, 004, 005, ...); legacy_upgraded_at in batches; and
 *   last 001 and 003 recorded in schema_migrations with migrate's
 *   checksums, which marks the upgrade done.
 * Progress goes to out, one line per step and per batch.
 * Holds the lock callpipe.migrate, as migrate does (waits 120 s for it).
 * Returns CP_OK (also when already done); CP_INPUT with err when the
 * table holds what callpipe's columns cannot take (err names the rows)
 * or is not a legacy call_log; CP_DB; CP_SYSTEM; CP_NOMEM.
 */
enum cp_err legacy_upgrade(struct db *db, const char *dir, long batch,
    FILE *out, char *err, size_t errlen);

#endif
