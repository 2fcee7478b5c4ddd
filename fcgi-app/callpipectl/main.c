/*
 * callpipectl: operators' command line (migrations, status, calls, the
 * queue, businesses, tokens, signed URLs, STT check). See ctl.h; `callpipectl -c FILE COMMAND ...`,
 * `callpipectl [COMMAND] --help` (no configuration needed).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <mysql.h>
#include <stdio.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cp_conf conf;
	const char *path = NULL;
	char err[1024];
	int opt, rc;

	/* "+": options end at the command, whose own options follow it. A
	 * usage error is one line (ctl.h), getopt's own message included. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			ctl_usage(stdout);
			return 0;
		}
		if (opt != 'c') {
			fprintf(stderr, "callpipectl: bad option %s (unknown, or its "
			    "value is missing; callpipectl --help lists them)\n",
			    argv[optind - 1]);
			return 2;
		}
		path = optarg;
	}
	if ((rc = ctl_help(argc - optind, argv + optind)) >= 0)
		return rc;
	if (optind >= argc) {
		fprintf(stderr, "callpipectl: no command (usage: callpipectl "
		    "--help lists them)\n");
		return 2;
	}
	if (path == NULL) {
		fprintf(stderr, "callpipectl: %s needs -c FILE, the configuration "
		    "(usage: callpipectl -c FILE COMMAND ...)\n", argv[optind]);
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
