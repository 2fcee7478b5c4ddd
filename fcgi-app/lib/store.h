/*
 * store.h: the recording cache, the one source of truth for recording
 * bytes. The worker's fetch_recording job and the download route both go
 * through store_ensure, so both serve exactly the same file.
 *
 * Files: recording.cache_dir/<RecordingSid>.wav (2 channels, as Twilio
 * sends with ?RequestedChannels=2) and <RecordingSid>.mp3. Only the WAV
 * comes from Twilio; the MP3 is encoded here from the cached WAV
 * (store_encode_mp3, libsndfile's MPEG Layer III writer), so both files
 * hold the same audio and a recording is fetched once. A file appears
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

/* The format named s ("wav" or "mp3", as store_ext names them) into *fmt.
 * CP_OK, or CP_INPUT for NULL or any other name. */
enum cp_err store_format_parse(const char *s, enum store_format *fmt);
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
 * Is the recording's fmt file in the cache (a regular file of at least one
 * byte)? Looks at the file system only: never fetches, never encodes.
 * path (pathlen bytes) gets the file's path, *bytes its size in bytes (0
 * when absent). Returns CP_OK (present); CP_NOTFOUND (absent, or not
 * readable by this process); CP_INPUT (recording_sid is not RE + 32 hex,
 * or the path does not fit pathlen).
 */
enum cp_err store_cached(const struct cp_conf *conf,
    const char *recording_sid, enum store_format fmt, char *path,
    size_t pathlen, long long *bytes);

/*
 * Makes sure the recording is in the cache. STORE_WAV: fetched from Twilio
 * with the account's HTTP Basic auth when it is not (timeout_ms bounds the
 * fetch). STORE_MP3: never fetched from Twilio; the WAV is ensured as
 * above, then the MP3 is encoded from it (store_encode_mp3) when it is not
 * cached yet. path (pathlen bytes) gets the fmt file's path, *bytes its
 * size in bytes.
 * Returns CP_OK; CP_INPUT (URL or SID not acceptable: never retried);
 * CP_AGAIN (Twilio answered 404: not processed yet, retry later);
 * CP_UPSTREAM (no answer, timeout, another status, not audio);
 * CP_NOAUDIO (empty or header-only file: a permanent failure, nothing is
 * stored); CP_SYSTEM (cache directory not writable, MP3 encode failed);
 * CP_NOMEM. err (errlen bytes) gets a one-line reason on error.
 */
enum cp_err store_ensure(const struct cp_conf *conf,
    const char *recording_url, const char *recording_sid,
    enum store_format fmt, long timeout_ms, char *path, size_t pathlen,
    long long *bytes, char *err, size_t errlen);

/*
 * Encodes recording.cache_dir/<recording_sid>.mp3 from the cached
 * <recording_sid>.wav with libsndfile (>= 1.1: SF_FORMAT_MPEG |
 * SF_FORMAT_MPEG_LAYER_III, LAME underneath), keeping the WAV's sample
 * rate (8000 Hz from Twilio: MPEG-2.5) and its channels (1 or 2: Twilio's
 * dual-channel recording stays caller left, agent right), at a constant
 * 32 kbit/s for 8 kHz (about 4 kB a second of call). Written to a
 * temporary file in the cache directory, fsync'd, then renamed over any
 * older MP3. path (pathlen bytes) gets the MP3's path, *bytes its size in
 * bytes. Returns CP_OK; CP_INPUT (bad SID, path too long); CP_NOTFOUND (no
 * cached WAV); CP_SYSTEM (WAV unreadable or more than 2 channels, this
 * libsndfile cannot write MPEG, a write, fsync or rename failed; nothing
 * is left behind). err (errlen bytes) gets a one-line reason on error.
 */
enum cp_err store_encode_mp3(const struct cp_conf *conf,
    const char *recording_sid, char *path, size_t pathlen, long long *bytes,
    char *err, size_t errlen);

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
