/*
 * coverage.c: the recording's coverage of the call (see coverage.h).
 */
#include "coverage.h"

#include <stdio.h>

#include "log.h"
#include "sid.h"

#define COVERAGE_MAX 999.999   /* DECIMAL(6,3) */

bool
coverage_low(double audio_s, long call_duration_s, double min_coverage)
{
	double allowed, gap;

	if (call_duration_s <= 0)
		return false;
	if (audio_s < 0)
		audio_s = 0;
	if (min_coverage < 0)
		min_coverage = 0;
	if (min_coverage > 1)
		min_coverage = 1;
	allowed = (1.0 - min_coverage) * (double)call_duration_s;
	if (allowed < 1.0)
		allowed = 1.0;
	gap = (double)call_duration_s - audio_s;
	return gap > allowed;
}

double
coverage_ratio(double audio_s, long call_duration_s)
{
	double r;

	if (call_duration_s <= 0 || audio_s < 0)
		return 0;
	r = audio_s / (double)call_duration_s;
	return r > COVERAGE_MAX ? COVERAGE_MAX : r;
}

enum cp_err
coverage_store(struct db *db, const struct cp_conf *conf,
    const char *call_sid, long long audio_ms)
{
	struct db_param p[3];
	struct db_result *res = NULL;
	long long ms, dur;
	double audio_s, ratio;
	bool low;
	enum cp_err rc;

	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	if (audio_ms >= 0) {
		p[0] = db_i64(audio_ms);
		p[1] = db_str(call_sid);
		if (db_exec(db, "UPDATE call_log SET recording_audio_ms = ? "
		    "WHERE call_sid = ?", p, 2, NULL, NULL) != CP_OK)
			return CP_DB;
	}
	p[0] = db_str(call_sid);
	if (db_exec(db, "SELECT recording_audio_ms, call_duration FROM call_log "
	    "WHERE call_sid = ?", p, 1, &res, NULL) != CP_OK)
		return CP_DB;
	rc = res->nrows == 1 ? db_cell_ll(res, 0, 0, 0, 0xffffffffLL, &ms) :
	    CP_NOTFOUND;
	if (rc == CP_OK)
		rc = db_cell_ll(res, 0, 1, 0, 0xffffffffLL, &dur);
	db_result_free(res);
	if (rc == CP_NOTFOUND || (rc == CP_OK && dur <= 0))
		return CP_OK;   /* not both known yet */
	if (rc != CP_OK)
		return CP_DB;
	audio_s = (double)ms / 1000.0;
	ratio = coverage_ratio(audio_s, (long)dur);
	low = coverage_low(audio_s, (long)dur, conf->recording.min_coverage);
	p[0] = db_dbl(ratio);
	p[1] = db_i64(low ? 1 : 0);
	p[2] = db_str(call_sid);
	if (db_exec(db, "UPDATE call_log SET recording_coverage = ROUND(?, 3), "
	    "recording_coverage_low = ? WHERE call_sid = ?", p, 3, NULL, NULL) !=
	    CP_OK)
		return CP_DB;
	if (low)
		log_warn("call %s: low coverage: the stored recording holds %.1f s "
		    "of a %lld s call (%.3f; recording.min_coverage %.3f)",
		    call_sid, audio_s, dur, ratio, conf->recording.min_coverage);
	return CP_OK;
}
