/*
 * check_conf.c: conf_load against the annotated sample and against small
 * files written to a temporary directory, one behaviour per test. Error
 * messages are compared whole: their format is documented in README.md and
 * operators grep for them.
 */
#include "conf.h"

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char tmpdir[] = "/tmp/check-conf-XXXXXX";
static int nfiles;

static const char *const env_vars[] = {
	"CALLPIPE_TWILIO_AUTH_TOKEN", "CALLPIPE_TWILIO_ACCOUNT_SID",
	"CALLPIPE_DB_USER", "CALLPIPE_DB_PASSWORD", "CALLPIPE_SIGNING_KEY",
	"CALLPIPE_SIGNING_KEY_PREVIOUS",
	"CALLPIPE_STT_BACKEND", "CALLPIPE_STT_BASE_URL", "CALLPIPE_STT_MODEL",
	"CALLPIPE_STT_LANGUAGE", "CALLPIPE_STT_API_KEY",
	"CALLPIPE_SUMMARY_BACKEND", "CALLPIPE_SUMMARY_BASE_URL",
	"CALLPIPE_SUMMARY_MODEL", "CALLPIPE_SUMMARY_API_KEY",
};

#define GOOD_SID "AC0123456789abcdef0123456789abcdef"

/*
 * The smallest file that loads: every required key and nothing else. The
 * api group shares line 1 so that the line numbers of the tests below
 * (":11:" is the first line after BASE) stay what they were before
 * api.signing_key became required; BASE_NO_API is BASE without it.
 */
#define BASE_API "api = { signing_key = \"basekey\"; };"
#define BASE \
	"public_base_url = \"https://calls.example.com\"; " BASE_API "\n" /* 1 */ \
	BASE_TAIL
#define BASE_NO_API \
	"public_base_url = \"https://calls.example.com\";\n" /* 1 */ \
	BASE_TAIL
#define BASE_TAIL \
	"database = {\n"                                    /* 2 */ \
	"  socket = \"/tmp/db.sock\";\n"                    /* 3 */ \
	"  user = \"u\";\n"                                 /* 4 */ \
	"  name = \"n\";\n"                                 /* 5 */ \
	"};\n"                                              /* 6 */ \
	"twilio = {\n"                                      /* 7 */ \
	"  account_sid = \"" GOOD_SID "\";\n"               /* 8 */ \
	"  auth_token = \"filetoken\";\n"                   /* 9 */ \
	"};\n"                                              /* 10 */

static void
clear_env(void)
{
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		unsetenv(env_vars[i]);
}

/* Writes text to a new file in tmpdir; its path goes to path (PATH_MAX). */
static void
write_conf(const char *text, char *path)
{
	FILE *f;

	snprintf(path, PATH_MAX, "%s/c%d.conf", tmpdir, nfiles++);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	/* Owner only: most texts set a secret (conf_load refuses a file
	 * others can read then; test_mode_* check that rule). */
	ck_assert_int_eq(chmod(path, 0600), 0);
}

/* 1-based line of the first occurrence of needle in text. */
static int
line_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle);
	int line = 1;

	ck_assert_ptr_nonnull(at);
	for (const char *p = text; p < at; p++)
		if (*p == '\n')
			line++;
	return line;
}

static int
is_zeroed(const struct cp_conf *c)
{
	static const struct cp_conf zero;

	return memcmp(c, &zero, sizeof(zero)) == 0;
}

/*
 * Loads text and expects CP_INPUT with exactly "PATH<want>" as the message
 * (want starts with ":" or ": "), and a conf left with nothing to free.
 */
static void
expect_error(const char *text, const char *want)
{
	char path[PATH_MAX], err[1024], full[PATH_MAX + 600];
	struct cp_conf c;

	write_conf(text, path);
	memset(&c, 0xa5, sizeof(c));
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CP_INPUT);
	snprintf(full, sizeof(full), "%s%s", path, want);
	ck_assert_str_eq(err, full);
	ck_assert(is_zeroed(&c));
}

/* Loads text; returns conf_load's result with its message in err. */
static enum cp_err
load_text(const char *text, struct cp_conf *c, char *err, size_t errlen)
{
	char path[PATH_MAX];
	enum cp_err e;

	write_conf(text, path);
	e = conf_load(path, c, err, errlen);
	if (e == CP_OK)
		conf_free(c);
	return e;
}

/* The smallest file with public_base_url = u. */
#define BASE_URL_OK(u) \
	"public_base_url = \"" u "\";\n" \
	"database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n" \
	"twilio = {\n  account_sid = \"" GOOD_SID "\";\n  auth_token = \"t\";\n};\n" \
	BASE_API "\n"

static void
load_ok(const char *text, struct cp_conf *c)
{
	char path[PATH_MAX], err[1024] = "";
	enum cp_err e;

	write_conf(text, path);
	e = conf_load(path, c, err, sizeof(err));
	ck_assert_msg(e == CP_OK, "conf_load: %d %s", (int)e, err);
	ck_assert_str_eq(c->path, path);
}

static void
check_entry(const struct conf_gazetteer_entry *e, const char *name,
    const char *he, int nterms, const char *first, const char *last)
{
	ck_assert_str_eq(e->name, name);
	ck_assert_str_eq(e->name_he, he);
	ck_assert_int_eq(e->nterms, nterms);
	ck_assert_str_eq(e->terms[0], first);
	ck_assert_str_eq(e->terms[nterms - 1], last);
	ck_assert_ptr_null(e->terms[nterms]);
}

START_TEST(test_sample_loads_with_every_value)
{
	char err[1024] = "";
	struct cp_conf c;
	const char *sample = TOP_SRCDIR "/etc/callpipe.conf";

	/* The sample leaves the auth token and the signing key to the
	 * environment (or the operator's edit: it does not load as it is). */
	setenv("CALLPIPE_TWILIO_AUTH_TOKEN", "sample-token", 1);
	setenv("CALLPIPE_SIGNING_KEY", "sample-signing-key", 1);
	ck_assert_msg(conf_load(sample, &c, err, sizeof(err)) == CP_OK,
	    "%s", err);
	ck_assert_str_eq(c.path, sample);
	ck_assert_str_eq(c.public_base_url, "https://calls.example.com");
	ck_assert_int_eq(c.default_business_id, 0);
	ck_assert_str_eq(c.db.socket, "/run/mysqld/mysqld.sock");
	ck_assert_str_eq(c.db.host, "");
	ck_assert_int_eq(c.db.port, 3306);
	ck_assert_str_eq(c.db.user, "callpipe");
	ck_assert_str_eq(c.db.password, "");
	ck_assert_str_eq(c.db.name, "callpipe");
	ck_assert_int_eq(c.db.connect_timeout_s, 5);
	ck_assert_str_eq(c.twilio.account_sid,
	    "AC00000000000000000000000000000000");
	ck_assert_str_eq(c.twilio.auth_token, "sample-token");
	ck_assert_str_eq(c.twilio.api_base, "https://api.twilio.com");
	ck_assert_int_eq(c.twilio.request_timeout_ms, 15000);
	ck_assert_str_eq(c.stream.url, "wss://agent.example.com/stream");
	ck_assert_str_eq(c.recording.mode, "twiml");
	ck_assert_str_eq(c.recording.cache_dir,
	    "/var/cache/callpipe/recordings");
	ck_assert_str_eq(c.recording.nginx_internal_prefix, "/_recordings/");
	ck_assert_int_eq(c.recording.retention_days, 7);
	ck_assert_int_eq(c.recording.miss_wait_ms, 1500);
	ck_assert_str_eq(c.stt.backend, "pocketsphinx");
	ck_assert_str_eq(c.stt.ps_hmm, "/usr/share/pocketsphinx/model/en-us/en-us");
	ck_assert_str_eq(c.stt.ps_lm,
	    "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin");
	ck_assert_str_eq(c.stt.ps_dict,
	    "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict");
	ck_assert_str_eq(c.summary.backend, "rules");
	ck_assert_int_eq(c.summary.services.nentries, 7);
	check_entry(&c.summary.services.entries[0], "plumber", "אינסטלטור", 9,
	    "plumber", "נזילה");
	check_entry(&c.summary.services.entries[2], "locksmith", "מנעולן", 6,
	    "locksmith", "מנעול");
	ck_assert_str_eq(c.summary.services.entries[2].terms[2], "locked out");
	check_entry(&c.summary.services.entries[4],
	    "air conditioning technician", "טכנאי מזגנים", 5,
	    "air conditioner", "מזגנים");
	check_entry(&c.summary.services.entries[6], "mover", "הובלות", 5,
	    "mover", "הובלות");
	ck_assert_int_eq(c.summary.cities.nentries, 10);
	/* Kept as written: the matcher lowercases, the loader does not. */
	check_entry(&c.summary.cities.entries[0], "Tel Aviv", "תל אביב", 4,
	    "tel aviv", "תל-אביב");
	check_entry(&c.summary.cities.entries[9], "Petah Tikva", "פתח תקווה", 3,
	    "petah tikva", "פתח תקווה");
	ck_assert_str_eq(c.fcgi.socket, "/run/callpipe/fcgi.sock");
	ck_assert_int_eq(c.fcgi.socket_mode, 0660);
	ck_assert_int_eq(c.fcgi.children, 4);
	ck_assert_int_eq(c.fcgi.max_requests, 1000);
	ck_assert_int_eq(c.fcgi.max_body_bytes, 65536);
	ck_assert_int_eq(c.worker.processes, 1);
	ck_assert_str_eq(c.worker.binary, "");
	ck_assert_int_eq(c.worker.poll_interval_ms, 200);
	ck_assert_int_eq(c.worker.lease_seconds, 300);
	ck_assert_int_eq(c.worker.max_attempts, 6);
	ck_assert_int_eq(c.worker.backoff_base_ms, 5000);
	ck_assert_int_eq(c.worker.backoff_max_ms, 600000);
	ck_assert_int_eq(c.worker.reconcile_delay_s, 300);
	ck_assert_str_eq(c.api.signing_key, "sample-signing-key");
	ck_assert_str_eq(c.api.signing_key_previous, "");
	ck_assert_int_eq(c.api.signed_url_ttl_s, 300);
	ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
	conf_free(&c);
	ck_assert(is_zeroed(&c));
	conf_free(&c);  /* a freed conf is zeroed: freeing again is harmless */
}
END_TEST

/* The sample says it lists every key with its default: hold it to that. */
START_TEST(test_defaults_match_sample)
{
	char err[1024] = "";
	struct cp_conf s, d;

	setenv("CALLPIPE_TWILIO_AUTH_TOKEN", "t", 1);
	setenv("CALLPIPE_SIGNING_KEY", "k", 1);
	ck_assert_msg(conf_load(TOP_SRCDIR "/etc/callpipe.conf", &s, err,
	    sizeof(err)) == CP_OK, "%s", err);
	clear_env();
	load_ok(BASE, &d);
	ck_assert_int_eq(d.default_business_id, s.default_business_id);
	ck_assert_str_eq(d.db.host, s.db.host);
	ck_assert_int_eq(d.db.port, s.db.port);
	ck_assert_str_eq(d.db.password, s.db.password);
	ck_assert_int_eq(d.db.connect_timeout_s, s.db.connect_timeout_s);
	ck_assert_str_eq(d.twilio.api_base, s.twilio.api_base);
	ck_assert_int_eq(d.twilio.request_timeout_ms, s.twilio.request_timeout_ms);
	ck_assert_str_eq(d.stream.url, s.stream.url);
	ck_assert_str_eq(d.recording.mode, s.recording.mode);
	ck_assert_str_eq(d.recording.cache_dir, s.recording.cache_dir);
	ck_assert_str_eq(d.recording.nginx_internal_prefix,
	    s.recording.nginx_internal_prefix);
	ck_assert_int_eq(d.recording.retention_days, s.recording.retention_days);
	ck_assert_int_eq(d.recording.miss_wait_ms, s.recording.miss_wait_ms);
	ck_assert_str_eq(d.stt.backend, s.stt.backend);
	ck_assert_str_eq(d.stt.ps_hmm, s.stt.ps_hmm);
	ck_assert_str_eq(d.stt.ps_lm, s.stt.ps_lm);
	ck_assert_str_eq(d.stt.ps_dict, s.stt.ps_dict);
	ck_assert_str_eq(d.summary.backend, s.summary.backend);
	ck_assert_str_eq(d.fcgi.socket, s.fcgi.socket);
	ck_assert_int_eq(d.fcgi.socket_mode, s.fcgi.socket_mode);
	ck_assert_int_eq(d.fcgi.children, s.fcgi.children);
	ck_assert_int_eq(d.fcgi.max_requests, s.fcgi.max_requests);
	ck_assert_int_eq(d.fcgi.max_body_bytes, s.fcgi.max_body_bytes);
	ck_assert_int_eq(d.worker.processes, s.worker.processes);
	ck_assert_str_eq(d.worker.binary, s.worker.binary);
	ck_assert_int_eq(d.worker.poll_interval_ms, s.worker.poll_interval_ms);
	ck_assert_int_eq(d.worker.lease_seconds, s.worker.lease_seconds);
	ck_assert_int_eq(d.worker.max_attempts, s.worker.max_attempts);
	ck_assert_int_eq(d.worker.backoff_base_ms, s.worker.backoff_base_ms);
	ck_assert_int_eq(d.worker.backoff_max_ms, s.worker.backoff_max_ms);
	ck_assert_int_eq(d.worker.reconcile_delay_s, s.worker.reconcile_delay_s);
	ck_assert_str_eq(d.api.signing_key_previous,
	    s.api.signing_key_previous);
	ck_assert_int_eq(d.api.signed_url_ttl_s, s.api.signed_url_ttl_s);
	ck_assert_int_eq(d.log_level, s.log_level);
	ck_assert_str_eq(d.process.user, s.process.user);
	ck_assert_str_eq(d.process.group, s.process.group);
	ck_assert_str_eq(d.fcgi.socket_group, s.fcgi.socket_group);
	ck_assert_str_eq(d.recording.cache_group, s.recording.cache_group);
	/* Optional gazetteers default to no entries, not to the sample's. */
	ck_assert_int_eq(d.summary.services.nentries, 0);
	ck_assert_ptr_null(d.summary.services.entries);
	ck_assert_int_eq(d.summary.cities.nentries, 0);
	/* Values BASE gave. */
	ck_assert_str_eq(d.db.socket, "/tmp/db.sock");
	ck_assert_str_eq(d.twilio.auth_token, "filetoken");
	ck_assert_str_eq(d.api.signing_key, "basekey");
	conf_free(&s);
	conf_free(&d);
}
END_TEST

START_TEST(test_typo_names_file_line_key)
{
	static const char text[] =
	    "# a comment\n"                                     /* 1 */
	    "public_base_url = \"https://calls.example.com\";\n" /* 2 */
	    "twilio = {\n"                                      /* 3 */
	    "  account_sid = \"" GOOD_SID "\";\n"               /* 4 */
	    "  auth_token = \"t\";\n"                           /* 5 */
	    "};\n"                                              /* 6 */
	    "\n"                                                /* 7 */
	    "database = {\n"                                    /* 8 */
	    "  socket = \"/tmp/db.sock\";\n"                    /* 9 */
	    "  user = \"u\";\n"                                 /* 10 */
	    "  name = \"n\";\n"                                 /* 11 */
	    "  sokcet = \"/tmp/other.sock\";\n"                 /* 12 */
	    "};\n";

	ck_assert_int_eq(line_of(text, "sokcet"), 12);
	expect_error(text, ":12: database.sokcet: unknown key");
	/* Top level, and a whole misspelt group. */
	expect_error(BASE "verbose = true;\n", ":11: verbose: unknown key");
	expect_error(BASE "wroker = {\n  processes = 2;\n};\n",
	    ":11: wroker: unknown key");
	expect_error(BASE "stt = {\n  pocketsphinx = {\n    hmmm = \"/x\";\n"
	    "  };\n};\n", ":13: stt.pocketsphinx.hmmm: unknown key");
}
END_TEST

START_TEST(test_wrong_type)
{
	expect_error(BASE "fcgi = {\n  children = \"4\";\n};\n",
	    ":12: fcgi.children: must be an integer");
	expect_error(BASE "fcgi = {\n  children = 4.0;\n};\n",
	    ":12: fcgi.children: must be an integer");
	expect_error(BASE "worker = {\n  binary = 1;\n};\n",
	    ":12: worker.binary: must be a string");
	expect_error(BASE "summary = {\n  services = \"plumber\";\n};\n",
	    ":12: summary.services: must be a list");
	expect_error(BASE "log = \"debug\";\n", ":11: log: must be a group");
	expect_error(BASE "summary = {\n  cities = (\n"
	    "    { name = \"Haifa\"; he = \"חיפה\"; terms = [ \"haifa\" ]; },\n"
	    "    \"Eilat\"\n  );\n};\n",
	    ":12: summary.cities[1]: must be a group");
	/* A list (not an array) can mix types: the bad element is named, at
	 * its list's line (libconfig 1.5 misplaces a scalar element's own). */
	expect_error(BASE "summary = {\n  cities = (\n"
	    "    { name = \"Haifa\"; he = \"חיפה\";\n"
	    "      terms = ( \"haifa\",\n        5 ); }\n  );\n};\n",
	    ":14: summary.cities[0].terms[1]: must be a string");
}
END_TEST

START_TEST(test_out_of_range)
{
	expect_error(BASE "fcgi = {\n  children = 0;\n};\n",
	    ":12: fcgi.children: must be between 1 and 256");
	expect_error(BASE "fcgi = {\n  children = 257;\n};\n",
	    ":12: fcgi.children: must be between 1 and 256");
	expect_error(BASE "worker = {\n  lease_seconds = 4;\n};\n",
	    ":12: worker.lease_seconds: must be between 5 and 86400");
	expect_error(BASE "worker = {\n  backoff_max_ms = 86400001L;\n};\n",
	    ":12: worker.backoff_max_ms: must be between 1 and 86400000");
	expect_error(BASE "default_business_id = -1;\n",
	    ":11: default_business_id: must be between 0 and 2147483647");
	expect_error(BASE "recording = {\n  retention_days = 3651;\n};\n",
	    ":12: recording.retention_days: must be between 1 and 3650");
	expect_error(BASE "worker = {\n  backoff_base_ms = 9000;\n"
	    "  backoff_max_ms = 8000;\n};\n",
	    ":13: worker.backoff_max_ms: must not be less than "
	    "worker.backoff_base_ms");
	expect_error(BASE "worker = {\n  lease_seconds = 10;\n};\n",
	    ":12: worker.lease_seconds: must be longer than "
	    "twilio.request_timeout_ms");
}
END_TEST

START_TEST(test_missing_required)
{
	/* Absent key: the line of its enclosing group. */
	expect_error(
	    "public_base_url = \"https://calls.example.com\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n};\n",
	    ":7: twilio.auth_token: missing (or set CALLPIPE_TWILIO_AUTH_TOKEN)");
	/* Present but empty: its own line. */
	expect_error(
	    "public_base_url = \"https://calls.example.com\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"\";\n};\n",
	    ":9: twilio.auth_token: missing (or set CALLPIPE_TWILIO_AUTH_TOKEN)");
	/* No enclosing group in the file: no line. */
	expect_error(
	    "public_base_url = \"https://calls.example.com\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n",
	    ": twilio.account_sid: missing (or set CALLPIPE_TWILIO_ACCOUNT_SID)");
	expect_error(
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"t\";\n};\n",
	    ": public_base_url: missing");
	expect_error(
	    "public_base_url = \"https://calls.example.com\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"t\";\n};\n",
	    ":2: database.name: missing");
	expect_error(
	    "public_base_url = \"https://calls.example.com\";\n"
	    "database = {\n  host = \"\";\n  user = \"u\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"t\";\n};\n" BASE_API "\n",
	    ":2: database.socket: missing (or set database.host)");
	/* host alone is enough. */
	{
		struct cp_conf c;

		load_ok("public_base_url = \"https://10.0.0.1:8080\";\n"
		    "database = {\n  host = \"db.internal\";\n  user = \"u\";\n"
		    "  name = \"n\";\n};\n"
		    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
		    "  auth_token = \"t\";\n};\n" BASE_API "\n", &c);
		ck_assert_str_eq(c.db.host, "db.internal");
		ck_assert_str_eq(c.db.socket, "");
		ck_assert_str_eq(c.public_base_url, "https://10.0.0.1:8080");
		conf_free(&c);
	}
}
END_TEST

START_TEST(test_bad_account_sid)
{
	static const char *const bad[] = {
		"AC0123",                                 /* short */
		"AC0123456789ABCDEF0123456789ABCDEF",     /* upper-case hex */
		"CA0123456789abcdef0123456789abcdef",     /* a call SID */
		"AC0123456789abcdef0123456789abcdef0",    /* long */
		"ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",     /* the old placeholder */
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    "public_base_url = \"https://calls.example.com\";\n"
		    "database = {\n  socket = \"/s\";\n  user = \"u\";\n"
		    "  name = \"n\";\n};\n"
		    "twilio = {\n  auth_token = \"t\";\n"
		    "  account_sid = \"%s\";\n};\n", bad[i]);
		expect_error(text, ":9: twilio.account_sid: must be AC followed "
		    "by 32 lowercase hex digits");
	}
}
END_TEST

START_TEST(test_env_overrides_file)
{
	struct cp_conf c;

	/* BASE sets user "u" and auth_token "filetoken": the env must win. */
	setenv("CALLPIPE_TWILIO_AUTH_TOKEN", "envtoken", 1);
	setenv("CALLPIPE_TWILIO_ACCOUNT_SID",
	    "ACffffffffffffffffffffffffffffffff", 1);
	setenv("CALLPIPE_DB_USER", "envuser", 1);
	setenv("CALLPIPE_DB_PASSWORD", "envpass", 1);
	setenv("CALLPIPE_SIGNING_KEY", "envkey", 1);
	load_ok(BASE_NO_API "api = {\n  signing_key = \"filekey\";\n};\n", &c);
	ck_assert_str_eq(c.twilio.auth_token, "envtoken");
	ck_assert_str_eq(c.twilio.account_sid,
	    "ACffffffffffffffffffffffffffffffff");
	ck_assert_str_eq(c.db.user, "envuser");
	ck_assert_str_eq(c.db.password, "envpass");
	ck_assert_str_eq(c.api.signing_key, "envkey");
	conf_free(&c);

	/* Without the environment the file's values stand. */
	clear_env();
	load_ok(BASE_NO_API "api = {\n  signing_key = \"filekey\";\n};\n", &c);
	ck_assert_str_eq(c.twilio.auth_token, "filetoken");
	ck_assert_str_eq(c.twilio.account_sid, GOOD_SID);
	ck_assert_str_eq(c.db.user, "u");
	ck_assert_str_eq(c.db.password, "");
	ck_assert_str_eq(c.api.signing_key, "filekey");
	conf_free(&c);
}
END_TEST

START_TEST(test_env_supplies_and_is_checked)
{
	static const char partial[] =
	    "public_base_url = \"https://calls.example.com\";\n"
	    "database = {\n  socket = \"/s\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n};\n";
	struct cp_conf c;

	/* The environment fills keys the file leaves out. */
	setenv("CALLPIPE_TWILIO_AUTH_TOKEN", "envtoken", 1);
	setenv("CALLPIPE_DB_USER", "envuser", 1);
	setenv("CALLPIPE_SIGNING_KEY", "envkey", 1);
	load_ok(partial, &c);
	ck_assert_str_eq(c.twilio.auth_token, "envtoken");
	ck_assert_str_eq(c.db.user, "envuser");
	ck_assert_str_eq(c.api.signing_key, "envkey");
	conf_free(&c);

	/* A value from the environment is checked like one from the file,
	 * and the message says where it came from (no file line). */
	setenv("CALLPIPE_TWILIO_ACCOUNT_SID", "ACnothex", 1);
	expect_error(partial, ": twilio.account_sid: must be AC followed by 32 "
	    "lowercase hex digits (from CALLPIPE_TWILIO_ACCOUNT_SID)");
	unsetenv("CALLPIPE_TWILIO_ACCOUNT_SID");
	/* Set but empty still wins over the file, and is then missing. */
	setenv("CALLPIPE_TWILIO_AUTH_TOKEN", "", 1);
	expect_error(BASE, ": twilio.auth_token: missing "
	    "(CALLPIPE_TWILIO_AUTH_TOKEN is empty)");
}
END_TEST

/* Signed download URLs (issue 6): the key is required and never empty,
 * the environment still wins, the previous key and the two ranges. */
#define SIGNING_EMPTY "api.signing_key: must not be empty: signed download " \
	"URLs need a secret key, e.g. the output of: openssl rand -hex 32"
START_TEST(test_signing_keys)
{
	struct cp_conf c;

	/* No api group at all: no line to name. */
	expect_error(BASE_NO_API, ": " SIGNING_EMPTY
	    " (or set CALLPIPE_SIGNING_KEY)");
	/* The group without the key: the group's line. */
	expect_error(BASE_NO_API "api = {\n  signed_url_ttl_s = 60;\n};\n",
	    ":11: " SIGNING_EMPTY " (or set CALLPIPE_SIGNING_KEY)");
	/* The sample's empty value: its own line. */
	expect_error(BASE_NO_API "api = {\n  signing_key = \"\";\n};\n",
	    ":12: " SIGNING_EMPTY " (or set CALLPIPE_SIGNING_KEY)");
	/* Set but empty in the environment: it wins, and is named. */
	setenv("CALLPIPE_SIGNING_KEY", "", 1);
	expect_error(BASE, ": " SIGNING_EMPTY " (from CALLPIPE_SIGNING_KEY)");
	/* The environment supplies a key the file leaves empty. */
	setenv("CALLPIPE_SIGNING_KEY", "envkey", 1);
	load_ok(BASE_NO_API "api = {\n  signing_key = \"\";\n};\n", &c);
	ck_assert_str_eq(c.api.signing_key, "envkey");
	ck_assert_str_eq(c.api.signing_key_previous, "");
	ck_assert_int_eq(c.api.signed_url_ttl_s, 300);
	ck_assert_int_eq(c.recording.miss_wait_ms, 1500);
	conf_free(&c);
	unsetenv("CALLPIPE_SIGNING_KEY");

	/* Rotation: the previous key from the file, or the environment. */
	load_ok(BASE_NO_API "api = {\n  signing_key = \"new\";\n"
	    "  signing_key_previous = \"old\";\n  signed_url_ttl_s = 86400;\n"
	    "};\nrecording = {\n  miss_wait_ms = 0;\n};\n", &c);
	ck_assert_str_eq(c.api.signing_key, "new");
	ck_assert_str_eq(c.api.signing_key_previous, "old");
	ck_assert_int_eq(c.api.signed_url_ttl_s, 86400);
	ck_assert_int_eq(c.recording.miss_wait_ms, 0);
	conf_free(&c);
	setenv("CALLPIPE_SIGNING_KEY_PREVIOUS", "envold", 1);
	load_ok(BASE "recording = {\n  miss_wait_ms = 5000;\n};\n", &c);
	ck_assert_str_eq(c.api.signing_key, "basekey");
	ck_assert_str_eq(c.api.signing_key_previous, "envold");
	ck_assert_int_eq(c.recording.miss_wait_ms, 5000);
	conf_free(&c);
	unsetenv("CALLPIPE_SIGNING_KEY_PREVIOUS");

	/* Ranges. */
	expect_error(BASE_NO_API "api = {\n  signing_key = \"k\";\n"
	    "  signed_url_ttl_s = 0;\n};\n",
	    ":13: api.signed_url_ttl_s: must be between 1 and 86400");
	expect_error(BASE_NO_API "api = {\n  signing_key = \"k\";\n"
	    "  signed_url_ttl_s = 86401;\n};\n",
	    ":13: api.signed_url_ttl_s: must be between 1 and 86400");
	expect_error(BASE "recording = {\n  miss_wait_ms = 5001;\n};\n",
	    ":12: recording.miss_wait_ms: must be between 0 and 5000");
	expect_error(BASE "recording = {\n  miss_wait_ms = -1;\n};\n",
	    ":12: recording.miss_wait_ms: must be between 0 and 5000");
	expect_error(BASE_NO_API "api = {\n  signing_key = 42;\n};\n",
	    ":12: api.signing_key: must be a string");
}
END_TEST

START_TEST(test_unknown_key_in_gazetteer_entry)
{
	static const char text[] = BASE
	    "summary = {\n"                                              /* 11 */
	    "  services = (\n"                                           /* 12 */
	    "    { name = \"plumber\"; he = \"אינסטלטור\"; terms = [ \"pipe\" ]; },\n"
	    "    { name = \"painter\"; he = \"צבעי\";\n"                  /* 14 */
	    "      tems = [ \"paint\" ]; }\n"                            /* 15 */
	    "  );\n"
	    "};\n";

	ck_assert_int_eq(line_of(text, "tems ="), 15);
	expect_error(text, ":15: summary.services[1].tems: unknown key");
	/* A term of separators only could never match. */
	expect_error(BASE "summary = {\n  services = (\n"
	    "    { name = \"plumber\"; he = \"x\"; terms = [ \" - \" ]; }\n"
	    "  );\n};\n",
	    ":13: summary.services[0].terms[0]: must contain a word, not only "
	    "separators");
	/* An entry without terms: the entry's line. */
	expect_error(BASE "summary = {\n  services = (\n"
	    "    { name = \"plumber\"; he = \"אינסטלטור\"; }\n  );\n};\n",
	    ":13: summary.services[0].terms: missing");
	expect_error(BASE "summary = {\n  services = (\n"
	    "    { name = \"plumber\"; he = \"\"; terms = [ \"pipe\" ]; }\n"
	    "  );\n};\n", ":13: summary.services[0].he: must not be empty");
	expect_error(BASE "summary = {\n  services = (\n"
	    "    { name = \"plumber\"; he = \"x\"; terms = [ ]; }\n"
	    "  );\n};\n", ":13: summary.services[0].terms: must not be empty");
	expect_error(BASE "summary = {\n  services = (\n"
	    "    { name = \"plumber\"; he = \"x\"; terms = [ \"\\xff\" ]; }\n"
	    "  );\n};\n",
	    ":13: summary.services[0].terms[0]: must be valid UTF-8");
}
END_TEST

START_TEST(test_parse_error_names_line)
{
	static const char text[] = BASE
	    "fcgi = {\n"           /* 11 */
	    "  children = ;\n"     /* 12 */
	    "};\n";

	expect_error(text, ":12: parse error: syntax error");
	expect_error(BASE "database = { name = \"again\"; };\n",
	    ":11: parse error: duplicate setting name");
}
END_TEST

START_TEST(test_socket_mode_octal)
{
	static const struct { const char *s; int want; } ok[] = {
		{ "0660", 0660 }, { "0600", 0600 }, { "660", 0660 },
		{ "0777", 0777 }, { "0", 0 },
	};
	static const char *const bad[] = {
		"999", "0668", "1777", "01777", "0o660", "", "0660 ", "-660", "00660",
	};
	char text[1024];
	struct cp_conf c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text),
		    BASE "fcgi = {\n  socket_mode = \"%s\";\n};\n", ok[i].s);
		load_ok(text, &c);
		ck_assert_int_eq(c.fcgi.socket_mode, ok[i].want);
		conf_free(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    BASE "fcgi = {\n  socket_mode = \"%s\";\n};\n", bad[i]);
		expect_error(text, ":12: fcgi.socket_mode: must be an octal mode "
		    "from \"0000\" to \"0777\", e.g. \"0660\"");
	}
	/* libconfig reads 0660 as decimal 660: an integer is refused. */
	expect_error(BASE "fcgi = {\n  socket_mode = 0660;\n};\n",
	    ":12: fcgi.socket_mode: must be a string");
}
END_TEST

START_TEST(test_choices_and_urls)
{
	struct cp_conf c;

	expect_error(BASE "recording = {\n  mode = \"ftp\";\n};\n",
	    ":12: recording.mode: must be one of: twiml, rest");
	/* REST-started recording (start_recording job, rest_start.c). */
	load_ok(BASE "recording = {\n  mode = \"rest\";\n};\n", &c);
	ck_assert_str_eq(c.recording.mode, "rest");
	conf_free(&c);
	expect_error(BASE "stt = {\n  backend = \"vosk\";\n};\n",
	    ":12: stt.backend: must be one of: pocketsphinx, openai");
	expect_error(BASE "summary = {\n  backend = \"llm\";\n};\n",
	    ":12: summary.backend: must be one of: rules, openai");
	expect_error(BASE "log = {\n  level = \"verbose\";\n};\n",
	    ":12: log.level: must be one of: error, warn, info, debug");
	expect_error(
	    "public_base_url = \"https://calls.example.com/\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"t\";\n};\n",
	    ":1: public_base_url: must not end with '/'");
	expect_error(
	    "public_base_url = \"ftp://calls.example.com\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"t\";\n};\n",
	    ":1: public_base_url: must start with https:// (or http:// for a loopback host)");
	expect_error(
	    "public_base_url = \"https://\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = \"n\";\n};\n"
	    "twilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"t\";\n};\n",
	    ":1: public_base_url: must name a host after the scheme");
	expect_error(BASE "stream = {\n  url = \"https://agent/x\";\n};\n",
	    ":12: stream.url: must start with wss:// or ws://");
	expect_error(BASE "recording = {\n  nginx_internal_prefix = \"/rec\";\n"
	    "};\n", ":12: recording.nginx_internal_prefix: must be one path "
	    "segment between '/'s, e.g. \"/_recordings/\"");
	expect_error(BASE "recording = {\n  nginx_internal_prefix = \"/\";\n"
	    "};\n", ":12: recording.nginx_internal_prefix: must be one path "
	    "segment between '/'s, e.g. \"/_recordings/\"");
	expect_error(BASE "recording = {\n  nginx_internal_prefix = "
	    "\"/a b\\r\\n/\";\n};\n", ":12: recording.nginx_internal_prefix: "
	    "must be one path segment between '/'s, e.g. \"/_recordings/\"");
	/* A base URL is scheme://host[:port]: callpipe appends paths to it. */
	{
		static const char *const bad[] = { "https://example.com/app",
		    "https://example.com?x=1", "https://example.com#f",
		    "https://u:p@example.com", "https://example.com:99999",
		    "https://example.com:0", "https://[zz]" };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char text[512], err[512];
			struct cp_conf cc;
			cp_fmt(text, sizeof(text), "public_base_url = \"%s\";\n"
			    "database = {\n  socket = \"/s\";\n  user = \"u\";\n"
			    "  name = \"n\";\n};\ntwilio = {\n  account_sid = \""
			    GOOD_SID "\";\n  auth_token = \"t\";\n};\n", bad[i]);
			ck_assert_msg(load_text(text, &cc, err, sizeof(err)) ==
			    CP_INPUT, "%s accepted", bad[i]);
			ck_assert_msg(strstr(err, ":1: public_base_url: ") != NULL,
			    "%s: %s", bad[i], err);
		}
	}
	load_ok(BASE_URL_OK("https://[::1]:8443"), &c);
	conf_free(&c);
	load_ok(BASE_URL_OK("http://127.0.0.1:8443"), &c);
	conf_free(&c);
	expect_error(BASE "fcgi = {\n  socket = \"\";\n};\n",
	    ":12: fcgi.socket: must not be empty");
	load_ok(BASE "recording = {\n  mode = \"twiml\";\n};\n"
	    "log = {\n  level = \"debug\";\n};\n"
	    "stream = {\n  url = \"ws://127.0.0.1:9/s\";\n};\n", &c);
	ck_assert_str_eq(c.recording.mode, "twiml");
	ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
	ck_assert_str_eq(c.stream.url, "ws://127.0.0.1:9/s");
	conf_free(&c);
}
END_TEST

/* The OpenAI-compatible backends' keys: defaults, base URLs with a path,
 * https unless loopback, ISO-639-1 languages, the 25 MiB chunk rule, and
 * the environment overrides (issue 5). */
START_TEST(test_openai_keys)
{
	struct cp_conf c;
	char text[2048], err[512];

	clear_env();
	load_ok(BASE, &c);
	ck_assert_str_eq(c.stt.backend, "pocketsphinx");
	ck_assert_str_eq(c.stt.openai.base_url, "https://api.openai.com/v1");
	ck_assert_str_eq(c.stt.openai.model, "whisper-1");
	ck_assert_str_eq(c.stt.openai.language, "he");
	ck_assert_str_eq(c.stt.openai.response_format, "verbose_json");
	ck_assert_str_eq(c.stt.openai.upload_format, "wav");
	ck_assert_int_eq(c.stt.openai.upload_rate, 0);
	ck_assert_int_eq(c.stt.openai.chunk_seconds, 600);
	ck_assert_str_eq(c.summary.openai.model, "gpt-4o-mini");
	ck_assert_str_eq(c.summary.openai.response_format, "json_schema");
	conf_free(&c);

	load_ok(BASE "stt = {\n  backend = \"openai\";\n  openai = {\n"
	    "    base_url = \"http://127.0.0.1:8090/v1\";\n    language = \"\";\n"
	    "    upload_format = \"flac\";\n    upload_rate = 16000;\n"
	    "    chunk_seconds = 10;\n  };\n};\n", &c);
	ck_assert_str_eq(c.stt.backend, "openai");
	ck_assert_str_eq(c.stt.openai.base_url, "http://127.0.0.1:8090/v1");
	ck_assert_str_eq(c.stt.openai.language, "");
	conf_free(&c);

	/* Secrets never cross a network in the clear. */
	expect_error(BASE "stt = {\n  openai = {\n    base_url = "
	    "\"http://whisper.example.com/v1\";\n  };\n};\n",
	    ":13: stt.openai.base_url: must use https:// unless the host is "
	    "loopback (127.0.0.1, ::1, localhost): secrets never cross a "
	    "network in the clear");
	expect_error(BASE "summary = {\n  openai = {\n    base_url = "
	    "\"https://llm.example.com/v1/\";\n  };\n};\n",
	    ":13: summary.openai.base_url: must not end with '/'");
	expect_error(BASE "summary = {\n  openai = {\n    base_url = "
	    "\"https://llm.example.com/v1?x=1\";\n  };\n};\n",
	    ":13: summary.openai.base_url: must have no query or fragment");
	expect_error(BASE "stt = {\n  openai = {\n    language = \"hebrew\";\n"
	    "  };\n};\n", ":13: stt.openai.language: must be \"\" or an "
	    "ISO-639-1 code such as \"he\" (OPENAI.md: the service refuses "
	    "other forms)");
	expect_error(BASE "stt = {\n  openai = {\n    response_format = "
	    "\"srt\";\n  };\n};\n", ":13: stt.openai.response_format: must be "
	    "one of: verbose_json, json");
	expect_error(BASE "stt = {\n  openai = {\n    chunk_seconds = 9;\n"
	    "  };\n};\n", ":13: stt.openai.chunk_seconds: must be between 10 "
	    "and 14400");
	/* 16 kHz 16-bit mono is 32000 bytes/s: 900 s is 28.8 MB > 25 MiB. */
	expect_error(BASE "stt = {\n  openai = {\n    upload_rate = 16000;\n"
	    "    chunk_seconds = 900;\n  };\n};\n",
	    ":14: stt.openai.chunk_seconds: too long for stt.openai.upload_rate: "
	    "an upload would pass 25 MiB (OPENAI.md)");

	expect_error(BASE "stt = {\n  openai = {\n    model = "
	    "\"gpt-4o-transcribe\";\n  };\n};\n",
	    ":12: stt.openai.response_format: must be \"json\" for the gpt-4o "
	    "transcribe models (OPENAI.md: verbose_json needs whisper-1)");
	setenv("CALLPIPE_STT_API_KEY", "sk-abc\r\nX-Injected: 1", 1);
	ck_assert_int_eq(load_text(BASE, &c, err, sizeof(err)), CP_INPUT);
	ck_assert_msg(strstr(err, "stt.openai.api_key: must be printable ASCII "
	    "without spaces") != NULL, "%s", err);
	ck_assert_ptr_null(strstr(err, "sk-abc"));
	unsetenv("CALLPIPE_STT_API_KEY");

	/* twilio.api_base: https unless loopback, and no path. */
	cp_fmt(text, sizeof(text), "public_base_url = \"https://c.example.com\";\n"
	    "database = {\n  socket = \"/s\";\n  user = \"u\";\n  name = "
	    "\"n\";\n};\ntwilio = {\n  account_sid = \"" GOOD_SID "\";\n"
	    "  auth_token = \"t\";\n  api_base = \"http://api.twilio.com\";\n"
	    "};\n");
	ck_assert_int_eq(load_text(text, &c, err, sizeof(err)), CP_INPUT);
	ck_assert_msg(strstr(err, ":10: twilio.api_base: must use https://") !=
	    NULL, "%s", err);

	/* The environment wins, and is checked like the file. */
	setenv("CALLPIPE_STT_BACKEND", "openai", 1);
	setenv("CALLPIPE_STT_BASE_URL", "https://stt.example.com/openai/v1", 1);
	setenv("CALLPIPE_STT_MODEL", "whisper-large-v3", 1);
	setenv("CALLPIPE_STT_LANGUAGE", "en", 1);
	setenv("CALLPIPE_STT_API_KEY", "sk-stt", 1);
	setenv("CALLPIPE_SUMMARY_BACKEND", "openai", 1);
	setenv("CALLPIPE_SUMMARY_BASE_URL", "http://localhost:11434/v1", 1);
	setenv("CALLPIPE_SUMMARY_MODEL", "llama3.1", 1);
	setenv("CALLPIPE_SUMMARY_API_KEY", "ollama", 1);
	load_ok(BASE, &c);
	ck_assert_str_eq(c.stt.backend, "openai");
	ck_assert_str_eq(c.stt.openai.base_url,
	    "https://stt.example.com/openai/v1");
	ck_assert_str_eq(c.stt.openai.model, "whisper-large-v3");
	ck_assert_str_eq(c.stt.openai.language, "en");
	ck_assert_str_eq(c.stt.openai.api_key, "sk-stt");
	ck_assert_str_eq(c.summary.backend, "openai");
	ck_assert_str_eq(c.summary.openai.base_url, "http://localhost:11434/v1");
	ck_assert_str_eq(c.summary.openai.model, "llama3.1");
	ck_assert_str_eq(c.summary.openai.api_key, "ollama");
	conf_free(&c);
	setenv("CALLPIPE_STT_BACKEND", "whisper", 1);
	ck_assert_int_eq(load_text(BASE, &c, err, sizeof(err)), CP_INPUT);
	ck_assert_msg(strstr(err, "stt.backend: must be one of: pocketsphinx, "
	    "openai (from CALLPIPE_STT_BACKEND)") != NULL, "%s", err);
	clear_env();
}
END_TEST

START_TEST(test_unreadable_and_small_buffers)
{
	char path[PATH_MAX], err[16], full[PATH_MAX + 64];
	char big[1024];
	struct cp_conf c;

	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	ck_assert_int_eq(conf_load(path, &c, big, sizeof(big)), CP_INPUT);
	snprintf(full, sizeof(full), "%s: cannot read: No such file or directory",
	    path);
	ck_assert_str_eq(big, full);
	ck_assert(is_zeroed(&c));
	/* A short buffer is cut and still terminated; NULL is allowed. */
	write_conf(BASE "x = 1;\n", path);
	memset(err, 'z', sizeof(err));
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CP_INPUT);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	ck_assert_int_eq(strncmp(err, path, sizeof(err) - 1), 0);
	ck_assert_int_eq(conf_load(path, &c, NULL, 0), CP_INPUT);
	ck_assert(is_zeroed(&c));
}
END_TEST

/* A file others can read (mode & 0004) must not hold a secret; the
 * message names the file, its mode, the keys and the fix. */
START_TEST(test_mode_world_readable_secrets)
{
	char path[PATH_MAX], err[1024], want[3 * PATH_MAX];
	struct cp_conf c;

	write_conf(BASE, path);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CP_INPUT);
	snprintf(want, sizeof(want), "%s: mode 0644 lets every user read the "
	    "secrets it holds (twilio.auth_token, api.signing_key): chmod 0640 %s",
	    path, path);
	ck_assert_str_eq(err, want);
	ck_assert(is_zeroed(&c));
	/* Group-readable is the deployment's mode (0640 root:callpipe). */
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CP_OK);
	conf_free(&c);
	/* World-readable without a secret in it: the secrets come from the
	 * environment (the sample is such a file). */
	write_conf("public_base_url = \"https://calls.example.com\";\n"
	    "database = { socket = \"/s\"; user = \"u\"; name = \"n\"; "
	    "password = \"\"; };\n"
	    "twilio = { account_sid = \"" GOOD_SID "\"; };\n", path);
	ck_assert_int_eq(chmod(path, 0644), 0);
	setenv("CALLPIPE_TWILIO_AUTH_TOKEN", "envtoken", 1);
	setenv("CALLPIPE_SIGNING_KEY", "envkey", 1);
	ck_assert_msg(conf_load(path, &c, err, sizeof(err)) == CP_OK, "%s", err);
	ck_assert_str_eq(c.twilio.auth_token, "envtoken");
	conf_free(&c);
	/* One secret is enough: an OpenAI key alone. */
	write_conf("public_base_url = \"https://calls.example.com\";\n"
	    "database = { socket = \"/s\"; user = \"u\"; name = \"n\"; };\n"
	    "twilio = { account_sid = \"" GOOD_SID "\"; };\n"
	    "summary = { openai = { api_key = \"sk-x\"; }; };\n", path);
	ck_assert_int_eq(chmod(path, 0604), 0);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CP_INPUT);
	snprintf(want, sizeof(want), "%s: mode 0604 lets every user read the "
	    "secrets it holds (summary.openai.api_key): chmod 0640 %s", path,
	    path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* A secret in an @include'd file: that file's mode counts, whatever the
 * main file's (libconfig opens the included file itself). */
START_TEST(test_mode_world_readable_include)
{
	char inc[PATH_MAX], path[PATH_MAX], text[2 * PATH_MAX];
	char err[1024], want[3 * PATH_MAX];
	struct cp_conf c;

	write_conf("twilio = { account_sid = \"" GOOD_SID "\"; "
	    "auth_token = \"inctoken\"; };\n", inc);
	snprintf(text, sizeof(text), "public_base_url = "
	    "\"https://calls.example.com\"; " BASE_API "\n"
	    "database = { socket = \"/s\"; user = \"u\"; name = \"n\"; };\n"
	    "@include \"%s\"\n", inc);
	write_conf(text, path);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(chmod(inc, 0644), 0);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CP_INPUT);
	snprintf(want, sizeof(want), "%s: mode 0644 lets every user read the "
	    "secrets it holds (twilio.auth_token): chmod 0640 %s", inc, inc);
	ck_assert_str_eq(err, want);
	ck_assert(is_zeroed(&c));
	ck_assert_int_eq(chmod(inc, 0640), 0);
	ck_assert_msg(conf_load(path, &c, err, sizeof(err)) == CP_OK, "%s", err);
	ck_assert_str_eq(c.twilio.auth_token, "inctoken");
	conf_free(&c);
	/* The main file world-readable: only its own secret is named. */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CP_INPUT);
	snprintf(want, sizeof(want), "%s: mode 0644 lets every user read the "
	    "secrets it holds (api.signing_key): chmod 0640 %s", path, path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* The service-user keys and their defaults (priv.h). */
START_TEST(test_process_keys)
{
	struct cp_conf c;

	load_ok(BASE, &c);
	ck_assert_str_eq(c.process.user, "");
	ck_assert_str_eq(c.process.group, "");
	ck_assert_str_eq(c.fcgi.socket_group, "www-data");
	ck_assert_str_eq(c.recording.cache_group, "www-data");
	conf_free(&c);
	load_ok(BASE "process = { user = \"callpipe\"; group = \"g\"; };\n"
	    "fcgi = { socket_group = \"\"; };\n", &c);
	ck_assert_str_eq(c.process.user, "callpipe");
	ck_assert_str_eq(c.process.group, "g");
	ck_assert_str_eq(c.fcgi.socket_group, "");
	conf_free(&c);
	expect_error(BASE "process = { uid = 5; };\n",
	    ":11: process.uid: unknown key");
}
END_TEST

/* Forked tests each count their files from 0: remove whatever is there. */
static void
remove_files(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		(void)unlink(path);
	}
	closedir(d);
}

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, clear_env, clear_env);
	tcase_add_test(tc, test_sample_loads_with_every_value);
	tcase_add_test(tc, test_defaults_match_sample);
	tcase_add_test(tc, test_typo_names_file_line_key);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_missing_required);
	tcase_add_test(tc, test_bad_account_sid);
	tcase_add_test(tc, test_env_overrides_file);
	tcase_add_test(tc, test_env_supplies_and_is_checked);
	tcase_add_test(tc, test_signing_keys);
	tcase_add_test(tc, test_unknown_key_in_gazetteer_entry);
	tcase_add_test(tc, test_parse_error_names_line);
	tcase_add_test(tc, test_socket_mode_octal);
	tcase_add_test(tc, test_choices_and_urls);
	tcase_add_test(tc, test_openai_keys);
	tcase_add_test(tc, test_unreadable_and_small_buffers);
	tcase_add_test(tc, test_mode_world_readable_secrets);
	tcase_add_test(tc, test_mode_world_readable_include);
	tcase_add_test(tc, test_process_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	sr = srunner_create(conf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_files(tmpdir);
	(void)rmdir(tmpdir);
	return failed == 0 ? 0 : 1;
}
