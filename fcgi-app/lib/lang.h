/*
 * lang.h: ISO-639-1 language codes and their English names, as Whisper
 * and OpenAI's verbose_json name them ("he" / "hebrew"; OPENAI.md:
 * "language is the full name, not the code you sent"). One table for the
 * STT answers callpipe reads and the summary instructions it writes.
 */
#ifndef CP_LANG_H
#define CP_LANG_H

/* The ISO-639-1 code of a language name ("Hebrew", "hebrew") or of a code
 * itself ("he", "HE"); NULL when unknown. A static string. */
const char *lang_code(const char *name);

/* The lower-case English name of an ISO-639-1 code ("he" -> "hebrew");
 * NULL when unknown. A static string. */
const char *lang_name(const char *code);

#endif
