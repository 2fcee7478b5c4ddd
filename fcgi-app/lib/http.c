/* http.c: written in this change. */
