/*
 * summary_backends.c: the table of summary backends (summary.h) and the
 * one entry point the worker and callpipectl call. A new backend is one
 * file and one row here; conf.c takes the allowed summary.backend names
 * from this table.
 */
#include "summary.h"

#include <string.h>

#include "summary_openai.h"

/*
 * The rules backend as a row of the table: no service to wait for, so
 * *retry_after_ms is always -1.
 */
static enum cp_err
summary_rules_backend(const struct cp_conf *conf,
    const struct summary_request *req, struct summary_result *out,
    long *retry_after_ms, char *err, size_t errlen)
{
	if (retry_after_ms != NULL)
		*retry_after_ms = -1;
	return summary_rules(conf, req != NULL ? req->transcript : NULL, out,
	    err, errlen);
}

const struct summary_backend summary_backends[] = {
	/* name    summarize                 max_seconds */
	{ "rules",  summary_rules_backend,    NULL },
	{ "openai", summary_openai_summarize, summary_openai_max_seconds },
	{ NULL,     NULL,                     NULL }
};

const struct summary_backend *
summary_backend_find(const char *name)
{
	const struct summary_backend *b;

	if (name == NULL)
		return NULL;
	for (b = summary_backends; b->name != NULL; b++)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

enum cp_err
summary_run(const struct cp_conf *conf, const struct summary_request *req,
    struct summary_result *out, long *retry_after_ms, char *err,
    size_t errlen)
{
	const struct summary_backend *b;
	const char *name;

	memset(out, 0, sizeof(*out));
	if (retry_after_ms != NULL)
		*retry_after_ms = -1;
	/* conf.c defaults summary.backend to "rules"; a zeroed conf (tests,
	 * callpipectl without a file) means the same. */
	name = conf != NULL && conf->summary.backend != NULL ?
	    conf->summary.backend : "rules";
	b = summary_backend_find(name);
	if (b == NULL) {
		if (err != NULL)
			cp_fmt(err, errlen, "summary: unknown backend \"%s\"",
			    name);
		return CP_INPUT;
	}
	return b->summarize(conf, req, out, retry_after_ms, err, errlen);
}

