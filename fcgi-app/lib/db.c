/* db.c: written in this change. */
