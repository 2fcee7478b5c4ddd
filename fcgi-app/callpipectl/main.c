/*
 * callpipectl: operators' command line (migrations, businesses, tokens,
 * STT check). See ctl.h; `callpipectl -c FILE COMMAND ...`.
 */
#include <curl/curl.h>
#include <mysql.h>
#include <stdio.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"

int
main(int argc, char **argv)
{
	struct cp_conf conf;
	const char *path = NULL;
	char err[1024];
	int opt, rc;

	while ((opt = getopt(argc, argv, "+c:")) != -1) {
		if (opt != 'c') {
			ctl_usage();
			return 2;
		}
		path = optarg;
	}
	if (path == NULL || optind >= argc) {
		ctl_usage();
		return 2;
	}
	if (conf_load(path, &conf, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "callpipectl: %s\n", err);
		return 1;
	}
	/* Operators read the command's own output; only warnings go to the log. */
	log_init("callpipectl", conf.log_level < LOG_LVL_WARN ?
	    conf.log_level : LOG_LVL_WARN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mysql_library_init(0, NULL, NULL);
	rc = ctl_main(&conf, argc - optind, argv + optind);
	mysql_library_end();
	curl_global_cleanup();
	conf_free(&conf);
	return rc;
}
