/*
 * check_priv.c: priv_prepare and priv_drop as root, against Debian's
 * "nobody" (uid 65534) and "nogroup". Each test runs in its own forked
 * process (Check's default), so a drop ends with the test. Not root: the
 * program exits 77 (automake's SKIP), since every case needs root.
 */
#define _GNU_SOURCE   /* getresuid */
#include "priv.h"

#include <check.h>
#include <linux/capability.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/check-priv-XXXXXX";
static char cache[PATH_MAX];
static char path[] = "/etc/callpipe-test.conf";

/* A configuration with only what priv_prepare reads. */
static void
conf_init(struct cp_conf *c, const char *user, const char *group,
    const char *socket_group, const char *cache_group)
{
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->process.user = (char *)user;
	c->process.group = (char *)group;
	c->fcgi.socket_group = (char *)socket_group;
	c->recording.cache_group = (char *)cache_group;
	c->recording.cache_dir = cache;
}

static void
expect(const struct cp_conf *c, enum cp_err want, const char *msg)
{
	struct priv p;
	char err[512];

	ck_assert_int_eq(priv_prepare(c, "prog", &p, err, sizeof(err)), want);
	ck_assert_str_eq(err, msg);
}

START_TEST(test_root_without_user_refused)
{
	struct cp_conf c;

	conf_init(&c, "", "", "", "");
	expect(&c, CP_INPUT, "/etc/callpipe-test.conf: process.user: not set, "
	    "and prog does not run as root: set it to the service user (e.g. "
	    "process.user = \"callpipe\")");
	conf_init(&c, "root", "", "", "");
	expect(&c, CP_INPUT, "/etc/callpipe-test.conf: process.user: \"root\" "
	    "is root (uid 0); name the service user");
	/* Nothing was made. */
	ck_assert_int_eq(access(cache, F_OK), -1);
}
END_TEST

START_TEST(test_unknown_names_refused)
{
	struct cp_conf c;

	conf_init(&c, "no-such-user-cp", "", "", "");
	expect(&c, CP_INPUT, "/etc/callpipe-test.conf: process.user: no such "
	    "user \"no-such-user-cp\"");
	conf_init(&c, "nobody", "no-such-group-cp", "", "");
	expect(&c, CP_INPUT, "/etc/callpipe-test.conf: process.group: no such "
	    "group \"no-such-group-cp\"");
	conf_init(&c, "nobody", "", "no-such-group-cp", "");
	expect(&c, CP_INPUT, "/etc/callpipe-test.conf: fcgi.socket_group: no "
	    "such group \"no-such-group-cp\"");
	conf_init(&c, "nobody", "", "", "no-such-group-cp");
	expect(&c, CP_INPUT, "/etc/callpipe-test.conf: recording.cache_group: "
	    "no such group \"no-such-group-cp\"");
}
END_TEST

/* Made, then an existing one with the wrong owner, group and mode fixed. */
START_TEST(test_cache_dir_owner_group_mode)
{
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	struct cp_conf c;
	struct priv p;
	struct stat st;
	char err[512];

	ck_assert_ptr_nonnull(pw);
	ck_assert_ptr_nonnull(gr);
	conf_init(&c, "nobody", "", "nogroup", "nogroup");
	ck_assert_msg(priv_prepare(&c, "prog", &p, err, sizeof(err)) == CP_OK,
	    "%s", err);
	ck_assert(p.drop);
	ck_assert_int_eq(p.uid, pw->pw_uid);
	ck_assert_int_eq(p.gid, pw->pw_gid);
	ck_assert(p.socket_chgrp);
	ck_assert_int_eq(p.socket_gid, gr->gr_gid);
	ck_assert_int_eq(lstat(cache, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_uid, pw->pw_uid);
	ck_assert_int_eq(st.st_gid, gr->gr_gid);
	ck_assert_int_eq(st.st_mode & 07777, 02750);

	ck_assert_int_eq(chown(cache, 0, 0), 0);
	ck_assert_int_eq(chmod(cache, 0777), 0);
	ck_assert_int_eq(priv_prepare(&c, "prog", &p, err, sizeof(err)), CP_OK);
	ck_assert_int_eq(lstat(cache, &st), 0);
	ck_assert_int_eq(st.st_uid, pw->pw_uid);
	ck_assert_int_eq(st.st_gid, gr->gr_gid);
	ck_assert_int_eq(st.st_mode & 07777, 02750);
	ck_assert_int_eq(rmdir(cache), 0);

	/* A symlink in its place is not followed. */
	ck_assert_int_eq(symlink(tmpdir, cache), 0);
	ck_assert_int_eq(priv_prepare(&c, "prog", &p, err, sizeof(err)),
	    CP_SYSTEM);
	ck_assert_ptr_nonnull(strstr(err, "recording.cache_dir: cannot open "
	    "the directory"));
	ck_assert_int_eq(lstat(tmpdir, &st), 0);
	ck_assert_int_eq(st.st_uid, 0);
	ck_assert_int_eq(unlink(cache), 0);
}
END_TEST

/* The drop: every id is nobody's, the groups are getgrouplist's, root is
 * gone for good; priv_prepare as nobody then needs no drop. */
START_TEST(test_drop_to_nobody)
{
	struct passwd *pw = getpwnam("nobody");
	struct cp_conf c;
	struct priv p;
	gid_t want[1024], got[1024];   /* nobody is in one group */
	int nwant = 1024, ngot;
	char err[512];
	uid_t r, e, s;

	ck_assert_ptr_nonnull(pw);
	conf_init(&c, "nobody", "", "", "");
	ck_assert_msg(priv_prepare(&c, "prog", &p, err, sizeof(err)) == CP_OK,
	    "%s", err);
	ck_assert_msg(priv_drop(&p, err, sizeof(err)) == CP_OK, "%s", err);
	ck_assert_int_eq(getresuid(&r, &e, &s), 0);
	ck_assert_int_eq(r, pw->pw_uid);
	ck_assert_int_eq(e, pw->pw_uid);
	ck_assert_int_eq(s, pw->pw_uid);
	ck_assert_int_eq(getgid(), pw->pw_gid);
	ck_assert_int_eq(getegid(), pw->pw_gid);
	ck_assert_int_eq(setuid(0), -1);
	ck_assert_int_eq(seteuid(0), -1);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	ck_assert_int_ge(getgrouplist("nobody", pw->pw_gid, want, &nwant), 0);
	ngot = getgroups(1024, got);
	ck_assert_int_eq(ngot, nwant);
	for (int i = 0; i < ngot; i++)
		ck_assert_int_ne(got[i], 0);
	/* Now not root: no drop is planned (the cache directory's parent is
	 * missing, which is the error then). */
	conf_init(&c, "", "", "", "");
	c.recording.cache_dir = (char *)"/nonexistent-cp/cache";
	ck_assert_int_eq(priv_prepare(&c, "prog", &p, err, sizeof(err)),
	    CP_SYSTEM);
	ck_assert_ptr_nonnull(strstr(err, "recording.cache_dir: cannot create "
	    "/nonexistent-cp/cache: No such file or directory"));
	ck_assert(!p.drop);
	ck_assert_int_eq(p.uid, pw->pw_uid);
	ck_assert_int_eq(priv_drop(&p, err, sizeof(err)), CP_OK);
	/* Another user is out of reach. */
	conf_init(&c, "daemon", "", "", "");
	expect(&c, CP_INPUT, "/etc/callpipe-test.conf: process.user: \"daemon\" "
	    "is uid 1, but prog runs as uid 65534 and only root can become "
	    "another user");
}
END_TEST

/*
 * Euid 0 without CAP_SETUID (a setuid-root program started by nobody, its
 * capability dropped): setuid(2) would then change only the effective
 * uid and keep the saved set-user-ID 0, from which root comes back;
 * priv_drop must leave all three at nobody. capset(2) through syscall(2):
 * the capability header is Linux's own, no libcap needed.
 */
START_TEST(test_drop_keeps_no_saved_root)
{
	struct passwd *pw = getpwnam("nobody");
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	struct cp_conf c;
	struct priv p;
	char err[512];
	uid_t r, e, s;

	ck_assert_ptr_nonnull(pw);
	conf_init(&c, "nobody", "", "", "");
	ck_assert_msg(priv_prepare(&c, "prog", &p, err, sizeof(err)) == CP_OK,
	    "%s", err);
	ck_assert(p.drop);
	ck_assert_int_eq(setresuid(pw->pw_uid, 0, 0), 0);
	ck_assert_int_eq((int)syscall(SYS_capget, &hdr, data), 0);
	data[CAP_TO_INDEX(CAP_SETUID)].effective &= ~CAP_TO_MASK(CAP_SETUID);
	data[CAP_TO_INDEX(CAP_SETUID)].permitted &= ~CAP_TO_MASK(CAP_SETUID);
	ck_assert_int_eq((int)syscall(SYS_capset, &hdr, data), 0);
	ck_assert_msg(priv_drop(&p, err, sizeof(err)) == CP_OK, "%s", err);
	ck_assert_int_eq(getresuid(&r, &e, &s), 0);
	ck_assert_int_eq(r, pw->pw_uid);
	ck_assert_int_eq(e, pw->pw_uid);
	ck_assert_int_eq(s, pw->pw_uid);
	ck_assert_int_eq(setuid(0), -1);
}
END_TEST

/* Each test starts without the cache directory. */
static void
setup(void)
{
	(void)rmdir(cache);
	(void)unlink(cache);
}

int
main(void)
{
	Suite *s;
	TCase *tc;
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "check-priv: needs root (skipped)\n");
		return 77;
	}
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	s = suite_create("priv");
	tc = tcase_create("priv");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_root_without_user_refused);
	tcase_add_test(tc, test_unknown_names_refused);
	tcase_add_test(tc, test_cache_dir_owner_group_mode);
	tcase_add_test(tc, test_drop_to_nobody);
	tcase_add_test(tc, test_drop_keeps_no_saved_root);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	setup();
	(void)rmdir(tmpdir);
	return failed == 0 ? 0 : 1;
}
