/* router.c: written in this change. */
