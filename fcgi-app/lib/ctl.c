/* ctl.c: written in this change. */
