/* sid.c: written in this change. */
