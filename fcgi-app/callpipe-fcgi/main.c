/*
 * callpipe-fcgi: the FastCGI master behind nginx (see prefork.h).
 *
 *   callpipe-fcgi -c FILE        run in the foreground, logging to stderr
 *   callpipe-fcgi -c FILE -t     check the configuration and exit
 *
 * Started as root it needs process.user: it binds the socket, then drops
 * to that user before forking (priv.h); without it, it refuses to run.
 *
 * Exit status: 0 after a graceful stop or a good -t; 1 for a bad config
 * (root without process.user, an unknown user or group, a world-readable
 * file holding secrets) or a socket that cannot be opened; 2 for a usage
 * error.
 */
#include <curl/curl.h>
#include <mysql.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "prefork.h"
#include "priv.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static void
usage(void)
{
	fprintf(stderr, "usage: callpipe-fcgi -c FILE [-t]\n");
}

/*
 * callpipe-worker is installed beside callpipe-fcgi; in the build tree it
 * sits in its own directory (fcgi-app/callpipe-worker/), which the local
 * stack runs from. The first executable candidate wins; when none is, the
 * installed location is returned so the master's warning names it.
 */
static int
worker_path_default(char *buf, size_t len)
{
	static const char *const names[] = {
		"/callpipe-worker",
		"/../callpipe-worker/callpipe-worker",
	};
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((size_t)snprintf(buf, len, "%s%s", exe, names[i]) >= len)
			return -1;
		if (access(buf, X_OK) == 0)
			return 0;
	}
	if ((size_t)snprintf(buf, len, "%s%s", exe, names[0]) >= len)
		return -1;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct cp_conf conf;
	struct priv priv;
	char err[1024], worker[PATH_MAX];
	const char *path = NULL, *worker_path = NULL;
	int check = 0, ch, rc;

	while ((ch = getopt(argc, argv, "c:t")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage();
		return 2;
	}

	if (conf_load(path, &conf, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: ok\n", path);
		conf_free(&conf);
		return 0;
	}
	log_init("callpipe-fcgi", conf.log_level);
	(void)log_set_format(conf.log_format, conf.log_timestamps);
	if (priv_prepare(&conf, "callpipe-fcgi", &priv, err, sizeof(err)) !=
	    CP_OK) {
		fprintf(stderr, "callpipe-fcgi: %s\n", err);
		conf_free(&conf);
		return 1;
	}

	if (conf.worker.binary != NULL && conf.worker.binary[0] != '\0')
		worker_path = conf.worker.binary;
	else if (worker_path_default(worker, sizeof(worker)) == 0)
		worker_path = worker;
	else if (conf.worker.processes > 0)
		log_warn("cannot find callpipe-worker beside this binary; "
		    "set worker.binary");

	/* Both libraries must be initialised once, before any fork (their docs). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("curl_global_init failed");
		conf_free(&conf);
		return 1;
	}
	if (mysql_library_init(0, NULL, NULL) != 0) {
		log_error("mysql_library_init failed");
		curl_global_cleanup();
		conf_free(&conf);
		return 1;
	}

	rc = prefork_run(&conf, &priv, worker_path);

	mysql_library_end();
	curl_global_cleanup();
	conf_free(&conf);
	return rc;
}
