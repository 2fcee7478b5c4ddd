/* stt.c: written in this change. */
