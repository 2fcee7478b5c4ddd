/*
 * stt_openai.c: the "openai" STT backend (see stt_openai.h; the API facts
 * are OPENAI.md's).
 */
#include "stt_openai.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json.h>

#include "lang.h"
#include "log.h"
#include "openai.h"
#include "stt_audio.h"

/* An upload's answer is a few KiB per minute of speech. */
#define STT_OPENAI_ANSWER_MAX (8L * 1024 * 1024)

enum cp_err
stt_openai_open(const struct cp_conf *conf, void **state, char *err,
    size_t errlen)
{
	*state = (void *)(uintptr_t)conf;
	return CP_OK;
}

void
stt_openai_close(void *state)
{
}

long
stt_openai_max_seconds(const struct cp_conf *conf, double audio_s)
{
	/* Chunks may end up to a quarter early; two channels; each upload
	 * bounded by timeout_ms; a margin for encoding and the database. */
	long chunk = (long)conf->stt.openai.chunk_seconds * 3 / 4;
	long per_channel = (long)audio_s / (chunk > 0 ? chunk : 1) + 2;

	return 2 * per_channel * (conf->stt.openai.timeout_ms / 1000 + 1) + 60;
}

size_t
stt_openai_form(const struct cp_conf *conf, const char *language,
    const char *filename, const void *data, size_t len,
    struct http_part *parts)
{
	const char *rf = conf->stt.openai.response_format;
	const char *ext = strrchr(filename, '.');
	size_t n = 0;

#define STT_TEXT(nm, v) \
	parts[n++] = (struct http_part){ (nm), (v), strlen(v), NULL, NULL }
	parts[n++] = (struct http_part){ "file", data, len, filename,
	    ext != NULL && strcmp(ext, ".flac") == 0 ? "audio/flac" :
	    "audio/wav" };
	STT_TEXT("model", conf->stt.openai.model);
	STT_TEXT("response_format", rf);
	/* OPENAI.md: timestamp_granularities[] without verbose_json is 400. */
	if (strcmp(rf, "verbose_json") == 0)
		STT_TEXT("timestamp_granularities[]", "segment");
	if (language != NULL && language[0] != '\0')
		STT_TEXT("language", language);
	if (conf->stt.openai.prompt[0] != '\0')
		STT_TEXT("prompt", conf->stt.openai.prompt);
	STT_TEXT("temperature", "0");
#undef STT_TEXT
	return n;
}

static bool
stt_json_num(struct json_object *o, const char *key, double *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)))
		return false;
	*out = json_object_get_double(v);
	return true;
}

static const char *
stt_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

enum cp_err
stt_openai_parse(struct json_object *root, enum stt_speaker sp,
    double offset_s, double duration_s, struct stt_segments *out,
    char lang[8], char *err, size_t errlen)
{
	struct json_object *segs;
	const char *text, *l;
	enum cp_err rc = CP_OK;
	int dropped = 0;

	lang[0] = '\0';
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		cp_fmt(err, errlen, "the answer is not a JSON object");
		return CP_UPSTREAM;
	}
	if ((text = stt_json_str(root, "text")) == NULL) {
		cp_fmt(err, errlen, "the answer has no \"text\" string");
		return CP_UPSTREAM;
	}
	/* OpenAI names the language ("hebrew"); speaches and vLLM give the
	 * code; whisper.cpp adds detected_language. */
	if ((l = lang_code(stt_json_str(root, "language"))) ==
	    NULL)
		l = lang_code(stt_json_str(root,
		    "detected_language"));
	if (l != NULL)
		cp_fmt(lang, 8, "%s", l);
	if (json_object_object_get_ex(root, "segments", &segs) &&
	    json_object_is_type(segs, json_type_array)) {
		for (size_t i = 0; rc == CP_OK &&
		    i < json_object_array_length(segs); i++) {
			struct json_object *s = json_object_array_get_idx(segs, i);
			double st, en, nsp, alp;
			const char *t = stt_json_str(s, "text");

			if (t == NULL || !stt_json_num(s, "start", &st) ||
			    !stt_json_num(s, "end", &en) || !isfinite(st) ||
			    !isfinite(en) || st < 0 || en < 0) {
				cp_fmt(err, errlen, "segment %zu lacks a start, end or "
				    "text, or has a time that is not a number", i);
				rc = CP_UPSTREAM;
				break;
			}
			/* Whisper's last end may pass the audio: keep every time
			 * inside this upload, so it never spills into the next. */
			if (duration_s > 0) {
				st = st < duration_s ? st : duration_s;
				en = en < duration_s ? en : duration_s;
			}
			if (stt_json_num(s, "no_speech_prob", &nsp) &&
			    stt_json_num(s, "avg_logprob", &alp) &&
			    nsp > STT_OPENAI_NO_SPEECH_PROB &&
			    alp < STT_OPENAI_LOGPROB_MIN) {
				dropped++;
				continue;
			}
			rc = stt_segments_add(out, sp, offset_s + st, offset_s + en,
			    t);
		}
		if (dropped > 0)
			log_info("stt (openai): %s: dropped %d segment(s) Whisper "
			    "marks as non-speech", stt_speaker_label(sp), dropped);
	} else {
		/* json (gpt-4o-transcribe, Ollama): no times; the chunk's span. */
		rc = stt_segments_add(out, sp, offset_s, offset_s + duration_s,
		    text);
	}
	return rc;
}

/* Uploads one chunk and parses its answer into out. */
static enum cp_err
stt_openai_chunk(const struct cp_conf *conf, const struct stt_channel *ch,
    const int16_t *pcm, size_t n, int rate, double offset_s, int k,
    struct stt_segments *out, struct stt_answer *ans, char *err,
    size_t errlen)
{
	const char *fmt = conf->stt.openai.upload_format;
	struct http_part parts[8];
	struct http_request req = { 0 };
	struct openai_result res;
	unsigned char *file = NULL;
	size_t flen = 0;
	char url[1024], name[32], lang[8], perr[CP_REASON_MAX + 1];
	enum cp_err rc;
	const char *who = ch->speaker == STT_AGENT ? "agent" :
	    ch->speaker == STT_CALLER ? "caller" : "call";

	if (openai_url(conf->stt.openai.base_url, "audio/transcriptions", url,
	    sizeof(url)) != CP_OK) {
		cp_fmt(err, errlen, "stt.openai.base_url too long");
		return CP_INPUT;
	}
	rc = stt_audio_encode(pcm, n, rate, strcmp(fmt, "flac") == 0 ?
	    STT_AUDIO_FLAC : STT_AUDIO_WAV, &file, &flen, err, errlen);
	if (rc != CP_OK)
		return rc;
	if (k == 1)
		cp_fmt(name, sizeof(name), "%s.%s", who, fmt);
	else
		cp_fmt(name, sizeof(name), "%s-%d.%s", who, k, fmt);
	req.method = "POST";
	req.url = url;
	req.body_kind = HTTP_MULTIPART;
	req.parts = parts;
	req.nparts = stt_openai_form(conf, ch->language, name, file, flen, parts);
	req.bearer = conf->stt.openai.api_key;
	req.timeout_ms = conf->stt.openai.timeout_ms;
	req.max_bytes = STT_OPENAI_ANSWER_MAX;
	ans->uploads++;
	rc = openai_post(&req, "STT", &res, err, errlen);
	free(file);
	if (res.retry_after_ms > ans->retry_after_ms)
		ans->retry_after_ms = res.retry_after_ms;
	if (rc != CP_OK)
		return rc;
	log_info("stt (openai): %s chunk %d (%.1f s from %.1f s, %zu bytes): "
	    "HTTP %ld x-request-id %s", who, k, (double)n / rate, offset_s, flen,
	    res.status, res.request_id[0] ? res.request_id : "-");
	rc = stt_openai_parse(res.json, ch->speaker, offset_s, (double)n / rate,
	    out, lang, perr, sizeof(perr));
	openai_result_free(&res);
	if (rc != CP_OK) {
		cp_fmt(err, errlen, "STT: HTTP %ld: %s", res.status, perr);
		return rc;
	}
	if (ans->language[0] == '\0')
		memcpy(ans->language, lang, sizeof(ans->language));
	return CP_OK;
}

enum cp_err
stt_openai_transcribe(void *state, const struct stt_channel *ch,
    struct stt_segments *out, struct stt_answer *ans, char *err,
    size_t errlen)
{
	const struct cp_conf *conf = state;
	struct stt_audio one = { 0 };
	const int16_t *pcm = ch->pcm;
	size_t n = ch->nframes, *cuts = NULL, ncuts = 0, from = 0, max_frames;
	int rate = ch->rate, want = conf->stt.openai.upload_rate;
	enum cp_err rc;

	if (want > 0 && want != rate) {
		one.nchannels = 1;
		one.rate = rate;
		one.nframes = n;
		if ((one.pcm[0] = malloc(n * sizeof(int16_t))) == NULL)
			return CP_NOMEM;
		memcpy(one.pcm[0], pcm, n * sizeof(int16_t));
		if ((rc = stt_audio_resample(&one, want, err, errlen)) != CP_OK)
			return rc;
		pcm = one.pcm[0];
		n = one.nframes;
		rate = one.rate;
	}
	/* chunk_seconds, and never over the upload limit as 16-bit WAV. */
	max_frames = (size_t)conf->stt.openai.chunk_seconds * (size_t)rate;
	if (max_frames * 2 > (size_t)STT_OPENAI_MAX_UPLOAD)
		max_frames = (size_t)STT_OPENAI_MAX_UPLOAD / 2;
	if ((rc = stt_audio_chunks(pcm, n, rate, max_frames, &cuts, &ncuts)) !=
	    CP_OK)
		goto out;
	for (size_t i = 0; i < ncuts; from = cuts[i], i++) {
		/* A silent stretch of a speaking channel is not sent either:
		 * Whisper would invent text for it (OPENAI.md). */
		if (stt_audio_peak_rms(pcm + from, cuts[i] - from, rate) <
		    STT_SILENCE_RMS)
			continue;
		rc = stt_openai_chunk(conf, ch, pcm + from, cuts[i] - from, rate,
		    (double)from / rate, (int)i + 1, out, ans, err, errlen);
		if (rc != CP_OK)
			goto out;
	}
out:
	free(cuts);
	stt_audio_free(&one);
	return rc;
}
