/* prefork.c: written in this change. */
