/*
 * jobkey.h: the job kinds' names and dedupe-key formats, in one place
 * (DESIGN.md §5: "a dedupe key, e.g. fetch:<RecordingSid>"). The job-kind
 * table (jobs.c) points at these builders; calls.c and webhook.c use them
 * for the jobs a webhook or a manual retry enqueues.
 *
 *   fetch_recording  fetch:<RecordingSid>        first fetch of a recording
 *                    fetch:<RecordingSid>:<n>    after manual retry n
 *   transcribe       transcribe:<CallSid>:<n>    n = call_log.retry_count
 *   summarize        summarize:<CallSid>:<n>
 *   reconcile        reconcile:<CallSid>         when the call ended
 *                    reconcile:<CallSid>:<n>     after manual retry n
 *   refill_recording refill:<RecordingSid>:<m>   m = unix minute (time / 60)
 *   purge            purge:<YYYYMMDD>            the UTC day (jobkey_day)
 *   start_recording  start:<CallSid>             recording.mode "rest": the
 *                    start:<CallSid>:<n>         voice webhook's job (n: retry)
 *   sweep            sweep:<p>                   p = unix time / worker.sweep_interval_s
 *   (swept again)    <key>:sweep<p>              the sweep's new job for a lost one
 *
 * A repeated webhook hits the same key (the insert is a no-op); a manual
 * retry bumps retry_count and so gets a new one. A refill (a download
 * found the cache empty) is keyed by the minute instead: the downloads of
 * one minute share one job, and a later minute may try again after a
 * refill that ended dead.
 */
#ifndef CP_JOBKEY_H
#define CP_JOBKEY_H

#include <stddef.h>
#include "cp_err.h"

#define JOB_FETCH_RECORDING "fetch_recording"
#define JOB_TRANSCRIBE      "transcribe"
#define JOB_SUMMARIZE       "summarize"
#define JOB_RECONCILE       "reconcile"
#define JOB_REFILL_RECORDING "refill_recording"
#define JOB_PURGE           "purge"
#define JOB_START_RECORDING "start_recording"
#define JOB_SWEEP           "sweep"
#define JOB_NOOP            "noop"

/*
 * Each writes the key for call_sid / recording_sid at retry count n (>= 0)
 * into out (outlen bytes). Returns CP_OK, or CP_INPUT when an id is
 * malformed (fetch: recording_sid must be RE + 32 hex) or the key does not
 * fit.
 */
enum cp_err jobkey_fetch(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);
enum cp_err jobkey_transcribe(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);
enum cp_err jobkey_summarize(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);
enum cp_err jobkey_reconcile(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);

/*
 * refill:<RecordingSid>:<n>, where n is the unix minute (seconds since the
 * epoch / 60, see jobkey_minute) rather than a retry count; call_sid is
 * not part of the key. CP_OK, or CP_INPUT (recording_sid not RE + 32 hex,
 * n < 0, does not fit outlen bytes).
 */
enum cp_err jobkey_refill(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);

/*
 * purge:<n>, the daily retention purge (purge.h), where n is the UTC day
 * as YYYYMMDD (see jobkey_day); call_sid and recording_sid are not used.
 * CP_OK, or CP_INPUT (n not a date 19700101 .. 99991231, does not fit).
 */
enum cp_err jobkey_purge(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);

/* The UTC day of t (seconds since the epoch) as YYYYMMDD, e.g. 20250131:
 * the n of jobkey_purge. */
int jobkey_day(long long t);

/*
 * start:<CallSid> (n 0, the voice webhook's job), start:<CallSid>:<n>
 * after manual retry n; recording_sid is not part of the key. CP_OK, or
 * CP_INPUT (call_sid not CA + 32 hex, n < 0, does not fit outlen bytes).
 */
enum cp_err jobkey_start(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);

/* The unix minute of t (seconds since the epoch): t / 60, the n of
 * jobkey_refill. */
int jobkey_minute(long long t);

/*
 * sweep:<p>, where p is the sweep period (jobkey_sweep_period): one sweep
 * job per period whatever the number of workers (DESIGN.md §5 "Periodic
 * work ... a dedupe key per period"). jobkey_sweep is the table's builder
 * (n = the period, call_sid and recording_sid unused); jobkey_sweep_at
 * takes the period as a long long. CP_OK, or CP_INPUT (p < 0, does not
 * fit outlen bytes).
 */
enum cp_err jobkey_sweep(char *out, size_t outlen, const char *call_sid,
    const char *recording_sid, int n);
enum cp_err jobkey_sweep_at(char *out, size_t outlen, long long period);

/* The sweep period of t (seconds since the epoch) for a period of
 * interval_s seconds (worker.sweep_interval_s, >= 1; less is taken as 1):
 * floor(t / interval_s). */
long long jobkey_sweep_period(long long t, int interval_s);

/*
 * A job the sweep gives again: "<base>:sweep<p>" (base is the kind's own
 * key, e.g. transcribe:<CallSid>:<n>, reconcile:<CallSid>; p the sweep
 * period), so it is a new job beside the lost one and the sweeps of one
 * period give it once. CP_OK, or CP_INPUT (p < 0, does not fit).
 */
enum cp_err jobkey_swept(char *out, size_t outlen, const char *base,
    long long period);

#endif
