#include "ctl.h"

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "auth.h"
#include "calls.h"
#include "cp_num.h"
#include "ctl_ops.h"
#include "db.h"
#include "jobs.h"
#include "legacy.h"
#include "log.h"
#include "migrate.h"
#include "phone.h"
#include "purge.h"
#include "sid.h"
#include "sign.h"
#include "stt.h"
#include "summary.h"
#include "sweep.h"
#include "jobkey.h"

/*
 * The migrations directory: --dir (opt), else $CALLPIPE_SCHEMA_DIR, else,
 * for a callpipectl run from the build tree it was built in (the local
 * stack, the tests: /proc/self/exe lies under CP_BUILD_DIR), the source
 * tree's schema/ (CP_SRC_SCHEMA_DIR), else CP_SCHEMA_DIR, the installed
 * $(pkgdatadir)/schema (Makefile.am). Never a guess between two copies:
 * an installed program reads only the installed migrations.
 */
static const char *
ctl_schema_dir(const char *opt)
{
	static char exe[PATH_MAX], build[PATH_MAX];
	const char *env = getenv("CALLPIPE_SCHEMA_DIR");
	ssize_t n;
	size_t blen;

	if (opt != NULL)
		return opt;
	if (env != NULL && *env != '\0')
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0 && realpath(CP_BUILD_DIR, build) != NULL) {
		exe[n] = '\0';
		blen = strlen(build);
		if (strncmp(exe, build, blen) == 0 && exe[blen] == '/')
			return CP_SRC_SCHEMA_DIR;
	}
	return CP_SCHEMA_DIR;
}

struct db *
ctl_db(const struct cp_conf *conf)
{
	struct db *db = NULL;
	char err[CP_REASON_MAX + 1];

	if (db_open(conf, &db, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "callpipectl: %s\n", err);
		db_close(db);
		return NULL;
	}
	return db;
}

int
ctl_arg_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "callpipectl: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (callpipectl %s --help)\n", name);
	return 2;
}

int
ctl_bad_arg(const char *name, const char *arg)
{
	return ctl_arg_error(name, "bad argument '%s' (unknown, or its value is "
	    "missing)", arg);
}

static int
ctl_migrate(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	const char *opt = NULL, *dir;
	char err[CP_REASON_MAX + 1] = "";
	struct db *db;
	int applied = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			opt = argv[++i];
		else
			return ctl_bad_arg(name, argv[i]);
	}
	dir = ctl_schema_dir(opt);
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	if (migrate_run(db, dir, &applied, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "callpipectl: migrate: %s\n", err);
		db_close(db);
		return 1;
	}
	db_close(db);
	printf("%d migration(s) applied from %s\n", applied, dir);
	return 0;
}

/* upgrade-legacy [--dir DIR] [--batch N]: legacy.h. */
static int
ctl_upgrade_legacy(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	const char *opt = NULL, *dir;
	char err[CP_REASON_MAX + 1] = "";
	struct db *db;
	long long batch = 10000;
	enum cp_err rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			opt = argv[++i];
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			if (cp_parse_ll(argv[++i], 1, 1000000, &batch) != CP_OK)
				return ctl_arg_error(name, "--batch takes 1 to "
				    "1000000 rows");
		} else
			return ctl_bad_arg(name, argv[i]);
	}
	dir = ctl_schema_dir(opt);
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	rc = legacy_upgrade(db, dir, (long)batch, stdout, err, sizeof(err));
	db_close(db);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: upgrade-legacy: %s\n", err);
		return 1;
	}
	return 0;
}

struct ctl_business {
	const char  *name;
	const char  *language;   /* ISO-639-1 or NULL */
	char       **numbers;
	int          nnumbers;
	unsigned long long id;
};

static enum cp_err
ctl_business_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct ctl_business *b = arg;
	struct db_param p[2];

	p[0] = db_str(b->name);
	p[1] = b->language ? db_str(b->language) : db_null();
	if (db_exec(db, "INSERT INTO businesses (name, language) VALUES (?, ?)",
	    p, 2, NULL, NULL) != CP_OK)
		return CP_DB;
	b->id = db_insert_id(db);
	for (int i = 0; i < b->nnumbers; i++) {
		p[0] = db_str(b->numbers[i]);
		p[1] = db_i64((long long)b->id);
		if (db_exec(db, "INSERT INTO business_numbers (number, "
		    "business_id) VALUES (?, ?)", p, 2, NULL, NULL) != CP_OK) {
			cp_fmt(err, errlen, "number %s: %s", b->numbers[i],
			    db_error(db));
			return CP_INPUT;
		}
	}
	return CP_OK;
}

static int
ctl_business(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	struct ctl_business b = { NULL, NULL, NULL, 0, 0 };
	char *numbers[64], err[CP_REASON_MAX + 1] = "";
	struct db *db;
	enum cp_err rc;

	b.numbers = numbers;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			b.name = argv[++i];
		else if (strcmp(argv[i], "--language") == 0 && i + 1 < argc) {
			/* The code the STT service takes (OPENAI.md). */
			const char *l = argv[++i];
			if (strlen(l) != 2 || l[0] < 'a' || l[0] > 'z' ||
			    l[1] < 'a' || l[1] > 'z')
				return ctl_arg_error(name, "--language %s is not an "
				    "ISO-639-1 code such as he or en", l);
			b.language = l;
		} else if (strcmp(argv[i], "--number") == 0 && i + 1 < argc &&
		    b.nnumbers < 64) {
			if (!phone_e164(argv[i + 1]))
				return ctl_arg_error(name, "%s is not an E.164 "
				    "number ('+', a digit 1-9, 2 to 15 digits in "
				    "all)", argv[i + 1]);
			numbers[b.nnumbers++] = argv[++i];
		} else
			return ctl_bad_arg(name, argv[i]);
	}
	if (b.name == NULL || *b.name == '\0' || strlen(b.name) > 255)
		return ctl_arg_error(name, "needs --name (1 to 255 bytes)");
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	rc = db_tx(db, ctl_business_tx, &b, err, sizeof(err));
	db_close(db);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: business create: %s\n", err);
		return 1;
	}
	printf("%llu\n", b.id);
	return 0;
}

/* token create --business ID --name NAME: prints the token, once. */
static int
ctl_token_create(const struct cp_conf *conf, const char *name_, int argc,
    char **argv)
{
	const char *name = NULL, *bid = NULL;
	char tok[AUTH_TOKEN_LEN + 1];
	struct db *db;
	long long business, id = 0;
	enum cp_err rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--business") == 0 && i + 1 < argc)
			bid = argv[++i];
		else
			return ctl_bad_arg(name_, argv[i]);
	}
	if (cp_parse_ll(bid, 1, LLONG_MAX, &business) != CP_OK ||
	    name == NULL || *name == '\0' || strlen(name) > 255)
		return ctl_arg_error(name_, "needs --business ID and --name NAME "
		    "(1 to 255 bytes)");
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	rc = auth_token_create(db, business, name, &id, tok);
	if (rc == CP_NOTFOUND)
		fprintf(stderr, "callpipectl: token create: no business %lld\n",
		    business);
	else if (rc == CP_INPUT)
		fprintf(stderr, "callpipectl: token create: --name must be UTF-8 "
		    "without control characters\n");
	else if (rc == CP_SYSTEM)
		fprintf(stderr, "callpipectl: token create: no random source\n");
	else if (rc != CP_OK)
		fprintf(stderr, "callpipectl: token create: %s\n", db_error(db));
	db_close(db);
	if (rc != CP_OK)
		return rc == CP_INPUT ? 2 : 1;
	/* Printed once; only its SHA-256 is kept. */
	printf("%s\n", tok);
	return 0;
}

/* s for a tab-separated line (ctl_ops.h): control characters (a name
 * stored by other means than token create) become '?', NULL and "" "-". */
void
ctl_print_field(const char *s)
{
	if (s == NULL || *s == '\0') {
		fputs("-", stdout);
		return;
	}
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* token list [--business ID]: a header line, then one tab-separated line
 * per token: id, business, name, created, last used, revoked ("-" = not). */
static int
ctl_token_list(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	struct auth_token_info *rows = NULL;
	long long business = 0;
	struct db *db;
	size_t n = 0;
	enum cp_err rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--business") == 0 && i + 1 < argc) {
			if (cp_parse_ll(argv[++i], 1, LLONG_MAX, &business) != CP_OK)
				return ctl_arg_error(name, "--business %s is not a "
				    "business id", argv[i]);
		} else
			return ctl_bad_arg(name, argv[i]);
	}
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	rc = auth_token_list(db, business, &rows, &n);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: token list: %s\n",
		    rc == CP_DB ? db_error(db) : cp_strerror(rc));
		db_close(db);
		return 1;
	}
	db_close(db);
	printf("id\tbusiness\tname\tcreated\tlast_used\trevoked\n");
	for (size_t i = 0; i < n; i++) {
		printf("%lld\t%lld\t", rows[i].id, rows[i].business_id);
		ctl_print_field(rows[i].name);
		putchar('\t');
		ctl_print_field(rows[i].created_at);
		putchar('\t');
		ctl_print_field(rows[i].last_used_at);
		putchar('\t');
		ctl_print_field(rows[i].revoked_at);
		putchar('\n');
	}
	free(rows);
	return 0;
}

/* token revoke ID: exit 1 when there is no active token ID. */
static int
ctl_token_revoke(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	struct db *db;
	long long id;
	enum cp_err rc;

	if (argc != 1)
		return ctl_arg_error(name, "takes one token ID");
	if (cp_parse_ll(argv[0], 1, LLONG_MAX, &id) != CP_OK)
		return ctl_arg_error(name, "%s is not a token id (the first column "
		    "of token list)", argv[0]);
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	rc = auth_token_revoke(db, id);
	if (rc == CP_NOTFOUND)
		fprintf(stderr, "callpipectl: token revoke: no active token %lld "
		    "(unknown, or revoked already)\n", id);
	else if (rc != CP_OK)
		fprintf(stderr, "callpipectl: token revoke: %s\n", db_error(db));
	db_close(db);
	if (rc != CP_OK)
		return 1;
	printf("token %lld revoked\n", id);
	return 0;
}

/*
 * url CALL_SID [--ttl S] [--format wav|mp3]: a signed download URL of the
 * call (sign.h), as POST /api/calls/<sid>/download-url would mint it for
 * the call's business. Prints the relative URL, then the absolute one
 * under public_base_url.
 */
static int
ctl_url(const struct cp_conf *conf, const char *name, int argc, char **argv)
{
	const char *sid = NULL, *format = "wav";
	enum store_format fmt;
	char url[SIGN_URL_MAX];
	struct calls_row row;
	long long ttl = conf->api.signed_url_ttl_s;
	struct db *db;
	enum cp_err rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
			if (cp_parse_ll(argv[++i], 1, conf->api.signed_url_ttl_s,
			    &ttl) != CP_OK)
				return ctl_arg_error(name, "--ttl must be 1 .. %d "
				    "seconds (api.signed_url_ttl_s)",
				    conf->api.signed_url_ttl_s);
		} else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			format = argv[++i];
			if (store_format_parse(format, &fmt) != CP_OK)
				return ctl_arg_error(name, "--format must be wav or "
				    "mp3");
		} else if (sid == NULL && argv[i][0] != '-')
			sid = argv[i];
		else
			return ctl_bad_arg(name, argv[i]);
	}
	if (sid == NULL)
		return ctl_arg_error(name, "needs a CALL_SID");
	if (!sid_valid(sid, "CA"))
		return ctl_arg_error(name, "%s is not a CallSid (CA + 32 hex)", sid);
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	rc = calls_get(db, sid, &row);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: url: %s\n", db_error(db));
		db_close(db);
		return 1;
	}
	db_close(db);
	if (!row.found) {
		fprintf(stderr, "callpipectl: url: no call %s\n", sid);
		return 1;
	}
	/* The MAC covers the business: a call without one has no token
	 * that could see it, and no URL either (DESIGN.md §6). */
	if (row.business_id < 1) {
		fprintf(stderr, "callpipectl: url: call %s has no business\n", sid);
		return 1;
	}
	rc = sign_download_url(conf, sid, format, (long long)time(NULL) + ttl,
	    row.business_id, url, sizeof(url));
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: url: cannot sign: %s\n",
		    cp_strerror(rc));
		return 1;
	}
	if (strcmp(row.recording_status, "completed") != 0)
		fprintf(stderr, "callpipectl: url: note: the recording is %s; "
		    "the URL answers 404 until it is completed\n",
		    row.recording_status);
	printf("%s\n", url);
	if (conf->public_base_url != NULL && conf->public_base_url[0] != '\0')
		printf("%s%s\n", conf->public_base_url, url);
	return 0;
}

static int
ctl_transcribe(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	struct stt_result res;
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err rc;

	if (argc != 1)
		return ctl_arg_error(name, "takes one FILE.wav");
	memset(&res, 0, sizeof(res));
	rc = stt_transcribe_file(conf, argv[0], NULL, &res, NULL, err,
	    sizeof(err));
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: transcribe %s: %s: %s\n", argv[0],
		    cp_strerror(rc), err);
		return 1;
	}
	/* One line per segment, merged by time: "[12.34-15.67] Caller: ..." */
	for (size_t i = 0; i < res.nsegs; i++)
		printf("[%.2f-%.2f] %s: %s\n", res.segs[i].start_s,
		    res.segs[i].end_s, stt_speaker_label(res.segs[i].speaker),
		    res.segs[i].text);
	printf("language: %s\n", res.language[0] ? res.language : "-");
	stt_result_free(&res);
	return 0;
}

/* Reads all of path (at most max bytes) into a NUL-terminated string. */
static char *
ctl_slurp(const char *path, size_t max, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		cp_fmt(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		cp_fmt(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		cp_fmt(err, errlen, "larger than %zu bytes", max);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * summarize FILE.txt: the configured summary backend on a transcript
 * ("Caller: ..." / "Agent: ..." lines), printing the validated answer as
 * one JSON object, as the worker would store it.
 */
static int
ctl_summarize(const struct cp_conf *conf, const char *name, int argc,
    char **argv)
{
	struct summary_result res;
	struct summary_request req = { NULL, "" };
	struct json_object *o;
	char err[CP_REASON_MAX + 1], *text;
	enum cp_err rc;

	if (argc != 1)
		return ctl_arg_error(name, "takes one FILE.txt");
	if ((text = ctl_slurp(argv[0], 1024 * 1024, err, sizeof(err))) == NULL) {
		fprintf(stderr, "callpipectl: summarize %s: %s\n", argv[0], err);
		return 1;
	}
	req.transcript = text;
	memset(&res, 0, sizeof(res));
	rc = summary_run(conf, &req, &res, NULL, err, sizeof(err));
	free(text);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: summarize %s: %s: %s\n", argv[0],
		    cp_strerror(rc), err);
		return 1;
	}
	if ((o = json_object_new_object()) == NULL) {
		summary_result_free(&res);
		return 1;
	}
	json_object_object_add(o, "service", res.service ?
	    json_object_new_string(res.service) : NULL);
	json_object_object_add(o, "city", res.city ?
	    json_object_new_string(res.city) : NULL);
	json_object_object_add(o, "confidence",
	    json_object_new_double(res.confidence));
	json_object_object_add(o, "summary", json_object_new_string(res.summary));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	summary_result_free(&res);
	return 0;
}

struct ctl_retry {
	const struct cp_conf *conf;
	const char           *call_sid;
	enum calls_stage      stage;
	int                   retry_count;
};

static enum cp_err
ctl_retry_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct ctl_retry *r = arg;
	enum cp_err rc = jobs_retry(db, r->conf, r->call_sid, &r->stage,
	    &r->retry_count);

	if (rc == CP_NOTFOUND)
		cp_fmt(err, errlen, "no call %s", r->call_sid);
	else if (rc == CP_INPUT)
		cp_fmt(err, errlen, "call %s has no failed stage: nothing to retry",
		    r->call_sid);
	return rc;
}

static int
ctl_retry(const struct cp_conf *conf, const char *name, int argc, char **argv)
{
	static const char *const names[] = { "recording", "transcript",
	    "summary" };
	struct ctl_retry r = { conf, NULL, CALLS_RECORDING, 0 };
	char err[CP_REASON_MAX + 1] = "";
	struct db *db;
	enum cp_err rc;

	if (argc != 1)
		return ctl_arg_error(name, "takes one CALL_SID");
	if (!sid_valid(argv[0], "CA"))
		return ctl_arg_error(name, "%s is not a CallSid (CA + 32 hex)",
		    argv[0]);
	r.call_sid = argv[0];
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	rc = db_tx(db, ctl_retry_tx, &r, err, sizeof(err));
	db_close(db);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: retry: %s\n", err);
		return 1;
	}
	printf("%s: %s stage back to pending (retry %d); its job is queued\n",
	    r.call_sid, names[r.stage], r.retry_count);
	return 0;
}

static void
ctl_purge_note(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* purge [--dry-run]: the retention purge now (purge.h), this host's cache
 * and the database side; a line per thing deleted, then the totals. Exit
 * 0, or 1 when something failed (a Twilio delete, the database). */
static int
ctl_purge(const struct cp_conf *conf, const char *name, int argc, char **argv)
{
	struct purge_stats st = { 0 };
	char err[CP_REASON_MAX + 1] = "";
	const char *would;
	bool dry = false;
	struct db *db;
	enum cp_err rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") != 0)
			return ctl_bad_arg(name, argv[i]);
		dry = true;
	}
	would = dry ? "would be " : "";
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	printf("purge%s: recordings of calls older than %d days\n",
	    dry ? " (dry run: nothing is deleted)" : "",
	    conf->recording.retention_days);
	if (conf->transcript.retention_days > 0)
		printf("purge: transcripts of calls older than %d days\n",
		    conf->transcript.retention_days);
	else
		printf("purge: transcript.retention_days is 0: transcripts are "
		    "kept\n");
	if (!conf->recording.delete_at_twilio)
		printf("purge: recording.delete_at_twilio is false: recordings are "
		    "kept at Twilio\n");
	rc = purge_cache(conf, db, dry, ctl_purge_note, NULL, &st, err,
	    sizeof(err));
	if (rc == CP_OK)
		rc = purge_database(conf, db, NULL, dry, ctl_purge_note, NULL, &st,
		    err, sizeof(err));
	db_close(db);
	printf("purge: %d cache file(s) %sdeleted (%lld bytes) from %s; %d "
	    "recording(s) %sdeleted at Twilio, %d failed; %d call(s)' "
	    "transcripts %scleared\n", st.cache_files, would, st.cache_bytes,
	    conf->recording.cache_dir, st.twilio_deleted, would,
	    st.twilio_failed, st.transcripts, would);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: %s\n", err[0] ? err :
		    cp_strerror(rc));
		return 1;
	}
	return st.twilio_failed > 0 ? 1 : 0;
}

/*
 * sweep: one sweep (sweep.h) at once, of the period now is in, without a
 * job: a line per job it gave (rule, CallSid, dedupe key, idle seconds)
 * and per delete, then the totals. Exit 0, or 1 when the database failed
 * (what was done stays done).
 */
static int
ctl_sweep(const struct cp_conf *conf, const char *name, int argc, char **argv)
{
	struct sweep_counts counts;
	char err[CP_REASON_MAX + 1] = "";
	long long period;
	struct db *db;
	enum cp_err rc;

	if (argc != 0)
		return ctl_arg_error(name, "takes no arguments, not '%s'", argv[0]);
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	period = jobkey_sweep_period((long long)time(NULL),
	    conf->worker.sweep_interval_s);
	rc = sweep_run(db, conf, period, stdout, &counts, err, sizeof(err));
	db_close(db);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: sweep: %s\n", err);
		return 1;
	}
	printf("sweep %lld: %d reconcile(s), %d stage job(s) again, %lld "
	    "finished job(s) deleted\n", period, counts.reconciles,
	    counts.requeued, counts.jobs_deleted);
	return 0;
}

/*
 * The commands, one row each: the name (one or two words, as typed), its
 * arguments, what it does (lines after the first start with "\n"), and
 * the handler, which gets the words after the name. --help prints the
 * rows; a command of two words is found by both.
 */
typedef int (*ctl_fn)(const struct cp_conf *, const char *, int, char **);
static const struct ctl_cmd {
	const char *name;
	const char *args;
	const char *help;
	ctl_fn      run;
} ctl_cmds[] = {
	{ "migrate", "[--dir DIR]",
	  "apply the missing schema migrations of DIR", ctl_migrate },
	{ "upgrade-legacy", "[--dir DIR] [--batch N]",
	  "turn the earlier system's call_log into callpipe's\n"
	  "(resumable; copies call_log once: writes wait)", ctl_upgrade_legacy },
	{ "status", "",
	  "calls per stage and status; per job kind: queued, due,\n"
	  "running, dead, age of the oldest due job (s)", ctl_status },
	{ "calls list", "[--phone E164] [--failed] [--limit N]",
	  "the newest calls first (N: 1..1000, 20); --phone: from or\n"
	  "to is the number; --failed: a stage failed", ctl_calls_list },
	{ "calls show", "CALL_SID",
	  "the call's call_log fields, summary, transcript and jobs",
	  ctl_calls_show },
	{ "queue list", "[--dead] [--kind K] [--limit N]",
	  "queued and running jobs in claim order, or the dead ones,\n"
	  "the last to die first (N: 1..1000, 50)", ctl_queue_list },
	{ "queue retry-dead", "[--kind K]",
	  "dead jobs back to queued, attempts 0, the stages they\n"
	  "failed back to pending (a job whose stage is not\n"
	  "failed stays dead; start_recording and reconcile:\n"
	  "the stage is restarted as retry does); prints how many",
	  ctl_queue_retry_dead },
	{ "business create", "--name NAME [--number E164]... [--language he]",
	  "print the new business id", ctl_business },
	{ "token create", "--business ID --name NAME",
	  "print a new API token (once)", ctl_token_create },
	{ "token list", "[--business ID]",
	  "the tokens, tab-separated: id, business, name,\n"
	  "created, last_used, revoked (- = not)", ctl_token_list },
	{ "token revoke", "ID",
	  "revoke token ID (exit 1: no such active token)", ctl_token_revoke },
	{ "url", "CALL_SID [--ttl S] [--format wav|mp3]",
	  "print a signed download URL of the call: the relative\n"
	  "one, then under public_base_url; S seconds,\n"
	  "1 .. api.signed_url_ttl_s (the default)", ctl_url },
	{ "transcribe", "FILE.wav",
	  "print the transcript the STT backend makes, with times",
	  ctl_transcribe },
	{ "summarize", "FILE.txt",
	  "print the summary backend's validated JSON", ctl_summarize },
	{ "retry", "CALL_SID",
	  "restart the call's failed stage (and those after it)", ctl_retry },
	{ "purge", "[--dry-run]",
	  "the retention purge now: this host's cached WAV/MP3\n"
	  "of calls past recording.retention_days, then (with\n"
	  "recording.delete_at_twilio) the recordings at Twilio\n"
	  "and (transcript.retention_days > 0) the transcripts;\n"
	  "a line per deletion; --dry-run deletes nothing", ctl_purge },
	{ "sweep", "",
	  "run one sweep now: reconcile silent calls, give lost\n"
	  "stage jobs again, delete old finished jobs; print them", ctl_sweep },
};
#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))
#define CTL_HELP_COL 46

/* Whether row c's name is argv's first word (first_only) or its first
 * words (one or two). */
static bool
ctl_matches(const struct ctl_cmd *c, int argc, char **argv, bool first_only)
{
	const char *sp = strchr(c->name, ' ');
	size_t n = sp ? (size_t)(sp - c->name) : strlen(c->name);

	if (argc < 1 || strncmp(argv[0], c->name, n) != 0 || argv[0][n] != '\0')
		return false;
	if (sp == NULL || first_only)
		return true;
	return argc >= 2 && strcmp(argv[1], sp + 1) == 0;
}

/* The row whose whole name argv starts with, or NULL. */
static const struct ctl_cmd *
ctl_find(int argc, char **argv)
{
	for (size_t i = 0; i < CTL_NCMDS; i++)
		if (ctl_matches(&ctl_cmds[i], argc, argv, false))
			return &ctl_cmds[i];
	return NULL;
}

/* Prints row c: "  name args", the help's first line at CTL_HELP_COL (on
 * a line of its own when name and args reach it), the rest under it. */
static void
ctl_print_cmd(FILE *out, const struct ctl_cmd *c)
{
	char head[128];
	const char *h = c->help, *nl;
	int len;

	len = snprintf(head, sizeof(head), "  %s%s%s", c->name,
	    c->args[0] ? " " : "", c->args);
	if (len < 0)
		return;
	if (len + 1 > CTL_HELP_COL)
		fprintf(out, "%s\n%*s", head, CTL_HELP_COL, "");
	else
		fprintf(out, "%-*s", CTL_HELP_COL, head);
	while ((nl = strchr(h, '\n')) != NULL) {
		fprintf(out, "%.*s\n%*s", (int)(nl - h), h, CTL_HELP_COL, "");
		h = nl + 1;
	}
	fprintf(out, "%s\n", h);
	if (c->run == ctl_migrate || c->run == ctl_upgrade_legacy)
		fprintf(out, "%*sDIR defaults to %s\n", CTL_HELP_COL, "",
		    ctl_schema_dir(NULL));
}

void
ctl_usage(FILE *out)
{
	fprintf(out, "usage: callpipectl -c FILE COMMAND ...\n");
	for (size_t i = 0; i < CTL_NCMDS; i++)
		ctl_print_cmd(out, &ctl_cmds[i]);
	fprintf(out, "  %-*s%s\n", CTL_HELP_COL - 2, "COMMAND --help",
	    "this command's usage (no -c needed)");
}

/* The usage of argv's command (its row, or all rows of its first word),
 * to stdout. Returns 0, or 2 after a line on stderr for an unknown one. */
static int
ctl_usage_of(int argc, char **argv)
{
	const struct ctl_cmd *c = ctl_find(argc, argv);
	bool any = false;

	if (c != NULL) {
		printf("usage: callpipectl -c FILE COMMAND ...\n");
		ctl_print_cmd(stdout, c);
		return 0;
	}
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		if (!ctl_matches(&ctl_cmds[i], argc, argv, true))
			continue;
		if (!any)
			printf("usage: callpipectl -c FILE COMMAND ...\n");
		ctl_print_cmd(stdout, &ctl_cmds[i]);
		any = true;
	}
	if (any)
		return 0;
	fprintf(stderr, "callpipectl: unknown command %s (usage: callpipectl "
	    "--help lists them)\n", argv[0]);
	return 2;
}

static bool
ctl_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int
ctl_help(int argc, char **argv)
{
	bool asked = false;

	if (argc < 1)
		return -1;
	/* "help [COMMAND]", "--help [COMMAND]", or COMMAND ... --help. */
	if (strcmp(argv[0], "help") == 0 || ctl_is_help(argv[0])) {
		if (argc < 2) {
			ctl_usage(stdout);
			return 0;
		}
		return ctl_usage_of(argc - 1, argv + 1);
	}
	for (int i = 1; i < argc && !asked; i++)
		asked = ctl_is_help(argv[i]);
	return asked ? ctl_usage_of(argc, argv) : -1;
}

int
ctl_main(const struct cp_conf *conf, int argc, char **argv)
{
	const struct ctl_cmd *c = ctl_find(argc, argv);
	char names[256] = "";
	size_t used = 0, words;

	if (c != NULL) {
		words = strchr(c->name, ' ') != NULL ? 2 : 1;
		return c->run(conf, c->name, argc - (int)words, argv + words);
	}
	if (argc < 1) {
		fprintf(stderr, "callpipectl: no command (usage: callpipectl "
		    "--help lists them)\n");
		return 2;
	}
	/* A known first word with a wrong or missing second one. */
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		if (!ctl_matches(&ctl_cmds[i], argc, argv, true))
			continue;
		cp_fmt(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
		    ctl_cmds[i].name);
		used = strlen(names);
	}
	if (used > 0) {
		if (argc > 1)
			fprintf(stderr, "callpipectl: %s: %s is not one of %s\n",
			    argv[0], argv[1], names);
		else
			fprintf(stderr, "callpipectl: %s: needs one of %s\n",
			    argv[0], names);
		return 2;
	}
	fprintf(stderr, "callpipectl: unknown command %s (usage: callpipectl "
	    "--help lists them)\n", argv[0]);
	return 2;
}
