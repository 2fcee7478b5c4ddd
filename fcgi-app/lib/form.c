/* form.c: written in this change. */
