/*
 * stt_audio.h: a recording read into memory for speech recognition.
 *
 * The file is decoded with libsndfile (WAV and anything else it reads) into
 * one 16-bit buffer per channel, and resampled with libsoxr to the rate the
 * recogniser's model was trained at. Twilio's WAV media is 16-bit PCM at
 * 8 kHz (TWILIO.md "Recording media"); the pocketsphinx en-us model wants
 * 16 kHz.
 */
#ifndef CP_STT_AUDIO_H
#define CP_STT_AUDIO_H

#include <stddef.h>
#include <stdint.h>
#include "cp_err.h"

/* More channels than this is refused: a Twilio recording is mono or dual. */
#define STT_AUDIO_MAX_CHANNELS 2

/*
 * Longest recording accepted (seconds). Twilio ends a call after 4 hours
 * (the default and maximum time limit of a call), so a longer file is not a
 * call recording. Memory held: 2 bytes per sample per channel, e.g. about
 * 460 MB per channel for 4 hours at 16 kHz.
 */
#define STT_AUDIO_MAX_SECONDS (4L * 3600L)

struct stt_audio {
	int      nchannels;                      /* 1 or 2 */
	int      rate;                           /* samples per second */
	size_t   nframes;                        /* samples per channel */
	int16_t *pcm[STT_AUDIO_MAX_CHANNELS];    /* one buffer per channel */
};

/*
 * Reads the audio file at path into *out (zeroed first), one int16 buffer
 * per channel, full scale = 32767 whatever the file's sample format.
 * Returns CP_OK; CP_NOAUDIO when the file is empty (0 bytes) or holds no
 * frames (header only); CP_INPUT when libsndfile cannot read it as audio,
 * it has more than STT_AUDIO_MAX_CHANNELS channels, or it lasts longer than
 * STT_AUDIO_MAX_SECONDS; CP_SYSTEM when it cannot be opened or read (errno's
 * reason in err); CP_NOMEM. err (errlen bytes) gets a one-line reason on
 * error. On error *out holds nothing. Free with stt_audio_free.
 */
enum cp_err stt_audio_read(const char *path, struct stt_audio *out,
    char *err, size_t errlen);

/*
 * Resamples every channel of a to rate (samples per second) in place with
 * libsoxr's one-shot converter at high quality (SOXR_HQ, 20-bit). Nothing
 * happens when a->rate already equals rate. Each source channel is freed as
 * soon as its converted copy exists, so the peak is one extra channel.
 * Returns CP_OK; CP_INPUT when rate is not in 1000..192000; CP_NOAUDIO when
 * nothing comes out (a file of a sample or two); CP_SYSTEM when
 * libsoxr fails; CP_NOMEM. On error a is freed
 * (stt_audio_free), since it may hold channels at both rates.
 */
enum cp_err stt_audio_resample(struct stt_audio *a, int rate,
    char *err, size_t errlen);

/* Window of stt_audio_peak_rms (ms). */
#define STT_AUDIO_WINDOW_MS 30

/* RMS of a 10 ms window the chunker counts as quiet (about -60 dBFS). */
#define STT_AUDIO_QUIET_RMS 30.0

/*
 * The RMS (full scale 32767) of the loudest STT_AUDIO_WINDOW_MS window of
 * n samples of pcm at rate Hz: how loud the loudest moment is. 0 for n 0.
 */
double stt_audio_peak_rms(const int16_t *pcm, size_t n, int rate);

/*
 * Plans chunks of at most max_frames frames over n frames of pcm: *cuts
 * (malloc'd, free() it) gets *ncuts end indexes, increasing, the last
 * being n. The chunks aim at equal lengths over what is left (so the last
 * one is never a sliver); each cut lies in the middle of the longest quiet
 * stretch (10 ms windows under STT_AUDIO_QUIET_RMS) within a quarter of
 * the chunk's length (at most 30 s) around its aim, never past the limit,
 * else at the quietest 10 ms there, so a word is rarely cut in two.
 * max_frames is raised to one second at least.
 * Returns CP_OK or CP_NOMEM.
 */
enum cp_err stt_audio_chunks(const int16_t *pcm, size_t n, int rate,
    size_t max_frames, size_t **cuts, size_t *ncuts);

enum stt_audio_format { STT_AUDIO_WAV, STT_AUDIO_FLAC };

/*
 * Encodes n frames of mono 16-bit pcm at rate Hz as a 16-bit PCM WAV or a
 * FLAC file in memory with libsndfile (sf_open_virtual). *out (malloc'd,
 * free() it) and *outlen (bytes) get the file.
 * Returns CP_OK; CP_SYSTEM when libsndfile refuses (err says why);
 * CP_NOMEM.
 */
enum cp_err stt_audio_encode(const int16_t *pcm, size_t n, int rate,
    enum stt_audio_format fmt, unsigned char **out, size_t *outlen,
    char *err, size_t errlen);

/* Frees the buffers of a and zeroes it; a may be zeroed already. */
void stt_audio_free(struct stt_audio *a);

#endif
