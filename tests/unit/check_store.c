/*
 * check_store: the recording cache without Twilio — the MP3 the worker
 * encodes from a cached WAV (store_encode_mp3, store_ensure STORE_MP3),
 * store_cached, and the refill job's per-minute dedupe key (jobkey.c).
 * Needs libsndfile >= 1.1 built with LAME and mpg123 (Debian 12's 1.2.0 is).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "jobkey.h"
#include "queue.h"
#include "store.h"

#define RSID "RE0123456789abcdef0123456789abcdef"
#define CSID "CA0123456789abcdef0123456789abcdef"

static char tmpdir[64];
static struct cp_conf conf;

static void
setup(void)
{
	memset(&conf, 0, sizeof(conf));
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/check-store.XXXXXX");
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
	conf.recording.cache_dir = tmpdir;
}

static void
teardown(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char p[512];

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		(void)unlink(p);
	}
	if (d != NULL)
		closedir(d);
	(void)rmdir(tmpdir);
}

/* Files in tmpdir whose name starts with prefix. */
static int
count_files(const char *prefix)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/*
 * The cache's WAV of RSID: seconds long at rate Hz, 16-bit PCM, channels
 * channels; channel 0 a 440 Hz tone at half scale, the others silent — as
 * a call whose agent never spoke.
 */
static void
write_wav(int channels, int rate, double seconds)
{
	char path[512];
	SF_INFO info;
	SNDFILE *sf;
	sf_count_t frames = (sf_count_t)(seconds * rate);
	float buf[3];

	ck_assert(channels >= 1 && channels <= 3);
	(void)snprintf(path, sizeof(path), "%s/%s.wav", tmpdir, RSID);
	memset(&info, 0, sizeof(info));
	info.channels = channels;
	info.samplerate = rate;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	sf = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(sf != NULL, "sf_open(w) %s: %s", path, sf_strerror(NULL));
	for (sf_count_t i = 0; i < frames; i++) {
		buf[0] = 0.5f * (float)sin(2 * M_PI * 440.0 * (double)i / rate);
		buf[1] = buf[2] = 0.0f;
		ck_assert(sf_writef_float(sf, buf, 1) == 1);
	}
	ck_assert_int_eq(sf_close(sf), 0);
}

/* Decodes path: its info, and each of the first two channels' RMS. */
static void
decode(const char *path, SF_INFO *info, double rms[2])
{
	SNDFILE *sf;
	float buf[2 * 1024];
	double sum[2] = { 0, 0 };
	sf_count_t n, total = 0;

	memset(info, 0, sizeof(*info));
	sf = sf_open(path, SFM_READ, info);
	ck_assert_msg(sf != NULL, "sf_open(r) %s: %s", path, sf_strerror(NULL));
	ck_assert(info->channels >= 1 && info->channels <= 2);
	while ((n = sf_readf_float(sf, buf, 1024)) > 0) {
		for (sf_count_t i = 0; i < n; i++)
			for (int c = 0; c < info->channels; c++)
				sum[c] += (double)buf[i * info->channels + c] *
				    buf[i * info->channels + c];
		total += n;
	}
	sf_close(sf);
	ck_assert(total > 0);
	rms[0] = sqrt(sum[0] / (double)total);
	rms[1] = sqrt(sum[1] / (double)total);
}

/* A 2-channel 8 kHz WAV, as Twilio sends a dual-channel recording, comes
 * back from its MP3 as long (within 0.1 s), with both channels, and the
 * silent agent channel still silent: the encode does not mix down. */
START_TEST(test_mp3_keeps_duration_and_channels)
{
	char path[512], err[CP_REASON_MAX + 1] = "";
	long long bytes = -1;
	double rms[2], seconds;
	SF_INFO info;
	struct stat st;

	write_wav(2, 8000, 3.0);
	ck_assert_int_eq(store_encode_mp3(&conf, RSID, path, sizeof(path),
	    &bytes, err, sizeof(err)), CP_OK);
	ck_assert_msg(bytes > 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(path, RSID ".mp3"));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq((long long)st.st_size, bytes);
	/* Group-readable for nginx, like the fetched WAV. */
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	decode(path, &info, rms);
	ck_assert_int_eq(info.format & SF_FORMAT_TYPEMASK, SF_FORMAT_MPEG);
	ck_assert_int_eq(info.channels, 2);
	ck_assert_int_eq(info.samplerate, 8000);
	seconds = (double)info.frames / info.samplerate;
	ck_assert_msg(fabs(seconds - 3.0) <= 0.1, "decoded %.3f s of 3.000",
	    seconds);
	/* A 0.5-scale sine has RMS 0.354; 32 kbit/s keeps ~0.34. 3 dB lower
	 * (0.25) is libsndfile's short path, which store.c must not take. */
	ck_assert_msg(rms[0] > 0.30 && rms[0] < 0.40, "caller RMS %.3f", rms[0]);
	ck_assert_msg(rms[1] < 0.02, "agent RMS %.3f: channels mixed", rms[1]);
	/* Constant 32 kbit/s: 12,000 bytes of frames for 3 s, plus LAME's
	 * header frame and the encoder delay's padding. */
	ck_assert_msg(bytes >= 12000 && bytes <= 13500, "mp3 is %lld bytes "
	    "(%.1f kbit/s), not 32 kbit/s", bytes, bytes * 8 / 3.0 / 1000);
	ck_assert_int_eq(count_files(".tmp-"), 0);
}
END_TEST

START_TEST(test_mp3_mono)
{
	char path[512], err[CP_REASON_MAX + 1] = "";
	long long bytes = -1;
	double rms[2];
	SF_INFO info;

	write_wav(1, 8000, 1.5);
	ck_assert_int_eq(store_encode_mp3(&conf, RSID, path, sizeof(path),
	    &bytes, err, sizeof(err)), CP_OK);
	decode(path, &info, rms);
	ck_assert_int_eq(info.channels, 1);
	ck_assert(fabs((double)info.frames / info.samplerate - 1.5) <= 0.1);
}
END_TEST

/* MPEG holds at most 2 channels: refused, nothing left in the cache. */
START_TEST(test_mp3_three_channels_refused)
{
	char path[512], err[CP_REASON_MAX + 1] = "";
	long long bytes = -1, b;

	write_wav(3, 8000, 0.5);
	ck_assert_int_eq(store_encode_mp3(&conf, RSID, path, sizeof(path),
	    &bytes, err, sizeof(err)), CP_SYSTEM);
	ck_assert_ptr_nonnull(strstr(err, "3 channels"));
	ck_assert_int_eq(bytes, 0);
	ck_assert_int_eq(store_cached(&conf, RSID, STORE_MP3, path,
	    sizeof(path), &b), CP_NOTFOUND);
	ck_assert_int_eq(count_files(".tmp-"), 0);
}
END_TEST

START_TEST(test_mp3_without_wav)
{
	char path[512], err[CP_REASON_MAX + 1] = "";
	long long bytes = -1;

	ck_assert_int_eq(store_encode_mp3(&conf, RSID, path, sizeof(path),
	    &bytes, err, sizeof(err)), CP_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err, "no cached WAV"));
	ck_assert_int_eq(store_encode_mp3(&conf, "RE../../etc/passwd", path,
	    sizeof(path), &bytes, err, sizeof(err)), CP_INPUT);
	ck_assert_int_eq(count_files(""), 2);   /* "." and ".." only */
}
END_TEST

/* STORE_MP3 never goes to Twilio: with the WAV cached and no URL (no
 * Twilio configured at all) it encodes; a second call finds it cached. */
START_TEST(test_ensure_mp3_encodes_from_cached_wav)
{
	char path[512], err[CP_REASON_MAX + 1] = "";
	long long bytes = -1, again = -1;
	struct stat st1, st2;

	write_wav(2, 8000, 1.0);
	ck_assert_int_eq(store_ensure(&conf, NULL, RSID, STORE_MP3, 1000, path,
	    sizeof(path), &bytes, err, sizeof(err)), CP_OK);
	ck_assert_ptr_nonnull(strstr(path, ".mp3"));
	ck_assert(bytes > 0);
	ck_assert_int_eq(stat(path, &st1), 0);
	ck_assert_int_eq(store_ensure(&conf, NULL, RSID, STORE_MP3, 1000, path,
	    sizeof(path), &again, err, sizeof(err)), CP_OK);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert_int_eq(again, bytes);
	ck_assert(st1.st_ino == st2.st_ino);   /* not encoded twice */
}
END_TEST

/* No WAV and a URL that is not this account's: refused before any fetch
 * (STORE_MP3 asks for the WAV, never for Twilio's MP3). */
START_TEST(test_ensure_mp3_without_wav_refuses_foreign_url)
{
	char path[512], err[CP_REASON_MAX + 1] = "";
	long long bytes = -1;

	conf.twilio.api_base = "https://api.twilio.com";
	conf.twilio.account_sid = "AC0123456789abcdef0123456789abcdef";
	ck_assert_int_eq(store_ensure(&conf, "https://evil.example/x", RSID,
	    STORE_MP3, 1000, path, sizeof(path), &bytes, err, sizeof(err)),
	    CP_INPUT);
	ck_assert_int_eq(count_files(""), 2);
}
END_TEST

START_TEST(test_cached_present_absent_bad_sid)
{
	char path[512];
	long long bytes = -1;
	FILE *f;

	ck_assert_int_eq(store_cached(&conf, RSID, STORE_WAV, path,
	    sizeof(path), &bytes), CP_NOTFOUND);
	ck_assert_int_eq(bytes, 0);
	/* An empty file (an interrupted copy by hand) is not a recording. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(store_cached(&conf, RSID, STORE_WAV, path,
	    sizeof(path), &bytes), CP_NOTFOUND);
	write_wav(2, 8000, 0.25);
	ck_assert_int_eq(store_cached(&conf, RSID, STORE_WAV, path,
	    sizeof(path), &bytes), CP_OK);
	ck_assert_int_eq(bytes, 44 + 2 * 2 * 2000);
	ck_assert_ptr_nonnull(strstr(path, tmpdir));
	ck_assert_ptr_nonnull(strstr(path, RSID ".wav"));
	ck_assert_int_eq(store_cached(&conf, RSID, STORE_MP3, path,
	    sizeof(path), &bytes), CP_NOTFOUND);
	ck_assert_int_eq(store_cached(&conf, "RE0123", STORE_WAV, path,
	    sizeof(path), &bytes), CP_INPUT);
	ck_assert_int_eq(store_cached(&conf, CSID, STORE_WAV, path,
	    sizeof(path), &bytes), CP_INPUT);
	ck_assert_int_eq(store_cached(&conf, RSID, STORE_WAV, path, 10,
	    &bytes), CP_INPUT);
}
END_TEST

/* refill:<RecordingSid>:<unix minute>: the same within a minute, another
 * the next minute; a bad SID has no key. */
START_TEST(test_refill_key_per_minute)
{
	char a[QUEUE_KEY_MAX + 1], b[QUEUE_KEY_MAX + 1], c[QUEUE_KEY_MAX + 1];
	/* 2026-12-01T11:00:00Z = 1796122800 s. */
	long long t0 = 1796122800;

	ck_assert_int_eq(jobkey_minute(t0), 29935380);
	ck_assert_int_eq(jobkey_minute(t0 + 59), 29935380);
	ck_assert_int_eq(jobkey_minute(t0 + 60), 29935381);
	ck_assert_int_eq(jobkey_refill(a, sizeof(a), CSID, RSID,
	    jobkey_minute(t0)), CP_OK);
	ck_assert_str_eq(a, "refill:" RSID ":29935380");
	ck_assert_int_eq(jobkey_refill(b, sizeof(b), CSID, RSID,
	    jobkey_minute(t0 + 59)), CP_OK);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(jobkey_refill(c, sizeof(c), CSID, RSID,
	    jobkey_minute(t0 + 60)), CP_OK);
	ck_assert_str_ne(a, c);
	/* Not the fetch key: a refill never collides with the call's fetch. */
	ck_assert_int_eq(jobkey_fetch(b, sizeof(b), CSID, RSID, 0), CP_OK);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(jobkey_refill(a, sizeof(a), CSID, CSID, 1), CP_INPUT);
	ck_assert_int_eq(jobkey_refill(a, sizeof(a), CSID, RSID, -1), CP_INPUT);
	ck_assert_int_eq(jobkey_refill(a, 20, CSID, RSID, 1), CP_INPUT);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mp3_keeps_duration_and_channels);
	tcase_add_test(tc, test_mp3_mono);
	tcase_add_test(tc, test_mp3_three_channels_refused);
	tcase_add_test(tc, test_mp3_without_wav);
	tcase_add_test(tc, test_ensure_mp3_encodes_from_cached_wav);
	tcase_add_test(tc, test_ensure_mp3_without_wav_refuses_foreign_url);
	tcase_add_test(tc, test_cached_present_absent_bad_sid);
	tcase_add_test(tc, test_refill_key_per_minute);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
