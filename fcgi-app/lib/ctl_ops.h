/*
 * ctl_ops.h: callpipectl's operator views of the database — status, calls
 * list/show, queue list/retry-dead (ctl_ops.c) — and the helpers they share
 * with the other commands (ctl.c). Rows of ctl.c's command table name these
 * handlers; each gets the words after its command's name.
 *
 * Output: tab-separated lines under a header line (a script splits on
 * tabs), SQL NULL and "" printed as "-", control characters as '?', times
 * ISO-8601 UTC with milliseconds ("2026-12-01T14:23:57.123Z").
 * Exit status of every handler: 0 done, 1 failure (database, no such
 * call; the reason on stderr), 2 bad arguments (one line on stderr).
 */
#ifndef CP_CTL_OPS_H
#define CP_CTL_OPS_H

#include "conf.h"
#include "db.h"

/* The shared helpers (ctl.c). */

/* A connection for conf, or NULL after "callpipectl: <reason>" on stderr. */
struct db *ctl_db(const struct cp_conf *conf);

/* Prints "callpipectl: <name>: <reason> (callpipectl <name> --help)" as
 * one line on stderr (fmt is printf's); returns 2, the usage status. */
int ctl_arg_error(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ctl_arg_error for arg, an argument no option of the command takes (or
 * an option whose value is missing); returns 2. */
int ctl_bad_arg(const char *name, const char *arg);

/* Prints s as one tab-separated field on stdout: NULL or "" as "-",
 * control characters (tab and newline among them) as '?'. */
void ctl_print_field(const char *s);

/* The handlers: name is the command's own ("calls list"), argv[0..argc-1]
 * the words after it. */

/* status: calls per stage and status (every status, 0 included), then per
 * job kind the queued jobs, those of them due (run_after passed), running,
 * dead, and the age in seconds of the oldest due one ("-": none). */
int ctl_status(const struct cp_conf *conf, const char *name, int argc,
    char **argv);

/* calls list [--phone E164] [--failed] [--limit N]: the newest calls
 * first (created_at, id), at most N (1..1000, default 20); --phone: from
 * or to is the number; --failed: a stage is failed. */
int ctl_calls_list(const struct cp_conf *conf, const char *name, int argc,
    char **argv);

/* calls show CALL_SID: the call_log row, a "field<TAB>value" line per
 * column (the two JSON columns as their size in bytes), the summary and
 * final transcript as indented blocks, then the call's jobs. Exit 1: no
 * such call. */
int ctl_calls_show(const struct cp_conf *conf, const char *name, int argc,
    char **argv);

/* queue list [--dead] [--kind K] [--limit N]: queued and running jobs by
 * run_after (the order they are claimed in), or with --dead the dead ones,
 * the last to die first; at most N (1..1000, default 50). */
int ctl_queue_list(const struct cp_conf *conf, const char *name, int argc,
    char **argv);

/* queue retry-dead [--kind K]: every dead job (of kind K) back to queued,
 * due now, attempts 0, lease cleared, its dedupe key kept; the call_log
 * stage the job had failed back from 'failed' to 'pending', so the worker
 * runs the stage again instead of skipping a finished one. A job of a
 * stage that is not (or no longer) failed stays dead: a manual retry or a
 * later job of the stage has run or runs (two would run it twice), or a
 * newer dead job of the same stage was revived. A dead job of a kind that
 * does not restart its stage (start_recording, reconcile: jobs.h) stays
 * dead, and its failed stage is restarted as callpipectl retry does
 * (jobs_retry_stage: retry_count + 1, the stage's own job under its new
 * key). Stageless kinds and jobs of no call are always revived. In
 * transactions of 500 jobs, newest id first. Prints how many jobs were
 * revived, stages reset (and of them restarted) and jobs left dead. */
int ctl_queue_retry_dead(const struct cp_conf *conf, const char *name,
    int argc, char **argv);

#endif
