/*
 * conf.c: loads callpipe's libconfig file into struct cp_conf.
 *
 * The tables below are the one list of what the file may hold: the walker
 * rejects every setting that is not in them, at any depth, so a typo stops
 * start-up with the file, line and dotted key named instead of silently
 * leaving a default in place (DESIGN.md §8). The same tables give each
 * key's default, its range and the environment variable that overrides it,
 * and conf_free frees through them, so a new string key cannot leak.
 *
 * Order of work: defaults, then the file (unknown keys, types, integer
 * ranges), then the environment, then the checks that must see the final
 * value (required keys, URLs, the account SID, choices, cross-key rules).
 *
 * Error formats (also in README.md):
 *   FILE: cannot read: <strerror>
 *   FILE:LINE: parse error: <libconfig's text>
 *   FILE:LINE: KEY: unknown key
 *   FILE:LINE: KEY: must be a string | an integer | a list | a group
 *   FILE:LINE: KEY: must be between MIN and MAX
 *   FILE:LINE: KEY: must be one of: A, B
 *   FILE[:LINE]: KEY: missing [(or set ENV)]   LINE of the enclosing group
 *   FILE: KEY: <reason> (from ENV)             value came from the environment
 *   FILE: mode 0644 lets every user read the secrets it holds (KEY, ...):
 *     chmod 0640 FILE                          (a secret set in a file with
 *                                              mode & 0004; see conf_secrets)
 * KEY is dotted ("database.socket"); list entries are indexed from 0
 * ("summary.services[2].terms[0]").
 *
 * Known limit of libconfig 1.5 (Debian 12): an integer literal that does not
 * fit 32 bits without an L suffix is silently truncated by its scanner (atoi),
 * so "children = 4294967300;" reads as 4. Every range here fits an int.
 */
#include "conf.h"
#include "http.h"
#include "sid.h"
#include "stt.h"
#include "summary.h"
#include "utf8.h"

#include <libconfig.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Longest dotted key we name in a message (bytes); longer ones are cut. */
#define CONF_KEY_MAX 256

enum conf_kind {
	CONF_STR,    /* char *, strdup'd; never NULL after a successful load */
	CONF_INT,    /* int, range-checked */
	CONF_LONG,   /* long, range-checked */
	CONF_MODE,   /* int permission bits from an octal string, "0660" */
	CONF_LEVEL,  /* enum log_level from its name */
	CONF_BOOL,   /* bool from true / false */
	CONF_FRAC,   /* double from a float (or an integer) within [dmin, dmax] */
	CONF_GROUP,  /* a nested table */
	CONF_GAZ     /* struct conf_gazetteer from a list of groups */
};

/* Checks a string key's final value (after the environment). */
enum conf_check {
	CHK_NONE,
	CHK_NONEMPTY,    /* a path: must not be "" */
	CHK_WS_URL,      /* ws(s)://..., printable ASCII */
	CHK_URI_PREFIX,  /* "/x/": starts and ends with '/' */
	CHK_ACCOUNT_SID, /* AC + 32 lowercase hex (TWILIO.md "SIDs") */
	CHK_API_ORIGIN,  /* https://host[:port] (http:// for loopback), http_base_url_problem:
	                    a base callpipe appends "/webhook/..." or "/2010-04-01/..." to,
	                    so a path, query or user info would break every URL */
	CHK_API_BASE,    /* the same with an optional path: "https://api.openai.com/v1" */
	CHK_LANGUAGE,    /* "" or an ISO-639-1 code: two lowercase letters */
	CHK_HEADER_TOKEN, /* printable ASCII without spaces: it goes into an HTTP
	                     header (a CR or LF would inject another one) */
	CHK_SIGNING_KEY, /* not "": an empty HMAC key signs URLs anyone can make */
	CHK_STT_BACKEND, /* a name in stt_backends[] */
	CHK_SUM_BACKEND  /* a name in summary_backends[] */
};

struct conf_key {
	const char              *name;
	enum conf_kind           kind;
	size_t                   off;    /* into struct cp_conf */
	long long                min, max;
	long long                idef;   /* default: INT, LONG, MODE, LEVEL, BOOL */
	double                   dmin, dmax, ddef;  /* FRAC */
	const char              *sdef;   /* default: STR; NULL = required */
	const char *const       *oneof;  /* STR: the allowed values */
	enum conf_check          check;
	const char              *env;    /* environment variable that wins */
	const struct conf_key   *sub;    /* GROUP: its members */
	bool                     secret; /* STR: a credential; a file setting it
	                                    must not be readable by others */
};

#define OFF(m) offsetof(struct cp_conf, m)
#define K_STR(n, m, def, chk) \
	{ .name = (n), .kind = CONF_STR, .off = OFF(m), .sdef = (def), .check = (chk) }
#define K_ENV(n, m, def, chk, e) \
	{ .name = (n), .kind = CONF_STR, .off = OFF(m), .sdef = (def), .check = (chk), .env = (e) }
#define K_CHK_ENV(n, m, def, chk, e) K_ENV(n, m, def, chk, e)
#define K_SECRET(n, m, def, chk, e) \
	{ .name = (n), .kind = CONF_STR, .off = OFF(m), .sdef = (def), .check = (chk), .env = (e), \
	  .secret = true }
#define K_ONEOF(n, m, def, set) \
	{ .name = (n), .kind = CONF_STR, .off = OFF(m), .sdef = (def), .oneof = (set) }
#define K_INT(n, m, lo, hi, def) \
	{ .name = (n), .kind = CONF_INT, .off = OFF(m), .min = (lo), .max = (hi), .idef = (def) }
#define K_LONG(n, m, lo, hi, def) \
	{ .name = (n), .kind = CONF_LONG, .off = OFF(m), .min = (lo), .max = (hi), .idef = (def) }
#define K_BOOL(n, m, def) \
	{ .name = (n), .kind = CONF_BOOL, .off = OFF(m), .idef = (def) }
#define K_FRAC(n, m, lo, hi, def) \
	{ .name = (n), .kind = CONF_FRAC, .off = OFF(m), .dmin = (lo), .dmax = (hi), .ddef = (def) }
#define K_GROUP(n, t) { .name = (n), .kind = CONF_GROUP, .sub = (t) }
#define K_END { .name = NULL }

/* "twiml": <Start><Recording> in the voice answer; "rest" (DESIGN.md §3):
 * the answer has no <Start>, the voice webhook enqueues a start_recording
 * job (rest_start.c) that calls Twilio's REST API. */
static const char *const conf_rec_modes[] = { "twiml", "rest", NULL };
static const char *const conf_stt_formats[] = { "verbose_json", "json", NULL };
static const char *const conf_upload_formats[] = { "wav", "flac", NULL };
static const char *const conf_sum_formats[] = { "json_schema", "json_object",
	NULL };
static const char *const conf_log_levels[] = {
	"error", "warn", "info", "debug", NULL
};

/* socket or host is required; conf_check_final checks that pair. */
static const struct conf_key conf_db_keys[] = {
	K_STR("socket", db.socket, "", CHK_NONE),
	K_STR("host", db.host, "", CHK_NONE),
	K_INT("port", db.port, 1, 65535, 3306),
	K_ENV("user", db.user, NULL, CHK_NONE, "CALLPIPE_DB_USER"),
	K_SECRET("password", db.password, "", CHK_NONE, "CALLPIPE_DB_PASSWORD"),
	K_STR("name", db.name, NULL, CHK_NONE),
	K_INT("connect_timeout_s", db.connect_timeout_s, 1, 600, 5),
	K_END
};

static const struct conf_key conf_twilio_keys[] = {
	K_ENV("account_sid", twilio.account_sid, NULL, CHK_ACCOUNT_SID,
	    "CALLPIPE_TWILIO_ACCOUNT_SID"),
	K_SECRET("auth_token", twilio.auth_token, NULL, CHK_NONE,
	    "CALLPIPE_TWILIO_AUTH_TOKEN"),
	K_STR("api_base", twilio.api_base, "https://api.twilio.com",
	    CHK_API_ORIGIN),
	K_INT("request_timeout_ms", twilio.request_timeout_ms, 100, 600000,
	    15000),
	K_END
};

static const struct conf_key conf_stream_keys[] = {
	K_STR("url", stream.url, "wss://agent.example.com/stream", CHK_WS_URL),
	K_END
};

static const struct conf_key conf_recording_keys[] = {
	K_ONEOF("mode", recording.mode, "twiml", conf_rec_modes),
	K_STR("cache_dir", recording.cache_dir,
	    "/var/cache/callpipe/recordings", CHK_NONEMPTY),
	/* nginx serves the files (X-Accel-Redirect) through this group. */
	K_STR("cache_group", recording.cache_group, "www-data", CHK_NONE),
	K_STR("nginx_internal_prefix", recording.nginx_internal_prefix,
	    "/_recordings/", CHK_URI_PREFIX),
	K_INT("retention_days", recording.retention_days, 1, 3650, 7),
	/* A child waits at most this long on a cache miss, so no download
	 * holds a FastCGI child for long (the worker fetches). */
	K_INT("miss_wait_ms", recording.miss_wait_ms, 0, 5000, 1500),
	/* mode "rest": Twilio answers 21220 while the call rings; the
	 * start_recording job tries this long (TWILIO.md). */
	K_INT("rest_start_timeout_s", recording.rest_start_timeout_s, 1, 600, 30),
	K_BOOL("delete_at_twilio", recording.delete_at_twilio, 0),
	/* Twilio rounds CallDuration to whole seconds: the gap allowed is
	 * max(1 s, (1 - min_coverage) x CallDuration). */
	K_FRAC("min_coverage", recording.min_coverage, 0.0, 1.0, 0.95),
	K_END
};

static const struct conf_key conf_ps_keys[] = {
	K_STR("hmm", stt.ps_hmm, "/usr/share/pocketsphinx/model/en-us/en-us",
	    CHK_NONEMPTY),
	K_STR("lm", stt.ps_lm,
	    "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin", CHK_NONEMPTY),
	K_STR("dict", stt.ps_dict,
	    "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict",
	    CHK_NONEMPTY),
	K_END
};

/* OPENAI.md: POST {base_url}/audio/transcriptions, 25 MiB per upload. */
static const struct conf_key conf_stt_openai_keys[] = {
	K_ENV("base_url", stt.openai.base_url, "https://api.openai.com/v1",
	    CHK_API_BASE, "CALLPIPE_STT_BASE_URL"),
	K_ENV("model", stt.openai.model, "whisper-1", CHK_NONEMPTY,
	    "CALLPIPE_STT_MODEL"),
	K_ENV("language", stt.openai.language, "he", CHK_LANGUAGE,
	    "CALLPIPE_STT_LANGUAGE"),
	K_SECRET("api_key", stt.openai.api_key, "", CHK_HEADER_TOKEN,
	    "CALLPIPE_STT_API_KEY"),
	K_STR("prompt", stt.openai.prompt, "", CHK_NONE),
	K_INT("timeout_ms", stt.openai.timeout_ms, 1000, 3600000, 120000),
	K_ONEOF("response_format", stt.openai.response_format, "verbose_json",
	    conf_stt_formats),
	K_ONEOF("upload_format", stt.openai.upload_format, "wav",
	    conf_upload_formats),
	K_INT("upload_rate", stt.openai.upload_rate, 0, 48000, 0),
	K_INT("chunk_seconds", stt.openai.chunk_seconds, 10, 4 * 3600, 600),
	K_END
};

static const struct conf_key conf_stt_keys[] = {
	K_ENV("backend", stt.backend, "pocketsphinx", CHK_STT_BACKEND,
	    "CALLPIPE_STT_BACKEND"),
	K_GROUP("pocketsphinx", conf_ps_keys),
	K_GROUP("openai", conf_stt_openai_keys),
	K_END
};

/* OPENAI.md: POST {base_url}/chat/completions. */
static const struct conf_key conf_summary_openai_keys[] = {
	K_ENV("base_url", summary.openai.base_url, "https://api.openai.com/v1",
	    CHK_API_BASE, "CALLPIPE_SUMMARY_BASE_URL"),
	K_ENV("model", summary.openai.model, "gpt-4o-mini", CHK_NONEMPTY,
	    "CALLPIPE_SUMMARY_MODEL"),
	K_SECRET("api_key", summary.openai.api_key, "", CHK_HEADER_TOKEN,
	    "CALLPIPE_SUMMARY_API_KEY"),
	K_INT("timeout_ms", summary.openai.timeout_ms, 1000, 3600000, 60000),
	K_ONEOF("response_format", summary.openai.response_format,
	    "json_schema", conf_sum_formats),
	K_END
};

static const struct conf_key conf_summary_keys[] = {
	K_ENV("backend", summary.backend, "rules", CHK_SUM_BACKEND,
	    "CALLPIPE_SUMMARY_BACKEND"),
	K_GROUP("openai", conf_summary_openai_keys),
	{ .name = "services", .kind = CONF_GAZ, .off = OFF(summary.services) },
	{ .name = "cities", .kind = CONF_GAZ, .off = OFF(summary.cities) },
	K_END
};

static const struct conf_key conf_fcgi_keys[] = {
	K_STR("socket", fcgi.socket, "/run/callpipe/fcgi.sock", CHK_NONEMPTY),
	{ .name = "socket_mode", .kind = CONF_MODE, .off = OFF(fcgi.socket_mode),
	  .idef = 0660 },
	/* nginx's workers (www-data on Debian) connect through this group. */
	K_STR("socket_group", fcgi.socket_group, "www-data", CHK_NONE),
	K_INT("children", fcgi.children, 1, 256, 4),
	K_INT("max_requests", fcgi.max_requests, 0, 10000000, 1000),
	K_INT("max_body_bytes", fcgi.max_body_bytes, 1024, 64 * 1024 * 1024,
	    65536),
	K_END
};

static const struct conf_key conf_worker_keys[] = {
	K_INT("processes", worker.processes, 0, 256, 1),
	K_STR("binary", worker.binary, "", CHK_NONE),
	K_INT("poll_interval_ms", worker.poll_interval_ms, 10, 60000, 200),
	K_INT("lease_seconds", worker.lease_seconds, 5, 86400, 300),
	K_INT("max_attempts", worker.max_attempts, 1, 100, 6),
	K_INT("backoff_base_ms", worker.backoff_base_ms, 1, 86400000, 5000),
	K_INT("backoff_max_ms", worker.backoff_max_ms, 1, 86400000, 600000),
	K_INT("reconcile_delay_s", worker.reconcile_delay_s, 1, 86400, 300),
	K_INT("sweep_interval_s", worker.sweep_interval_s, 1, 86400, 60),
	K_INT("sweep_after_s", worker.sweep_after_s, 1, 604800, 900),
	K_INT("claim_batch", worker.claim_batch, 1, 100, 8),
	K_END
};

static const struct conf_key conf_transcript_keys[] = {
	K_INT("retention_days", transcript.retention_days, 0, 36500, 0),
	K_END
};

static const struct conf_key conf_jobs_keys[] = {
	K_INT("retention_days", jobs.retention_days, 1, 3650, 30),
	K_END
};

/* Signed download URLs (sign.h, DESIGN.md §6). The key has no default
 * and the sample leaves it empty: start-up fails until one is set. */
static const struct conf_key conf_api_keys[] = {
	K_SECRET("signing_key", api.signing_key, "", CHK_SIGNING_KEY,
	    "CALLPIPE_SIGNING_KEY"),
	K_SECRET("signing_key_previous", api.signing_key_previous, "", CHK_NONE,
	    "CALLPIPE_SIGNING_KEY_PREVIOUS"),
	K_INT("signed_url_ttl_s", api.signed_url_ttl_s, 1, 86400, 300),
	K_END
};

static const char *const conf_log_formats[] = { "text", "logfmt", "json",
	NULL };

static const struct conf_key conf_log_keys[] = {
	{ .name = "level", .kind = CONF_LEVEL, .off = OFF(log_level),
	  .idef = LOG_LVL_INFO },
	K_ONEOF("format", log_format, "text", conf_log_formats),
	K_BOOL("timestamps", log_timestamps, 1),
	K_END
};

static const struct conf_key conf_health_keys[] = {
	K_INT("max_queue_age_s", health.max_queue_age_s, 1, 86400 * 7, 300),
	K_END
};

/* The service user (priv.h): callpipe-fcgi and callpipe-worker started as
 * root drop to it; without it they refuse to run as root. */
static const struct conf_key conf_process_keys[] = {
	K_STR("user", process.user, "", CHK_NONE),
	K_STR("group", process.group, "", CHK_NONE),
	K_END
};

static const struct conf_key conf_root_keys[] = {
	K_STR("public_base_url", public_base_url, NULL, CHK_API_ORIGIN),
	K_LONG("default_business_id", default_business_id, 0, 2147483647L, 0),
	K_GROUP("database", conf_db_keys),
	K_GROUP("twilio", conf_twilio_keys),
	K_GROUP("stream", conf_stream_keys),
	K_GROUP("recording", conf_recording_keys),
	K_GROUP("stt", conf_stt_keys),
	K_GROUP("summary", conf_summary_keys),
	K_GROUP("fcgi", conf_fcgi_keys),
	K_GROUP("worker", conf_worker_keys),
	K_GROUP("transcript", conf_transcript_keys),
	K_GROUP("jobs", conf_jobs_keys),
	K_GROUP("api", conf_api_keys),
	K_GROUP("log", conf_log_keys),
	K_GROUP("health", conf_health_keys),
	K_GROUP("process", conf_process_keys),
	K_END
};

/* At most this many keys carry an env override (the K_ENV rows above). */
#define CONF_ENV_MAX 16

struct conf_ctx {
	config_t               cfg;
	const char            *path;
	struct cp_conf        *conf;
	char                  *err;
	size_t                 errlen;
	const struct conf_key *from_env[CONF_ENV_MAX]; /* keys the env set */
	int                    nfrom_env;
};

static char **
conf_strp(struct cp_conf *conf, const struct conf_key *k)
{
	return (char **)(void *)((char *)conf + k->off);
}

static int *
conf_intp(struct cp_conf *conf, const struct conf_key *k)
{
	return (int *)(void *)((char *)conf + k->off);
}

/* "prefix.name", or "name" at the top; cut to fit (it is only a message). */
static void
conf_keypath(char *buf, size_t len, const char *prefix, const char *name)
{
	if (prefix[0] != '\0')
		cp_fmt(buf, len, "%s.%s", prefix, name);
	else
		cp_fmt(buf, len, "%s", name);
}

/*
 * Writes "FILE:LINE: KEY: reason" into ctx->err. The line is s's, or that
 * of its nearest enclosing setting that has one; without any (s NULL, the
 * root) it is left out. A scalar element of a list or array gets its
 * list's line: libconfig 1.5 stamps such an element with the line of the
 * token after it, which is the next line when the list spans several.
 */
static enum cp_err
conf_fail(struct conf_ctx *ctx, const config_setting_t *s, const char *key,
    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum cp_err
conf_fail(struct conf_ctx *ctx, const config_setting_t *s, const char *key,
    const char *fmt, ...)
{
	char reason[CP_REASON_MAX];
	const char *file = ctx->path;
	unsigned int line = 0;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (s != NULL && config_setting_name(s) == NULL &&
	    !config_setting_is_aggregate(s) && config_setting_parent(s) != NULL)
		s = config_setting_parent(s);
	for (; s != NULL && line == 0; s = config_setting_parent(s)) {
		line = config_setting_source_line(s);
		/* @include'd files: name the file the setting is in. */
		if (line != 0 && config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
	}
	if (ctx->err == NULL || ctx->errlen == 0)
		return CP_INPUT;
	if (line != 0)
		cp_fmt(ctx->err, ctx->errlen, "%s:%u: %s: %s", file, line, key,
		    reason);
	else
		cp_fmt(ctx->err, ctx->errlen, "%s: %s: %s", file, key, reason);
	return CP_INPUT;
}

static enum cp_err
conf_nomem(struct conf_ctx *ctx)
{
	if (ctx->err != NULL && ctx->errlen > 0)
		cp_fmt(ctx->err, ctx->errlen, "%s: out of memory", ctx->path);
	return CP_NOMEM;
}

/* Replaces *dst with a copy of src. */
static enum cp_err
conf_setstr(struct conf_ctx *ctx, char **dst, const char *src)
{
	char *copy = strdup(src);

	if (copy == NULL)
		return conf_nomem(ctx);
	free(*dst);
	*dst = copy;
	return CP_OK;
}

static enum cp_err
conf_defaults(struct conf_ctx *ctx, const struct conf_key *keys)
{
	enum cp_err e;

	for (const struct conf_key *k = keys; k->name != NULL; k++) {
		switch (k->kind) {
		case CONF_STR:
			if (k->sdef != NULL &&
			    (e = conf_setstr(ctx, conf_strp(ctx->conf, k),
			    k->sdef)) != CP_OK)
				return e;
			break;
		case CONF_INT:
		case CONF_MODE:
			*conf_intp(ctx->conf, k) = (int)k->idef;
			break;
		case CONF_LONG:
			*(long *)(void *)((char *)ctx->conf + k->off) =
			    (long)k->idef;
			break;
		case CONF_LEVEL:
			*(enum log_level *)(void *)((char *)ctx->conf + k->off) =
			    (enum log_level)k->idef;
			break;
		case CONF_BOOL:
			*(bool *)(void *)((char *)ctx->conf + k->off) = k->idef != 0;
			break;
		case CONF_FRAC:
			*(double *)(void *)((char *)ctx->conf + k->off) = k->ddef;
			break;
		case CONF_GROUP:
			if ((e = conf_defaults(ctx, k->sub)) != CP_OK)
				return e;
			break;
		case CONF_GAZ:
			break;  /* default: no entries */
		}
	}
	return CP_OK;
}

/*
 * Strict octal permission bits: 1 to 4 digits 0-7, at most 0777. A
 * libconfig integer cannot say this (0660 there is decimal 660), hence a
 * string. Returns 0 and sets *out, or -1.
 */
static int
conf_parse_mode(const char *s, int *out)
{
	size_t n = strlen(s);
	int v = 0;

	if (n == 0 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (s[i] - '0');
	}
	if (v > 0777)
		return -1;
	*out = v;
	return 0;
}

/* "must be one of: a, b" into buf (at most len bytes). Returns buf. */
static char *
conf_oneof_reason(char *buf, size_t len, const char *const *set)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; *set != NULL && off < len; set++) {
		cp_fmt(buf + off, len - off, "%s%s",
		    off == 0 ? "must be one of: " : ", ", *set);
		off = strlen(buf);
	}
	return buf;
}

/* "must be one of: a, b" from a table whose rows start with a name
 * pointer, rowsize bytes apart, ended by a NULL name (the backend tables
 * of stt.c and summary.c). Returns buf. */
static char *
conf_names_reason(char *buf, size_t len, const char *const *first,
    size_t rowsize)
{
	const char *set[16];
	size_t n = 0;

	for (const char *row = (const char *)first; n + 1 < 16 &&
	    *(const char *const *)(const void *)row != NULL; row += rowsize)
		set[n++] = *(const char *const *)(const void *)row;
	set[n] = NULL;
	return conf_oneof_reason(buf, len, set);
}

/* Copies a non-empty UTF-8 string setting s (named key) into *dst. */
static enum cp_err
conf_take_text(struct conf_ctx *ctx, const config_setting_t *s,
    const char *key, char **dst)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_fail(ctx, s, key, "must be a string");
	v = config_setting_get_string(s);
	if (v[0] == '\0')
		return conf_fail(ctx, s, key, "must not be empty");
	if (!utf8_valid(v, strlen(v)))
		return conf_fail(ctx, s, key, "must be valid UTF-8");
	return conf_setstr(ctx, dst, v);
}

static enum cp_err
conf_take_terms(struct conf_ctx *ctx, const config_setting_t *s,
    const char *key, struct conf_gazetteer_entry *ent)
{
	char tkey[CONF_KEY_MAX];
	int n;
	enum cp_err e;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return conf_fail(ctx, s, key, "must be a list");
	n = config_setting_length(s);
	if (n == 0)
		return conf_fail(ctx, s, key, "must not be empty");
	ent->terms = calloc((size_t)n + 1, sizeof(*ent->terms));
	if (ent->terms == NULL)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		cp_fmt(tkey, sizeof(tkey), "%s[%d]", key, i);
		e = conf_take_text(ctx, config_setting_get_elem(s, (unsigned)i),
		    tkey, &ent->terms[i]);
		if (e != CP_OK)
			return e;
		ent->nterms = i + 1;
		/* The matcher treats space, tab, '-' and the maqaf as word
		 * separators: a term of nothing else could never match. */
		{
			const char *t = ent->terms[i];
			bool word = false;
			while (*t && !word) {
				if (*t == ' ' || *t == '\t' || *t == '-')
					t++;
				else if ((unsigned char)t[0] == 0xD6 &&
				    (unsigned char)t[1] == 0xBE)
					t += 2;
				else
					word = true;
			}
			if (!word)
				return conf_fail(ctx, config_setting_get_elem(s,
				    (unsigned)i), tkey, "must contain a word, not "
				    "only separators");
		}
	}
	return CP_OK;
}

/* One { name, he, terms } group of a gazetteer list. */
static enum cp_err
conf_take_entry(struct conf_ctx *ctx, const config_setting_t *g,
    const char *ekey, struct conf_gazetteer_entry *ent)
{
	char key[CONF_KEY_MAX];
	enum cp_err e;
	int n;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return conf_fail(ctx, g, ekey, "must be a group");
	n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s =
		    config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);

		conf_keypath(key, sizeof(key), ekey, name != NULL ? name : "?");
		if (name != NULL && strcmp(name, "name") == 0)
			e = conf_take_text(ctx, s, key, &ent->name);
		else if (name != NULL && strcmp(name, "he") == 0)
			e = conf_take_text(ctx, s, key, &ent->name_he);
		else if (name != NULL && strcmp(name, "terms") == 0)
			e = conf_take_terms(ctx, s, key, ent);
		else
			e = conf_fail(ctx, s, key, "unknown key");
		if (e != CP_OK)
			return e;
	}
	/* All three are required: a summary names both languages. */
	if (ent->name == NULL || ent->name_he == NULL || ent->terms == NULL) {
		conf_keypath(key, sizeof(key), ekey, ent->name == NULL ? "name" :
		    ent->name_he == NULL ? "he" : "terms");
		return conf_fail(ctx, g, key, "missing");
	}
	return CP_OK;
}

static void
conf_gaz_free(struct conf_gazetteer *gz)
{
	for (int i = 0; i < gz->nentries; i++) {
		struct conf_gazetteer_entry *ent = &gz->entries[i];

		free(ent->name);
		free(ent->name_he);
		if (ent->terms != NULL)
			for (int j = 0; j < ent->nterms; j++)
				free(ent->terms[j]);
		free(ent->terms);
	}
	free(gz->entries);
	gz->entries = NULL;
	gz->nentries = 0;
}

static enum cp_err
conf_take_gaz(struct conf_ctx *ctx, const config_setting_t *s,
    const char *key, struct conf_gazetteer *gz)
{
	char ekey[CONF_KEY_MAX];
	enum cp_err e;
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return conf_fail(ctx, s, key, "must be a list");
	conf_gaz_free(gz);
	n = config_setting_length(s);
	if (n == 0)
		return CP_OK;
	gz->entries = calloc((size_t)n, sizeof(*gz->entries));
	if (gz->entries == NULL)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		/* Counted first so conf_free frees a half-read entry too. */
		gz->nentries = i + 1;
		cp_fmt(ekey, sizeof(ekey), "%s[%d]", key, i);
		e = conf_take_entry(ctx, config_setting_get_elem(s, (unsigned)i),
		    ekey, &gz->entries[i]);
		if (e != CP_OK)
			return e;
	}
	return CP_OK;
}

static enum cp_err conf_walk(struct conf_ctx *, const config_setting_t *,
    const struct conf_key *, const char *);

/* Stores setting s, found to be key k (dotted name key), into ctx->conf. */
static enum cp_err
conf_take(struct conf_ctx *ctx, const config_setting_t *s,
    const struct conf_key *k, const char *key)
{
	int type = config_setting_type(s);
	char reason[CP_REASON_MAX];
	long long v;
	int mode;
	enum log_level lvl;

	switch (k->kind) {
	case CONF_STR:
		if (type != CONFIG_TYPE_STRING)
			return conf_fail(ctx, s, key, "must be a string");
		return conf_setstr(ctx, conf_strp(ctx->conf, k),
		    config_setting_get_string(s));
	case CONF_INT:
	case CONF_LONG:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			return conf_fail(ctx, s, key, "must be an integer");
		v = config_setting_get_int64(s);
		if (v < k->min || v > k->max)
			return conf_fail(ctx, s, key,
			    "must be between %lld and %lld", k->min, k->max);
		if (k->kind == CONF_INT)
			*conf_intp(ctx->conf, k) = (int)v;
		else
			*(long *)(void *)((char *)ctx->conf + k->off) = (long)v;
		return CP_OK;
	case CONF_MODE:
		if (type != CONFIG_TYPE_STRING)
			return conf_fail(ctx, s, key, "must be a string");
		if (conf_parse_mode(config_setting_get_string(s), &mode) != 0)
			return conf_fail(ctx, s, key,
			    "must be an octal mode from \"0000\" to \"0777\", "
			    "e.g. \"0660\"");
		*conf_intp(ctx->conf, k) = mode;
		return CP_OK;
	case CONF_LEVEL:
		if (type != CONFIG_TYPE_STRING)
			return conf_fail(ctx, s, key, "must be a string");
		if (log_level_parse(config_setting_get_string(s), &lvl) != 0)
			return conf_fail(ctx, s, key, "%s", conf_oneof_reason(
			    reason, sizeof(reason), conf_log_levels));
		*(enum log_level *)(void *)((char *)ctx->conf + k->off) = lvl;
		return CP_OK;
	case CONF_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			return conf_fail(ctx, s, key, "must be true or false");
		*(bool *)(void *)((char *)ctx->conf + k->off) =
		    config_setting_get_bool(s) != 0;
		return CP_OK;
	case CONF_FRAC: {
		double d;
		if (type == CONFIG_TYPE_FLOAT)
			d = config_setting_get_float(s);
		else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			d = (double)config_setting_get_int64(s);
		else
			return conf_fail(ctx, s, key, "must be a number");
		if (!(d >= k->dmin && d <= k->dmax))
			return conf_fail(ctx, s, key, "must be between %g and %g",
			    k->dmin, k->dmax);
		*(double *)(void *)((char *)ctx->conf + k->off) = d;
		return CP_OK;
	}
	case CONF_GROUP:
		if (type != CONFIG_TYPE_GROUP)
			return conf_fail(ctx, s, key, "must be a group");
		return conf_walk(ctx, s, k->sub, key);
	case CONF_GAZ:
		return conf_take_gaz(ctx, s, key,
		    (struct conf_gazetteer *)(void *)((char *)ctx->conf +
		    k->off));
	}
	return conf_fail(ctx, s, key, "unknown key");
}

/* Every member of group must be one of keys; prefix is group's dotted name. */
static enum cp_err
conf_walk(struct conf_ctx *ctx, const config_setting_t *group,
    const struct conf_key *keys, const char *prefix)
{
	char key[CONF_KEY_MAX];
	int n = config_setting_length(group);
	enum cp_err e;

	for (int i = 0; i < n; i++) {
		const config_setting_t *s =
		    config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct conf_key *k;

		if (name == NULL)
			name = "?";
		conf_keypath(key, sizeof(key), prefix, name);
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k->name == NULL)
			return conf_fail(ctx, s, key, "unknown key");
		if ((e = conf_take(ctx, s, k, key)) != CP_OK)
			return e;
	}
	return CP_OK;
}

/* The environment wins over the file (conf.h), set but empty included. */
static enum cp_err
conf_env(struct conf_ctx *ctx, const struct conf_key *keys)
{
	enum cp_err e;

	for (const struct conf_key *k = keys; k->name != NULL; k++) {
		const char *v;

		if (k->kind == CONF_GROUP) {
			if ((e = conf_env(ctx, k->sub)) != CP_OK)
				return e;
			continue;
		}
		if (k->env == NULL || (v = getenv(k->env)) == NULL)
			continue;
		if ((e = conf_setstr(ctx, conf_strp(ctx->conf, k), v)) != CP_OK)
			return e;
		if (ctx->nfrom_env < CONF_ENV_MAX)
			ctx->from_env[ctx->nfrom_env++] = k;
	}
	return CP_OK;
}

static bool
conf_is_from_env(const struct conf_ctx *ctx, const struct conf_key *k)
{
	for (int i = 0; i < ctx->nfrom_env; i++)
		if (ctx->from_env[i] == k)
			return true;
	return false;
}

/*
 * The setting a final-check message points at: key itself when the file has
 * it, else its nearest enclosing group that the file has (line of
 * "twilio = {" for a missing twilio.auth_token), else NULL.
 */
static const config_setting_t *
conf_locate(struct conf_ctx *ctx, const char *key)
{
	char path[CONF_KEY_MAX];
	const config_setting_t *s;
	char *dot;

	cp_fmt(path, sizeof(path), "%s", key);
	for (;;) {
		if ((s = config_lookup(&ctx->cfg, path)) != NULL)
			return s;
		if ((dot = strrchr(path, '.')) == NULL)
			return NULL;
		*dot = '\0';
	}
}

/* Fails about key k whose final value may have come from the environment. */
static enum cp_err
conf_fail_final(struct conf_ctx *ctx, const struct conf_key *k,
    const char *key, const char *reason)
{
	if (k != NULL && conf_is_from_env(ctx, k))
		return conf_fail(ctx, NULL, key, "%s (from %s)", reason, k->env);
	return conf_fail(ctx, conf_locate(ctx, key), key, "%s", reason);
}

/* An http(s) URL with something after the scheme, no spaces, no final '/'. */
static const char *
conf_url_problem(const char *v, const char *const *schemes, const char *want,
    bool no_slash)
{
	const char *rest = NULL;

	for (; *schemes != NULL; schemes++)
		if (strncmp(v, *schemes, strlen(*schemes)) == 0) {
			rest = v + strlen(*schemes);
			break;
		}
	if (rest == NULL)
		return want;
	if (rest[0] == '\0' || rest[0] == '/')
		return "must name a host after the scheme";
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return "must be printable ASCII without spaces";
	if (no_slash && v[strlen(v) - 1] == '/')
		return "must not end with '/'";
	return NULL;
}

static enum cp_err
conf_check_str(struct conf_ctx *ctx, const struct conf_key *k,
    const char *key)
{
	static const char *const ws[] = { "wss://", "ws://", NULL };
	const char *v = *conf_strp(ctx->conf, k);
	const char *why = NULL;
	char reason[CP_REASON_MAX];

	if (v == NULL || (k->sdef == NULL && v[0] == '\0')) {
		if (k->env != NULL && conf_is_from_env(ctx, k)) {
			cp_fmt(reason, sizeof(reason), "missing (%s is empty)",
			    k->env);
			return conf_fail(ctx, NULL, key, "%s", reason);
		}
		if (k->env != NULL) {
			cp_fmt(reason, sizeof(reason), "missing (or set %s)",
			    k->env);
			return conf_fail_final(ctx, NULL, key, reason);
		}
		return conf_fail_final(ctx, NULL, key, "missing");
	}
	if (k->oneof != NULL) {
		const char *const *o;

		for (o = k->oneof; *o != NULL; o++)
			if (strcmp(v, *o) == 0)
				break;
		if (*o == NULL)
			return conf_fail_final(ctx, k, key, conf_oneof_reason(
			    reason, sizeof(reason), k->oneof));
	}
	switch (k->check) {
	case CHK_NONE:
		break;
	case CHK_NONEMPTY:
		if (v[0] == '\0')
			why = "must not be empty";
		break;
	case CHK_WS_URL:
		why = conf_url_problem(v, ws, "must start with wss:// or ws://",
		    false);
		break;
	case CHK_URI_PREFIX: {
		/* One path segment, e.g. "/_recordings/": it goes into an
		 * X-Accel-Redirect header and names an nginx internal location. */
		size_t n = strlen(v);
		if (n < 3 || v[0] != '/' || v[n - 1] != '/' ||
		    strspn(v + 1, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n - 2)
			why = "must be one path segment between '/'s, "
			    "e.g. \"/_recordings/\"";
		break;
	}
	case CHK_ACCOUNT_SID:
		if (!sid_valid(v, "AC"))
			why = "must be AC followed by 32 lowercase hex digits";
		break;
	case CHK_API_ORIGIN:
	case CHK_API_BASE:
		why = http_base_url_problem(v, k->check == CHK_API_BASE);
		break;
	case CHK_HEADER_TOKEN:
		for (const char *p = v; *p != '\0' && why == NULL; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				why = "must be printable ASCII without spaces";
		break;
	case CHK_SIGNING_KEY:
		/* Not "missing": the sample has the line, and the operator
		 * needs to know what to put there. conf_fail_final adds
		 * "(from ENV)" when the empty value came from the environment. */
		if (v[0] != '\0')
			break;
		why = "must not be empty: signed download URLs need a secret "
		    "key, e.g. the output of: openssl rand -hex 32";
		if (k->env != NULL && !conf_is_from_env(ctx, k)) {
			cp_fmt(reason, sizeof(reason), "%s (or set %s)", why,
			    k->env);
			why = reason;
		}
		break;
	case CHK_LANGUAGE:
		if (v[0] != '\0' && (strlen(v) != 2 || v[0] < 'a' || v[0] > 'z' ||
		    v[1] < 'a' || v[1] > 'z'))
			why = "must be \"\" or an ISO-639-1 code such as \"he\" "
			    "(OPENAI.md: the service refuses other forms)";
		break;
	case CHK_STT_BACKEND:
		if (stt_backend_find(v) == NULL)
			why = conf_names_reason(reason, sizeof(reason),
			    &stt_backends[0].name, sizeof(stt_backends[0]));
		break;
	case CHK_SUM_BACKEND:
		if (summary_backend_find(v) == NULL)
			why = conf_names_reason(reason, sizeof(reason),
			    &summary_backends[0].name, sizeof(summary_backends[0]));
		break;
	}
	if (why != NULL)
		return conf_fail_final(ctx, k, key, why);
	return CP_OK;
}

static enum cp_err
conf_check_keys(struct conf_ctx *ctx, const struct conf_key *keys,
    const char *prefix)
{
	char key[CONF_KEY_MAX];
	enum cp_err e;

	for (const struct conf_key *k = keys; k->name != NULL; k++) {
		conf_keypath(key, sizeof(key), prefix, k->name);
		if (k->kind == CONF_GROUP)
			e = conf_check_keys(ctx, k->sub, key);
		else if (k->kind == CONF_STR)
			e = conf_check_str(ctx, k, key);
		else
			e = CP_OK;
		if (e != CP_OK)
			return e;
	}
	return CP_OK;
}

/* Rules that tie two keys together. */
static enum cp_err
conf_check_pairs(struct conf_ctx *ctx)
{
	const struct cp_conf *c = ctx->conf;

	if (c->db.socket[0] == '\0' && c->db.host[0] == '\0')
		return conf_fail_final(ctx, NULL, "database.socket",
		    "missing (or set database.host)");
	if (c->worker.backoff_max_ms < c->worker.backoff_base_ms)
		return conf_fail_final(ctx, NULL, "worker.backoff_max_ms",
		    "must not be less than worker.backoff_base_ms");
	/* A fetch that may take request_timeout_ms must end inside its lease,
	 * or a second worker takes the job over while the first still runs. */
	if ((long long)c->worker.lease_seconds * 1000 <=
	    (long long)c->twilio.request_timeout_ms)
		return conf_fail_final(ctx, NULL, "worker.lease_seconds",
		    "must be longer than twilio.request_timeout_ms");
	/* OPENAI.md: verbose_json needs whisper-1; gpt-4o(-mini)-transcribe
	 * answer it with 400 unsupported_value on every call. */
	if (strcmp(c->stt.openai.response_format, "verbose_json") == 0 &&
	    strncmp(c->stt.openai.model, "gpt-4o", 6) == 0)
		return conf_fail_final(ctx, NULL, "stt.openai.response_format",
		    "must be \"json\" for the gpt-4o transcribe models "
		    "(OPENAI.md: verbose_json needs whisper-1)");
	/* OPENAI.md: 25 MiB per upload. A chunk of 16-bit mono at upload_rate
	 * must fit, with room for the WAV header; at the recording's own
	 * rate (upload_rate 0) stt_openai.c shortens chunks that would not. */
	if (c->stt.openai.upload_rate > 0 &&
	    (long long)c->stt.openai.chunk_seconds * c->stt.openai.upload_rate *
	    2 + 4096 > 25LL * 1024 * 1024)
		return conf_fail_final(ctx, NULL, "stt.openai.chunk_seconds",
		    "too long for stt.openai.upload_rate: an upload would pass "
		    "25 MiB (OPENAI.md)");
	return CP_OK;
}

/*
 * The file a secret key's value was read from: NULL for the main file
 * (ctx->path), else the @include'd file libconfig names
 * (config_setting_source_file; settings of the stream config_read parsed
 * have none).
 */
static const char *
conf_secret_source(struct conf_ctx *ctx, const char *dotted)
{
	const config_setting_t *s = config_lookup(&ctx->cfg, dotted);
	const char *f = s != NULL ? config_setting_source_file(s) : NULL;

	return f == NULL || strcmp(f, ctx->path) == 0 ? NULL : f;
}

/*
 * Appends to names (len bytes) the dotted name of every secret key the
 * file `file` (NULL: the main file; else an @include'd one) set to a
 * non-empty value: called after conf_walk, before the environment, so
 * *conf holds what the files say (every secret's default is "" or NULL).
 * Returns the count.
 */
static int
conf_secrets(struct conf_ctx *ctx, const struct conf_key *keys,
    const char *prefix, const char *file, char *names, size_t len)
{
	char dotted[CONF_KEY_MAX];
	const char *src;
	size_t used;
	int n = 0;

	for (const struct conf_key *k = keys; k->name != NULL; k++) {
		conf_keypath(dotted, sizeof(dotted), prefix, k->name);
		if (k->kind == CONF_GROUP) {
			n += conf_secrets(ctx, k->sub, dotted, file, names, len);
			continue;
		}
		if (!k->secret || *conf_strp(ctx->conf, k) == NULL ||
		    (*conf_strp(ctx->conf, k))[0] == '\0')
			continue;
		src = conf_secret_source(ctx, dotted);
		if ((src == NULL) != (file == NULL) ||
		    (src != NULL && strcmp(src, file) != 0))
			continue;
		used = strlen(names);
		cp_fmt(names + used, len - used, "%s%s", used > 0 ? ", " : "",
		    dotted);
		n++;
	}
	return n;
}

static enum cp_err
conf_mode_fail(struct conf_ctx *ctx, const char *file, mode_t mode)
{
	char names[512] = "";

	(void)conf_secrets(ctx, conf_root_keys, "",
	    file == ctx->path ? NULL : file, names, sizeof(names));
	if (ctx->err != NULL && ctx->errlen > 0)
		cp_fmt(ctx->err, ctx->errlen, "%s: mode %04o lets every user "
		    "read the secrets it holds (%s): chmod 0640 %s", file,
		    (unsigned)(mode & 07777), names, file);
	return CP_INPUT;
}

/* Each secret set in an @include'd file: that file's mode (stat(2);
 * libconfig opened it itself). */
static enum cp_err
conf_check_includes(struct conf_ctx *ctx, const struct conf_key *keys,
    const char *prefix)
{
	char dotted[CONF_KEY_MAX];
	const char *src;
	struct stat st;
	enum cp_err e;

	for (const struct conf_key *k = keys; k->name != NULL; k++) {
		conf_keypath(dotted, sizeof(dotted), prefix, k->name);
		if (k->kind == CONF_GROUP) {
			if ((e = conf_check_includes(ctx, k->sub, dotted)) != CP_OK)
				return e;
			continue;
		}
		if (!k->secret || *conf_strp(ctx->conf, k) == NULL ||
		    (*conf_strp(ctx->conf, k))[0] == '\0' ||
		    (src = conf_secret_source(ctx, dotted)) == NULL)
			continue;
		if (stat(src, &st) != 0) {
			if (ctx->err != NULL && ctx->errlen > 0)
				cp_fmt(ctx->err, ctx->errlen, "%s: %s: cannot stat "
				    "the file it is set in: %s", src, dotted,
				    strerror(errno));
			return CP_INPUT;
		}
		if ((st.st_mode & S_IROTH) != 0)
			return conf_mode_fail(ctx, src, st.st_mode);
	}
	return CP_OK;
}

/*
 * A file others can read must not hold a secret: st_mode of the main file
 * as it was read (fstat(2) of the open stream, so a chmod between the
 * check and the read cannot slip through), and that of each @include'd
 * file a secret is set in. A secret set only in the environment counts
 * for no file. S_IROTH is POSIX <sys/stat.h>.
 */
static enum cp_err
conf_check_mode(struct conf_ctx *ctx, const struct stat *st)
{
	char names[512] = "";

	if ((st->st_mode & S_IROTH) != 0 && conf_secrets(ctx, conf_root_keys,
	    "", NULL, names, sizeof(names)) > 0)
		return conf_mode_fail(ctx, ctx->path, st->st_mode);
	return conf_check_includes(ctx, conf_root_keys, "");
}

static enum cp_err
conf_load_cfg(struct conf_ctx *ctx)
{
	enum cp_err e;
	struct stat st;
	FILE *f;
	int saved, ok;

	/* config_read on our own stream (libconfig's config_read_file does
	 * the same fopen), so the mode checked is that of the file read. */
	if ((f = fopen(ctx->path, "r")) == NULL || fstat(fileno(f), &st) != 0) {
		saved = errno;
		if (f != NULL)
			fclose(f);
		if (ctx->err != NULL && ctx->errlen > 0)
			cp_fmt(ctx->err, ctx->errlen, "%s: cannot read: %s",
			    ctx->path, strerror(saved));
		return CP_INPUT;
	}
	errno = 0;
	ok = config_read(&ctx->cfg, f) == CONFIG_TRUE;
	saved = errno;
	fclose(f);
	if (!ok) {
		if (config_error_type(&ctx->cfg) == CONFIG_ERR_FILE_IO) {
			if (ctx->err != NULL && ctx->errlen > 0)
				cp_fmt(ctx->err, ctx->errlen,
				    "%s: cannot read: %s", ctx->path,
				    saved != 0 ? strerror(saved) :
				    config_error_text(&ctx->cfg));
			return CP_INPUT;
		}
		if (ctx->err != NULL && ctx->errlen > 0)
			cp_fmt(ctx->err, ctx->errlen, "%s:%d: parse error: %s",
			    config_error_file(&ctx->cfg) != NULL ?
			    config_error_file(&ctx->cfg) : ctx->path,
			    config_error_line(&ctx->cfg),
			    config_error_text(&ctx->cfg));
		return CP_INPUT;
	}
	if ((e = conf_walk(ctx, config_root_setting(&ctx->cfg),
	    conf_root_keys, "")) != CP_OK)
		return e;
	if ((e = conf_check_mode(ctx, &st)) != CP_OK)
		return e;
	if ((e = conf_env(ctx, conf_root_keys)) != CP_OK)
		return e;
	if ((e = conf_check_keys(ctx, conf_root_keys, "")) != CP_OK)
		return e;
	return conf_check_pairs(ctx);
}

enum cp_err
conf_load(const char *path, struct cp_conf *conf, char *err, size_t errlen)
{
	struct conf_ctx ctx;
	enum cp_err e;

	memset(conf, 0, sizeof(*conf));
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	ctx.conf = conf;
	ctx.err = err;
	ctx.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((conf->path = strdup(path)) == NULL)
		return conf_nomem(&ctx);
	if ((e = conf_defaults(&ctx, conf_root_keys)) != CP_OK) {
		conf_free(conf);
		return e;
	}
	config_init(&ctx.cfg);
	e = conf_load_cfg(&ctx);
	config_destroy(&ctx.cfg);
	if (e != CP_OK)
		conf_free(conf);
	return e;
}

static void
conf_free_keys(struct cp_conf *conf, const struct conf_key *keys)
{
	for (const struct conf_key *k = keys; k->name != NULL; k++) {
		if (k->kind == CONF_STR) {
			char **sp = conf_strp(conf, k);

			free(*sp);
			*sp = NULL;
		} else if (k->kind == CONF_GROUP)
			conf_free_keys(conf, k->sub);
		else if (k->kind == CONF_GAZ)
			conf_gaz_free((struct conf_gazetteer *)(void *)
			    ((char *)conf + k->off));
	}
}

void
conf_free(struct cp_conf *conf)
{
	if (conf == NULL)
		return;
	conf_free_keys(conf, conf_root_keys);
	free(conf->path);
	memset(conf, 0, sizeof(*conf));
}
