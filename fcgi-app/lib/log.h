/*
 * log.h: one-line log records on stderr (nginx/systemd/journald collect it).
 *
 * Formats (log.format):
 *   text    "2026-11-22T10:00:00.123Z callpipe-fcgi[1234] info: message
 *            call_sid=CA... job_id=12 kind=transcribe"
 *   logfmt  "ts=2026-11-22T10:00:00.123Z level=info prog=callpipe-fcgi
 *            pid=1234 msg=\"message\" call_sid=CA... job_id=12 kind=..."
 *           (a value with a space, '=', '"', '\' or a control character is
 *           quoted, with \" \\ \n \r \t and \u00XX escapes)
 *   json    {"ts":"...","level":"info","prog":"callpipe-fcgi","pid":1234,
 *            "msg":"message","call_sid":"CA...","job_id":12,"kind":"..."}
 *           (json-c's string escaping)
 * log.timestamps = false leaves the time out (journald stamps each line).
 * The context fields follow the message when set: call_sid while a
 * request or job is about a call, job_id and kind while a worker runs a
 * job (log_ctx_*); the message text itself is the caller's.
 *
 * Secrets (auth tokens, API tokens, passwords) never reach a log line:
 * callers log SIDs and business ids, never credentials or request bodies.
 */
#ifndef CP_LOG_H
#define CP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_format { LOG_FMT_TEXT = 0, LOG_FMT_LOGFMT, LOG_FMT_JSON };

/* Longest line written (bytes, newline included); longer ones are cut. */
#define LOG_LINE_MAX 2048

/* Sets the program name shown in every line and the lowest level printed. */
void log_init(const char *prog, enum log_level level);

/*
 * Sets the line format by its name ("text", "logfmt", "json"; conf.c
 * checks log.format against the same names) and whether lines carry a
 * timestamp. Returns 0, or -1 for an unknown name (the format is then
 * unchanged).
 */
int log_set_format(const char *name, bool timestamps);

/* Parses "error", "warn", "info", "debug". Returns 0 and sets *out, or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* The call every following line is about (CA + 32 hex; NULL or "" clears
 * it). Copied. */
void log_ctx_set_call(const char *call_sid);

/* The job every following line is about: its id, kind and call (call_sid
 * NULL or "": none). Copied; kind is cut at 32 bytes. */
void log_ctx_set_job(unsigned long long job_id, const char *kind,
    const char *call_sid);

/* Clears the context: call, job and kind. */
void log_ctx_clear(void);

/*
 * Renders one record of level with message msg, as the format and context
 * set now say, into out (outlen bytes, LOG_LINE_MAX is enough), without
 * the newline; ts is the record's time (NULL: none, as with timestamps
 * off). A record too long for outlen has its message cut (ending in
 * "...", at a UTF-8 character boundary), so it stays one whole JSON
 * object or logfmt line with its context fields; only when even an empty
 * message does not fit is the line itself cut. Returns the length in
 * bytes (NUL-terminated).
 */
size_t log_render(char *out, size_t outlen, enum log_level level,
    const struct timespec *ts, const char *msg);

/* Writes one line at level; a trailing newline in fmt is not needed. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
