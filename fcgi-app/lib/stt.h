/*
 * stt.h: speech to text of a stored recording.
 *
 * A Twilio dual-channel recording has the caller on channel 1 and the agent
 * on channel 2 (TWILIO.md "Dual channel"). Each channel is transcribed on
 * its own and the words are merged by time into speaker-labelled lines.
 */
#ifndef CP_STT_H
#define CP_STT_H

#include <stddef.h>
#include "conf.h"
#include "cp_err.h"

enum stt_speaker { STT_CALLER = 1, STT_AGENT = 2 };

struct stt_segment {
	enum stt_speaker speaker;
	double           start_s;  /* seconds from the start of the recording */
	double           end_s;
	char            *text;     /* UTF-8, no leading or trailing space */
};

struct stt_result {
	char              *channel_text[2];   /* raw text per channel ("" if silent) */
	int                nchannels;         /* 1 or 2 */
	struct stt_segment *segs;             /* sorted by start_s */
	size_t              nsegs;
	char *final_transcript;  /* "Caller: ...\nAgent: ...\n" merged by time */
	char *transcription;     /* JSON {"caller": "...", "agent": "..."} */
	char *segments_json;     /* JSON [{"speaker":"caller","start":0.52,"end":1.9,"text":"..."}] */
};

/*
 * Transcribes the WAV file at wav_path (any rate libsndfile reads; resampled
 * to the model's rate when it differs) with the configured stt.backend.
 * Returns CP_OK; CP_NOAUDIO when the file holds no frames; CP_EMPTY when no
 * words were recognised on any channel (a failure); CP_INPUT when the file
 * is not audio libsndfile can read or has more than 2 channels; CP_SYSTEM
 * when the backend cannot start (model files missing) or is not built in;
 * CP_NOMEM. err (errlen bytes) gets a one-line reason on error.
 * Free *out with stt_result_free.
 */
enum cp_err stt_transcribe_file(const struct cp_conf *conf,
    const char *wav_path, struct stt_result *out, char *err, size_t errlen);

/* Frees everything in r; r may be zeroed. */
void stt_result_free(struct stt_result *r);

#endif
