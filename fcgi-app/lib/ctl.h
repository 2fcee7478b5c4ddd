/*
 * ctl.h: callpipectl's commands (migrations, businesses, tokens, STT
 * check). main.c only parses -c and hands over argv.
 */
#ifndef CP_CTL_H
#define CP_CTL_H

#include "conf.h"

/*
 * Runs the command in argv[0..argc-1] with conf. Output for people and
 * scripts goes to stdout (one value per line where a script reads it: the
 * new business id, the token), errors to stderr.
 * Returns the process exit status: 0 success, 1 failure, 2 usage.
 */
int ctl_main(const struct cp_conf *conf, int argc, char **argv);

/* Prints the usage text to stderr. */
void ctl_usage(void);

#endif
