/*
 * store.h: the recording cache, the one source of truth for recording
 * bytes. The worker's fetch_recording job and the download route both go
 * through store_ensure, so both serve exactly the same file.
 *
 * Files: recording.cache_dir/<RecordingSid>.wav (2 channels, as Twilio
 * sends with ?RequestedChannels=2) and <RecordingSid>.mp3. A file appears
 * only complete: it is written to a temporary file in the same directory,
 * fsync'd, then renamed (rename(2) is atomic within a file system).
 */
#ifndef CP_STORE_H
#define CP_STORE_H

#include <stddef.h>
#include "conf.h"
#include "cp_err.h"

enum store_format { STORE_WAV = 0, STORE_MP3 };

#define STORE_MAX_BYTES (512LL * 1024 * 1024)  /* larger media is refused */

/* "wav" / "mp3" and "audio/wav" / "audio/mpeg". */
const char *store_ext(enum store_format fmt);
const char *store_content_type(enum store_format fmt);

/*
 * The media URL for a recording: recording_url + ".wav" or ".mp3" +
 * "?RequestedChannels=2" (TWILIO.md "Recording media": without it a dual
 * recording is mixed down to mono). recording_url must be exactly
 * twilio.api_base + "/2010-04-01/Accounts/" + twilio.account_sid +
 * "/Recordings/" + recording_sid, so callpipe never fetches a URL a request
 * made up. Returns CP_OK, or CP_INPUT when the URL is not that.
 */
enum cp_err store_media_url(const struct cp_conf *conf,
    const char *recording_url, const char *recording_sid,
    enum store_format fmt, char *out, size_t outlen);

/*
 * The Recording resource URL of recording_sid in this account, without an
 * extension: twilio.api_base + "/2010-04-01/Accounts/" + account_sid +
 * "/Recordings/" + recording_sid (TWILIO.md; the RecordingUrl Twilio
 * sends). CP_OK, or CP_INPUT (bad SID, or it does not fit outlen bytes).
 */
enum cp_err store_recording_url(const struct cp_conf *conf,
    const char *recording_sid, char *out, size_t outlen);

/* The cache path of a recording into out. CP_OK or CP_INPUT (bad SID). */
enum cp_err store_path(const struct cp_conf *conf, const char *recording_sid,
    enum store_format fmt, char *out, size_t outlen);

/*
 * Makes sure the recording is in the cache, fetching it from Twilio with
 * the account's HTTP Basic auth when it is not (timeout_ms bounds the
 * fetch). path (pathlen bytes) gets the file's path, *bytes its size.
 * Returns CP_OK; CP_INPUT (URL or SID not acceptable: never retried);
 * CP_AGAIN (Twilio answered 404: not processed yet, retry later);
 * CP_UPSTREAM (no answer, timeout, another status, not audio);
 * CP_NOAUDIO (empty or header-only file: a permanent failure, nothing is
 * stored); CP_SYSTEM (cache directory not writable); CP_NOMEM.
 * err (errlen bytes) gets a one-line reason on error.
 */
enum cp_err store_ensure(const struct cp_conf *conf,
    const char *recording_url, const char *recording_sid,
    enum store_format fmt, long timeout_ms, char *path, size_t pathlen,
    long long *bytes, char *err, size_t errlen);

/* Length of the audio file at path in seconds (frames / sample rate, as
 * libsndfile reads its header). CP_OK or CP_INPUT (not readable audio). */
enum cp_err store_audio_seconds(const char *path, double *seconds);

/*
 * Removes temporary files (".tmp-*") older than max_age_s seconds from the
 * cache directory: the leftovers of a process killed while downloading.
 * *removed gets the count. CP_OK, or CP_SYSTEM when the directory cannot
 * be read.
 */
enum cp_err store_sweep_tmp(const struct cp_conf *conf, long max_age_s,
    int *removed);

#endif
