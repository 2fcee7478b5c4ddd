/*
 * callpipe-worker: processes recordings through the jobs table.
 * Spawned by callpipe-fcgi (worker.processes) or run on its own, on this
 * host or others, against the same database.
 *   callpipe-worker -c FILE
 * Started as root it becomes process.user at once (priv.h), and refuses
 * to run without it; spawned by callpipe-fcgi it already is that user.
 * SIGTERM/SIGINT: finish the job in hand, then exit 0.
 */
#include <curl/curl.h>
#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "priv.h"
#include "scoreboard.h"
#include "worker.h"

static volatile sig_atomic_t worker_stop;

static void
on_signal(int sig)
{
	(void)sig;
	worker_stop = 1;
}

int
main(int argc, char **argv)
{
	struct cp_conf conf;
	struct worker *w = NULL;
	struct sigaction sa;
	struct priv priv;
	const char *path = NULL;
	char err[1024];
	int opt, rc;

	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			path = optarg;
		else
			path = NULL, optind = argc + 1;
	}
	if (path == NULL || optind != argc) {
		fprintf(stderr, "usage: callpipe-worker -c FILE\n");
		return 2;
	}
	if (conf_load(path, &conf, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "callpipe-worker: %s\n", err);
		return 1;
	}
	log_init("callpipe-worker", conf.log_level);
	(void)log_set_format(conf.log_format, conf.log_timestamps);
	/* Before any library starts a thread or opens a connection. */
	if (priv_prepare(&conf, "callpipe-worker", &priv, err, sizeof(err)) !=
	    CP_OK || priv_drop(&priv, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "callpipe-worker: %s\n", err);
		conf_free(&conf);
		return 1;
	}
	/* Spawned by callpipe-fcgi: count into its scoreboard (scoreboard.h).
	 * Run on its own, the worker counts privately and nobody serves it. */
	if ((rc = scoreboard_attach_env()) != CP_OK && rc != CP_NOTFOUND)
		log_warn("scoreboard from %s: %s; counting privately", SB_ENV_FD,
		    cp_strerror(rc));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;   /* no SA_RESTART: sleeps end at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mysql_library_init(0, NULL, NULL);
	if (worker_new(&conf, &w) != CP_OK) {
		log_error("out of memory");
		conf_free(&conf);
		return 1;
	}
	rc = worker_loop(w, &worker_stop);
	worker_free(w);
	mysql_library_end();
	curl_global_cleanup();
	conf_free(&conf);
	return rc;
}
