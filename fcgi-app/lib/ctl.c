#include "ctl.h"

#include "config.h"

#include <errno.h>
#include <limits.h>
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

/* Prints the command's usage to stderr; returns 2, the usage exit status. */
static int ctl_bad(const char *cmd);

/* The schema directory: --dir, $CALLPIPE_SCHEMA_DIR, the installed
 * <prefix>/share/callpipe/schema beside <prefix>/bin, or the source tree. */
static const char *
ctl_schema_dir(const char *opt, char *buf, size_t len)
{
	const char *env = getenv("CALLPIPE_SCHEMA_DIR");
	char exe[PATH_MAX];
	ssize_t n;
	struct stat st;

	if (opt != NULL)
		return opt;
	if (env != NULL && *env != '\0')
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			cp_fmt(buf, len, "%s/../share/callpipe/schema", exe);
			if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
				return buf;
		}
	}
	return CP_SRC_SCHEMA_DIR;
}

static struct db *
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

static int
ctl_migrate(const struct cp_conf *conf, int argc, char **argv)
{
	const char *opt = NULL, *dir;
	char buf[PATH_MAX], err[CP_REASON_MAX + 1] = "";
	struct db *db;
	int applied = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			opt = argv[++i];
		else
			return ctl_bad(argv[0]);
	}
	dir = ctl_schema_dir(opt, buf, sizeof(buf));
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
ctl_upgrade_legacy(const struct cp_conf *conf, int argc, char **argv)
{
	const char *opt = NULL, *dir;
	char buf[PATH_MAX], err[CP_REASON_MAX + 1] = "";
	struct db *db;
	long long batch = 10000;
	enum cp_err rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			opt = argv[++i];
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			if (cp_parse_ll(argv[++i], 1, 1000000, &batch) != CP_OK) {
				fprintf(stderr, "callpipectl: --batch takes 1 to "
				    "1000000 rows\n");
				return 2;
			}
		} else
			return ctl_bad(argv[0]);
	}
	dir = ctl_schema_dir(opt, buf, sizeof(buf));
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
ctl_business(const struct cp_conf *conf, int argc, char **argv)
{
	struct ctl_business b = { NULL, NULL, NULL, 0, 0 };
	char *numbers[64], err[CP_REASON_MAX + 1] = "";
	struct db *db;
	enum cp_err rc;

	if (argc < 2 || strcmp(argv[1], "create") != 0)
		return ctl_bad(argv[0]);
	b.numbers = numbers;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			b.name = argv[++i];
		else if (strcmp(argv[i], "--language") == 0 && i + 1 < argc) {
			/* The code the STT service takes (OPENAI.md). */
			const char *l = argv[++i];
			if (strlen(l) != 2 || l[0] < 'a' || l[0] > 'z' ||
			    l[1] < 'a' || l[1] > 'z') {
				fprintf(stderr, "callpipectl: --language %s is not an "
				    "ISO-639-1 code such as he or en\n", l);
				return 2;
			}
			b.language = l;
		} else if (strcmp(argv[i], "--number") == 0 && i + 1 < argc &&
		    b.nnumbers < 64) {
			if (!phone_e164(argv[i + 1])) {
				fprintf(stderr, "callpipectl: %s is not an E.164 "
				    "number ('+', a digit 1-9, 2 to 15 digits in "
				    "all)\n", argv[i + 1]);
				return 2;
			}
			numbers[b.nnumbers++] = argv[++i];
		} else
			return ctl_bad(argv[0]);
	}
	if (b.name == NULL || *b.name == '\0' || strlen(b.name) > 255) {
		fprintf(stderr, "callpipectl: business create needs --name "
		    "(1 to 255 bytes)\n");
		return 2;
	}
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
ctl_token_create(const struct cp_conf *conf, int argc, char **argv)
{
	const char *name = NULL, *bid = NULL;
	char tok[AUTH_TOKEN_LEN + 1];
	struct db *db;
	long long business, id = 0;
	enum cp_err rc;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--business") == 0 && i + 1 < argc)
			bid = argv[++i];
		else
			return ctl_bad(argv[0]);
	}
	if (cp_parse_ll(bid, 1, LLONG_MAX, &business) != CP_OK ||
	    name == NULL || *name == '\0' || strlen(name) > 255) {
		fprintf(stderr, "callpipectl: token create needs --business ID "
		    "and --name NAME (1 to 255 bytes)\n");
		return 2;
	}
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

/* s for a tab-separated line: control characters (a name stored by other
 * means than token create) become '?', "" becomes "-". */
static void
ctl_print_field(const char *s)
{
	if (*s == '\0') {
		fputs("-", stdout);
		return;
	}
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* token list [--business ID]: a header line, then one tab-separated line
 * per token: id, business, name, created, last used, revoked ("-" = not). */
static int
ctl_token_list(const struct cp_conf *conf, int argc, char **argv)
{
	struct auth_token_info *rows = NULL;
	long long business = 0;
	struct db *db;
	size_t n = 0;
	enum cp_err rc;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--business") == 0 && i + 1 < argc) {
			if (cp_parse_ll(argv[++i], 1, LLONG_MAX, &business) != CP_OK) {
				fprintf(stderr, "callpipectl: --business %s is not a "
				    "business id\n", argv[i]);
				return 2;
			}
		} else
			return ctl_bad(argv[0]);
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
ctl_token_revoke(const struct cp_conf *conf, int argc, char **argv)
{
	struct db *db;
	long long id;
	enum cp_err rc;

	if (argc != 3)
		return ctl_bad(argv[0]);
	if (cp_parse_ll(argv[2], 1, LLONG_MAX, &id) != CP_OK) {
		fprintf(stderr, "callpipectl: token revoke: %s is not a token id "
		    "(the first column of token list)\n", argv[2]);
		return 2;
	}
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

static int
ctl_token(const struct cp_conf *conf, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return ctl_token_create(conf, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return ctl_token_list(conf, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "revoke") == 0)
		return ctl_token_revoke(conf, argc, argv);
	return ctl_bad(argv[0]);
}

/*
 * url CALL_SID [--ttl S] [--format wav|mp3]: a signed download URL of the
 * call (sign.h), as POST /api/calls/<sid>/download-url would mint it for
 * the call's business. Prints the relative URL, then the absolute one
 * under public_base_url.
 */
static int
ctl_url(const struct cp_conf *conf, int argc, char **argv)
{
	const char *sid = NULL, *format = "wav";
	enum store_format fmt;
	char url[SIGN_URL_MAX];
	struct calls_row row;
	long long ttl = conf->api.signed_url_ttl_s;
	struct db *db;
	enum cp_err rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
			if (cp_parse_ll(argv[++i], 1, conf->api.signed_url_ttl_s,
			    &ttl) != CP_OK) {
				fprintf(stderr, "callpipectl: --ttl must be 1 .. %d "
				    "seconds (api.signed_url_ttl_s)\n",
				    conf->api.signed_url_ttl_s);
				return 2;
			}
		} else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			format = argv[++i];
			if (store_format_parse(format, &fmt) != CP_OK) {
				fprintf(stderr, "callpipectl: --format must be wav or "
				    "mp3\n");
				return 2;
			}
		} else if (sid == NULL && argv[i][0] != '-')
			sid = argv[i];
		else
			return ctl_bad(argv[0]);
	}
	if (sid == NULL)
		return ctl_bad(argv[0]);
	if (!sid_valid(sid, "CA")) {
		fprintf(stderr, "callpipectl: %s is not a CallSid (CA + 32 hex)\n",
		    sid);
		return 2;
	}
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
ctl_transcribe(const struct cp_conf *conf, int argc, char **argv)
{
	struct stt_result res;
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err rc;

	if (argc != 2)
		return ctl_bad(argv[0]);
	memset(&res, 0, sizeof(res));
	rc = stt_transcribe_file(conf, argv[1], NULL, &res, NULL, err,
	    sizeof(err));
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: transcribe %s: %s: %s\n", argv[1],
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
ctl_summarize(const struct cp_conf *conf, int argc, char **argv)
{
	struct summary_result res;
	struct summary_request req = { NULL, "" };
	struct json_object *o;
	char err[CP_REASON_MAX + 1], *text;
	enum cp_err rc;

	if (argc != 2)
		return ctl_bad(argv[0]);
	if ((text = ctl_slurp(argv[1], 1024 * 1024, err, sizeof(err))) == NULL) {
		fprintf(stderr, "callpipectl: summarize %s: %s\n", argv[1], err);
		return 1;
	}
	req.transcript = text;
	memset(&res, 0, sizeof(res));
	rc = summary_run(conf, &req, &res, NULL, err, sizeof(err));
	free(text);
	if (rc != CP_OK) {
		fprintf(stderr, "callpipectl: summarize %s: %s: %s\n", argv[1],
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
ctl_retry(const struct cp_conf *conf, int argc, char **argv)
{
	static const char *const names[] = { "recording", "transcript",
	    "summary" };
	struct ctl_retry r = { conf, NULL, CALLS_RECORDING, 0 };
	char err[CP_REASON_MAX + 1] = "";
	struct db *db;
	enum cp_err rc;

	if (argc != 2)
		return ctl_bad(argv[0]);
	if (!sid_valid(argv[1], "CA")) {
		fprintf(stderr, "callpipectl: %s is not a CallSid (CA + 32 hex)\n",
		    argv[1]);
		return 2;
	}
	r.call_sid = argv[1];
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
ctl_purge(const struct cp_conf *conf, int argc, char **argv)
{
	struct purge_stats st = { 0 };
	char err[CP_REASON_MAX + 1] = "";
	const char *would;
	bool dry = false;
	struct db *db;
	enum cp_err rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") != 0)
			return ctl_bad(argv[0]);
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
ctl_sweep(const struct cp_conf *conf, int argc, char **argv)
{
	struct sweep_counts counts;
	char err[CP_REASON_MAX + 1] = "";
	long long period;
	struct db *db;
	enum cp_err rc;

	if (argc != 1)
		return ctl_bad(argv[0]);
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

/* The commands, one row each: its name, its function, its usage lines
 * (printed by --help and after a usage error). */
static const struct ctl_cmd {
	const char *name;
	int (*run)(const struct cp_conf *, int, char **);
	const char *usage;
} ctl_cmds[] = {
	{ "migrate", ctl_migrate,
	  "  migrate [--dir DIR]                          apply missing schema migrations\n" },
	{ "upgrade-legacy", ctl_upgrade_legacy,
	  "  upgrade-legacy [--dir DIR] [--batch N]       turn the earlier system's call_log into callpipe's\n"
	  "                                               (resumable; copies call_log once: writes wait)\n" },
	{ "business", ctl_business,
	  "  business create --name NAME [--number E164]... [--language he]\n"
	  "                                               print the new business id\n" },
	{ "token", ctl_token,
	  "  token create --business ID --name NAME       print a new API token (once)\n"
	  "  token list [--business ID]                   the tokens, tab-separated: id, business,\n"
	  "                                               name, created, last_used, revoked (- = not)\n"
	  "  token revoke ID                              revoke token ID (exit 1: no such active token)\n" },
	{ "url", ctl_url,
	  "  url CALL_SID [--ttl S] [--format wav|mp3]    print a signed download URL of the call:\n"
	  "                                               the relative one, then under public_base_url;\n"
	  "                                               S seconds, 1 .. api.signed_url_ttl_s (the default)\n" },
	{ "transcribe", ctl_transcribe,
	  "  transcribe FILE.wav                          print the transcript the STT backend makes, with times\n" },
	{ "summarize", ctl_summarize,
	  "  summarize FILE.txt                           print the summary backend's validated JSON\n" },
	{ "retry", ctl_retry,
	  "  retry CALL_SID                               restart the call's failed stage (and those after it)\n" },
	{ "purge", ctl_purge,
	  "  purge [--dry-run]                            the retention purge now: this host's cached WAV/MP3\n"
	  "                                               of calls past recording.retention_days, then (with\n"
	  "                                               recording.delete_at_twilio) the recordings at Twilio\n"
	  "                                               and (transcript.retention_days > 0) the transcripts;\n"
	  "                                               a line per deletion; --dry-run deletes nothing\n" },
	{ "sweep", ctl_sweep,
	  "  sweep                                        run one sweep now: reconcile silent calls, give lost\n"
	  "                                               stage jobs again, delete old finished jobs; print them\n" },
};
#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static const struct ctl_cmd *
ctl_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < CTL_NCMDS; i++)
		if (strcmp(name, ctl_cmds[i].name) == 0)
			return &ctl_cmds[i];
	return NULL;
}

void
ctl_usage(FILE *out)
{
	fprintf(out, "usage: callpipectl -c FILE COMMAND ...\n");
	for (size_t i = 0; i < CTL_NCMDS; i++)
		fputs(ctl_cmds[i].usage, out);
	fprintf(out, "  COMMAND --help                               this command's usage (no -c needed)\n");
}

static int
ctl_bad(const char *cmd)
{
	const struct ctl_cmd *c = ctl_find(cmd);

	if (c == NULL) {
		ctl_usage(stderr);
		return 2;
	}
	fprintf(stderr, "usage: callpipectl -c FILE COMMAND ...\n%s", c->usage);
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
	const struct ctl_cmd *c;
	bool asked = false;

	if (argc < 1)
		return -1;
	/* "help [COMMAND]", "--help", or COMMAND ... --help. */
	if (strcmp(argv[0], "help") == 0 || ctl_is_help(argv[0])) {
		if (argc < 2 || (c = ctl_find(argv[1])) == NULL) {
			ctl_usage(stdout);
			return 0;
		}
		printf("usage: callpipectl -c FILE COMMAND ...\n%s", c->usage);
		return 0;
	}
	for (int i = 1; i < argc && !asked; i++)
		asked = ctl_is_help(argv[i]);
	if (!asked)
		return -1;
	if ((c = ctl_find(argv[0])) == NULL) {
		fprintf(stderr, "callpipectl: unknown command %s\n", argv[0]);
		ctl_usage(stderr);
		return 2;
	}
	printf("usage: callpipectl -c FILE COMMAND ...\n%s", c->usage);
	return 0;
}

int
ctl_main(const struct cp_conf *conf, int argc, char **argv)
{
	const struct ctl_cmd *c = argc >= 1 ? ctl_find(argv[0]) : NULL;

	if (c == NULL) {
		if (argc >= 1)
			fprintf(stderr, "callpipectl: unknown command %s\n", argv[0]);
		ctl_usage(stderr);
		return 2;
	}
	return c->run(conf, argc, argv);
}
