/*
 * ctl.h: callpipectl's commands (migrations, status, calls, the queue,
 * businesses, API tokens, signed URLs, STT and summary checks, retry): one
 * table in ctl.c (name, arguments, help, handler); the views of status,
 * calls and queue are in ctl_ops.c. main.c only parses -c and hands over
 * argv. A usage error is one line on stderr and exit status 2.
 */
#ifndef CP_CTL_H
#define CP_CTL_H

#include <stdio.h>

#include "conf.h"

/*
 * Runs the command in argv[0..argc-1] with conf. Output for people and
 * scripts goes to stdout (one value per line where a script reads it: the
 * new business id, the token, the URL), errors to stderr.
 * Returns the process exit status: 0 success, 1 failure, 2 usage.
 */
int ctl_main(const struct cp_conf *conf, int argc, char **argv);

/*
 * Answers a request for help without any configuration: argv (the words
 * after the options) being "help [COMMAND]", "--help"/"-h" [COMMAND], or a
 * command with "--help"/"-h" among its arguments. Prints that command's
 * usage (or all of it) to stdout and returns 0; returns 2 after a message
 * on stderr for help on an unknown command; returns -1 when argv asks for
 * no help (run it with ctl_main).
 */
int ctl_help(int argc, char **argv);

/* Prints the usage of every command to out (stdout for --help, stderr
 * after a usage error). */
void ctl_usage(FILE *out);

#endif
