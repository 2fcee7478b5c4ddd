/*
 * stt.h: speech to text of a stored recording, through a table of
 * backends.
 *
 * A Twilio dual-channel recording has the caller on channel 1 and the agent
 * on channel 2 (TWILIO.md "Dual channel"); a mono recording is one channel
 * labelled "Call". stt.c reads the file once (libsndfile), leaves out a
 * channel with no speech (its loudest 30 ms stays below STT_SILENCE_RMS
 * over the whole length: Whisper invents text on silence, OPENAI.md), hands
 * each remaining channel to the configured backend, and merges the
 * backends' segments by start time into the three forms call_log keeps.
 *
 * A backend is one file and one row of stt_backends[] (stt.c):
 *   open        loads what the backend needs once per recording;
 *   transcribe  one channel's PCM -> segments, times in seconds from the
 *               channel's first sample;
 *   close       frees what open made;
 *   language    what it transcribes in when it knows only one language;
 *   max_seconds how long a recording may take, for the job's lease.
 */
#ifndef CP_STT_H
#define CP_STT_H

#include <stddef.h>
#include <stdint.h>
#include "conf.h"
#include "cp_err.h"

enum stt_speaker { STT_CALL = 0, STT_CALLER = 1, STT_AGENT = 2 };

/* RMS (16-bit full scale 32767) below which a 30 ms window is silence;
 * a channel none of whose windows reaches it is not transcribed. About
 * -50 dBFS: a telephone line's noise floor sits below, speech far above. */
#define STT_SILENCE_RMS 100.0

struct stt_word {
	double start_s, end_s;  /* seconds */
	char  *text;
};

struct stt_segment {
	enum stt_speaker speaker;
	double           start_s;  /* seconds from the start of the recording */
	double           end_s;
	char            *text;     /* UTF-8, no leading or trailing space */
	struct stt_word *words;    /* optional (NULL, 0) */
	size_t           nwords;
};

/* A growable list of segments, the backends' output. */
struct stt_segments {
	struct stt_segment *v;
	size_t              n, cap;
};

/*
 * Appends a segment with a copy of text (leading and trailing white space
 * removed; a text that is then empty is not added and is not an error).
 * Returns CP_OK or CP_NOMEM.
 */
enum cp_err stt_segments_add(struct stt_segments *l, enum stt_speaker sp,
    double start_s, double end_s, const char *text);

/* Frees every segment of l and zeroes it; l may be zeroed. */
void stt_segments_free(struct stt_segments *l);

struct stt_result {
	char              *channel_text[2];   /* raw text per channel ("" if silent) */
	int                nchannels;         /* 1 or 2 */
	struct stt_segment *segs;             /* sorted by start_s */
	size_t              nsegs;
	char  language[8];       /* ISO-639-1 of the transcript, "" unknown */
	char *final_transcript;  /* "Caller: ...\nAgent: ...\n" merged by time */
	char *transcription;     /* JSON {"caller": "...", "agent": "..."} or {"call": "..."} */
	char *segments_json;     /* JSON [{"speaker":"caller","start":0.52,"end":1.9,"text":"..."}] */
};

/* One channel handed to a backend. */
struct stt_channel {
	const int16_t   *pcm;       /* mono 16-bit samples */
	size_t           nframes;
	int              rate;      /* samples per second */
	enum stt_speaker speaker;
	const char      *language;  /* ISO-639-1 to ask for, "" = let the service detect */
};

/* What a backend says besides its segments. */
struct stt_answer {
	char language[8];     /* ISO-639-1 the service reported, "" if none */
	long retry_after_ms;  /* the service asked to wait this long, -1 none */
	int  uploads;         /* requests sent (0 for an offline backend) */
};

struct stt_backend {
	const char *name;
	enum cp_err (*open)(const struct cp_conf *conf, void **state,
	    char *err, size_t errlen);
	/* Appends ch's segments to out. Returns CP_OK (possibly nothing
	 * appended); CP_UPSTREAM (retry later); CP_REJECTED (refused for
	 * good); CP_SYSTEM; CP_NOMEM. */
	enum cp_err (*transcribe)(void *state, const struct stt_channel *ch,
	    struct stt_segments *out, struct stt_answer *ans, char *err,
	    size_t errlen);
	void (*close)(void *state);
	/* The one language it knows ("en"), or NULL: the language asked for
	 * when the service names none. */
	const char *language;
	/* Seconds a recording of audio_s seconds may take at most (the
	 * job's lease is kept at least that long). */
	long (*max_seconds)(const struct cp_conf *conf, double audio_s);
};

/* The backend table, ended by a row whose name is NULL. */
extern const struct stt_backend stt_backends[];

/* The row named name, or NULL. */
const struct stt_backend *stt_backend_find(const char *name);

/*
 * Transcribes the audio file at wav_path (anything libsndfile reads, 1 or
 * 2 channels) with the configured stt.backend. language: ISO-639-1 to ask
 * for (the call's business), NULL for the backend's configured default.
 * *retry_after_ms (may be NULL) gets the service's requested wait on a
 * retryable failure, else -1.
 * Returns CP_OK; CP_NOAUDIO when the file holds no frames; CP_EMPTY when no
 * speech was found on any channel ("no speech", a failure); CP_INPUT when
 * the file is not audio libsndfile can read, has more than 2 channels or
 * the backend is unknown; CP_UPSTREAM / CP_REJECTED from a service;
 * CP_SYSTEM when the backend cannot start (model files missing) or is not
 * built in; CP_NOMEM. err (errlen bytes) gets a one-line reason on error.
 * Free *out with stt_result_free.
 */
enum cp_err stt_transcribe_file(const struct cp_conf *conf,
    const char *wav_path, const char *language, struct stt_result *out,
    long *retry_after_ms, char *err, size_t errlen);

/*
 * Builds r's merged forms from segs (moved into r: segs is zeroed),
 * nchannels (1: the speaker is STT_CALL) and language. Segments are sorted
 * by start time (at the same instant caller first, then the shorter);
 * consecutive segments of one speaker share a line of final_transcript.
 * Returns CP_OK; CP_EMPTY when segs is empty; CP_NOMEM.
 */
enum cp_err stt_build_result(struct stt_result *r, struct stt_segments *segs,
    int nchannels, const char *language, char *err, size_t errlen);

/* Frees everything in r; r may be zeroed. */
void stt_result_free(struct stt_result *r);

/* "Caller", "Agent" or "Call": the labels of final_transcript. */
const char *stt_speaker_label(enum stt_speaker s);

/* "caller", "agent" or "call": the keys of transcription and
 * transcript_segments. */
const char *stt_speaker_key(enum stt_speaker s);

#endif
