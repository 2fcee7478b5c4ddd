/*
 * store.c: the recording cache (see store.h). Twilio's WAV is fetched
 * into a temporary file and renamed into place; the MP3 is encoded from
 * that WAV the same way.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sid.h"
#include "twilio_api.h"

const char *
store_ext(enum store_format fmt)
{
	return fmt == STORE_MP3 ? "mp3" : "wav";
}

enum cp_err
store_format_parse(const char *s, enum store_format *fmt)
{
	if (s != NULL && strcmp(s, "wav") == 0)
		*fmt = STORE_WAV;
	else if (s != NULL && strcmp(s, "mp3") == 0)
		*fmt = STORE_MP3;
	else
		return CP_INPUT;
	return CP_OK;
}

const char *
store_content_type(enum store_format fmt)
{
	return fmt == STORE_MP3 ? "audio/mpeg" : "audio/wav";
}

enum cp_err
store_recording_url(const struct cp_conf *conf, const char *recording_sid,
    char *out, size_t outlen)
{
	int n;

	if (!sid_valid(recording_sid, "RE"))
		return CP_INPUT;
	n = snprintf(out, outlen, "%s/2010-04-01/Accounts/%s/Recordings/%s",
	    conf->twilio.api_base, conf->twilio.account_sid, recording_sid);
	return (n < 0 || (size_t)n >= outlen) ? CP_INPUT : CP_OK;
}

enum cp_err
store_media_url(const struct cp_conf *conf, const char *recording_url,
    const char *recording_sid, enum store_format fmt, char *out,
    size_t outlen)
{
	char want[1024];
	int n;

	if (recording_url == NULL || store_recording_url(conf, recording_sid,
	    want, sizeof(want)) != CP_OK || strcmp(recording_url, want) != 0)
		return CP_INPUT;
	n = snprintf(out, outlen, "%s.%s?RequestedChannels=2", want,
	    store_ext(fmt));
	return (n < 0 || (size_t)n >= outlen) ? CP_INPUT : CP_OK;
}

enum cp_err
store_path(const struct cp_conf *conf, const char *recording_sid,
    enum store_format fmt, char *out, size_t outlen)
{
	int n;

	if (!sid_valid(recording_sid, "RE"))
		return CP_INPUT;
	n = snprintf(out, outlen, "%s/%s.%s", conf->recording.cache_dir,
	    recording_sid, store_ext(fmt));
	return (n < 0 || (size_t)n >= outlen) ? CP_INPUT : CP_OK;
}

/* Does the fetched WAV hold at least one audio frame? (Only the WAV is
 * fetched: the MP3 is encoded here.) */
static enum cp_err
store_check_audio(const char *path, long long size, char *err,
    size_t errlen)
{
	SF_INFO info;
	SNDFILE *sf;

	if (size == 0) {
		cp_fmt(err, errlen, "no audio: Twilio sent an empty file");
		return CP_NOAUDIO;
	}
	memset(&info, 0, sizeof(info));
	if ((sf = sf_open(path, SFM_READ, &info)) == NULL) {
		/* A 44-byte RIFF header with no data chunk content. */
		if (size <= 44) {
			cp_fmt(err, errlen, "no audio: Twilio sent a header-only "
			    "WAV (%lld bytes)", size);
			return CP_NOAUDIO;
		}
		cp_fmt(err, errlen, "recording is not a WAV file: %s",
		    sf_strerror(NULL));
		return CP_UPSTREAM;
	}
	sf_close(sf);
	if (info.frames <= 0) {
		cp_fmt(err, errlen, "no audio: Twilio sent a header-only WAV "
		    "(%lld bytes, 0 frames)", size);
		return CP_NOAUDIO;
	}
	return CP_OK;
}

static void
store_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* A new temporary file in the cache directory (tmp, tmplen bytes, gets
 * its name), group-readable: nginx (the cache_dir's group, setgid) serves
 * what it becomes. *fd gets it open for writing. */
static enum cp_err
store_tmp_open(const struct cp_conf *conf, char *tmp, size_t tmplen,
    int *fd, char *err, size_t errlen)
{
	int n = snprintf(tmp, tmplen, "%s/.tmp-%ld-XXXXXX",
	    conf->recording.cache_dir, (long)getpid());

	if (n < 0 || (size_t)n >= tmplen)
		return CP_INPUT;
	if ((*fd = mkstemp(tmp)) < 0) {
		cp_fmt(err, errlen, "cache %s: %s", conf->recording.cache_dir,
		    strerror(errno));
		return CP_SYSTEM;
	}
	(void)fchmod(*fd, 0640);
	return CP_OK;
}

/* The written, fsync'd temporary file becomes path; then the directory
 * entry is made durable too. */
static enum cp_err
store_commit(const struct cp_conf *conf, const char *tmp, const char *path,
    char *err, size_t errlen)
{
	if (rename(tmp, path) != 0) {
		cp_fmt(err, errlen, "cache rename: %s", strerror(errno));
		unlink(tmp);
		return CP_SYSTEM;
	}
	store_fsync_dir(conf->recording.cache_dir);
	return CP_OK;
}

/* Twilio's WAV at url into path (see store_ensure for the errors). */
static enum cp_err
store_fetch(const struct cp_conf *conf, const char *url, const char *path,
    long timeout_ms, long long *bytes, char *err, size_t errlen)
{
	char tmp[4096];
	FILE *f;
	int fd;
	long status = 0;
	enum cp_err rc;
	struct stat st;

	if ((rc = store_tmp_open(conf, tmp, sizeof(tmp), &fd, err, errlen)) !=
	    CP_OK)
		return rc;
	if ((f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		unlink(tmp);
		return CP_SYSTEM;
	}
	rc = twilio_fetch_media(conf, url, f, timeout_ms, STORE_MAX_BYTES,
	    &status, err, errlen);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		if (rc == CP_OK) {
			cp_fmt(err, errlen, "cache write: %s", strerror(errno));
			rc = CP_SYSTEM;
		}
	}
	fclose(f);
	if (rc == CP_OK && status == 404) {
		cp_fmt(err, errlen, "recording media not available yet "
		    "(Twilio answered 404)");
		rc = CP_AGAIN;
	} else if (rc == CP_OK && status != 200) {
		cp_fmt(err, errlen, "recording media: Twilio answered HTTP %ld",
		    status);
		rc = CP_UPSTREAM;
	}
	if (rc == CP_OK && stat(tmp, &st) != 0)
		rc = CP_SYSTEM;
	if (rc == CP_OK)
		rc = store_check_audio(tmp, (long long)st.st_size, err, errlen);
	if (rc != CP_OK) {
		unlink(tmp);
		return rc;
	}
	if ((rc = store_commit(conf, tmp, path, err, errlen)) != CP_OK)
		return rc;
	*bytes = (long long)st.st_size;
	log_info("store: fetched %s (%lld bytes)", path, *bytes);
	return CP_OK;
}

enum cp_err
store_cached(const struct cp_conf *conf, const char *recording_sid,
    enum store_format fmt, char *path, size_t pathlen, long long *bytes)
{
	struct stat st;

	*bytes = 0;
	if (store_path(conf, recording_sid, fmt, path, pathlen) != CP_OK)
		return CP_INPUT;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return CP_NOTFOUND;
	*bytes = (long long)st.st_size;
	return CP_OK;
}

enum cp_err
store_ensure(const struct cp_conf *conf, const char *recording_url,
    const char *recording_sid, enum store_format fmt, long timeout_ms,
    char *path, size_t pathlen, long long *bytes, char *err, size_t errlen)
{
	char url[1200];
	enum cp_err rc;

	rc = store_cached(conf, recording_sid, fmt, path, pathlen, bytes);
	if (rc == CP_INPUT) {
		cp_fmt(err, errlen, "bad recording sid");
		return CP_INPUT;
	}
	if (rc == CP_OK)
		return CP_OK;
	if (fmt == STORE_MP3) {
		/* Never Twilio's MP3: ours, encoded from the WAV. */
		rc = store_ensure(conf, recording_url, recording_sid, STORE_WAV,
		    timeout_ms, path, pathlen, bytes, err, errlen);
		if (rc != CP_OK)
			return rc;
		return store_encode_mp3(conf, recording_sid, path, pathlen,
		    bytes, err, errlen);
	}
	if (store_media_url(conf, recording_url, recording_sid, fmt, url,
	    sizeof(url)) != CP_OK) {
		cp_fmt(err, errlen, "recording_url is not this account's "
		    "recording at the configured Twilio API");
		return CP_INPUT;
	}
	if (mkdir(conf->recording.cache_dir, 0750) != 0 && errno != EEXIST) {
		cp_fmt(err, errlen, "cache %s: %s", conf->recording.cache_dir,
		    strerror(errno));
		return CP_SYSTEM;
	}
	return store_fetch(conf, url, path, timeout_ms, bytes, err, errlen);
}

/* Frames per read/write of the encoder: 0.5 s of 8 kHz audio. */
#define STORE_ENC_FRAMES 4096
/* libsndfile's compression level for the MP3 (0 best .. 1 smallest). */
#define STORE_MP3_LEVEL 0.5

/*
 * Copies every frame of src into dst (both open); CP_OK or CP_SYSTEM.
 * As floats: libsndfile 1.2.0's short path into its MPEG encoder comes
 * out 3 dB quieter (check_store.c's level test caught it); the float
 * path keeps the level.
 */
static enum cp_err
store_copy_frames(SNDFILE *src, SNDFILE *dst, char *err, size_t errlen)
{
	float buf[STORE_ENC_FRAMES * 2];
	sf_count_t n;

	while ((n = sf_readf_float(src, buf, STORE_ENC_FRAMES)) > 0)
		if (sf_writef_float(dst, buf, n) != n) {
			cp_fmt(err, errlen, "mp3 encode: %s", sf_strerror(dst));
			return CP_SYSTEM;
		}
	if (sf_error(src) != SF_ERR_NO_ERROR) {
		cp_fmt(err, errlen, "mp3 encode: reading the WAV: %s",
		    sf_strerror(src));
		return CP_SYSTEM;
	}
	return CP_OK;
}

/* Encodes the open WAV src (its info in in) into fd as MPEG Layer III. */
static enum cp_err
store_encode_fd(SNDFILE *src, const SF_INFO *in, int fd, char *err,
    size_t errlen)
{
	SF_INFO out;
	SNDFILE *dst;
	int mode = SF_BITRATE_MODE_CONSTANT;
	double level = STORE_MP3_LEVEL;
	enum cp_err rc;

	memset(&out, 0, sizeof(out));
	out.samplerate = in->samplerate;
	out.channels = in->channels;
	out.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
	if (in->channels < 1 || in->channels > 2) {
		cp_fmt(err, errlen, "mp3 encode: the WAV has %d channels, MPEG "
		    "holds 1 or 2", in->channels);
		return CP_SYSTEM;
	}
	if (!sf_format_check(&out)) {
		cp_fmt(err, errlen, "mp3 encode: this libsndfile cannot write "
		    "MPEG Layer III at %d Hz, %d channels (built without LAME?)",
		    in->samplerate, in->channels);
		return CP_SYSTEM;
	}
	/* close_desc false: the caller fsyncs fd after libsndfile's last
	 * write (the Xing/LAME header is rewritten at sf_close). */
	if ((dst = sf_open_fd(fd, SFM_WRITE, &out, SF_FALSE)) == NULL) {
		cp_fmt(err, errlen, "mp3 encode: %s", sf_strerror(NULL));
		return CP_SYSTEM;
	}
	/* Constant bit rate, so a byte offset is a time and nginx's Range
	 * answers seek a player exactly; level 0.5 is 32 kbit/s at 8 kHz
	 * (MPEG-2.5, LAME's 8..64 kbit/s), as much as a telephone channel
	 * holds (libsndfile's default, VBR, spent up to ~64 kbit/s on
	 * noisy 8 kHz audio). Both are settings, not errors: libsndfile
	 * 1.2.0 answers SFC_SET_BITRATE_MODE with 0 even when it took it,
	 * and its defaults still encode. check_store.c pins the bit rate. */
	(void)sf_command(dst, SFC_SET_BITRATE_MODE, &mode, sizeof(mode));
	(void)sf_command(dst, SFC_SET_COMPRESSION_LEVEL, &level, sizeof(level));
	rc = store_copy_frames(src, dst, err, errlen);
	if (sf_close(dst) != 0 && rc == CP_OK) {
		cp_fmt(err, errlen, "mp3 encode: closing: %s", sf_strerror(NULL));
		rc = CP_SYSTEM;
	}
	return rc;
}

enum cp_err
store_encode_mp3(const struct cp_conf *conf, const char *recording_sid,
    char *path, size_t pathlen, long long *bytes, char *err, size_t errlen)
{
	char wav[4096], tmp[4096];
	long long wav_bytes;
	SF_INFO in;
	SNDFILE *src;
	struct stat st;
	enum cp_err rc;
	int fd;

	*bytes = 0;
	if (store_path(conf, recording_sid, STORE_MP3, path, pathlen) != CP_OK) {
		cp_fmt(err, errlen, "bad recording sid");
		return CP_INPUT;
	}
	if ((rc = store_cached(conf, recording_sid, STORE_WAV, wav, sizeof(wav),
	    &wav_bytes)) != CP_OK) {
		cp_fmt(err, errlen, "mp3 encode: no cached WAV of %s",
		    recording_sid);
		return rc;
	}
	memset(&in, 0, sizeof(in));
	if ((src = sf_open(wav, SFM_READ, &in)) == NULL) {
		cp_fmt(err, errlen, "mp3 encode: %s: %s", wav, sf_strerror(NULL));
		return CP_SYSTEM;
	}
	if ((rc = store_tmp_open(conf, tmp, sizeof(tmp), &fd, err, errlen)) !=
	    CP_OK) {
		sf_close(src);
		return rc;
	}
	rc = store_encode_fd(src, &in, fd, err, errlen);
	sf_close(src);
	if (rc == CP_OK && (fsync(fd) != 0 || fstat(fd, &st) != 0)) {
		cp_fmt(err, errlen, "mp3 encode: cache write: %s",
		    strerror(errno));
		rc = CP_SYSTEM;
	}
	if (rc == CP_OK && st.st_size <= 0) {
		cp_fmt(err, errlen, "mp3 encode: the encoder wrote nothing");
		rc = CP_SYSTEM;
	}
	close(fd);
	if (rc != CP_OK) {
		unlink(tmp);
		return rc;
	}
	if ((rc = store_commit(conf, tmp, path, err, errlen)) != CP_OK)
		return rc;
	*bytes = (long long)st.st_size;
	log_info("store: encoded %s (%lld bytes) from %s (%lld bytes)", path,
	    *bytes, wav, wav_bytes);
	return CP_OK;
}

enum cp_err
store_audio_seconds(const char *path, double *seconds)
{
	SF_INFO info;
	SNDFILE *sf;

	memset(&info, 0, sizeof(info));
	*seconds = 0;
	if ((sf = sf_open(path, SFM_READ, &info)) == NULL)
		return CP_INPUT;
	sf_close(sf);
	if (info.samplerate <= 0 || info.frames < 0)
		return CP_INPUT;
	*seconds = (double)info.frames / info.samplerate;
	return CP_OK;
}

enum cp_err
store_sweep_tmp(const struct cp_conf *conf, long max_age_s, int *removed)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char path[4096];
	time_t now = time(NULL);

	*removed = 0;
	if ((d = opendir(conf->recording.cache_dir)) == NULL)
		return errno == ENOENT ? CP_OK : CP_SYSTEM;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		cp_fmt(path, sizeof(path), "%s/%s", conf->recording.cache_dir,
		    de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > max_age_s && unlink(path) == 0)
			(*removed)++;
	}
	closedir(d);
	return CP_OK;
}
