/*
 * summary.h: what the caller wants and where (extraction) and a one-paragraph
 * summary, from the merged transcript, through a table of backends.
 *
 *   rules   (summary.c) gazetteers of services and cities from the config
 *           (summary.services, summary.cities), matched on word boundaries
 *           in UTF-8 (ASCII case-insensitive; Hebrew terms also after a
 *           one-letter prefix ב ל מ ה ו ש כ), and a template summary.
 *   openai  (summary_openai.c) an OpenAI-compatible /chat/completions
 *           asked for JSON {service, city, confidence, summary}.
 *
 * A backend is one file and one row of summary_backends[] (summary.c).
 */
#ifndef CP_SUMMARY_H
#define CP_SUMMARY_H

#include <stddef.h>
#include "conf.h"
#include "cp_err.h"

/* Column widths of call_log (schema/001_init.sql), in characters. */
#define SUMMARY_SERVICE_MAX 128
#define SUMMARY_CITY_MAX    128
#define SUMMARY_TEXT_MAX    4000

struct summary_result {
	char  *service;     /* canonical name, or NULL when none matched / not said */
	char  *city;        /* canonical name, or NULL when none matched / not said */
	double confidence;  /* 0.0 .. 1.0 */
	char  *summary;     /* one paragraph naming service and city */
};

/* What a summarize call gets. */
struct summary_request {
	const char *transcript;  /* final_transcript: "Caller: ..." / "Agent: ..." lines */
	const char *language;    /* ISO-639-1 of the transcript, "" unknown */
};

struct summary_backend {
	const char *name;
	/* Fills out. Returns CP_OK; CP_EMPTY (empty transcript or answer);
	 * CP_UPSTREAM (retry, *retry_after_ms set when the service asked
	 * for a wait, else -1); CP_REJECTED (refused for good); CP_NOMEM.
	 * err (errlen bytes) gets a one-line reason on error. */
	enum cp_err (*summarize)(const struct cp_conf *conf,
	    const struct summary_request *req, struct summary_result *out,
	    long *retry_after_ms, char *err, size_t errlen);
	/* Seconds one call may take at most (the job's lease is kept at
	 * least that long); NULL: no longer than any job. */
	long (*max_seconds)(const struct cp_conf *conf);
};

/* The backend table, ended by a row whose name is NULL. */
extern const struct summary_backend summary_backends[];

/* The row named name, or NULL. */
const struct summary_backend *summary_backend_find(const char *name);

/*
 * Summarizes with the configured summary.backend. Same returns as the
 * backend's; CP_INPUT for an unknown backend. Results are malloc'd; free
 * with summary_result_free.
 */
enum cp_err summary_run(const struct cp_conf *conf,
    const struct summary_request *req, struct summary_result *out,
    long *retry_after_ms, char *err, size_t errlen);

/*
 * The rules backend: extracts and summarizes transcript (UTF-8
 * final_transcript lines "Caller: ..." / "Agent: ..."). Caller lines count
 * more than agent lines. Returns CP_OK; CP_EMPTY when transcript is empty
 * or only whitespace (a failure, never an empty success); CP_NOMEM.
 */
enum cp_err summary_rules(const struct cp_conf *conf, const char *transcript,
    struct summary_result *out, char *err, size_t errlen);

/*
 * The gazetteer entry that answer names — its canonical name, its Hebrew
 * name, or one of its terms, compared as the rules backend compares terms
 * (ASCII case-insensitive, separators folded, whole answer) — or NULL.
 * Used to store an LLM's "אינסטלטור" as "plumber", as rules would.
 */
const struct conf_gazetteer_entry *summary_gazetteer_match(
    const struct conf_gazetteer *gz, const char *answer);

/* Frees the strings of r; r may be zeroed. */
void summary_result_free(struct summary_result *r);

#endif
