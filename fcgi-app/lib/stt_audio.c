/* stt_audio.c: written in this change. */
