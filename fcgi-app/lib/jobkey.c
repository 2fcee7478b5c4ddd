/*
 * jobkey.c: dedupe keys of the job kinds (see jobkey.h).
 */
#include "jobkey.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "sid.h"

/*
 * "<prefix>:<id>:<n>"; with bare_first, "<prefix>:<id>" for n 0 (the keys
 * a webhook enqueues, kept as they were before retries existed).
 */
static enum cp_err
jobkey_make(char *out, size_t outlen, const char *prefix, const char *id,
    int n, bool bare_first)
{
	int len = n == 0 && bare_first ?
	    snprintf(out, outlen, "%s:%s", prefix, id) :
	    snprintf(out, outlen, "%s:%s:%d", prefix, id, n);

	return (n < 0 || len < 0 || (size_t)len >= outlen) ? CP_INPUT : CP_OK;
}

enum cp_err
jobkey_fetch(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(recording_sid, "RE"))
		return CP_INPUT;
	return jobkey_make(out, outlen, "fetch", recording_sid, n, true);
}

enum cp_err
jobkey_reconcile(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	return jobkey_make(out, outlen, "reconcile", call_sid, n, true);
}

enum cp_err
jobkey_transcribe(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	return jobkey_make(out, outlen, "transcribe", call_sid, n, false);
}

enum cp_err
jobkey_summarize(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	return jobkey_make(out, outlen, "summarize", call_sid, n, false);
}

enum cp_err
jobkey_refill(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(recording_sid, "RE"))
		return CP_INPUT;
	return jobkey_make(out, outlen, "refill", recording_sid, n, false);
}

enum cp_err
jobkey_start(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	return jobkey_make(out, outlen, "start", call_sid, n, true);
}

int
jobkey_minute(long long t)
{
	/* INT_MAX minutes is the year 6053: no overflow to check for. */
	return (int)(t / 60);
}

enum cp_err
jobkey_purge(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	int len;

	(void)call_sid;
	(void)recording_sid;
	if (n < 19700101 || n > 99991231)
		return CP_INPUT;
	len = snprintf(out, outlen, "purge:%d", n);
	return (len < 0 || (size_t)len >= outlen) ? CP_INPUT : CP_OK;
}

int
jobkey_day(long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		return 19700101;
	return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

enum cp_err
jobkey_sweep_at(char *out, size_t outlen, long long period)
{
	int len = snprintf(out, outlen, "sweep:%lld", period);

	return (period < 0 || len < 0 || (size_t)len >= outlen) ? CP_INPUT :
	    CP_OK;
}

enum cp_err
jobkey_sweep(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	return jobkey_sweep_at(out, outlen, n);
}

long long
jobkey_sweep_period(long long t, int interval_s)
{
	long long q;

	if (interval_s < 1)
		interval_s = 1;
	q = t / interval_s;
	return (t < 0 && q * interval_s != t) ? q - 1 : q;   /* floor */
}

enum cp_err
jobkey_swept(char *out, size_t outlen, const char *base, long long period)
{
	int len = snprintf(out, outlen, "%s:sweep%lld", base, period);

	return (period < 0 || len < 0 || (size_t)len >= outlen) ? CP_INPUT :
	    CP_OK;
}
