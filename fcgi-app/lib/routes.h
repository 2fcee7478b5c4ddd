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

#include "req.h"

/* Answers r completely: route, authentication, handler, error answer. */
void routes_dispatch(struct req *r);

#endif
