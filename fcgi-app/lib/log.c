#include "log.h"
#include "cp_err.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "callpipe";
static enum log_level log_min = LOG_LVL_INFO;
static enum log_format log_fmt = LOG_FMT_TEXT;
static bool log_stamps = true;

/* The context: the call and job the lines are about now ("" / 0: none). */
static char log_call[48];
static char log_kind[33];
static unsigned long long log_job;

static const char *const log_names[] = { "error", "warn", "info", "debug" };
static const char *const log_formats[] = { "text", "logfmt", "json" };

void
log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_min = level;
}

int
log_set_format(const char *name, bool timestamps)
{
	for (size_t i = 0; i < sizeof(log_formats) / sizeof(log_formats[0]); i++)
		if (name != NULL && strcmp(name, log_formats[i]) == 0) {
			log_fmt = (enum log_format)i;
			log_stamps = timestamps;
			return 0;
		}
	return -1;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void
log_ctx_set_call(const char *call_sid)
{
	cp_fmt(log_call, sizeof(log_call), "%s", call_sid ? call_sid : "");
}

void
log_ctx_set_job(unsigned long long job_id, const char *kind,
    const char *call_sid)
{
	log_job = job_id;
	cp_fmt(log_kind, sizeof(log_kind), "%s", kind ? kind : "");
	cp_fmt(log_call, sizeof(log_call), "%s", call_sid ? call_sid : "");
}

void
log_ctx_clear(void)
{
	log_job = 0;
	log_kind[0] = log_call[0] = '\0';
}

/* A growing line: appends stop at the end of the buffer; want counts
 * the bytes asked for, so want > used says the line was cut. */
struct log_buf {
	char  *p;
	size_t len, used, want;
};

static void
lb_put(struct log_buf *b, const char *s, size_t n)
{
	b->want += n;
	if (b->used + 1 >= b->len)
		return;
	if (n > b->len - 1 - b->used)
		n = b->len - 1 - b->used;
	memcpy(b->p + b->used, s, n);
	b->used += n;
	b->p[b->used] = '\0';
}

static void
lb_str(struct log_buf *b, const char *s)
{
	lb_put(b, s, strlen(s));
}

static void
lb_fmt(struct log_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
lb_fmt(struct log_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0) {
		lb_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
		if ((size_t)n >= sizeof(tmp))
			b->want += (size_t)n - (sizeof(tmp) - 1);
	}
}

/* A logfmt value: bare when it is a non-empty run of printable bytes
 * without space, '=', '"' or '\'; else quoted with escapes. Bytes >= 0x80
 * (UTF-8) pass unchanged. */
static void
lb_logfmt_value(struct log_buf *b, const char *v)
{
	bool bare = *v != '\0';

	for (const unsigned char *p = (const unsigned char *)v; *p && bare; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' ||
		    *p == 0x7f)
			bare = false;
	if (bare) {
		lb_str(b, v);
		return;
	}
	lb_put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		switch (*p) {
		case '"':  lb_put(b, "\\\"", 2); break;
		case '\\': lb_put(b, "\\\\", 2); break;
		case '\n': lb_put(b, "\\n", 2); break;
		case '\r': lb_put(b, "\\r", 2); break;
		case '\t': lb_put(b, "\\t", 2); break;
		default:
			if (*p < ' ' || *p == 0x7f)
				lb_fmt(b, "\\u%04x", *p);
			else
				lb_put(b, (const char *)p, 1);
		}
	}
	lb_put(b, "\"", 1);
}

static void
log_stamp(const struct timespec *ts, char *out, size_t len)
{
	char day[32];
	struct tm tm;

	gmtime_r(&ts->tv_sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03ldZ", day, ts->tv_nsec / 1000000L);
}

static size_t
log_render_json(struct log_buf *b, const char *stamp, enum log_level level,
    const char *msg)
{
	struct json_object *o = json_object_new_object();
	const char *s;

	if (o == NULL)
		return b->used;
	if (stamp != NULL)
		json_object_object_add(o, "ts", json_object_new_string(stamp));
	json_object_object_add(o, "level",
	    json_object_new_string(log_names[level]));
	json_object_object_add(o, "prog", json_object_new_string(log_prog));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "msg", json_object_new_string(msg));
	if (log_call[0])
		json_object_object_add(o, "call_sid",
		    json_object_new_string(log_call));
	if (log_job) {
		json_object_object_add(o, "job_id",
		    json_object_new_int64((int64_t)log_job));
		json_object_object_add(o, "kind",
		    json_object_new_string(log_kind));
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		lb_str(b, s);
	json_object_put(o);
	return b->used;
}

/* One attempt of log_render into b, msg as given. */
static void
log_render_once(struct log_buf *b, enum log_level level, const char *st,
    const char *msg)
{
	switch (log_fmt) {
	case LOG_FMT_JSON:
		(void)log_render_json(b, st, level, msg);
		return;
	case LOG_FMT_LOGFMT:
		if (st != NULL)
			lb_fmt(b, "ts=%s ", st);
		lb_fmt(b, "level=%s prog=", log_names[level]);
		lb_logfmt_value(b, log_prog);
		lb_fmt(b, " pid=%ld msg=", (long)getpid());
		lb_logfmt_value(b, msg);
		break;
	case LOG_FMT_TEXT:
		if (st != NULL)
			lb_fmt(b, "%s ", st);
		lb_fmt(b, "%s[%ld] %s: ", log_prog, (long)getpid(),
		    log_names[level]);
		lb_str(b, msg);
		break;
	}
	/* The context values are SIDs, ids and kinds: never in need of
	 * quoting, but a kind comes from a table row, so logfmt checks. */
	if (log_call[0]) {
		lb_str(b, " call_sid=");
		lb_logfmt_value(b, log_call);
	}
	if (log_job) {
		lb_fmt(b, " job_id=%llu kind=", log_job);
		lb_logfmt_value(b, log_kind[0] ? log_kind : "unknown");
	}
}

/* The message marker of a record that was too long. */
static const char log_cut_mark[] = "...";

size_t
log_render(char *out, size_t outlen, enum log_level level,
    const struct timespec *ts, const char *msg)
{
	char stamp[48], shorter[LOG_LINE_MAX];
	const char *st = NULL, *m = msg;
	size_t keep;

	if (outlen == 0)
		return 0;
	if ((int)level < 0 || level > LOG_LVL_DEBUG)
		level = LOG_LVL_ERROR;
	if (ts != NULL && log_stamps) {
		log_stamp(ts, stamp, sizeof(stamp));
		st = stamp;
	}
	keep = strnlen(msg, sizeof(shorter) - sizeof(log_cut_mark));
	for (;;) {
		struct log_buf b = { out, outlen, 0, 0 };
		size_t over;

		out[0] = '\0';
		log_render_once(&b, level, st, m);
		if (b.want <= b.used || keep == 0)
			return b.used;
		/* Too long: cut the message, never the record's syntax (a JSON
		 * object or logfmt quote left open) or its context fields.
		 * Escapes make a byte of msg up to 6 in the line, so this may
		 * take a few rounds; at a UTF-8 character's first byte. */
		over = b.want - b.used + sizeof(log_cut_mark) - 1;
		keep = keep > over ? keep - over : keep / 2;
		while (keep > 0 && ((unsigned char)msg[keep] & 0xc0) == 0x80)
			keep--;
		memcpy(shorter, msg, keep);
		memcpy(shorter + keep, log_cut_mark, sizeof(log_cut_mark));
		m = shorter;
	}
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 1];
	struct timespec ts;
	va_list ap;
	size_t n;

	if (level > log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = log_render(line, sizeof(line) - 1, level, &ts, msg);
	/* One write per line, so lines from several processes never interleave. */
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}
