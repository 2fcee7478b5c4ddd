/* stt_pocketsphinx.c: written in this change. */
