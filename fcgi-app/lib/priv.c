/*
 * priv.c: the service user, its groups and the cache directory (priv.h).
 */
/* setresuid(2), getresuid(2) and their gid forms are glibc's with
 * _GNU_SOURCE (Linux, the BSDs; not POSIX). */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* The cache directory's mode: owner rwx, group r-x (nginx), setgid. */
#define PRIV_CACHE_MODE 02750
/* getpw*_r/getgr*_r buffer when sysconf gives no hint (bytes). */
#define PRIV_NSS_BUF 16384

static enum cp_err
priv_fail(char *err, size_t errlen, enum cp_err e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum cp_err
priv_fail(char *err, size_t errlen, enum cp_err e, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return e;
}

/*
 * The user name into *pw (buf holds its strings). CP_OK, CP_NOTFOUND (no
 * such user), CP_SYSTEM (errno set: the user database failed).
 */
static enum cp_err
priv_user(const char *name, struct passwd *pw, char *buf, size_t len)
{
	struct passwd *res = NULL;
	int rc = getpwnam_r(name, pw, buf, len, &res);

	if (rc != 0) {
		errno = rc;
		return CP_SYSTEM;
	}
	return res == NULL ? CP_NOTFOUND : CP_OK;
}

/*
 * The group named key's value (name) into *gid; err names key and the
 * file on failure.
 */
static enum cp_err
priv_group(const struct cp_conf *conf, const char *key, const char *name,
    gid_t *gid, char *err, size_t errlen)
{
	char buf[PRIV_NSS_BUF];
	struct group gr, *res = NULL;
	int rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

	if (rc != 0)
		return priv_fail(err, errlen, CP_SYSTEM, "%s: %s: cannot look "
		    "up group \"%s\": %s", conf->path, key, name, strerror(rc));
	if (res == NULL)
		return priv_fail(err, errlen, CP_INPUT, "%s: %s: no such group "
		    "\"%s\"", conf->path, key, name);
	*gid = gr.gr_gid;
	return CP_OK;
}

/* True when the process is in group gid (its gid or a supplementary one). */
static bool
priv_in_group(gid_t gid)
{
	gid_t *groups;
	bool in = false;
	int n;

	if (getegid() == gid)
		return true;
	/* getgroups(0, NULL) says how many (POSIX). */
	if ((n = getgroups(0, NULL)) <= 0 ||
	    (groups = calloc((size_t)n, sizeof(*groups))) == NULL)
		return false;
	n = getgroups(n, groups);
	for (int i = 0; i < n && !in; i++)
		in = groups[i] == gid;
	free(groups);
	return in;
}

/* process.user and process.group into p (see priv_prepare). */
static enum cp_err
priv_target(const struct cp_conf *conf, const char *prog, struct priv *p,
    char *err, size_t errlen)
{
	const char *user = conf->process.user, *group = conf->process.group;
	char buf[PRIV_NSS_BUF];
	struct passwd pw;
	enum cp_err e;
	bool root = geteuid() == 0;

	if (user[0] == '\0') {
		struct passwd *res = NULL;

		if (root)
			return priv_fail(err, errlen, CP_INPUT, "%s: process.user: "
			    "not set, and %s does not run as root: set it to the "
			    "service user (e.g. process.user = \"callpipe\")",
			    conf->path, prog);
		p->uid = geteuid();
		p->gid = getegid();
		if (getpwuid_r(p->uid, &pw, buf, sizeof(buf), &res) == 0 &&
		    res != NULL)
			cp_fmt(p->user, sizeof(p->user), "%s", pw.pw_name);
		else
			cp_fmt(p->user, sizeof(p->user), "uid %ld", (long)p->uid);
	} else {
		if ((e = priv_user(user, &pw, buf, sizeof(buf))) == CP_NOTFOUND)
			return priv_fail(err, errlen, CP_INPUT, "%s: process.user: "
			    "no such user \"%s\"", conf->path, user);
		if (e != CP_OK)
			return priv_fail(err, errlen, e, "%s: process.user: cannot "
			    "look up \"%s\": %s", conf->path, user, strerror(errno));
		if (pw.pw_uid == 0)
			return priv_fail(err, errlen, CP_INPUT, "%s: process.user: "
			    "\"%s\" is root (uid 0); name the service user",
			    conf->path, user);
		if (!root && pw.pw_uid != geteuid())
			return priv_fail(err, errlen, CP_INPUT, "%s: process.user: "
			    "\"%s\" is uid %ld, but %s runs as uid %ld and only root "
			    "can become another user", conf->path, user,
			    (long)pw.pw_uid, prog, (long)geteuid());
		p->uid = pw.pw_uid;
		p->gid = root ? pw.pw_gid : getegid();
		cp_fmt(p->user, sizeof(p->user), "%s", pw.pw_name);
	}
	if (group[0] != '\0') {
		gid_t gid;

		if ((e = priv_group(conf, "process.group", group, &gid, err,
		    errlen)) != CP_OK)
			return e;
		if (!root && gid != getegid())
			return priv_fail(err, errlen, CP_INPUT, "%s: process.group: "
			    "\"%s\" is gid %ld, but %s runs as gid %ld and only root "
			    "can change it", conf->path, group, (long)gid, prog,
			    (long)getegid());
		p->gid = gid;
	}
	p->drop = root;
	return CP_OK;
}

/*
 * recording.cache_dir: created when missing, then owner p->uid, group gid
 * (when chgrp), mode 2750. Through an O_NOFOLLOW descriptor, so a symlink
 * planted in its place is refused rather than followed by a root chown.
 */
static enum cp_err
priv_cache_dir(const struct cp_conf *conf, const struct priv *p, bool chgrp,
    gid_t gid, char *err, size_t errlen)
{
	const char *dir = conf->recording.cache_dir;
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	struct stat st;
	int fd;

	if ((fd = open(dir, flags)) < 0 && errno == ENOENT) {
		if (mkdir(dir, 0750) != 0 && errno != EEXIST)
			return priv_fail(err, errlen, CP_SYSTEM, "%s: "
			    "recording.cache_dir: cannot create %s: %s",
			    conf->path, dir, strerror(errno));
		fd = open(dir, flags);
	}
	if (fd < 0 || fstat(fd, &st) != 0) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		return priv_fail(err, errlen, CP_SYSTEM, "%s: recording.cache_dir: "
		    "cannot open the directory %s: %s", conf->path, dir,
		    strerror(saved));
	}
	if (st.st_uid != p->uid && !p->drop) {
		close(fd);
		return priv_fail(err, errlen, CP_INPUT, "%s: recording.cache_dir: "
		    "%s is owned by uid %ld, not by %s (uid %ld) who writes "
		    "there: chown it", conf->path, dir, (long)st.st_uid, p->user,
		    (long)p->uid);
	}
	if (st.st_uid != p->uid || (chgrp && st.st_gid != gid)) {
		if (fchown(fd, p->uid, chgrp ? gid : (gid_t)-1) != 0) {
			int saved = errno;

			close(fd);
			return priv_fail(err, errlen, saved == EPERM ? CP_INPUT :
			    CP_SYSTEM, "%s: recording.cache_group: cannot chgrp %s "
			    "to gid %ld: %s%s", conf->path, dir, (long)gid,
			    strerror(saved), saved == EPERM ? " (the user is not "
			    "in that group: add it, or set recording.cache_group "
			    "= \"\")" : "");
		}
		/* chown may clear S_ISGID (chown(2)): set the mode after it. */
		st.st_mode = 0;
	}
	if ((st.st_mode & 07777) != PRIV_CACHE_MODE &&
	    fchmod(fd, PRIV_CACHE_MODE) != 0) {
		int saved = errno;

		close(fd);
		return priv_fail(err, errlen, CP_SYSTEM, "%s: recording.cache_dir: "
		    "cannot chmod %s to %04o: %s", conf->path, dir,
		    PRIV_CACHE_MODE, strerror(saved));
	}
	close(fd);
	return CP_OK;
}

enum cp_err
priv_prepare(const struct cp_conf *conf, const char *prog, struct priv *p,
    char *err, size_t errlen)
{
	gid_t cache_gid = (gid_t)-1;
	bool cache_chgrp = conf->recording.cache_group[0] != '\0';
	enum cp_err e;

	memset(p, 0, sizeof(*p));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((e = priv_target(conf, prog, p, err, errlen)) != CP_OK)
		return e;
	if (conf->fcgi.socket_group[0] != '\0') {
		if ((e = priv_group(conf, "fcgi.socket_group",
		    conf->fcgi.socket_group, &p->socket_gid, err, errlen)) != CP_OK)
			return e;
		p->socket_chgrp = true;
	}
	if (cache_chgrp && (e = priv_group(conf, "recording.cache_group",
	    conf->recording.cache_group, &cache_gid, err, errlen)) != CP_OK)
		return e;
	if (cache_chgrp && !p->drop && !priv_in_group(cache_gid)) {
		struct stat st;

		/* Nothing to change is fine; a change needs the membership. */
		if (stat(conf->recording.cache_dir, &st) != 0 ||
		    st.st_gid != cache_gid)
			return priv_fail(err, errlen, CP_INPUT, "%s: "
			    "recording.cache_group: %s (uid %ld) is not in group "
			    "\"%s\", so it cannot give %s to it: add the user to "
			    "the group (SupplementaryGroups=) or set the key to "
			    "\"\"", conf->path, p->user, (long)p->uid,
			    conf->recording.cache_group, conf->recording.cache_dir);
	}
	return priv_cache_dir(conf, p, cache_chgrp, cache_gid, err, errlen);
}

enum cp_err
priv_drop(const struct priv *p, char *err, size_t errlen)
{
	gid_t rg, eg, sg;
	uid_t ru, eu, su;

	if (!p->drop)
		return CP_OK;
	/* initgroups(3): setgroups with the user's groups from the group
	 * database plus p->gid (what login, nginx and systemd's User= do);
	 * none of root's groups stay. */
	if (initgroups(p->user, p->gid) != 0)
		return priv_fail(err, errlen, CP_SYSTEM, "initgroups(%s, %ld): %s",
		    p->user, (long)p->gid, strerror(errno));
	/* setresgid/setresuid set real, effective and saved IDs together;
	 * setuid(2) does so only with CAP_SETUID, and without it (euid 0 but
	 * the capability dropped, e.g. a bounding set) it leaves the saved
	 * set-user-ID 0, from which root comes back. */
	if (setresgid(p->gid, p->gid, p->gid) != 0)
		return priv_fail(err, errlen, CP_SYSTEM, "setresgid(%ld): %s",
		    (long)p->gid, strerror(errno));
	if (setresuid(p->uid, p->uid, p->uid) != 0)
		return priv_fail(err, errlen, CP_SYSTEM, "setresuid(%ld) (%s): %s",
		    (long)p->uid, p->user, strerror(errno));
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return priv_fail(err, errlen, CP_SYSTEM, "after the drop to %s: "
		    "getresuid/getresgid: %s", p->user, strerror(errno));
	if (ru != p->uid || eu != p->uid || su != p->uid ||
	    rg != p->gid || eg != p->gid || sg != p->gid)
		return priv_fail(err, errlen, CP_SYSTEM, "after the drop to %s: "
		    "uid %ld/%ld/%ld gid %ld/%ld/%ld (real/effective/saved), "
		    "expected uid %ld gid %ld", p->user, (long)ru, (long)eu,
		    (long)su, (long)rg, (long)eg, (long)sg, (long)p->uid,
		    (long)p->gid);
	if (setuid(0) == 0 || (p->gid != 0 && setgid(0) == 0))
		return priv_fail(err, errlen, CP_SYSTEM, "after the drop to %s: "
		    "root could be regained (setuid(0) or setgid(0) succeeded)",
		    p->user);
#ifdef __linux__
	/* A uid change leaves the process non-dumpable (prctl(2),
	 * PR_SET_DUMPABLE; suid_dumpable is 0 by default): no core file, and
	 * LeakSanitizer, which ptraces its own threads, fails at exit. As
	 * nginx does after its workers' setuid, make it what a process started
	 * as this user is: it holds nothing of root's any more. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
		return priv_fail(err, errlen, CP_SYSTEM, "prctl(PR_SET_DUMPABLE): "
		    "%s", strerror(errno));
#endif
	return CP_OK;
}
