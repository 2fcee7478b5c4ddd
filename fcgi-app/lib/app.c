/*
 * app.c: a FastCGI child's state (one MySQL connection) and the reading of
 * one request into struct req (app.h); routes.c routes it.
 */
#include "app.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cp_num.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "routes.h"

struct app {
	const struct cp_conf *conf;
	struct db            *db;
};

enum cp_err
app_new(const struct cp_conf *conf, struct app **out)
{
	struct app *a;
	char err[CP_REASON_MAX + 1];

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return CP_NOMEM;
	a->conf = conf;
	if (db_open(conf, &a->db, err, sizeof(err)) != CP_OK) {
		if (a->db == NULL) {
			free(a);
			return CP_NOMEM;
		}
		/* Not fatal: db_exec connects again on the next request. */
		log_warn("%s", err);
	}
	*out = a;
	return CP_OK;
}

void
app_free(struct app *a)
{
	if (a == NULL)
		return;
	db_close(a->db);
	free(a);
}

/* One access line; the path is untrusted, so only printable ASCII of it
 * reaches the log, at most 120 bytes. */
static void
app_log(const struct req *r)
{
	char path[121], method[9];
	size_t i;

	for (i = 0; i < sizeof(path) - 1 && r->path[i]; i++)
		path[i] = (r->path[i] > 0x20 && r->path[i] < 0x7f) ? r->path[i] : '?';
	path[i] = '\0';
	for (i = 0; i < sizeof(method) - 1 && r->method[i]; i++)
		method[i] = (r->method[i] >= 'A' && r->method[i] <= 'Z') ?
		    r->method[i] : '?';
	method[i] = '\0';
	log_info("%s %s %d", method, path, r->status);
}

static const char *
app_param(FCGX_Request *fr, const char *name)
{
	const char *v = FCGX_GetParam(name, fr->envp);

	return v != NULL ? v : "";
}

void
app_handle(struct app *a, FCGX_Request *fr)
{
	struct req r;

	memset(&r, 0, sizeof(r));
	r.fr = fr;
	r.conf = a->conf;
	r.db = a->db;
	r.route = -1;
	r.method = app_param(fr, "REQUEST_METHOD");
	r.request_uri = app_param(fr, "REQUEST_URI");
	r.path = app_param(fr, "DOCUMENT_URI");
	r.query = app_param(fr, "QUERY_STRING");
	r.content_type = app_param(fr, "CONTENT_TYPE");
	/* Content-Length = 1*DIGIT (RFC 9110 §8.6); anything else, or a
	 * value past a long long, counts as absent. */
	if (cp_parse_ll(FCGX_GetParam("CONTENT_LENGTH", fr->envp), 0, LLONG_MAX,
	    &r.content_length) != CP_OK)
		r.content_length = -1;
	if (*r.request_uri == '\0' || *r.path == '\0') {
		r.style = REQ_JSON;
		req_fail(&r, CP_INPUT, "request without REQUEST_URI/DOCUMENT_URI "
		    "(check fastcgi_params in nginx)");
	} else
		routes_dispatch(&r);
	app_log(&r);
	/* Every answered request is counted here, once (metrics.h). */
	metrics_count_request(r.route, r.status);
	log_ctx_clear();
	form_free(&r.form);
	form_free(&r.query_form);
}
