/*
 * log.h: one-line log records on stderr (nginx/systemd/journald collect it).
 *
 * Format: "2026-11-22T10:00:00.123Z callpipe-fcgi[1234] info: message".
 * Secrets (auth tokens, API tokens, passwords) never reach a log line:
 * callers log SIDs and business ids, never credentials or request bodies.
 */
#ifndef CP_LOG_H
#define CP_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the program name shown in every line and the lowest level printed. */
void log_init(const char *prog, enum log_level level);

/* Parses "error", "warn", "info", "debug". Returns 0 and sets *out, or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* Writes one line at level; a trailing newline in fmt is not needed. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
