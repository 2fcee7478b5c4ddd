/*
 * coverage.h: how much of a call its stored recording covers (issue 7
 * item 4; DESIGN.md §3 "the start of the call is missing" must not go
 * unseen).
 *
 *   recording_coverage     = seconds of audio in the stored WAV
 *                            (store_audio_seconds) / CallDuration
 *   recording_coverage_low = 1 when CallDuration - audio seconds is more
 *                            than max(1 s, (1 - recording.min_coverage) x
 *                            CallDuration) (Twilio rounds CallDuration to
 *                            whole seconds, hence the 1 s floor)
 *
 * The two facts arrive in either order: the fetch_recording job stores the
 * WAV (and its length, call_log.recording_audio_ms), the call status
 * callback stores CallDuration. Each calls coverage_store in its own
 * transaction after writing its fact, and the second one computes; the
 * row lock the first UPDATE took orders two that race. The view
 * v_calls_low_coverage (schema/005) lists the low rows.
 */
#ifndef CP_COVERAGE_H
#define CP_COVERAGE_H

#include <stdbool.h>
#include "conf.h"
#include "cp_err.h"
#include "db.h"

/*
 * The gap rule: audio_s seconds of stored audio for a call of
 * call_duration_s seconds (CallDuration, > 0) with min_coverage (0 .. 1,
 * recording.min_coverage). True when call_duration_s - audio_s >
 * max(1, (1 - min_coverage) x call_duration_s). Audio longer than the
 * call is never low.
 */
bool coverage_low(double audio_s, long call_duration_s, double min_coverage);

/* audio_s / call_duration_s, capped at 999.999 (the column's DECIMAL(6,3));
 * 0 for call_duration_s <= 0 or audio_s < 0. */
double coverage_ratio(double audio_s, long call_duration_s);

/*
 * In the caller's transaction: with audio_ms >= 0, stores it as
 * call_log.recording_audio_ms of call_sid; then, when the row has both
 * recording_audio_ms and a call_duration > 0, sets recording_coverage and
 * recording_coverage_low by the rule above with conf's
 * recording.min_coverage. audio_ms < 0: only the second part (the status
 * callback, once CallDuration is stored). A row without both, or no row,
 * is left as it is (CP_OK). Returns CP_OK, CP_INPUT (call_sid malformed),
 * CP_DB.
 */
enum cp_err coverage_store(struct db *db, const struct cp_conf *conf,
    const char *call_sid, long long audio_ms);

#endif
