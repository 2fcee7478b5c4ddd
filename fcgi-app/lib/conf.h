/*
 * conf.h: callpipe's configuration, one libconfig file (etc/callpipe.conf is
 * the annotated sample with every key).
 *
 * Secrets may come from the environment instead of the file; the
 * environment wins. The mapping (also in README.md):
 *   CALLPIPE_TWILIO_AUTH_TOKEN  -> twilio.auth_token
 *   CALLPIPE_TWILIO_ACCOUNT_SID -> twilio.account_sid
 *   CALLPIPE_DB_PASSWORD        -> database.password
 *   CALLPIPE_DB_USER            -> database.user
 *   CALLPIPE_SIGNING_KEY        -> api.signing_key
 *   CALLPIPE_SIGNING_KEY_PREVIOUS -> api.signing_key_previous
 *   CALLPIPE_STT_BACKEND        -> stt.backend
 *   CALLPIPE_STT_BASE_URL       -> stt.openai.base_url
 *   CALLPIPE_STT_MODEL          -> stt.openai.model
 *   CALLPIPE_STT_LANGUAGE       -> stt.openai.language
 *   CALLPIPE_STT_API_KEY        -> stt.openai.api_key
 *   CALLPIPE_SUMMARY_BACKEND    -> summary.backend
 *   CALLPIPE_SUMMARY_BASE_URL   -> summary.openai.base_url
 *   CALLPIPE_SUMMARY_MODEL      -> summary.openai.model
 *   CALLPIPE_SUMMARY_API_KEY    -> summary.openai.api_key
 */
#ifndef CP_CONF_H
#define CP_CONF_H

#include <stdbool.h>

#include "cp_err.h"
#include "log.h"

/* One gazetteer entry: a canonical name and the words that name it. */
struct conf_gazetteer_entry {
	char  *name;        /* canonical name written to call_log (English) */
	char  *name_he;     /* Hebrew name, for the summary */
	char **terms;       /* NULL-terminated; English and Hebrew spellings */
	int    nterms;
};

struct conf_gazetteer {
	struct conf_gazetteer_entry *entries;
	int                          nentries;
};

struct cp_conf {
	char *path;                 /* the file it was loaded from */

	char *public_base_url;      /* e.g. "https://calls.example.com", no trailing / */
	long  default_business_id;  /* 0 = none: such calls keep business_id NULL */

	struct {
		char *host;             /* NULL or "" with socket set: use the socket */
		int   port;
		char *socket;           /* unix socket path */
		char *user;
		char *password;
		char *name;             /* database (schema) name */
		int   connect_timeout_s;
	} db;

	struct {
		char *account_sid;      /* AC + 32 hex */
		char *auth_token;
		char *api_base;         /* "https://api.twilio.com", no trailing / */
		int   request_timeout_ms;
	} twilio;

	struct {
		char *url;              /* wss:// URL of the realtime agent */
	} stream;

	struct {
		char *mode;             /* "twiml" (<Start><Recording>) or "rest" (start_recording job) */
		char *cache_dir;
		char *cache_group;      /* group of cache_dir (mode 2750, setgid),
		                           so nginx reads the files; "" = leave it */
		char *nginx_internal_prefix; /* X-Accel-Redirect prefix, e.g. "/_recordings/" */
		int   retention_days;   /* default 7 */
		int   miss_wait_ms;     /* 0 .. 5000: how long a download waits on a
		                           cache miss for the refill job's file */
		int   rest_start_timeout_s; /* mode "rest": how long start_recording
		                           tries while the call still rings */
		bool  delete_at_twilio; /* the purge also deletes the recording at
		                           Twilio (DELETE .../Recordings/{Sid}.json) */
		double min_coverage;    /* 0 .. 1: a call whose stored audio covers
		                           less of CallDuration is "low coverage" */
	} recording;

	struct {
		int   retention_days;   /* transcripts and summaries of calls older
		                           than this are cleared; 0 = kept */
	} transcript;

	struct {
		int   retention_days;   /* finished (done/dead) jobs older than this
		                           are deleted by the sweep */
	} jobs;

	struct {
		char *backend;          /* a row of stt_backends[]: "pocketsphinx", "openai" */
		char *ps_hmm;           /* acoustic model directory */
		char *ps_lm;            /* language model (.lm.bin / .lm) */
		char *ps_dict;          /* pronunciation dictionary */
		struct {
			char *base_url;         /* "https://api.openai.com/v1"; + "/audio/transcriptions" */
			char *model;            /* "whisper-1" */
			char *language;         /* ISO-639-1, "" = the service detects it */
			char *api_key;          /* Bearer; "" = none sent (whisper.cpp) */
			char *prompt;           /* vocabulary hint, "" = none */
			char *response_format;  /* "verbose_json" | "json" */
			char *upload_format;    /* "wav" | "flac" */
			int   timeout_ms;       /* per upload */
			int   upload_rate;      /* Hz; 0 = as recorded */
			int   chunk_seconds;    /* longest upload, >= 10 */
		} openai;
	} stt;

	struct {
		char *backend;          /* a row of summary_backends[]: "rules", "openai" */
		struct conf_gazetteer services;
		struct conf_gazetteer cities;
		struct {
			char *base_url;         /* + "/chat/completions" */
			char *model;            /* "gpt-4o-mini" */
			char *api_key;          /* Bearer; "" = none sent */
			char *response_format;  /* "json_schema" | "json_object" */
			int   timeout_ms;
		} openai;
	} summary;

	struct {
		char *socket;           /* FastCGI unix socket path */
		int   socket_mode;      /* permission bits; the file gives a string in octal, "0660" */
		char *socket_group;     /* the socket's group (nginx's user is in it); "" = leave it */
		int   children;         /* pre-forked children */
		int   max_requests;     /* a child exits after this many; 0 = never */
		int   max_body_bytes;   /* request bodies larger than this: 413 */
	} fcgi;

	struct {
		int   processes;        /* workers spawned by callpipe-fcgi (0 = none) */
		char *binary;           /* path of callpipe-worker */
		int   poll_interval_ms; /* idle poll period, jittered */
		int   lease_seconds;    /* longer than the longest job */
		int   max_attempts;
		int   backoff_base_ms;  /* first retry delay */
		int   backoff_max_ms;   /* cap */
		int   reconcile_delay_s; /* after a call ends, ask Twilio for a
		                            recording no callback reported */
		int   sweep_interval_s; /* one sweep job per this period */
		int   sweep_after_s;    /* a call with no event this long is swept */
		int   claim_batch;      /* jobs claimed per transaction (queue.h) */
	} worker;

	struct {
		char *signing_key;      /* HMAC-SHA256 key of signed download URLs
		                           (sign.h); never "" after a load */
		char *signing_key_previous; /* the key before the last rotation,
		                           still accepted; "" = none */
		int   signed_url_ttl_s; /* 1 .. 86400: longest life of a signed URL,
		                           and the default one */
	} api;

	struct {
		int   max_queue_age_s;  /* /healthz is 503 once the oldest due job
		                           has waited longer (seconds, by run_after) */
	} health;

	struct {
		char *user;             /* started as root: become this user (priv.h);
		                           "" = no drop, and root is refused */
		char *group;            /* its group; "" = the user's primary group */
	} process;

	enum log_level log_level;
	char *log_format;           /* "text" | "logfmt" | "json" (log.h) */
	bool  log_timestamps;       /* false: no time in a line (journald) */
};

/*
 * Loads path into *conf (zeroed first), applies defaults and the
 * environment overrides above, and validates every key.
 * Returns CP_OK; CP_INPUT with err (at most errlen bytes) saying
 * "FILE:LINE: KEY: reason" for a missing, unknown or wrong key, or
 * "FILE: reason" when the file cannot be read or parsed; CP_NOMEM.
 * A file that sets a secret (twilio.auth_token, database.password,
 * api.signing_key[_previous], stt/summary.openai.api_key) to a non-empty
 * value and is readable by others (mode & 0004, stat(2)'s st_mode of the
 * open file) is refused: "FILE: mode 0644 lets every user read the
 * secrets it holds (KEY): chmod 0640 FILE".
 * On error *conf holds nothing that needs conf_free (it is freed).
 */
enum cp_err conf_load(const char *path, struct cp_conf *conf,
    char *err, size_t errlen);

/* Frees everything conf_load allocated; conf may be zeroed. */
void conf_free(struct cp_conf *conf);

#endif
