/*
 * check_stt.c: speech to text (stt.c, stt_audio.c, stt_pocketsphinx.c).
 *
 * Real audio only: human speech from Debian's pocketsphinx-testdata
 * (librivox recordings with a reference transcription) for the word error
 * rate, and speech synthesised at test time with flite and placed on a
 * time line with sox for the timing and channel tests. flite, sox and
 * pocketsphinx-testdata are installed by the project's setup; when one is
 * missing the test fails and names the Debian package.
 */
#include "config.h"

#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <sndfile.h>

#include "conf.h"
#include "cp_err.h"
#include "stt.h"
#include "stt_audio.h"

extern char **environ;

#ifndef PSPHINX_MODELDIR
#define PSPHINX_MODELDIR "/usr/share/pocketsphinx/model"
#endif
#define LIBRIVOX_DIR "/usr/share/pocketsphinx/test/data/librivox"

/* Largest acceptable word error rate on the librivox set. */
#define WER_MAX 0.40
/* Largest acceptable error of a segment's start time (seconds). */
#define ONSET_TOL_S 0.3

static char tmpdir[64];
static struct cp_conf conf;

static void
setup(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.stt.backend = "pocketsphinx";
	conf.stt.ps_hmm = PSPHINX_MODELDIR "/en-us/en-us";
	conf.stt.ps_lm = PSPHINX_MODELDIR "/en-us/en-us.lm.bin";
	conf.stt.ps_dict = PSPHINX_MODELDIR "/en-us/cmudict-en-us.dict";
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/check-stt.XXXXXX");
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

/* Runs argv (PATH searched); returns its exit status, -1 if it did not run. */
static int
run(const char *const argv[])
{
	pid_t pid;
	int   st;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv,
	    environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void
teardown(void)
{
	const char *rm[] = { "rm", "-rf", tmpdir, NULL };

	if (tmpdir[0] != '\0')
		(void)run(rm);
}

/* Fails the test naming the Debian package when a tool is missing. */
static void
need_tool(const char *tool, const char *package)
{
	char        cmd[128];
	const char *sh[] = { "sh", "-c", cmd, NULL };

	(void)snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	ck_assert_msg(run(sh) == 0,
	    "%s not found: install the Debian package %s (the setup script "
	    "does)", tool, package);
}

static void
need_testdata(void)
{
	struct stat st;

	ck_assert_msg(stat(LIBRIVOX_DIR "/transcription", &st) == 0,
	    LIBRIVOX_DIR "/transcription missing: install the Debian package "
	    "pocketsphinx-testdata (the setup script does)");
}

static void
need_pocketsphinx(void)
{
#ifndef HAVE_POCKETSPHINX
	ck_abort_msg("callpipe was configured without pocketsphinx: install "
	    "libpocketsphinx-dev libsphinxbase-dev libsoxr-dev "
	    "pocketsphinx-en-us and reconfigure");
#endif
}

/* tmpdir/name into buf. */
static const char *
tmp_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", tmpdir, name);

	ck_assert(n > 0 && (size_t)n < len);
	return buf;
}

/*
 * Speaks text with flite's voice into tmpdir/name: 16 kHz mono 16-bit,
 * leading silence removed (sox "silence" effect, 0.5 % threshold), so the
 * speech starts at the first sample; then lead seconds of silence before
 * it and tail after it.
 */
static void
make_speech(const char *name, const char *voice, const char *text,
    double lead, double tail, int rate)
{
	char raw[256], out[256], slead[32], stail[32], srate[32];

	need_tool("flite", "flite");
	need_tool("sox", "sox");
	tmp_path(raw, sizeof(raw), "flite-raw.wav");
	tmp_path(out, sizeof(out), name);
	(void)snprintf(slead, sizeof(slead), "%.3f", lead);
	(void)snprintf(stail, sizeof(stail), "%.3f", tail);
	(void)snprintf(srate, sizeof(srate), "%d", rate);
	{
		const char *fl[] = { "flite", "-voice", voice, "-t", text,
		    "-o", raw, NULL };
		const char *sx[] = { "sox", "-q", raw, "-r", srate, "-b", "16",
		    "-c", "1", out, "silence", "1", "0.01", "0.5%",
		    "pad", slead, stail, NULL };

		ck_assert_msg(run(fl) == 0, "flite -voice %s failed", voice);
		ck_assert_msg(run(sx) == 0, "sox failed making %s", name);
	}
}

/* Time (s) of the first sample of path above 1 % of full scale, or -1. */
static double
onset_s(const char *path)
{
	SF_INFO    info;
	SNDFILE   *sf;
	float      buf[1024];
	sf_count_t n, i, pos = 0;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	ck_assert_msg(sf != NULL, "sf_open %s: %s", path, sf_strerror(NULL));
	ck_assert_int_eq(info.channels, 1);
	while ((n = sf_readf_float(sf, buf, 1024)) > 0) {
		for (i = 0; i < n; i++)
			if (fabsf(buf[i]) > 0.01f) {
				sf_close(sf);
				return (double)(pos + i) / info.samplerate;
			}
		pos += n;
	}
	sf_close(sf);
	return -1;
}

/* Writes nframes frames of value v on each of channels channels. */
static void
write_wav(const char *path, int channels, int rate, int format,
    sf_count_t nframes, float v)
{
	SF_INFO  info;
	SNDFILE *sf;
	float    buf[256 * 3];
	sf_count_t done = 0, n;
	int      i;

	ck_assert(channels <= 3);
	for (i = 0; i < 256 * 3; i++)
		buf[i] = v;
	memset(&info, 0, sizeof(info));
	info.channels = channels;
	info.samplerate = rate;
	info.format = format;
	sf = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(sf != NULL, "sf_open(w) %s: %s", path, sf_strerror(NULL));
	while (done < nframes) {
		n = nframes - done < 256 ? nframes - done : 256;
		ck_assert(sf_writef_float(sf, buf, n) == n);
		done += n;
	}
	ck_assert_int_eq(sf_close(sf), 0);
}

/* 1 if text holds word as a whole space-separated word. */
static int
has_word(const char *text, const char *word)
{
	size_t      wl = strlen(word);
	const char *p = text;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == text || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
			return 1;
		p += wl;
	}
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- word error rate on human speech ---------------------------------- */

#define MAXW 256

/* Splits s into lower-case words (in place); returns the count. */
static size_t
split_words(char *s, char *w[], size_t max)
{
	size_t n = 0;
	char  *p = s;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = '\0';
		if (*p == '\0')
			break;
		ck_assert_msg(n < max, "too many words");
		w[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n') {
			*p = (char)tolower((unsigned char)*p);
			p++;
		}
	}
	return n;
}

/* Word-level Levenshtein distance. */
static size_t
edit_distance(char *const ref[], size_t nr, char *const hyp[], size_t nh)
{
	static size_t d[MAXW + 1][MAXW + 1];
	size_t i, j;

	ck_assert(nr <= MAXW && nh <= MAXW);
	for (i = 0; i <= nr; i++)
		d[i][0] = i;
	for (j = 0; j <= nh; j++)
		d[0][j] = j;
	for (i = 1; i <= nr; i++)
		for (j = 1; j <= nh; j++) {
			size_t sub = d[i - 1][j - 1] +
			    (strcmp(ref[i - 1], hyp[j - 1]) != 0);
			size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;

			d[i][j] = sub < del ? (sub < ins ? sub : ins) :
			    (del < ins ? del : ins);
		}
	return d[nr][nh];
}

START_TEST(test_edit_distance)
{
	char a[] = "the cat sat on the mat", b[] = "the cat sat mat on",
	    c[] = "";
	char *wa[MAXW], *wb[MAXW], *wc[MAXW];
	size_t na = split_words(a, wa, MAXW), nb = split_words(b, wb, MAXW),
	    nc = split_words(c, wc, MAXW);

	ck_assert_uint_eq(na, 6);
	ck_assert_uint_eq(edit_distance(wa, na, wa, na), 0);
	/* "on the mat" -> "mat on": the, mat deleted... 3 edits */
	ck_assert_uint_eq(edit_distance(wa, na, wb, nb), 3);
	ck_assert_uint_eq(edit_distance(wa, na, wc, nc), 6);
}
END_TEST

/*
 * The reference file has lines "<s> words </s> (utterance-id)"; the audio
 * of each is LIBRIVOX_DIR/utterance-id.wav (16 kHz mono 16-bit).
 */
START_TEST(test_wer_librivox)
{
	FILE   *f;
	char    line[2048];
	size_t  nref_total = 0, nerr_total = 0, nfiles = 0;
	double  t0, decode_s = 0, audio_s = 0;

	need_pocketsphinx();
	need_testdata();
	f = fopen(LIBRIVOX_DIR "/transcription", "r");
	ck_assert_msg(f != NULL, "open transcription: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char   *open_p = strrchr(line, '('), *close_p, *ref[MAXW],
		    *hyp[MAXW], *words[MAXW], wav[512], hyptext[2048], err[512];
		size_t  nw, nr = 0, nh, i, e;
		struct stt_result r;
		enum cp_err rc;

		if (open_p == NULL)
			continue;
		close_p = strchr(open_p, ')');
		ck_assert_msg(close_p != NULL, "bad transcription line: %s", line);
		*close_p = '\0';
		ck_assert(snprintf(wav, sizeof(wav), "%s/%s.wav", LIBRIVOX_DIR,
		    open_p + 1) < (int)sizeof(wav));
		*open_p = '\0';
		nw = split_words(line, words, MAXW);
		for (i = 0; i < nw; i++)
			if (strcmp(words[i], "<s>") != 0 &&
			    strcmp(words[i], "</s>") != 0)
				ref[nr++] = words[i];

		t0 = now_s();
		rc = stt_transcribe_file(&conf, wav, NULL, &r, NULL, err, sizeof(err));
		decode_s += now_s() - t0;
		ck_assert_msg(rc == CP_OK, "%s: %s: %s", wav, cp_strerror(rc), err);
		ck_assert_int_eq(r.nchannels, 1);
		ck_assert_ptr_nonnull(r.channel_text[0]);
		ck_assert(snprintf(hyptext, sizeof(hyptext), "%s",
		    r.channel_text[0]) < (int)sizeof(hyptext));
		if (r.nsegs > 0)
			audio_s += r.segs[r.nsegs - 1].end_s;
		stt_result_free(&r);

		nh = split_words(hyptext, hyp, MAXW);
		e = edit_distance(ref, nr, hyp, nh);
		printf("check-stt: librivox %s: %zu ref words, %zu errors\n",
		    strrchr(wav, '/') + 1, nr, e);
		nref_total += nr;
		nerr_total += e;
		nfiles++;
	}
	fclose(f);
	ck_assert_msg(nfiles >= 5, "only %zu utterances in the transcription",
	    nfiles);
	ck_assert(nref_total > 0);
	printf("check-stt: librivox WER %.3f (%zu errors / %zu words, %zu "
	    "files), decode %.2f s wall for ~%.1f s of speech\n",
	    (double)nerr_total / (double)nref_total, nerr_total, nref_total,
	    nfiles, decode_s, audio_s);
	ck_assert_msg((double)nerr_total / (double)nref_total <= WER_MAX,
	    "WER %.3f above %.2f", (double)nerr_total / (double)nref_total,
	    WER_MAX);
}
END_TEST

/*
 * A recording longer than one utterance (40 s) is decoded in pieces; the
 * words must keep their place on the time line across the cuts. The five
 * librivox files twice, 1 s of silence after each: about 60 s.
 */
START_TEST(test_long_recording_pieces)
{
	static const char *const ids[] = {
		"0870", "0880", "0890", "0920", "0930"
	};
	char        wavs[10][256], sil[256], out[256], err[512];
	const char *argv[32];
	double      offset[10], t = 0;
	struct stt_result r;
	enum cp_err rc;
	size_t      i, k, n = 0;

	need_pocketsphinx();
	need_testdata();
	need_tool("sox", "sox");
	tmp_path(sil, sizeof(sil), "sil1.wav");
	tmp_path(out, sizeof(out), "long.wav");
	{
		const char *sx[] = { "sox", "-q", "-n", "-r", "16000", "-b", "16",
		    "-c", "1", sil, "trim", "0", "1.0", NULL };
		ck_assert_msg(run(sx) == 0, "sox failed making silence");
	}
	argv[n++] = "sox";
	argv[n++] = "-q";
	for (i = 0; i < 10; i++) {
		SF_INFO info;
		SNDFILE *sf;

		ck_assert(snprintf(wavs[i], sizeof(wavs[i]), "%s/sense_and_"
		    "sensibility_01_austen_64kb-%s.wav", LIBRIVOX_DIR,
		    ids[i % 5]) < (int)sizeof(wavs[i]));
		memset(&info, 0, sizeof(info));
		sf = sf_open(wavs[i], SFM_READ, &info);
		ck_assert_msg(sf != NULL, "%s: %s", wavs[i], sf_strerror(NULL));
		ck_assert_int_eq(info.samplerate, 16000);
		sf_close(sf);
		offset[i] = t;
		t += (double)info.frames / 16000.0 + 1.0;
		argv[n++] = wavs[i];
		argv[n++] = sil;
	}
	argv[n++] = out;
	argv[n] = NULL;
	ck_assert_msg(run(argv) == 0, "sox failed joining librivox files");
	ck_assert(t > 45.0);

	rc = stt_transcribe_file(&conf, out, NULL, &r, NULL, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
	printf("check-stt: long (%.1f s): %zu segments, last ends %.2f s\n",
	    t, r.nsegs, r.nsegs ? r.segs[r.nsegs - 1].end_s : 0.0);
	ck_assert(r.segs[r.nsegs - 1].end_s <= t);
	/* Every file's speech starts ~0.2 s into it (see the WER test). */
	for (i = 0; i < 10; i++) {
		int found = 0;

		for (k = 0; k < r.nsegs; k++)
			if (fabs(r.segs[k].start_s - (offset[i] + 0.2)) <=
			    ONSET_TOL_S)
				found = 1;
		ck_assert_msg(found, "no segment starts near %.2f s (file %zu)",
		    offset[i] + 0.2, i);
	}
	for (k = 1; k < r.nsegs; k++)
		ck_assert(r.segs[k].start_s >= r.segs[k - 1].end_s);
	/* The second round is recognised like the first one. */
	ck_assert_msg(strstr(r.channel_text[0], "respectable") != NULL &&
	    strstr(strstr(r.channel_text[0], "respectable") + 1,
	    "respectable") != NULL, "%s", r.channel_text[0]);
	stt_result_free(&r);
}
END_TEST

/* ---- word timing and speakers ----------------------------------------- */

START_TEST(test_timing_after_silence)
{
	char path[256], err[512];
	struct stt_result r;
	struct json_object *j, *v;
	enum cp_err rc;
	double onset;

	need_pocketsphinx();
	make_speech("timing.wav", "slt", "Hello, I need a plumber.", 3.0, 1.0,
	    16000);
	tmp_path(path, sizeof(path), "timing.wav");
	onset = onset_s(path);
	/* The file itself: speech at 3.0 s (sox trimmed flite's lead-in). */
	ck_assert_msg(fabs(onset - 3.0) < 0.05, "speech onset %.3f s", onset);

	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
	ck_assert_int_eq(r.nchannels, 1);
	ck_assert_uint_ge(r.nsegs, 1);
	printf("check-stt: timing: speech at %.3f s, first segment %.2f-%.2f s "
	    "(error %+.3f s): %s\n", onset, r.segs[0].start_s, r.segs[0].end_s,
	    r.segs[0].start_s - onset, r.segs[0].text);
	ck_assert_msg(fabs(r.segs[0].start_s - onset) <= ONSET_TOL_S,
	    "segment starts at %.2f s, speech at %.2f s", r.segs[0].start_s,
	    onset);
	ck_assert(r.segs[0].end_s > r.segs[0].start_s);
	/* Mono: the speaker is unknown, labelled "Call". */
	ck_assert_int_eq(r.segs[0].speaker, STT_CALL);
	ck_assert_msg(strncmp(r.final_transcript, "Call: ", 6) == 0,
	    "final_transcript: %s", r.final_transcript);
	/* Mono: one line. */
	ck_assert_ptr_eq(strchr(r.final_transcript, '\n'),
	    r.final_transcript + strlen(r.final_transcript) - 1);
	j = json_tokener_parse(r.transcription);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_object_get_ex(j, "call", &v));
	ck_assert_str_eq(json_object_get_string(v), r.channel_text[0]);
	ck_assert(!json_object_object_get_ex(j, "caller", NULL));
	ck_assert(!json_object_object_get_ex(j, "agent", NULL));
	json_object_put(j);
	stt_result_free(&r);
}
END_TEST

START_TEST(test_dual_channel_merge)
{
	char c_path[256], a_path[256], d_path[256], err[512];
	struct stt_result r;
	struct json_object *j, *v, *s;
	enum cp_err rc;
	const char *nl;
	size_t i, k;
	int first_agent = -1;

	need_pocketsphinx();
	/* Both 6.5 s long: caller speaks at 0.5 s, the agent at 3.0 s. */
	make_speech("caller.wav", "slt", "Hello, I need a plumber.", 0.5, 0, 16000);
	make_speech("agent.wav", "kal16", "Thank you for calling.", 3.0, 0, 16000);
	tmp_path(c_path, sizeof(c_path), "caller.wav");
	tmp_path(a_path, sizeof(a_path), "agent.wav");
	tmp_path(d_path, sizeof(d_path), "dual.wav");
	{
		/* sox -M: first input becomes channel 1; -V1: no length warning. */
		const char *sx[] = { "sox", "-q", "-V1", "-M", c_path, a_path,
		    d_path, "pad", "0", "1", NULL };
		ck_assert_msg(run(sx) == 0, "sox -M failed");
	}
	ck_assert(fabs(onset_s(c_path) - 0.5) < 0.05);
	ck_assert(fabs(onset_s(a_path) - 3.0) < 0.05);

	rc = stt_transcribe_file(&conf, d_path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
	printf("check-stt: dual:\n%s", r.final_transcript);
	ck_assert_int_eq(r.nchannels, 2);

	/* Merge order and labels: the caller's line first, then the agent's. */
	ck_assert_msg(strncmp(r.final_transcript, "Caller: ", 8) == 0,
	    "final_transcript: %s", r.final_transcript);
	nl = strchr(r.final_transcript, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_msg(strncmp(nl + 1, "Agent: ", 7) == 0,
	    "final_transcript: %s", r.final_transcript);
	ck_assert_msg(strchr(nl + 1, '\n') != NULL &&
	    strchr(nl + 1, '\n')[1] == '\0', "more than two lines: %s",
	    r.final_transcript);

	/* Each channel's words on its own speaker. */
	ck_assert_msg(has_word(r.channel_text[0], "hello") ||
	    has_word(r.channel_text[0], "need"), "caller: %s",
	    r.channel_text[0]);
	ck_assert_msg(has_word(r.channel_text[1], "thank") ||
	    has_word(r.channel_text[1], "calling"), "agent: %s",
	    r.channel_text[1]);
	ck_assert(!has_word(r.channel_text[0], "thank") &&
	    !has_word(r.channel_text[0], "calling"));
	ck_assert(!has_word(r.channel_text[1], "hello") &&
	    !has_word(r.channel_text[1], "need"));

	/* Segments sorted by time, with the right speaker and start. */
	ck_assert_uint_ge(r.nsegs, 2);
	ck_assert_int_eq(r.segs[0].speaker, STT_CALLER);
	ck_assert_msg(fabs(r.segs[0].start_s - 0.5) <= ONSET_TOL_S,
	    "caller starts at %.2f s", r.segs[0].start_s);
	for (i = 1; i < r.nsegs; i++) {
		ck_assert(r.segs[i].start_s >= r.segs[i - 1].start_s);
		if (first_agent < 0 && r.segs[i].speaker == STT_AGENT)
			first_agent = (int)i;
	}
	ck_assert_int_ge(first_agent, 1);
	ck_assert_msg(fabs(r.segs[first_agent].start_s - 3.0) <= ONSET_TOL_S,
	    "agent starts at %.2f s", r.segs[first_agent].start_s);

	/* transcription: both channels' raw text. */
	j = json_tokener_parse(r.transcription);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_object_get_ex(j, "caller", &v));
	ck_assert_str_eq(json_object_get_string(v), r.channel_text[0]);
	ck_assert(json_object_object_get_ex(j, "agent", &v));
	ck_assert_str_eq(json_object_get_string(v), r.channel_text[1]);
	json_object_put(j);

	/* segments_json mirrors segs, times with two decimals. */
	printf("check-stt: segments_json %s\n", r.segments_json);
	j = json_tokener_parse(r.segments_json);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_is_type(j, json_type_array));
	ck_assert_uint_eq(json_object_array_length(j), r.nsegs);
	for (k = 0; k < r.nsegs; k++) {
		s = json_object_array_get_idx(j, k);
		ck_assert(json_object_object_get_ex(s, "speaker", &v));
		ck_assert_str_eq(json_object_get_string(v),
		    r.segs[k].speaker == STT_CALLER ? "caller" : "agent");
		ck_assert(json_object_object_get_ex(s, "start", &v));
		ck_assert(fabs(json_object_get_double(v) - r.segs[k].start_s)
		    < 0.006);
		ck_assert(json_object_object_get_ex(s, "end", &v));
		ck_assert(fabs(json_object_get_double(v) - r.segs[k].end_s)
		    < 0.006);
		ck_assert(json_object_object_get_ex(s, "text", &v));
		ck_assert_str_eq(json_object_get_string(v), r.segs[k].text);
	}
	json_object_put(j);
	ck_assert_msg(strstr(r.segments_json, "\"start\":0.") != NULL,
	    "%s", r.segments_json);
	stt_result_free(&r);
}
END_TEST

/* ---- other rates, formats and bad input ------------------------------- */

START_TEST(test_8khz_resampled)
{
	char path[256], err[512];
	struct stt_audio a;
	struct stt_result r;
	enum cp_err rc;
	size_t n8;

	need_pocketsphinx();
	make_speech("8k.wav", "slt", "Hello, I need a plumber.", 0.3, 0.5, 8000);
	tmp_path(path, sizeof(path), "8k.wav");

	ck_assert_int_eq(stt_audio_read(path, &a, err, sizeof(err)), CP_OK);
	ck_assert_int_eq(a.rate, 8000);
	ck_assert_int_eq(a.nchannels, 1);
	n8 = a.nframes;
	rc = stt_audio_resample(&a, 16000, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s", err);
	ck_assert_int_eq(a.rate, 16000);
	ck_assert_msg(a.nframes + 4 >= 2 * n8 && a.nframes <= 2 * n8 + 4,
	    "%zu frames at 8 kHz became %zu at 16 kHz", n8, a.nframes);
	stt_audio_free(&a);

	rc = stt_transcribe_file(&conf, path, NULL, &r, NULL, err, sizeof(err));
	ck_assert_msg(rc == CP_OK, "%s: %s", cp_strerror(rc), err);
	printf("check-stt: 8 kHz: %s", r.final_transcript);
	ck_assert_msg(has_word(r.channel_text[0], "hello") ||
	    has_word(r.channel_text[0], "need") ||
	    has_word(r.channel_text[0], "plumber"), "8 kHz: %s",
	    r.channel_text[0]);
	stt_result_free(&r);
}
END_TEST

START_TEST(test_header_only_noaudio)
{
	char path[256], err[512];
	struct stt_result r;
	FILE *f;

	need_pocketsphinx();
	tmp_path(path, sizeof(path), "empty.wav");
	write_wav(path, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 0, 0);
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_NOAUDIO);
	ck_assert_msg(strstr(err, "no frames") != NULL, "%s", err);
	ck_assert_ptr_null(r.final_transcript);

	/* A 0-byte file (a download that wrote nothing) is no audio too. */
	tmp_path(path, sizeof(path), "zero.wav");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_NOAUDIO);
}
END_TEST

START_TEST(test_silence_empty)
{
	char path[256], err[512];
	struct stt_result r;

	need_pocketsphinx();
	tmp_path(path, sizeof(path), "silence.wav");
	write_wav(path, 2, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 3 * 8000, 0);
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_EMPTY);
	ck_assert_str_eq(err, "no speech: every channel is silent");
	ck_assert_ptr_null(r.transcription);
	ck_assert_uint_eq(r.nsegs, 0);
}
END_TEST

START_TEST(test_not_audio_input)
{
	char path[256], err[512];
	struct stt_result r;
	FILE *f;

	need_pocketsphinx();
	tmp_path(path, sizeof(path), "notes.wav");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is a text file, not a RIFF WAVE file\n", f);
	fclose(f);
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_INPUT);
	ck_assert_msg(strstr(err, "not a readable audio file") != NULL, "%s",
	    err);
}
END_TEST

START_TEST(test_three_channels_input)
{
	char path[256], err[512];
	struct stt_result r;
	struct stt_audio a;

	need_pocketsphinx();
	tmp_path(path, sizeof(path), "three.wav");
	write_wav(path, 3, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 0.1f);
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_INPUT);
	ck_assert_msg(strstr(err, "3 channels") != NULL, "%s", err);
	ck_assert_int_eq(stt_audio_read(path, &a, err, sizeof(err)), CP_INPUT);
	ck_assert_ptr_null(a.pcm[0]);
}
END_TEST

START_TEST(test_missing_file_system)
{
	char path[256], err[512];
	struct stt_result r;

	need_pocketsphinx();
	tmp_path(path, sizeof(path), "absent.wav");
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_SYSTEM);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
}
END_TEST

/* Float WAV is scaled to 16-bit full scale, not truncated to 0/1. */
START_TEST(test_audio_float_scaled)
{
	char path[256], err[512];
	struct stt_audio a;

	tmp_path(path, sizeof(path), "float.wav");
	write_wav(path, 2, 22050, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1000, 0.5f);
	ck_assert_int_eq(stt_audio_read(path, &a, err, sizeof(err)), CP_OK);
	ck_assert_int_eq(a.nchannels, 2);
	ck_assert_int_eq(a.rate, 22050);
	ck_assert_uint_eq(a.nframes, 1000);
	ck_assert_int_eq(a.pcm[0][500], 16384);
	ck_assert_int_eq(a.pcm[1][999], 16384);
	stt_audio_free(&a);
	stt_audio_free(&a);   /* zeroed: harmless */
}
END_TEST

/* A download cut short: the frames that are there are read, no more. */
START_TEST(test_audio_truncated)
{
	char path[256], err[512];
	struct stt_audio a;

	tmp_path(path, sizeof(path), "cut.wav");
	write_wav(path, 2, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 0.25f);
	/* 44-byte header + 100 frames of 2 x 16 bits. */
	ck_assert_int_eq(truncate(path, 44 + 100 * 4), 0);
	ck_assert_int_eq(stt_audio_read(path, &a, err, sizeof(err)), CP_OK);
	ck_assert_uint_eq(a.nframes, 100);
	ck_assert_int_eq(a.pcm[1][99], 8192);
	stt_audio_free(&a);
}
END_TEST

START_TEST(test_unknown_backend_input)
{
	char err[512];
	struct stt_result r;

	conf.stt.backend = "whisper";
	ck_assert_int_eq(stt_transcribe_file(&conf, LIBRIVOX_DIR "/none.wav",
	    NULL, &r, NULL, err, sizeof(err)), CP_INPUT);
	ck_assert_msg(strstr(err, "\"whisper\" is not a backend") != NULL,
	    "%s", err);
}
END_TEST

START_TEST(test_missing_model_system)
{
	char path[256], err[512];
	struct stt_result r;

	need_pocketsphinx();
	tmp_path(path, sizeof(path), "tone.wav");
	write_wav(path, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 0.2f);
	conf.stt.ps_lm = "/nonexistent/en-us.lm.bin";
	ck_assert_int_eq(stt_transcribe_file(&conf, path, NULL, &r, NULL, err,
	    sizeof(err)), CP_SYSTEM);
	ck_assert_msg(strstr(err, "/nonexistent/en-us.lm.bin") != NULL, "%s",
	    err);
}
END_TEST

/* A garbled model must fail the call, not exit the process (E_FATAL). */
START_TEST(test_garbled_model_system)
{
	static const char *const files[] = {
		"mdef", "means", "variances", "transition_matrices"
	};
	char hmm[256], path[512], wav[256], err[512];
	struct stt_result r;
	FILE *f;
	size_t i;

	need_pocketsphinx();
	tmp_path(hmm, sizeof(hmm), "hmm");
	ck_assert_int_eq(mkdir(hmm, 0700), 0);
	for (i = 0; i < 4; i++) {
		ck_assert(snprintf(path, sizeof(path), "%s/%s", hmm, files[i]) <
		    (int)sizeof(path));
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs("garbage\n", f);
		fclose(f);
	}
	tmp_path(wav, sizeof(wav), "tone.wav");
	write_wav(wav, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 0.2f);
	conf.stt.ps_hmm = hmm;
	ck_assert_int_eq(stt_transcribe_file(&conf, wav, NULL, &r, NULL, err,
	    sizeof(err)), CP_SYSTEM);
	ck_assert_msg(strstr(err, "not a sphinx model file") != NULL, "%s",
	    err);
}
END_TEST

#ifndef HAVE_POCKETSPHINX
START_TEST(test_not_built_in)
{
	char err[512];
	struct stt_result r;

	ck_assert_int_eq(stt_transcribe_file(&conf, "/dev/null", NULL, &r, NULL, err,
	    sizeof(err)), CP_SYSTEM);
	ck_assert_str_eq(err, "pocketsphinx backend not built in");
}
END_TEST
#endif

/* A filled result is freed and left zeroed, so freeing it again (a
 * failed stage's outcome freed twice) is harmless; valgrind (make
 * check-valgrind) sees that nothing leaks. */
START_TEST(test_result_free_zeroed)
{
	struct stt_result r;

	memset(&r, 0, sizeof(r));
	stt_result_free(&r);        /* zeroed: harmless */
	stt_result_free(NULL);
	r.channel_text[0] = strdup("hello");
	r.channel_text[1] = strdup("");
	r.nchannels = 2;
	r.segs = calloc(1, sizeof(*r.segs));
	ck_assert_ptr_nonnull(r.segs);
	r.segs[0].text = strdup("hello");
	r.nsegs = 1;
	r.final_transcript = strdup("Caller: hello\n");
	r.transcription = strdup("{\"caller\": \"hello\", \"agent\": \"\"}");
	r.segments_json = strdup("[]");
	stt_result_free(&r);
	ck_assert_ptr_null(r.channel_text[0]);
	ck_assert_ptr_null(r.channel_text[1]);
	ck_assert_ptr_null(r.segs);
	ck_assert_uint_eq(r.nsegs, 0);
	ck_assert_ptr_null(r.final_transcript);
	ck_assert_ptr_null(r.transcription);
	ck_assert_ptr_null(r.segments_json);
	stt_result_free(&r);
}
END_TEST

/* One case per cost, so CK_RUN_CASE can pick the cheap ones (valgrind). */
static TCase *
stt_case(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Decoding is real work; a loaded 2-core machine needs the room. */
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *
stt_suite(void)
{
	Suite *s = suite_create("stt");
	TCase *tc;

	/* No decoding: the audio reader, argument and error paths. */
	tc = stt_case(s, "input");
	tcase_add_test(tc, test_edit_distance);
	tcase_add_test(tc, test_result_free_zeroed);
	tcase_add_test(tc, test_unknown_backend_input);
	tcase_add_test(tc, test_audio_float_scaled);
	tcase_add_test(tc, test_audio_truncated);
#ifndef HAVE_POCKETSPHINX
	tcase_add_test(tc, test_not_built_in);
#endif
	tcase_add_test(tc, test_header_only_noaudio);
	tcase_add_test(tc, test_not_audio_input);
	tcase_add_test(tc, test_three_channels_input);
	tcase_add_test(tc, test_missing_file_system);
	tcase_add_test(tc, test_missing_model_system);
	tcase_add_test(tc, test_garbled_model_system);

	/* Short decodes: synthesised speech and silence, a few seconds each. */
	tc = stt_case(s, "decode");
	tcase_add_test(tc, test_silence_empty);
	tcase_add_test(tc, test_8khz_resampled);
	tcase_add_test(tc, test_timing_after_silence);
	tcase_add_test(tc, test_dual_channel_merge);

	/* Human speech: about 25 s and 60 s of audio. */
	tc = stt_case(s, "librivox");
	tcase_add_test(tc, test_wer_librivox);
	tcase_add_test(tc, test_long_recording_pieces);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stt_suite());
	int      nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
