/*
 * stt_pocketsphinx.h: the offline speech-to-text backend (CMU pocketsphinx
 * 0.8 "5prealpha" as Debian 12 ships it, with sphinxbase).
 *
 * It recognises one channel of 16-bit PCM at the model's rate and returns
 * its words with start and end times. The model is the stock en-us one from
 * the config (stt.pocketsphinx.hmm, lm, dict): no grammar, no keyword list.
 * The decoder is only compiled in when configure found pocketsphinx
 * (HAVE_POCKETSPHINX in config.h); the backend row always exists.
 */
#ifndef CP_STT_POCKETSPHINX_H
#define CP_STT_POCKETSPHINX_H

#include <stddef.h>
#include <stdint.h>
#include "conf.h"
#include "cp_err.h"
#include "stt.h"

/* One recognised word; times in seconds from the first sample decoded. */
struct stt_ps_word {
	char   *text;      /* lower-case UTF-8, pronunciation suffix removed */
	double  start_s;
	double  end_s;     /* exclusive: the end of the word's last frame */
};

struct stt_ps_words {
	struct stt_ps_word *w;   /* in time order */
	size_t              n;
	size_t              cap;
};

struct stt_ps;   /* a loaded decoder */

/*
 * Loads the acoustic model (conf->stt.ps_hmm, a directory), the language
 * model (conf->stt.ps_lm) and the dictionary (conf->stt.ps_dict) into a new
 * decoder, *out. Loading takes about a second and some 100 MB, so a caller
 * decodes every channel of a recording with one decoder.
 * pocketsphinx's own log is silenced process-wide (sphinxbase's error
 * callback is replaced); its last error message ends up in err.
 * Returns CP_OK; CP_SYSTEM when a model file is missing or unreadable or
 * the decoder does not start; CP_NOMEM. Free with stt_ps_free.
 */
enum cp_err stt_ps_new(const struct cp_conf *conf, struct stt_ps **out,
    char *err, size_t errlen);

/* The sample rate (Hz) the decoder's model expects (16000 for en-us). */
int stt_ps_rate(const struct stt_ps *ps);

/*
 * Recognises nsamples samples of pcm (mono, 16-bit, at stt_ps_rate() Hz)
 * and appends the words to *words (which may be zeroed; free it with
 * stt_ps_words_free), skipping silence and filler tokens (<s>, </s>,
 * <sil>, [NOISE], ++...++). Times are true to the audio: silence removal
 * (-remove_silence) is off, so frame i starts at i / frate seconds (100
 * frames per second by default). Long audio is decoded in utterances of
 * 20 to 40 s cut at the quietest 0.3 s, so the memory of the search stays
 * bounded. Returns CP_OK (possibly with no words); CP_SYSTEM when the
 * decoder fails; CP_NOMEM.
 */
enum cp_err stt_ps_decode(struct stt_ps *ps, const int16_t *pcm,
    size_t nsamples, struct stt_ps_words *words, char *err, size_t errlen);

/* Frees every word in w and zeroes it; w may be zeroed. */
void stt_ps_words_free(struct stt_ps_words *w);

/* Frees the decoder; ps may be NULL. */
void stt_ps_free(struct stt_ps *ps);

/*
 * The "pocketsphinx" row of stt_backends[] (stt.h): open loads the
 * decoder (stt_ps_new), transcribe resamples one channel to the model's
 * rate with libsoxr, decodes it and groups its words into segments at
 * pauses longer than 0.8 s, close frees the decoder. Built without
 * pocketsphinx, open answers CP_SYSTEM "not built in".
 */
enum cp_err stt_ps_backend_open(const struct cp_conf *conf, void **state,
    char *err, size_t errlen);
enum cp_err stt_ps_backend_transcribe(void *state,
    const struct stt_channel *ch, struct stt_segments *out,
    struct stt_answer *ans, char *err, size_t errlen);
void stt_ps_backend_close(void *state);
/* 3 s per second of audio + 60 s (both channels, model load). */
long stt_ps_max_seconds(const struct cp_conf *conf, double audio_s);

#endif
