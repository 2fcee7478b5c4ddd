/* migrate.c: written in this change. */
