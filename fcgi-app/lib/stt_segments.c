/*
 * stt_segments.c: the speech-to-text result types (stt.h) — segment lists,
 * results, speaker names — shared by stt.c and every backend, which
 * depend on this file and not on each other.
 */
#include "stt.h"

#include <stdlib.h>
#include <string.h>

const char *
stt_speaker_key(enum stt_speaker s)
{
	return s == STT_AGENT ? "agent" : s == STT_CALLER ? "caller" : "call";
}

const char *
stt_speaker_label(enum stt_speaker s)
{
	return s == STT_AGENT ? "Agent" : s == STT_CALLER ? "Caller" : "Call";
}

enum cp_err
stt_segments_add(struct stt_segments *l, enum stt_speaker sp, double start_s,
    double end_s, const char *text)
{
	const char *a = text ? text : "", *b;
	struct stt_segment *sg;

	while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r')
		a++;
	b = a + strlen(a);
	while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n' ||
	    b[-1] == '\r'))
		b--;
	if (b == a)
		return CP_OK;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct stt_segment *nv = realloc(l->v, cap * sizeof(*nv));
		if (nv == NULL)
			return CP_NOMEM;
		l->v = nv;
		l->cap = cap;
	}
	sg = &l->v[l->n];
	memset(sg, 0, sizeof(*sg));
	if ((sg->text = strndup(a, (size_t)(b - a))) == NULL)
		return CP_NOMEM;
	sg->speaker = sp;
	sg->start_s = start_s;
	sg->end_s = end_s < start_s ? start_s : end_s;
	l->n++;
	return CP_OK;
}

static void
stt_segment_free(struct stt_segment *sg)
{
	free(sg->text);
	for (size_t i = 0; i < sg->nwords; i++)
		free(sg->words[i].text);
	free(sg->words);
}

void
stt_segments_free(struct stt_segments *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		stt_segment_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void
stt_result_free(struct stt_result *r)
{
	if (r == NULL)
		return;
	free(r->channel_text[0]);
	free(r->channel_text[1]);
	for (size_t i = 0; i < r->nsegs; i++)
		stt_segment_free(&r->segs[i]);
	free(r->segs);
	free(r->final_transcript);
	free(r->transcription);
	free(r->segments_json);
	memset(r, 0, sizeof(*r));
}

