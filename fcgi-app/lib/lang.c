/*
 * lang.c: language codes and names (see lang.h).
 */
#include "lang.h"

#include <stddef.h>
#include <strings.h>

/*
 * Whisper's languages (openai/whisper tokenizer.py LANGUAGES) that have an
 * ISO-639-1 code, by the English name verbose_json answers with.
 */
static const struct { const char *code, *name; } lang_table[] = {
	{ "af", "afrikaans" }, { "am", "amharic" }, { "ar", "arabic" },
	{ "as", "assamese" }, { "az", "azerbaijani" }, { "ba", "bashkir" },
	{ "be", "belarusian" }, { "bg", "bulgarian" }, { "bn", "bengali" },
	{ "bo", "tibetan" }, { "br", "breton" }, { "bs", "bosnian" },
	{ "ca", "catalan" }, { "cs", "czech" }, { "cy", "welsh" },
	{ "da", "danish" }, { "de", "german" }, { "el", "greek" },
	{ "en", "english" }, { "es", "spanish" }, { "et", "estonian" },
	{ "eu", "basque" }, { "fa", "persian" }, { "fi", "finnish" },
	{ "fo", "faroese" }, { "fr", "french" }, { "gl", "galician" },
	{ "gu", "gujarati" }, { "ha", "hausa" }, { "he", "hebrew" },
	{ "hi", "hindi" }, { "hr", "croatian" }, { "ht", "haitian creole" },
	{ "hu", "hungarian" }, { "hy", "armenian" }, { "id", "indonesian" },
	{ "is", "icelandic" }, { "it", "italian" }, { "ja", "japanese" },
	{ "jw", "javanese" }, { "ka", "georgian" }, { "kk", "kazakh" },
	{ "km", "khmer" }, { "kn", "kannada" }, { "ko", "korean" },
	{ "la", "latin" }, { "lb", "luxembourgish" }, { "ln", "lingala" },
	{ "lo", "lao" }, { "lt", "lithuanian" }, { "lv", "latvian" },
	{ "mg", "malagasy" }, { "mi", "maori" }, { "mk", "macedonian" },
	{ "ml", "malayalam" }, { "mn", "mongolian" }, { "mr", "marathi" },
	{ "ms", "malay" }, { "mt", "maltese" }, { "my", "myanmar" },
	{ "ne", "nepali" }, { "nl", "dutch" }, { "nn", "nynorsk" },
	{ "no", "norwegian" }, { "oc", "occitan" }, { "pa", "punjabi" },
	{ "pl", "polish" }, { "ps", "pashto" }, { "pt", "portuguese" },
	{ "ro", "romanian" }, { "ru", "russian" }, { "sa", "sanskrit" },
	{ "sd", "sindhi" }, { "si", "sinhala" }, { "sk", "slovak" },
	{ "sl", "slovenian" }, { "sn", "shona" }, { "so", "somali" },
	{ "sq", "albanian" }, { "sr", "serbian" }, { "su", "sundanese" },
	{ "sv", "swedish" }, { "sw", "swahili" }, { "ta", "tamil" },
	{ "te", "telugu" }, { "tg", "tajik" }, { "th", "thai" },
	{ "tk", "turkmen" }, { "tl", "tagalog" }, { "tr", "turkish" },
	{ "tt", "tatar" }, { "uk", "ukrainian" }, { "ur", "urdu" },
	{ "uz", "uzbek" }, { "vi", "vietnamese" }, { "yi", "yiddish" },
	{ "yo", "yoruba" }, { "zh", "chinese" },
};

#define LANG_N (sizeof(lang_table) / sizeof(lang_table[0]))

const char *
lang_code(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < LANG_N; i++)
		if (strcasecmp(name, lang_table[i].name) == 0 ||
		    strcasecmp(name, lang_table[i].code) == 0)
			return lang_table[i].code;
	return NULL;
}

const char *
lang_name(const char *code)
{
	if (code == NULL)
		return NULL;
	for (size_t i = 0; i < LANG_N; i++)
		if (strcasecmp(code, lang_table[i].code) == 0)
			return lang_table[i].name;
	return NULL;
}
