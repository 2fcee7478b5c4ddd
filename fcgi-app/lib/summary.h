/*
 * summary.h: what the caller wants and where (extraction) and a one-paragraph
 * summary, from the merged transcript. Backend "rules": gazetteers of
 * services and cities from the config (summary.services, summary.cities),
 * matched on word boundaries in UTF-8 (ASCII case-insensitive; Hebrew terms
 * also after a one-letter prefix ב ל מ ה ו ש כ), and a template summary.
 */
#ifndef CP_SUMMARY_H
#define CP_SUMMARY_H

#include "conf.h"
#include "cp_err.h"

struct summary_result {
	char  *service;     /* canonical name, or NULL when none matched */
	char  *city;        /* canonical name, or NULL when none matched */
	double confidence;  /* 0.0 .. 1.0 */
	char  *summary;     /* one paragraph naming service and city */
};

/*
 * Extracts and summarizes transcript (UTF-8 final_transcript lines
 * "Caller: ..." / "Agent: ..."). Caller lines count more than agent lines.
 * Returns CP_OK; CP_EMPTY when transcript is empty or only whitespace (a
 * failure, never an empty success); CP_NOMEM. err (errlen bytes) gets a
 * one-line reason on error. Results are malloc'd; free with
 * summary_result_free.
 */
enum cp_err summary_rules(const struct cp_conf *conf, const char *transcript,
    struct summary_result *out, char *err, size_t errlen);

/* Frees the strings of r; r may be zeroed. */
void summary_result_free(struct summary_result *r);

#endif
