/* conf.c: written in this change. */
