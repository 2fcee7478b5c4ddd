/*
 * routes.h: the route table of callpipe-fcgi (routes.c).
 *
 * Order of work for every request: the path picks the route (404 when no
 * route has it; 405 with Allow when routes have it under other methods),
 * then the route's authentication (Twilio signature, Bearer token or a
 * signed URL), then its handler. Errors of any step are answered by
 * req_fail (req.h), the one place mapping errors to HTTP.
 */
#ifndef CP_ROUTES_H
#define CP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "req.h"

/* Answers r completely: route, authentication, handler, error answer.
 * r->route gets the route table row that took it (-1: none). */
void routes_dispatch(struct req *r);

/* The route table's rows (for the labels of /metrics, metrics.c). */
size_t routes_count(void);

/* Row i's method and pattern ("none" past the table) and whether it is
 * the recording download. */
void routes_row(size_t i, const char **method, const char **pattern,
    bool *download);

#endif
