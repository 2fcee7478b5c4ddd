/*
 * app.h: the request side of a FastCGI child: per-child state (one MySQL
 * connection) and the reading of one request, which routes.c routes.
 */
#ifndef CP_APP_H
#define CP_APP_H

#include <fcgiapp.h>
#include "conf.h"
#include "cp_err.h"

struct app;

/*
 * Creates a child's state for conf (borrowed; must outlive the app) and
 * opens its MySQL connection. A database that is down is not an error here:
 * the connection is (re)opened on the first request that needs it.
 * Returns CP_OK or CP_NOMEM.
 */
enum cp_err app_new(const struct cp_conf *conf, struct app **out);

/*
 * Answers one accepted request completely (headers and body written to
 * req->out). Never blocks on a network call: a download's cache miss
 * waits at most recording.miss_wait_ms for the worker (download.h).
 */
void app_handle(struct app *app, FCGX_Request *req);

/* Closes the connection and frees app; app may be NULL. */
void app_free(struct app *app);

#endif
