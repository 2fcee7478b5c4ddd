/*
 * stt_pocketsphinx.c: the pocketsphinx 0.8 backend (see stt_pocketsphinx.h).
 *
 * API used, as in Debian's libpocketsphinx-dev 0.8+5prealpha headers
 * (pocketsphinx.h): ps_init / ps_start_utt / ps_process_raw /
 * ps_end_utt / ps_seg_iter / ps_seg_frames, and sphinxbase's cmd_ln_init
 * and err_set_callback.
 */
#include "config.h"

#include "stt_pocketsphinx.h"

#ifdef HAVE_POCKETSPHINX

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stt_audio.h"

#include <pocketsphinx.h>
#include <sphinxbase/err.h>

/*
 * Utterance bounds (seconds): pocketsphinx keeps a back-pointer table for
 * the whole utterance, so a long channel is cut into pieces. A cut falls
 * at the quietest QUIET_S seconds between MIN and MAX from the piece's
 * start, which is almost always a pause between words.
 */
#define UTT_MIN_S 20
#define UTT_MAX_S 40
#define QUIET_S   0.3

/* Longest word kept (bytes); the en-us dictionary's longest is ~35. */
#define WORD_MAX 128

struct stt_ps {
	ps_decoder_t *dec;
	int           rate;    /* samples per second */
	int           frate;   /* frames per second */
};

/* The last error sphinxbase reported; one process runs one decode at a time. */
static char ps_last_error[256];

/*
 * sphinxbase calls this for every log line (its format strings are its
 * own). INFO and WARN lines are dropped: a worker's stderr is the service
 * log and pocketsphinx writes hundreds of lines per decoder.
 */
static void ps_log_cb(void *user_data, err_lvl_t lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
ps_log_cb(void *user_data, err_lvl_t lvl, const char *fmt, ...)
{
	va_list ap;
	size_t  len;

	if (lvl < ERR_ERROR)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(ps_last_error, sizeof(ps_last_error), fmt, ap);
	va_end(ap);
	len = strlen(ps_last_error);
	while (len > 0 && (ps_last_error[len - 1] == '\n' ||
	    ps_last_error[len - 1] == '\r'))
		ps_last_error[--len] = '\0';
}

static const char *
ps_reason(void)
{
	return ps_last_error[0] != '\0' ? ps_last_error : "no reason logged";
}

/*
 * pocketsphinx exits the process (E_FATAL) on some unreadable model files,
 * so check what we can before ps_init sees them.
 */
static enum cp_err
check_path(const char *what, const char *path, int want_dir,
    char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL || path[0] == '\0') {
		cp_fmt(err, errlen, "stt.pocketsphinx.%s is not set", what);
		return CP_SYSTEM;
	}
	if (stat(path, &st) != 0) {
		cp_fmt(err, errlen, "pocketsphinx %s %s: %s", what, path,
		    strerror(errno));
		return CP_SYSTEM;
	}
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		cp_fmt(err, errlen, "pocketsphinx %s %s: not a %s", what, path,
		    want_dir ? "directory" : "regular file");
		return CP_SYSTEM;
	}
	if (access(path, want_dir ? (R_OK | X_OK) : R_OK) != 0) {
		cp_fmt(err, errlen, "pocketsphinx %s %s: %s", what, path,
		    strerror(errno));
		return CP_SYSTEM;
	}
	return CP_OK;
}

/* 1 if the file at path begins with one of the NULL-terminated magics. */
static int
has_magic(const char *path, const char *const magic[])
{
	char   head[8];
	size_t n;
	FILE  *f = fopen(path, "rb");
	int    i;

	if (f == NULL)
		return 0;
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	for (i = 0; magic[i] != NULL; i++)
		if (n >= strlen(magic[i]) &&
		    memcmp(head, magic[i], strlen(magic[i])) == 0)
			return 1;
	return 0;
}

/*
 * The files of a pocketsphinx continuous acoustic model directory, with
 * the magic numbers sphinxbase's readers expect: a garbled model file
 * makes ps_init exit the whole process (E_FATAL) instead of failing.
 * mdef: binary "BMDF" or text "0.3"; the parameters: "s3\n" headers.
 */
static enum cp_err
check_hmm(const char *hmm, char *err, size_t errlen)
{
	static const char *const mdef_magic[] = { "BMDF", "0.3", NULL };
	static const char *const s3_magic[] = { "s3\n", NULL };
	static const struct {
		const char        *name;
		const char *const *magic;
	} files[] = {
		{ "mdef", mdef_magic },
		{ "means", s3_magic },
		{ "variances", s3_magic },
		{ "transition_matrices", s3_magic },
	};
	char        path[4096];
	enum cp_err rc;
	size_t      i;
	int         n;

	if ((rc = check_path("hmm", hmm, 1, err, errlen)) != CP_OK)
		return rc;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		n = snprintf(path, sizeof(path), "%s/%s", hmm, files[i].name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			cp_fmt(err, errlen, "pocketsphinx hmm path too long");
			return CP_SYSTEM;
		}
		if ((rc = check_path("hmm", path, 0, err, errlen)) != CP_OK)
			return rc;
		if (!has_magic(path, files[i].magic)) {
			cp_fmt(err, errlen, "pocketsphinx hmm %s: not a sphinx "
			    "model file", path);
			return CP_SYSTEM;
		}
	}
	return CP_OK;
}

enum cp_err
stt_ps_new(const struct cp_conf *conf, struct stt_ps **out,
    char *err, size_t errlen)
{
	struct stt_ps *ps;
	cmd_ln_t      *cfg;
	enum cp_err    rc;

	*out = NULL;
	if ((rc = check_hmm(conf->stt.ps_hmm, err, errlen)) != CP_OK ||
	    (rc = check_path("lm", conf->stt.ps_lm, 0, err, errlen)) != CP_OK ||
	    (rc = check_path("dict", conf->stt.ps_dict, 0, err, errlen)) != CP_OK)
		return rc;

	ps_last_error[0] = '\0';
	err_set_callback(ps_log_cb, NULL);
	/* ps_init prints its whole configuration straight to the log file. */
	err_set_logfp(NULL);

	/*
	 * -remove_silence no: with the voice activity detector on (0.8's
	 * default) silent frames are dropped before the search, and the
	 * frame numbers of segments no longer match the audio's time line.
	 * -dither yes: stretches of exact digital zeros (a muted leg of a
	 * Twilio call) otherwise give every frame the same floored log
	 * spectrum, and the search hallucinates a word over them ("dog" on
	 * 3 s of zeros). A fixed seed keeps the output reproducible.
	 */
	cfg = cmd_ln_init(NULL, ps_args(), TRUE,
	    "-hmm", conf->stt.ps_hmm,
	    "-lm", conf->stt.ps_lm,
	    "-dict", conf->stt.ps_dict,
	    "-remove_silence", "no",
	    "-dither", "yes",
	    "-seed", "1",
	    NULL);
	if (cfg == NULL) {
		cp_fmt(err, errlen, "pocketsphinx configuration rejected: %s",
		    ps_reason());
		return CP_SYSTEM;
	}
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		cmd_ln_free_r(cfg);
		return CP_NOMEM;
	}
	ps->dec = ps_init(cfg);
	if (ps->dec == NULL) {
		cp_fmt(err, errlen, "pocketsphinx decoder did not start: %s",
		    ps_reason());
		cmd_ln_free_r(cfg);
		free(ps);
		return CP_SYSTEM;
	}
	/* The model's feat.params may change these; ask the decoder. */
	ps->rate = (int)cmd_ln_float32_r(ps_get_config(ps->dec), "-samprate");
	ps->frate = (int)cmd_ln_int32_r(ps_get_config(ps->dec), "-frate");
	cmd_ln_free_r(cfg);     /* the decoder holds its own reference */
	if (ps->rate < 8000 || ps->frate < 1 || ps->rate % ps->frate != 0) {
		cp_fmt(err, errlen, "pocketsphinx model has unusable rates "
		    "(%d Hz, %d frames/s)", ps->rate, ps->frate);
		stt_ps_free(ps);
		return CP_SYSTEM;
	}
	*out = ps;
	return CP_OK;
}

int
stt_ps_rate(const struct stt_ps *ps)
{
	return ps->rate;
}

void
stt_ps_free(struct stt_ps *ps)
{
	if (ps == NULL)
		return;
	if (ps->dec != NULL)
		ps_free(ps->dec);
	free(ps);
}

void
stt_ps_words_free(struct stt_ps_words *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->w[i].text);
	free(w->w);
	memset(w, 0, sizeof(*w));
}

/* Silence and noise tokens of the en-us noisedict, and sentence marks. */
static int
is_filler(const char *word)
{
	return word[0] == '\0' || word[0] == '<' || word[0] == '[' ||
	    word[0] == '+';
}

/*
 * Copies word without its alternate-pronunciation suffix ("read(2)" is
 * the dictionary's second pronunciation of "read").
 */
static char *
clean_word(const char *word)
{
	size_t len = strnlen(word, WORD_MAX), i;
	char  *s;

	if (len > 3 && word[len - 1] == ')') {
		i = len - 2;
		while (i > 0 && word[i] >= '0' && word[i] <= '9')
			i--;
		if (i > 0 && i < len - 2 && word[i] == '(')
			len = i;
	}
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, word, len);
	s[len] = '\0';
	return s;
}

static enum cp_err
words_push(struct stt_ps_words *w, const char *word, double start_s,
    double end_s)
{
	char *text;

	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct stt_ps_word *nw = realloc(w->w, ncap * sizeof(*nw));

		if (nw == NULL)
			return CP_NOMEM;
		w->w = nw;
		w->cap = ncap;
	}
	if ((text = clean_word(word)) == NULL)
		return CP_NOMEM;
	w->w[w->n].text = text;
	w->w[w->n].start_s = start_s;
	w->w[w->n].end_s = end_s;
	w->n++;
	return CP_OK;
}

/* Sum of squares of frame f (spf samples each, the last may be short). */
static double
frame_energy(const int16_t *pcm, size_t nsamples, size_t f, size_t spf)
{
	size_t i, a = f * spf, b = a + spf;
	double e = 0;

	if (b > nsamples)
		b = nsamples;
	for (i = a; i < b; i++)
		e += (double)pcm[i] * (double)pcm[i];
	return e;
}

/*
 * The frame at which to end the utterance that starts at frame `from`:
 * the end of the audio if it is near, else the middle of the quietest
 * window of QUIET_S seconds between UTT_MIN_S and UTT_MAX_S.
 */
static size_t
utt_end(const struct stt_ps *ps, const int16_t *pcm, size_t nsamples,
    size_t nframes, size_t from)
{
	size_t spf = (size_t)(ps->rate / ps->frate);
	size_t lo = from + (size_t)(UTT_MIN_S * ps->frate);
	size_t hi = from + (size_t)(UTT_MAX_S * ps->frate);
	size_t win = (size_t)(QUIET_S * ps->frate), f, best;
	double sum = 0, best_sum;

	if (nframes - from <= (size_t)(UTT_MAX_S * ps->frate))
		return nframes;
	for (f = lo; f < lo + win; f++)
		sum += frame_energy(pcm, nsamples, f, spf);
	best_sum = sum;
	best = lo;
	for (f = lo + 1; f + win <= hi; f++) {
		sum += frame_energy(pcm, nsamples, f + win - 1, spf) -
		    frame_energy(pcm, nsamples, f - 1, spf);
		if (sum < best_sum) {
			best_sum = sum;
			best = f;
		}
	}
	return best + win / 2;
}

/* Decodes frames [from, to) as one utterance and appends its words. */
static enum cp_err
decode_utt(struct stt_ps *ps, const int16_t *pcm, size_t nsamples,
    size_t from, size_t to, struct stt_ps_words *words,
    char *err, size_t errlen)
{
	size_t    spf = (size_t)(ps->rate / ps->frate);
	size_t    a = from * spf, b = to * spf;
	ps_seg_t *seg;
	enum cp_err rc = CP_OK;

	if (b > nsamples)
		b = nsamples;
	ps_last_error[0] = '\0';
	if (ps_start_utt(ps->dec) < 0) {
		cp_fmt(err, errlen, "pocketsphinx start_utt failed: %s",
		    ps_reason());
		return CP_SYSTEM;
	}
	/* full_utt: the whole utterance at once lets CMN use all of it. */
	if (ps_process_raw(ps->dec, pcm + a, b - a, FALSE, TRUE) < 0) {
		cp_fmt(err, errlen, "pocketsphinx process_raw failed: %s",
		    ps_reason());
		(void)ps_end_utt(ps->dec);
		return CP_SYSTEM;
	}
	if (ps_end_utt(ps->dec) < 0) {
		cp_fmt(err, errlen, "pocketsphinx end_utt failed: %s",
		    ps_reason());
		return CP_SYSTEM;
	}
	for (seg = ps_seg_iter(ps->dec); seg != NULL; seg = ps_seg_next(seg)) {
		const char *word = ps_seg_word(seg);
		int         sf, ef;

		if (word == NULL || is_filler(word))
			continue;
		ps_seg_frames(seg, &sf, &ef);
		if (sf < 0 || ef < sf)
			continue;
		rc = words_push(words, word,
		    (double)(from + (size_t)sf) / ps->frate,
		    (double)(from + (size_t)ef + 1) / ps->frate);
		if (rc != CP_OK) {
			ps_seg_free(seg);
			break;
		}
	}
	return rc;
}

enum cp_err
stt_ps_decode(struct stt_ps *ps, const int16_t *pcm, size_t nsamples,
    struct stt_ps_words *words, char *err, size_t errlen)
{
	size_t spf = (size_t)(ps->rate / ps->frate);
	size_t nframes = (nsamples + spf - 1) / spf, from = 0, to;
	enum cp_err rc;

	while (from < nframes) {
		to = utt_end(ps, pcm, nsamples, nframes, from);
		rc = decode_utt(ps, pcm, nsamples, from, to, words, err, errlen);
		if (rc != CP_OK)
			return rc;
		from = to;
	}
	return CP_OK;
}

/* ------------------------------------------------ the backend row (stt.h) */

/*
 * A pause longer than this (seconds) between two words of one channel
 * starts a new segment: a turn in a phone conversation, short enough that
 * a caller's answer to the agent lands on its own line.
 */
#define STT_PS_SEGMENT_GAP_S 0.8

enum cp_err
stt_ps_backend_open(const struct cp_conf *conf, void **state, char *err,
    size_t errlen)
{
	struct stt_ps *ps = NULL;
	enum cp_err rc = stt_ps_new(conf, &ps, err, errlen);

	*state = ps;
	return rc;
}

/* Words [a, b) of w joined by single spaces; NULL on allocation failure. */
static char *
stt_ps_join(const struct stt_ps_words *w, size_t a, size_t b)
{
	size_t len = 1, pos = 0;
	char *s;

	for (size_t i = a; i < b; i++)
		len += strlen(w->w[i].text) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	for (size_t i = a; i < b; i++) {
		size_t l = strlen(w->w[i].text);
		if (i > a)
			s[pos++] = ' ';
		memcpy(s + pos, w->w[i].text, l);
		pos += l;
	}
	s[pos] = '\0';
	return s;
}

enum cp_err
stt_ps_backend_transcribe(void *state, const struct stt_channel *ch,
    struct stt_segments *out, struct stt_answer *ans, char *err,
    size_t errlen)
{
	struct stt_ps *ps = state;
	struct stt_ps_words words = { 0 };
	struct stt_audio one = { 0 };
	enum cp_err rc;
	size_t a = 0, b;

	/* One channel at the model's rate (libsoxr), then decoded. */
	one.nchannels = 1;
	one.rate = ch->rate;
	one.nframes = ch->nframes;
	if ((one.pcm[0] = malloc(ch->nframes * sizeof(int16_t))) == NULL)
		return CP_NOMEM;
	memcpy(one.pcm[0], ch->pcm, ch->nframes * sizeof(int16_t));
	if ((rc = stt_audio_resample(&one, stt_ps_rate(ps), err, errlen)) !=
	    CP_OK)
		return rc;   /* one is freed on error */
	rc = stt_ps_decode(ps, one.pcm[0], one.nframes, &words, err, errlen);
	stt_audio_free(&one);
	while (rc == CP_OK && a < words.n) {
		char *text;
		for (b = a + 1; b < words.n; b++)
			if (words.w[b].start_s - words.w[b - 1].end_s >
			    STT_PS_SEGMENT_GAP_S)
				break;
		if ((text = stt_ps_join(&words, a, b)) == NULL) {
			rc = CP_NOMEM;
			break;
		}
		rc = stt_segments_add(out, ch->speaker, words.w[a].start_s,
		    words.w[b - 1].end_s, text);
		free(text);
		a = b;
	}
	stt_ps_words_free(&words);
	return rc;
}

void
stt_ps_backend_close(void *state)
{
	stt_ps_free(state);
}

long
stt_ps_max_seconds(const struct cp_conf *conf, double audio_s)
{
	/* About 1 CPU-second per second of each channel on this machine's
	 * cores, two channels, and a margin for loading the model. */
	return 3 * (long)audio_s + 60;
}

#else /* !HAVE_POCKETSPHINX */

enum cp_err
stt_ps_backend_open(const struct cp_conf *conf, void **state, char *err,
    size_t errlen)
{
	*state = NULL;
	cp_fmt(err, errlen, "pocketsphinx backend not built in (install "
	    "libpocketsphinx-dev libsphinxbase-dev and configure again)");
	return CP_SYSTEM;
}

enum cp_err
stt_ps_backend_transcribe(void *state, const struct stt_channel *ch,
    struct stt_segments *out, struct stt_answer *ans, char *err,
    size_t errlen)
{
	cp_fmt(err, errlen, "pocketsphinx backend not built in");
	return CP_SYSTEM;
}

void
stt_ps_backend_close(void *state)
{
}

long
stt_ps_max_seconds(const struct cp_conf *conf, double audio_s)
{
	return 60;
}

#endif
