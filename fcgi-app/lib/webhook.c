/* webhook.c: written in this change. */
