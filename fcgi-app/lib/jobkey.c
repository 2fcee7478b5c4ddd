/*
 * jobkey.c: dedupe keys of the job kinds (see jobkey.h).
 */
#include "jobkey.h"

#include <stdio.h>

#include "sid.h"

/* "<prefix>:<id>" for the first run, "<prefix>:<id>:<n>" after a retry. */
static enum cp_err
jobkey_first_bare(char *out, size_t outlen, const char *prefix,
    const char *id, int n)
{
	int len = n == 0 ? snprintf(out, outlen, "%s:%s", prefix, id) :
	    snprintf(out, outlen, "%s:%s:%d", prefix, id, n);

	return (n < 0 || len < 0 || (size_t)len >= outlen) ? CP_INPUT : CP_OK;
}

/* "<prefix>:<CallSid>:<n>", n from 0. */
static enum cp_err
jobkey_counted(char *out, size_t outlen, const char *prefix,
    const char *call_sid, int n)
{
	int len;

	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	len = snprintf(out, outlen, "%s:%s:%d", prefix, call_sid, n);
	return (n < 0 || len < 0 || (size_t)len >= outlen) ? CP_INPUT : CP_OK;
}

enum cp_err
jobkey_fetch(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(recording_sid, "RE"))
		return CP_INPUT;
	return jobkey_first_bare(out, outlen, "fetch", recording_sid, n);
}

enum cp_err
jobkey_reconcile(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	if (!sid_valid(call_sid, "CA"))
		return CP_INPUT;
	return jobkey_first_bare(out, outlen, "reconcile", call_sid, n);
}

enum cp_err
jobkey_transcribe(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	return jobkey_counted(out, outlen, "transcribe", call_sid, n);
}

enum cp_err
jobkey_summarize(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n)
{
	return jobkey_counted(out, outlen, "summarize", call_sid, n);
}
