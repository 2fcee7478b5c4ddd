/* download.c: written in this change. */
