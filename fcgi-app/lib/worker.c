/* worker.c: written in this change. */
