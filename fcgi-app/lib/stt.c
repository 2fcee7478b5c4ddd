/*
 * stt.c: transcribe a stored recording into speaker-labelled text (see
 * stt.h) through the backend table below.
 *
 * The file is read once (libsndfile). A channel with no speech is left
 * out; each other channel goes to the backend on its own, so every
 * segment's speaker is known from its channel. The backends' segments are
 * merged by start time into the three forms call_log keeps: transcription
 * (each channel's raw text, JSON), final_transcript (merged lines) and
 * transcript_segments (JSON array with times).
 */
#include "config.h"

#include "stt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "log.h"
#include "stt_audio.h"
#include "stt_openai.h"
#include "stt_pocketsphinx.h"

/* The backends: one row each (stt.h). conf.c takes the names from here. */
const struct stt_backend stt_backends[] = {
	/* name           open                 transcribe
	 *   close                language  max_seconds */
	{ "pocketsphinx", stt_ps_backend_open, stt_ps_backend_transcribe,
	  stt_ps_backend_close,   "en",     stt_ps_max_seconds },
	{ "openai",       stt_openai_open,     stt_openai_transcribe,
	  stt_openai_close,       NULL,     stt_openai_max_seconds },
	{ NULL, NULL, NULL, NULL, NULL, NULL }
};

const struct stt_backend *
stt_backend_find(const char *name)
{
	for (const struct stt_backend *b = stt_backends; name && b->name; b++)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/* Earlier start first; at the same instant the caller, then the shorter. */
static int
seg_cmp(const void *pa, const void *pb)
{
	const struct stt_segment *a = pa, *b = pb;

	if (a->start_s != b->start_s)
		return a->start_s < b->start_s ? -1 : 1;
	if (a->speaker != b->speaker)
		return a->speaker < b->speaker ? -1 : 1;
	if (a->end_s != b->end_s)
		return a->end_s < b->end_s ? -1 : 1;
	return 0;
}

/* The texts of the segments of speaker sp, in time order, joined by a
 * space ("" when it has none). */
static char *
channel_text(const struct stt_result *r, enum stt_speaker sp)
{
	size_t len = 1, pos = 0;
	char *s;

	for (size_t i = 0; i < r->nsegs; i++)
		if (r->segs[i].speaker == sp)
			len += strlen(r->segs[i].text) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	for (size_t i = 0; i < r->nsegs; i++) {
		size_t l;
		if (r->segs[i].speaker != sp)
			continue;
		if (pos > 0)
			s[pos++] = ' ';
		l = strlen(r->segs[i].text);
		memcpy(s + pos, r->segs[i].text, l);
		pos += l;
	}
	s[pos] = '\0';
	return s;
}

/*
 * "Caller: ...\nAgent: ...\n": one line per run of segments of the same
 * speaker, the run's texts joined by a space.
 */
static char *
merge_transcript(const struct stt_result *r)
{
	size_t len = 1, i, pos = 0, l;
	char  *s;

	for (i = 0; i < r->nsegs; i++)
		len += strlen("Caller: \n") + strlen(r->segs[i].text) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < r->nsegs; i++) {
		const struct stt_segment *sg = &r->segs[i];

		if (i > 0 && sg->speaker == r->segs[i - 1].speaker) {
			s[pos - 1] = ' ';   /* replaces the previous '\n' */
		} else {
			l = strlen(stt_speaker_label(sg->speaker));
			memcpy(s + pos, stt_speaker_label(sg->speaker), l);
			pos += l;
			s[pos++] = ':';
			s[pos++] = ' ';
		}
		l = strlen(sg->text);
		memcpy(s + pos, sg->text, l);
		pos += l;
		s[pos++] = '\n';
	}
	s[pos] = '\0';
	return s;
}

/* strdup of the compact JSON text of o; json-c keeps '/' unescaped. */
static char *
json_dup(struct json_object *o)
{
	const char *t = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return t != NULL ? strdup(t) : NULL;
}

/* {"caller": "...", "agent": "..."}, or {"call": "..."} for mono. */
static char *
transcription_json(const struct stt_result *r)
{
	struct json_object *o = json_object_new_object(), *v;
	char               *s = NULL;
	int                 c;

	if (o == NULL)
		return NULL;
	for (c = 0; c < r->nchannels; c++) {
		enum stt_speaker sp = r->nchannels == 1 ? STT_CALL :
		    (enum stt_speaker)(c + 1);
		v = json_object_new_string(r->channel_text[c]);
		if (v == NULL ||
		    json_object_object_add(o, stt_speaker_key(sp), v) != 0) {
			json_object_put(v);
			goto out;
		}
	}
	s = json_dup(o);
out:
	json_object_put(o);
	return s;
}

/* A number printed with exactly two decimals (seconds to 10 ms). */
static struct json_object *
json_seconds(double t)
{
	char buf[32];
	int  n = snprintf(buf, sizeof(buf), "%.2f", t);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	return json_object_new_double_s(t, buf);
}

/* Adds key: v to o; v is released when that fails. */
static bool
json_put(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return false;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* [{"speaker":"caller","start":0.52,"end":1.90,"text":"..."}, ...] */
static char *
segments_json(const struct stt_result *r)
{
	struct json_object *a = json_object_new_array(), *o;
	char               *s = NULL;

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < r->nsegs; i++) {
		const struct stt_segment *sg = &r->segs[i];

		if ((o = json_object_new_object()) == NULL)
			goto out;
		if (json_object_array_add(a, o) != 0) {
			json_object_put(o);
			goto out;
		}
		if (!json_put(o, "speaker",
		    json_object_new_string(stt_speaker_key(sg->speaker))) ||
		    !json_put(o, "start", json_seconds(sg->start_s)) ||
		    !json_put(o, "end", json_seconds(sg->end_s)) ||
		    !json_put(o, "text", json_object_new_string(sg->text)))
			goto out;
	}
	s = json_dup(a);
out:
	json_object_put(a);
	return s;
}

enum cp_err
stt_build_result(struct stt_result *r, struct stt_segments *segs,
    int nchannels, const char *language, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (segs->n == 0) {
		cp_fmt(err, errlen, "no speech");
		return CP_EMPTY;
	}
	r->nchannels = nchannels;
	r->segs = segs->v;
	r->nsegs = segs->n;
	memset(segs, 0, sizeof(*segs));
	cp_fmt(r->language, sizeof(r->language), "%s", language ? language : "");
	qsort(r->segs, r->nsegs, sizeof(*r->segs), seg_cmp);
	for (int c = 0; c < nchannels; c++) {
		enum stt_speaker sp = nchannels == 1 ? STT_CALL :
		    (enum stt_speaker)(c + 1);
		if ((r->channel_text[c] = channel_text(r, sp)) == NULL)
			return CP_NOMEM;
	}
	if ((r->final_transcript = merge_transcript(r)) == NULL ||
	    (r->transcription = transcription_json(r)) == NULL ||
	    (r->segments_json = segments_json(r)) == NULL)
		return CP_NOMEM;
	return CP_OK;
}

/* The language asked for: the caller's (the business's), else the
 * configured one of the backend that takes a language. */
static const char *
stt_language(const struct cp_conf *conf, const char *language)
{
	if (language != NULL)
		return language;
	return conf->stt.openai.language ? conf->stt.openai.language : "";
}

enum cp_err
stt_transcribe_file(const struct cp_conf *conf, const char *wav_path,
    const char *language, struct stt_result *out, long *retry_after_ms,
    char *err, size_t errlen)
{
	const struct stt_backend *b = stt_backend_find(conf->stt.backend);
	struct stt_segments segs = { 0 };
	struct stt_answer ans;
	struct stt_audio audio;
	void *state = NULL;
	char lang[8] = "";
	int spoken = 0;
	enum cp_err rc;

	memset(out, 0, sizeof(*out));
	memset(&ans, 0, sizeof(ans));
	ans.retry_after_ms = -1;
	if (retry_after_ms != NULL)
		*retry_after_ms = -1;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (b == NULL) {
		cp_fmt(err, errlen, "stt.backend \"%.64s\" is not a backend of "
		    "this build", conf->stt.backend ? conf->stt.backend : "");
		return CP_INPUT;
	}
	/* The file first: a bad file needs no model loaded to be refused. */
	if ((rc = stt_audio_read(wav_path, &audio, err, errlen)) != CP_OK)
		return rc;
	if ((rc = b->open(conf, &state, err, errlen)) != CP_OK)
		goto out;
	for (int c = 0; c < audio.nchannels; c++) {
		struct stt_channel ch = {
			.pcm = audio.pcm[c], .nframes = audio.nframes,
			.rate = audio.rate,
			.speaker = audio.nchannels == 1 ? STT_CALL :
			    (enum stt_speaker)(c + 1),
			.language = stt_language(conf, language),
		};
		double peak = stt_audio_peak_rms(ch.pcm, ch.nframes, ch.rate);
		if (peak < STT_SILENCE_RMS) {
			/* Whisper invents text on silence (OPENAI.md). */
			log_info("stt: %s channel is silent (peak RMS %.1f), not "
			    "transcribed", stt_speaker_label(ch.speaker), peak);
			continue;
		}
		spoken++;
		rc = b->transcribe(state, &ch, &segs, &ans, err, errlen);
		if (rc != CP_OK)
			goto out;
		if (lang[0] == '\0' && ans.language[0] != '\0')
			memcpy(lang, ans.language, sizeof(lang));
	}
	if (spoken == 0) {
		cp_fmt(err, errlen, "no speech: every channel is silent");
		rc = CP_EMPTY;
		goto out;
	}
	/* A service that names no language: the one it knows, else the one
	 * that was asked for. */
	if (lang[0] == '\0' && b->language != NULL)
		cp_fmt(lang, sizeof(lang), "%s", b->language);
	else if (lang[0] == '\0')
		cp_fmt(lang, sizeof(lang), "%.7s", stt_language(conf, language));
	rc = stt_build_result(out, &segs, audio.nchannels, lang, err, errlen);
out:
	if (retry_after_ms != NULL)
		*retry_after_ms = ans.retry_after_ms;
	if (state != NULL)
		b->close(state);
	stt_segments_free(&segs);
	stt_audio_free(&audio);
	if (rc != CP_OK)
		stt_result_free(out);
	return rc;
}
