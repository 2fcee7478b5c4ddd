#include "ctl.h"

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>

#include "auth.h"
#include "calls.h"
#include "cp_num.h"
#include "db.h"
#include "jobs.h"
#include "log.h"
#include "migrate.h"
#include "phone.h"
#include "sid.h"
#include "stt.h"
#include "summary.h"

void
ctl_usage(void)
{
	fprintf(stderr,
	    "usage: callpipectl -c FILE COMMAND ...\n"
	    "  migrate [--dir DIR]                          apply missing schema migrations\n"
	    "  business create --name NAME [--number E164]... [--language he]\n"
	    "                                               print the new business id\n"
	    "  token create --business ID --name NAME       print a new API token (once)\n"
	    "  transcribe FILE.wav                          print the transcript the STT backend makes, with times\n"
	    "  summarize FILE.txt                           print the summary backend's validated JSON\n"
	    "  retry CALL_SID                               restart the call's failed stage (and those after it)\n");
}

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
		else {
			ctl_usage();
			return 2;
		}
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

	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		ctl_usage();
		return 2;
	}
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
		} else {
			ctl_usage();
			return 2;
		}
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

static int
ctl_token(const struct cp_conf *conf, int argc, char **argv)
{
	const char *name = NULL, *bid = NULL;
	char tok[AUTH_TOKEN_LEN + 1], hash[AUTH_SHA256_HEX + 1];
	struct db_param p[3];
	struct db *db;
	long long business;

	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		ctl_usage();
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--business") == 0 && i + 1 < argc)
			bid = argv[++i];
		else {
			ctl_usage();
			return 2;
		}
	}
	if (cp_parse_ll(bid, 1, LLONG_MAX, &business) != CP_OK ||
	    name == NULL || *name == '\0' || strlen(name) > 255) {
		fprintf(stderr, "callpipectl: token create needs --business ID "
		    "and --name NAME\n");
		return 2;
	}
	if (auth_token_new(tok) != CP_OK ||
	    auth_sha256_hex(tok, strlen(tok), hash) != CP_OK) {
		fprintf(stderr, "callpipectl: no random source\n");
		return 1;
	}
	if ((db = ctl_db(conf)) == NULL)
		return 1;
	p[0] = db_i64(business);
	p[1] = db_str(name);
	p[2] = db_str(hash);
	if (db_exec(db, "INSERT INTO api_tokens (business_id, name, "
	    "token_sha256) VALUES (?, ?, ?)", p, 3, NULL, NULL) != CP_OK) {
		fprintf(stderr, "callpipectl: token create: %s\n", db_error(db));
		db_close(db);
		return 1;
	}
	db_close(db);
	/* Printed once; only its SHA-256 is kept. */
	printf("%s\n", tok);
	return 0;
}

static int
ctl_transcribe(const struct cp_conf *conf, int argc, char **argv)
{
	struct stt_result res;
	char err[CP_REASON_MAX + 1] = "";
	enum cp_err rc;

	if (argc != 2) {
		ctl_usage();
		return 2;
	}
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

	if (argc != 2) {
		ctl_usage();
		return 2;
	}
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

	if (argc != 2) {
		ctl_usage();
		return 2;
	}
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

int
ctl_main(const struct cp_conf *conf, int argc, char **argv)
{
	/* The commands, one row each (ctl_usage lists them for people). */
	static const struct {
		const char *name;
		int (*run)(const struct cp_conf *, int, char **);
	} cmds[] = {
		{ "migrate",    ctl_migrate },
		{ "business",   ctl_business },
		{ "token",      ctl_token },
		{ "transcribe", ctl_transcribe },
		{ "summarize",  ctl_summarize },
		{ "retry",      ctl_retry },
	};

	for (size_t i = 0; argc >= 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			return cmds[i].run(conf, argc, argv);
	ctl_usage();
	return 2;
}
