/*
 * stt_audio.c: decode a recording with libsndfile and resample it with
 * libsoxr (see stt_audio.h).
 */
#include "config.h"

#include "stt_audio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include <soxr.h>

/* Frames decoded per sf_readf_float call: 4096 * 2 floats = 32 KB. */
#define READ_BLOCK_FRAMES 4096

/* Highest sample rate accepted (Hz): what studio WAV files use. */
#define MAX_RATE 192000

/*
 * libsndfile normalises integer PCM to [-1.0, 1.0) by dividing by 0x8000
 * (SFC_SET_NORM_FLOAT, on by default), so multiplying back by 32768 gives
 * 16-bit input back bit for bit. Float files may exceed 1.0: clamp.
 */
static int16_t
float_to_s16(float f)
{
	float v = f * 32768.0f;

	if (!(v > -32768.0f))   /* also catches NaN */
		return v != v ? 0 : -32768;
	if (v >= 32767.0f)
		return 32767;
	return (int16_t)lrintf(v);
}

void
stt_audio_free(struct stt_audio *a)
{
	int c;

	if (a == NULL)
		return;
	for (c = 0; c < STT_AUDIO_MAX_CHANNELS; c++)
		free(a->pcm[c]);
	memset(a, 0, sizeof(*a));
}

/*
 * Decodes all frames of sf into a (whose nchannels is set), at most cap
 * frames per channel. Returns CP_OK, CP_NOAUDIO, CP_NOMEM or CP_INPUT.
 */
/* Grows every channel buffer of a to hold want frames. */
static enum cp_err
grow(struct stt_audio *a, size_t *have, size_t want)
{
	int16_t *p;
	int      c;

	for (c = 0; c < a->nchannels; c++) {
		p = realloc(a->pcm[c], sizeof(int16_t) * want);
		if (p == NULL)
			return CP_NOMEM;
		a->pcm[c] = p;
	}
	*have = want;
	return CP_OK;
}

/*
 * Decodes all frames of sf into a (whose nchannels is set), at most cap
 * frames per channel. The buffers grow with the data actually decoded, so
 * a header that claims hours over a few bytes costs nothing.
 * Returns CP_OK, CP_NOAUDIO, CP_NOMEM or CP_INPUT.
 */
static enum cp_err
read_frames(SNDFILE *sf, struct stt_audio *a, size_t cap,
    char *err, size_t errlen)
{
	float      *block;
	size_t      done = 0, have = 0;
	sf_count_t  got;
	int         c;

	block = malloc(sizeof(float) * READ_BLOCK_FRAMES * (size_t)a->nchannels);
	if (block == NULL)
		return CP_NOMEM;
	while (done < cap) {
		size_t want = cap - done, i;

		if (want > READ_BLOCK_FRAMES)
			want = READ_BLOCK_FRAMES;
		got = sf_readf_float(sf, block, (sf_count_t)want);
		if (got <= 0)
			break;
		if (done + (size_t)got > have) {
			size_t ncap = have < READ_BLOCK_FRAMES * 16 ?
			    READ_BLOCK_FRAMES * 16 : have * 2;

			if (ncap > cap)
				ncap = cap;
			if (grow(a, &have, ncap) != CP_OK) {
				free(block);
				return CP_NOMEM;
			}
		}
		for (i = 0; i < (size_t)got; i++)
			for (c = 0; c < a->nchannels; c++)
				a->pcm[c][done + i] = float_to_s16(
				    block[i * (size_t)a->nchannels + (size_t)c]);
		done += (size_t)got;
	}
	free(block);
	/*
	 * A truncated data chunk just ends early (we keep what was there);
	 * a decoder error in a compressed format is bad input.
	 */
	if (done == 0 && sf_error(sf) != SF_ERR_NO_ERROR) {
		cp_fmt(err, errlen, "cannot decode audio: %s", sf_strerror(sf));
		return CP_INPUT;
	}
	if (done == 0) {
		cp_fmt(err, errlen, "audio file holds no frames (header only)");
		return CP_NOAUDIO;
	}
	a->nframes = done;
	return CP_OK;
}

enum cp_err
stt_audio_read(const char *path, struct stt_audio *out,
    char *err, size_t errlen)
{
	SF_INFO      info;
	SNDFILE     *sf;
	struct stat  st;
	enum cp_err  rc;
	size_t       cap;
	int          fd;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cp_fmt(err, errlen, "cannot open audio file: %s", strerror(errno));
		return CP_SYSTEM;
	}
	if (fstat(fd, &st) != 0) {
		cp_fmt(err, errlen, "cannot stat audio file: %s", strerror(errno));
		close(fd);
		return CP_SYSTEM;
	}
	if (!S_ISREG(st.st_mode)) {
		cp_fmt(err, errlen, "audio path is not a regular file");
		close(fd);
		return CP_INPUT;
	}
	if (st.st_size == 0) {
		cp_fmt(err, errlen, "audio file is empty (0 bytes)");
		close(fd);
		return CP_NOAUDIO;
	}

	memset(&info, 0, sizeof(info));
	sf = sf_open_fd(fd, SFM_READ, &info, SF_TRUE);   /* owns fd now */
	if (sf == NULL) {
		cp_fmt(err, errlen, "not a readable audio file: %s",
		    sf_strerror(NULL));
		return CP_INPUT;
	}
	if (info.channels < 1 || info.channels > STT_AUDIO_MAX_CHANNELS) {
		cp_fmt(err, errlen, "audio has %d channels, at most %d accepted",
		    info.channels, STT_AUDIO_MAX_CHANNELS);
		sf_close(sf);
		return CP_INPUT;
	}
	if (info.samplerate < 1 || info.samplerate > MAX_RATE) {
		cp_fmt(err, errlen, "audio sample rate %d Hz out of range",
		    info.samplerate);
		sf_close(sf);
		return CP_INPUT;
	}
	if (info.frames <= 0) {
		cp_fmt(err, errlen, "audio file holds no frames (header only)");
		sf_close(sf);
		return CP_NOAUDIO;
	}
	/* A regular file always has a known length (SF_COUNT_MAX is for pipes). */
	if (info.frames / info.samplerate > STT_AUDIO_MAX_SECONDS) {
		cp_fmt(err, errlen, "audio lasts %lld s, longer than %ld s",
		    (long long)(info.frames / info.samplerate),
		    STT_AUDIO_MAX_SECONDS);
		sf_close(sf);
		return CP_INPUT;
	}
	cap = (size_t)info.frames;

	out->nchannels = info.channels;
	out->rate = info.samplerate;
	rc = read_frames(sf, out, cap, err, errlen);
	sf_close(sf);
	if (rc != CP_OK)
		stt_audio_free(out);
	return rc;
}

enum cp_err
stt_audio_resample(struct stt_audio *a, int rate, char *err, size_t errlen)
{
	soxr_io_spec_t      io;
	soxr_quality_spec_t q;
	soxr_error_t        serr;
	size_t              olen, odone, nout = SIZE_MAX;
	int                 c;

	if (rate < 1000 || rate > 192000) {
		cp_fmt(err, errlen, "resample target %d Hz out of range", rate);
		stt_audio_free(a);
		return CP_INPUT;
	}
	if (a->rate == rate)
		return CP_OK;
	/*
	 * Round up and add a little: soxr_oneshot flushes its filter and may
	 * give a sample more than the exact ratio; odone says how many.
	 */
	olen = (size_t)ceil((double)a->nframes * (double)rate /
	    (double)a->rate) + 16;
	io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
	/* Reproducible output: the same file always decodes the same way. */
	io.flags |= SOXR_NO_DITHER;
	q = soxr_quality_spec(SOXR_HQ, 0);
	for (c = 0; c < a->nchannels; c++) {
		int16_t *dst = malloc(sizeof(int16_t) * olen);

		if (dst == NULL) {
			stt_audio_free(a);
			return CP_NOMEM;
		}
		odone = 0;
		serr = soxr_oneshot((double)a->rate, (double)rate, 1,
		    a->pcm[c], a->nframes, NULL, dst, olen, &odone, &io, &q,
		    NULL);
		if (serr != NULL) {
			cp_fmt(err, errlen, "resampling %d Hz to %d Hz failed: %s",
			    a->rate, rate, serr);
			free(dst);
			stt_audio_free(a);
			return CP_SYSTEM;
		}
		free(a->pcm[c]);
		a->pcm[c] = dst;
		/* Same length in, same length out; min() keeps that true. */
		if (odone < nout)
			nout = odone;
	}
	a->nframes = nout;
	a->rate = rate;
	if (a->nframes == 0) {
		cp_fmt(err, errlen, "audio too short to resample");
		stt_audio_free(a);
		return CP_NOAUDIO;
	}
	return CP_OK;
}

double
stt_audio_peak_rms(const int16_t *pcm, size_t n, int rate)
{
	size_t win = (size_t)rate * STT_AUDIO_WINDOW_MS / 1000;
	double best = 0;

	if (win == 0)
		win = 1;
	for (size_t a = 0; a < n; a += win) {
		size_t b = a + win < n ? a + win : n;
		double sum = 0;
		for (size_t i = a; i < b; i++)
			sum += (double)pcm[i] * pcm[i];
		sum = sqrt(sum / (double)(b - a));
		if (sum > best)
			best = sum;
	}
	return best;
}

/*
 * The cut for a chunk starting at `from` that should end near `ideal` and
 * must end by `limit` (frame indexes, from < ideal <= limit): the middle
 * of the longest run of quiet 10 ms windows within a quarter of the
 * chunk's length (at most 30 s) around ideal, else the quietest window
 * there (of windows about as quiet, the nearest to ideal).
 */
static size_t
stt_audio_quiet_cut(const int16_t *pcm, size_t from, size_t ideal,
    size_t limit, int rate, double quiet_rms)
{
	size_t win = (size_t)rate / 100, span = (ideal - from) / 4;
	size_t lo, hi, best_run = 0, best_run_mid = ideal, run = 0, run_start = 0;
	size_t quietest_at = ideal;
	double quietest = 1e30;

	if (win == 0)
		win = 1;
	if (span > (size_t)rate * 30)
		span = (size_t)rate * 30;
	lo = ideal - span;
	hi = ideal + span < limit ? ideal + span : limit;
	for (size_t a = lo; a + win <= hi; a += win) {
		double sum = 0;
		for (size_t i = a; i < a + win; i++)
			sum += (double)pcm[i] * pcm[i];
		sum = sqrt(sum / (double)win);
		/* Among windows about as quiet, the one nearest the aim: a
		 * steady sound must not pull every cut to the window's start. */
		{
			double dist = a + win / 2 > ideal ? (double)(a + win / 2 -
			    ideal) : (double)(ideal - a - win / 2);
			double score = sum * (1.0 + 0.5 * dist / (double)(span + 1));
			if (score < quietest) {
				quietest = score;
				quietest_at = a + win / 2;
			}
		}
		if (sum < quiet_rms) {
			if (run == 0)
				run_start = a;
			run++;
			if (run > best_run) {
				best_run = run;
				best_run_mid = run_start + (a + win - run_start) / 2;
			}
		} else
			run = 0;
	}
	return best_run > 0 ? best_run_mid : quietest_at;
}

enum cp_err
stt_audio_chunks(const int16_t *pcm, size_t n, int rate, size_t max_frames,
    size_t **cuts, size_t *ncuts)
{
	size_t cap = 0, from = 0, *v = NULL;

	*cuts = NULL;
	*ncuts = 0;
	if (max_frames < (size_t)rate)   /* at least a second per chunk */
		max_frames = (size_t)rate;
	for (;;) {
		size_t left = n - from, k, end;
		if (*ncuts == cap) {
			size_t *nv;
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				return CP_NOMEM;
			}
			v = nv;
		}
		if (left <= max_frames) {
			v[(*ncuts)++] = n;
			break;
		}
		/* Aim at equal chunks over what is left, so the last one is
		 * never a sliver (a 0.05 s tail is refused as too short, or
		 * heard as a fragment). */
		k = (left + max_frames - 1) / max_frames;
		end = stt_audio_quiet_cut(pcm, from, from + left / k,
		    from + max_frames, rate, STT_AUDIO_QUIET_RMS);
		v[(*ncuts)++] = end;
		from = end;
	}
	*cuts = v;
	return CP_OK;
}

/* libsndfile virtual I/O into a growing memory buffer. */
struct stt_membuf {
	unsigned char *buf;
	sf_count_t     len, cap, pos;
	int            failed;
};

static sf_count_t
stt_mem_len(void *user)
{
	return ((struct stt_membuf *)user)->len;
}

static sf_count_t
stt_mem_seek(sf_count_t off, int whence, void *user)
{
	struct stt_membuf *m = user;
	sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ?
	    m->pos + off : m->len + off;

	if (p < 0)
		return -1;
	m->pos = p;
	return p;
}

static sf_count_t
stt_mem_read(void *ptr, sf_count_t count, void *user)
{
	struct stt_membuf *m = user;
	sf_count_t n = m->pos < m->len ? m->len - m->pos : 0;

	if (n > count)
		n = count;
	memcpy(ptr, m->buf + m->pos, (size_t)n);
	m->pos += n;
	return n;
}

static sf_count_t
stt_mem_write(const void *ptr, sf_count_t count, void *user)
{
	struct stt_membuf *m = user;

	if (m->pos + count > m->cap) {
		sf_count_t cap = m->cap ? m->cap : 65536;
		unsigned char *nb;
		while (cap < m->pos + count)
			cap *= 2;
		if ((nb = realloc(m->buf, (size_t)cap)) == NULL) {
			m->failed = 1;
			return 0;
		}
		m->buf = nb;
		m->cap = cap;
	}
	if (m->pos > m->len)   /* a seek past the end leaves a hole: zero it */
		memset(m->buf + m->len, 0, (size_t)(m->pos - m->len));
	memcpy(m->buf + m->pos, ptr, (size_t)count);
	m->pos += count;
	if (m->pos > m->len)
		m->len = m->pos;
	return count;
}

static sf_count_t
stt_mem_tell(void *user)
{
	return ((struct stt_membuf *)user)->pos;
}

enum cp_err
stt_audio_encode(const int16_t *pcm, size_t n, int rate,
    enum stt_audio_format fmt, unsigned char **out, size_t *outlen,
    char *err, size_t errlen)
{
	SF_VIRTUAL_IO io = { stt_mem_len, stt_mem_seek, stt_mem_read,
	    stt_mem_write, stt_mem_tell };
	struct stt_membuf m = { 0 };
	SF_INFO info;
	SNDFILE *sf;
	sf_count_t wrote;

	*out = NULL;
	*outlen = 0;
	memset(&info, 0, sizeof(info));
	info.samplerate = rate;
	info.channels = 1;
	info.format = (fmt == STT_AUDIO_FLAC ? SF_FORMAT_FLAC : SF_FORMAT_WAV) |
	    SF_FORMAT_PCM_16;
	if ((sf = sf_open_virtual(&io, SFM_WRITE, &info, &m)) == NULL) {
		cp_fmt(err, errlen, "cannot encode %s: %s", fmt == STT_AUDIO_FLAC ?
		    "FLAC" : "WAV", sf_strerror(NULL));
		free(m.buf);
		return CP_SYSTEM;
	}
	wrote = sf_write_short(sf, pcm, (sf_count_t)n);
	if (sf_close(sf) != 0 || wrote != (sf_count_t)n || m.failed) {
		cp_fmt(err, errlen, "encoding %zu frames failed%s", n,
		    m.failed ? ": out of memory" : "");
		free(m.buf);
		return m.failed ? CP_NOMEM : CP_SYSTEM;
	}
	*out = m.buf;
	*outlen = (size_t)m.len;
	return CP_OK;
}
