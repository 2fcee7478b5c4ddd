/* summary.c: written in this change. */
