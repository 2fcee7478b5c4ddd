/*
 * stt.c: transcribe a stored recording into speaker-labelled text (see
 * stt.h).
 *
 * The backend gives each channel's words with times; this file groups
 * them into segments at pauses, merges the two channels by time and
 * writes the three forms call_log keeps: transcription (each channel's
 * raw text, JSON), final_transcript (merged lines) and transcript_segments
 * (JSON array with times).
 *
 * The pocketsphinx decoder is loaded once per call of
 * stt_transcribe_file and shared by the channels. Keeping it per process
 * would save about a second per call but hold ~100 MB in every worker
 * between jobs; a transcribe job takes longer than that second anyway.
 */
#include "config.h"

#include "stt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "stt_audio.h"
#include "stt_pocketsphinx.h"

/*
 * A pause longer than this (seconds) between two words of one channel
 * starts a new segment: a turn in a phone conversation, short enough that
 * a caller's answer to the agent lands on its own line.
 */
#define STT_SEGMENT_GAP_S 0.8

/* One channel's words in the backend-neutral shape used below. */
struct word_list {
	const struct stt_ps_word *w;
	size_t                    n;
};

static const char *
speaker_key(enum stt_speaker s)
{
	return s == STT_AGENT ? "agent" : "caller";
}

static const char *
speaker_label(enum stt_speaker s)
{
	return s == STT_AGENT ? "Agent" : "Caller";
}

void
stt_result_free(struct stt_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->channel_text[0]);
	free(r->channel_text[1]);
	for (i = 0; i < r->nsegs; i++)
		free(r->segs[i].text);
	free(r->segs);
	free(r->final_transcript);
	free(r->transcription);
	free(r->segments_json);
	memset(r, 0, sizeof(*r));
}

/* Words [a, b) of wl joined by single spaces; NULL on allocation failure. */
static char *
join_words(const struct word_list *wl, size_t a, size_t b)
{
	size_t len = 1, i, pos = 0, l;
	char  *s;

	for (i = a; i < b; i++)
		len += strlen(wl->w[i].text) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	for (i = a; i < b; i++) {
		if (i > a)
			s[pos++] = ' ';
		l = strlen(wl->w[i].text);
		memcpy(s + pos, wl->w[i].text, l);
		pos += l;
	}
	s[pos] = '\0';
	return s;
}

/* Appends the segments of one channel to r->segs (sized by the caller). */
static enum cp_err
add_segments(struct stt_result *r, const struct word_list *wl,
    enum stt_speaker speaker)
{
	size_t a = 0, b;

	while (a < wl->n) {
		struct stt_segment *sg = &r->segs[r->nsegs];

		for (b = a + 1; b < wl->n; b++)
			if (wl->w[b].start_s - wl->w[b - 1].end_s >
			    STT_SEGMENT_GAP_S)
				break;
		sg->speaker = speaker;
		sg->start_s = wl->w[a].start_s;
		sg->end_s = wl->w[b - 1].end_s;
		if ((sg->text = join_words(wl, a, b)) == NULL)
			return CP_NOMEM;
		r->nsegs++;
		a = b;
	}
	return CP_OK;
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
			l = strlen(speaker_label(sg->speaker));
			memcpy(s + pos, speaker_label(sg->speaker), l);
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

/* {"caller": "...", "agent": "..."}; "agent" only for a dual recording. */
static char *
transcription_json(const struct stt_result *r)
{
	struct json_object *o = json_object_new_object(), *v;
	char               *s = NULL;
	int                 c;

	if (o == NULL)
		return NULL;
	for (c = 0; c < r->nchannels; c++) {
		v = json_object_new_string(r->channel_text[c]);
		if (v == NULL ||
		    json_object_object_add(o, speaker_key((enum stt_speaker)(c + 1)),
		    v) != 0) {
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

/* [{"speaker":"caller","start":0.52,"end":1.90,"text":"..."}, ...] */
static char *
segments_json(const struct stt_result *r)
{
	struct json_object *a = json_object_new_array(), *o, *v;
	char               *s = NULL;
	size_t              i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < r->nsegs; i++) {
		const struct stt_segment *sg = &r->segs[i];

		if ((o = json_object_new_object()) == NULL)
			goto out;
		if (json_object_array_add(a, o) != 0) {
			json_object_put(o);
			goto out;
		}
		if ((v = json_object_new_string(speaker_key(sg->speaker))) == NULL ||
		    json_object_object_add(o, "speaker", v) != 0)
			goto bad_v;
		if ((v = json_seconds(sg->start_s)) == NULL ||
		    json_object_object_add(o, "start", v) != 0)
			goto bad_v;
		if ((v = json_seconds(sg->end_s)) == NULL ||
		    json_object_object_add(o, "end", v) != 0)
			goto bad_v;
		if ((v = json_object_new_string(sg->text)) == NULL ||
		    json_object_object_add(o, "text", v) != 0)
			goto bad_v;
	}
	s = json_dup(a);
	goto out;
bad_v:
	json_object_put(v);
out:
	json_object_put(a);
	return s;
}

/*
 * Fills r from each channel's words (wl[0] caller, wl[1] agent).
 * Returns CP_OK, CP_EMPTY when there is no word at all, or CP_NOMEM.
 * Unused in a build without any backend (configure --without-pocketsphinx).
 */
static enum cp_err build_result(struct stt_result *r,
    const struct word_list *wl, int nchannels, char *err, size_t errlen)
	__attribute__((unused));

static enum cp_err
build_result(struct stt_result *r, const struct word_list *wl, int nchannels,
    char *err, size_t errlen)
{
	size_t total = 0;
	enum cp_err rc;
	int    c;

	for (c = 0; c < nchannels; c++)
		total += wl[c].n;
	if (total == 0) {
		cp_fmt(err, errlen, "no speech recognised");
		return CP_EMPTY;
	}
	r->nchannels = nchannels;
	for (c = 0; c < nchannels; c++)
		if ((r->channel_text[c] = join_words(&wl[c], 0, wl[c].n)) == NULL)
			return CP_NOMEM;
	/* At most one segment per word. */
	if ((r->segs = calloc(total, sizeof(*r->segs))) == NULL)
		return CP_NOMEM;
	for (c = 0; c < nchannels; c++) {
		rc = add_segments(r, &wl[c], (enum stt_speaker)(c + 1));
		if (rc != CP_OK)
			return rc;
	}
	qsort(r->segs, r->nsegs, sizeof(*r->segs), seg_cmp);
	if ((r->final_transcript = merge_transcript(r)) == NULL ||
	    (r->transcription = transcription_json(r)) == NULL ||
	    (r->segments_json = segments_json(r)) == NULL)
		return CP_NOMEM;
	return CP_OK;
}

#ifdef HAVE_POCKETSPHINX
static enum cp_err
transcribe_pocketsphinx(const struct cp_conf *conf, const char *wav_path,
    struct stt_result *out, char *err, size_t errlen)
{
	struct stt_audio    audio;
	struct stt_ps      *ps = NULL;
	struct stt_ps_words words[STT_AUDIO_MAX_CHANNELS];
	struct word_list    wl[STT_AUDIO_MAX_CHANNELS];
	enum cp_err         rc;
	int                 c, nchannels;

	memset(words, 0, sizeof(words));
	memset(wl, 0, sizeof(wl));
	/* The file first: a bad file needs no model loaded to be refused. */
	if ((rc = stt_audio_read(wav_path, &audio, err, errlen)) != CP_OK)
		return rc;
	if ((rc = stt_ps_new(conf, &ps, err, errlen)) != CP_OK)
		goto out;
	if ((rc = stt_audio_resample(&audio, stt_ps_rate(ps), err, errlen))
	    != CP_OK)
		goto out;
	nchannels = audio.nchannels;
	for (c = 0; c < nchannels; c++) {
		rc = stt_ps_decode(ps, audio.pcm[c], audio.nframes, &words[c],
		    err, errlen);
		if (rc != CP_OK)
			goto out;
		/* The samples are not needed once decoded: give them back. */
		free(audio.pcm[c]);
		audio.pcm[c] = NULL;
		wl[c].w = words[c].w;
		wl[c].n = words[c].n;
	}
	rc = build_result(out, wl, nchannels, err, errlen);
out:
	for (c = 0; c < STT_AUDIO_MAX_CHANNELS; c++)
		stt_ps_words_free(&words[c]);
	stt_ps_free(ps);
	stt_audio_free(&audio);
	return rc;
}
#endif

enum cp_err
stt_transcribe_file(const struct cp_conf *conf, const char *wav_path,
    struct stt_result *out, char *err, size_t errlen)
{
	const char *backend = conf->stt.backend;
	enum cp_err rc;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (backend == NULL || backend[0] == '\0') {
		cp_fmt(err, errlen, "stt.backend is not set");
		return CP_INPUT;
	}
	if (strcmp(backend, "pocketsphinx") != 0) {
		cp_fmt(err, errlen, "stt.backend \"%.64s\" is not supported "
		    "(this build knows \"pocketsphinx\")", backend);
		return CP_INPUT;
	}
#ifdef HAVE_POCKETSPHINX
	rc = transcribe_pocketsphinx(conf, wav_path, out, err, errlen);
#else
	(void)wav_path;
	cp_fmt(err, errlen, "pocketsphinx backend not built in");
	rc = CP_SYSTEM;
#endif
	if (rc != CP_OK)
		stt_result_free(out);
	return rc;
}
