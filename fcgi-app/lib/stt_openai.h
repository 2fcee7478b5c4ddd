/*
 * stt_openai.h: the "openai" STT backend: any OpenAI-compatible
 * POST {stt.openai.base_url}/audio/transcriptions (OpenAI's whisper-1 and
 * gpt-4o(-mini)-transcribe, whisper.cpp's server, speaches, vLLM, Groq).
 *
 * Per channel (stt.c hands one at a time): resampled to
 * stt.openai.upload_rate when that is set (libsoxr), cut into chunks of at
 * most stt.openai.chunk_seconds (and never over 25 MiB, OPENAI.md) at the
 * quietest point near each boundary, each chunk written as a mono WAV or
 * FLAC (libsndfile) and uploaded as multipart/form-data (libcurl mime):
 *   file                       caller.wav | agent.wav | call.wav, chunk k > 1
 *                              caller-k.wav (the service takes the format
 *                              from the file name, OPENAI.md), Content-Type
 *                              audio/wav or audio/flac
 *   model                      stt.openai.model
 *   response_format            verbose_json | json
 *   timestamp_granularities[]  segment (verbose_json only: else 400)
 *   language                   ISO-639-1, left out when "" (auto-detect)
 *   prompt                     when set
 *   temperature                0
 * Answers (OPENAI.md "verbose_json"): segments with start/end seconds; a
 * segment Whisper marks as non-speech (no_speech_prob > 0.6 together with
 * avg_logprob < -1.0, Whisper's own thresholds) is dropped. An answer
 * without segments (json: gpt-4o-transcribe, Ollama) becomes one segment
 * spanning its chunk. Times are offset back to call time by the chunk's
 * start. The language comes back as a name ("hebrew", OpenAI) or a code
 * ("he", speaches, vLLM, whisper.cpp's detected_language) and is stored as
 * the ISO-639-1 code.
 */
#ifndef CP_STT_OPENAI_H
#define CP_STT_OPENAI_H

#include <stddef.h>
#include "conf.h"
#include "cp_err.h"
#include "http.h"
#include "stt.h"

struct json_object;   /* json-c */

/* OPENAI.md: 25 MiB per request (help.openai.com 7031512). Uploads are
 * kept under this many bytes, leaving room for the form's other parts. */
#define STT_OPENAI_MAX_UPLOAD (25L * 1024 * 1024 - 64 * 1024)

/* Whisper's non-speech rule (openai/whisper transcribe.py defaults). */
#define STT_OPENAI_NO_SPEECH_PROB 0.6
#define STT_OPENAI_LOGPROB_MIN    (-1.0)

/* The stt_backends[] row (stt.h). open keeps conf (borrowed). */
enum cp_err stt_openai_open(const struct cp_conf *conf, void **state,
    char *err, size_t errlen);
enum cp_err stt_openai_transcribe(void *state, const struct stt_channel *ch,
    struct stt_segments *out, struct stt_answer *ans, char *err,
    size_t errlen);
void stt_openai_close(void *state);
/* The longest a recording of audio_s seconds may take: every chunk of
 * both channels waiting its full stt.openai.timeout_ms, + 60 s. */
long stt_openai_max_seconds(const struct cp_conf *conf, double audio_s);

/*
 * The form of one upload into parts (at least 7 entries): file (data, len
 * bytes, named filename, Content-Type audio/wav or audio/flac after the
 * extension), model, response_format, timestamp_granularities[] (only
 * with verbose_json), language (only when non-empty), prompt (only when
 * non-empty), temperature. Strings are borrowed from conf and the
 * arguments. Returns the number of parts.
 */
size_t stt_openai_form(const struct cp_conf *conf, const char *language,
    const char *filename, const void *data, size_t len,
    struct http_part *parts);

/*
 * Reads one answer (root: the parsed JSON of a 2xx, borrowed) for speaker
 * sp: its segments, offset by offset_s seconds, go to out; an answer with
 * text but no segments becomes one segment [offset_s, offset_s +
 * duration_s]. Non-speech segments (above) are dropped; times are kept
 * inside [0, duration_s]. lang (8 bytes) gets the ISO-639-1 code the
 * answer names, "" when none or unknown.
 * Returns CP_OK; CP_UPSTREAM when root is not an object with a string
 * "text", or a segment lacks finite times or text (a truncated or foreign
 * answer: retried); CP_NOMEM.
 */
enum cp_err stt_openai_parse(struct json_object *root, enum stt_speaker sp,
    double offset_s, double duration_s, struct stt_segments *out,
    char lang[8], char *err, size_t errlen);

#endif
