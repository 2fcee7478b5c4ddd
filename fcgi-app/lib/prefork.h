/*
 * prefork.h: the callpipe-fcgi master, modelled on php-fpm's static
 * process manager: it opens the FastCGI unix socket, pre-forks
 * fcgi.children children that accept on it, respawns a child that dies
 * (logging its pid and exit status or signal), lets a child leave after
 * fcgi.max_requests requests, and spawns and supervises worker.processes
 * callpipe-worker processes. Signal handlers only write a byte to a
 * self-pipe (master) or set a flag and call FCGX_ShutdownPending (child).
 *
 * Signals to the master: SIGTERM/SIGINT graceful stop (children finish the
 * request in hand; after 10 s SIGKILL), SIGQUIT the same, SIGHUP is ignored
 * (restart to reload the config).
 */
#ifndef CP_PREFORK_H
#define CP_PREFORK_H

#include "conf.h"
#include "priv.h"

/*
 * Runs the master until it is told to stop. conf and priv (priv_prepare's
 * result) are borrowed: the socket is bound and chgrp'ed to
 * priv->socket_gid as the caller, then priv_drop runs before the first
 * fork (an error there stops with 1, the reason logged). worker_path
 * is the callpipe-worker binary to spawn (with "-c conf->path") when
 * conf->worker.processes > 0. Returns the process exit status: 0 after a
 * graceful stop, 1 when the socket cannot be opened (the reason logged).
 */
int prefork_run(const struct cp_conf *conf, const struct priv *priv,
    const char *worker_path);

/*
 * The child's request loop (called in each forked child): initialises
 * libfcgi on listen_fd, installs the child's SIGTERM/SIGINT handlers with
 * sigaction without SA_RESTART, accepts and hands each request to
 * app_handle, and returns after max_requests requests or when asked to
 * stop (an idle child leaves at once; a busy one after its request).
 * Returns the child's exit status (0 normally).
 */
int prefork_child_loop(const struct cp_conf *conf, int listen_fd);

#endif
