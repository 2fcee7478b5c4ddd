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

/* Does the file hold at least one audio frame? A WAV must; MP3 frames are
 * counted by libsndfile too when it was built with MPEG support. */
static enum cp_err
store_check_audio(const char *path, enum store_format fmt, long long size,
    char *err, size_t errlen)
{
	SF_INFO info;
	SNDFILE *sf;

	if (size == 0) {
		cp_fmt(err, errlen, "no audio: Twilio sent an empty file");
		return CP_NOAUDIO;
	}
	memset(&info, 0, sizeof(info));
	if ((sf = sf_open(path, SFM_READ, &info)) == NULL) {
		if (fmt == STORE_MP3)
			return CP_OK;   /* libsndfile without MPEG: size decides */
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
		cp_fmt(err, errlen, "no audio: Twilio sent a header-only %s "
		    "(%lld bytes, 0 frames)", fmt == STORE_MP3 ? "MP3" : "WAV",
		    size);
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

static enum cp_err
store_fetch(const struct cp_conf *conf, const char *url, const char *path,
    enum store_format fmt, long timeout_ms, long long *bytes, char *err,
    size_t errlen)
{
	char tmp[4096];
	FILE *f;
	int fd, n;
	long status = 0;
	enum cp_err rc;
	struct stat st;

	n = snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-XXXXXX",
	    conf->recording.cache_dir, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CP_INPUT;
	if ((fd = mkstemp(tmp)) < 0) {
		cp_fmt(err, errlen, "cache %s: %s", conf->recording.cache_dir,
		    strerror(errno));
		return CP_SYSTEM;
	}
	/* Group-readable: nginx (the cache_dir's group, setgid) serves it. */
	(void)fchmod(fd, 0640);
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
		rc = store_check_audio(tmp, fmt, (long long)st.st_size, err,
		    errlen);
	if (rc == CP_OK && rename(tmp, path) != 0) {
		cp_fmt(err, errlen, "cache rename: %s", strerror(errno));
		rc = CP_SYSTEM;
	}
	if (rc != CP_OK) {
		unlink(tmp);
		return rc;
	}
	store_fsync_dir(conf->recording.cache_dir);
	*bytes = (long long)st.st_size;
	log_info("store: fetched %s (%lld bytes)", path, *bytes);
	return CP_OK;
}

enum cp_err
store_ensure(const struct cp_conf *conf, const char *recording_url,
    const char *recording_sid, enum store_format fmt, long timeout_ms,
    char *path, size_t pathlen, long long *bytes, char *err, size_t errlen)
{
	char url[1200];
	struct stat st;

	*bytes = 0;
	if (store_path(conf, recording_sid, fmt, path, pathlen) != CP_OK) {
		cp_fmt(err, errlen, "bad recording sid");
		return CP_INPUT;
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		*bytes = (long long)st.st_size;
		return CP_OK;
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
	return store_fetch(conf, url, path, fmt, timeout_ms, bytes, err, errlen);
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
