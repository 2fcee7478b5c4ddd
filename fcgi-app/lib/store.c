/* store.c: written in this change. */
