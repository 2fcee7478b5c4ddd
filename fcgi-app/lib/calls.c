/* calls.c: written in this change. */
