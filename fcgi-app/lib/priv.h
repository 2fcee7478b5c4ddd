/*
 * priv.h: who callpipe-fcgi and callpipe-worker run as (slowcgi's model:
 * the whole privilege story in a few calls at the top of main).
 *
 * Neither program runs as root. Started as root they need process.user
 * (and optionally process.group): callpipe-fcgi binds its FastCGI socket
 * and chgrps it to fcgi.socket_group as root, then priv_drop makes it that
 * user before it forks a child or a worker; callpipe-worker drops at once.
 * Started as any other user (systemd's User=, a shell) nothing changes
 * hands, but the same groups apply: the process must be in them.
 *
 * The cache directory (recording.cache_dir) is the one place both programs
 * write (recordings; the children's .miss-slot-N lock files) and nginx
 * reads: priv_prepare makes it owner the service user, group
 * recording.cache_group, mode 2750. The setgid bit (Linux inode(7), "The
 * set-group-ID bit"; POSIX leaves a directory's S_ISGID to the system)
 * gives every new file the directory's group, so the files store.c makes
 * with mode 0640 are readable by nginx's group and by nobody else.
 */
#ifndef CP_PRIV_H
#define CP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "cp_err.h"

/* What priv_prepare resolved; priv_drop and prefork.c read it. */
struct priv {
	bool  drop;          /* started as root: priv_drop becomes uid/gid */
	uid_t uid;           /* the user after priv_drop (now, when !drop) */
	gid_t gid;           /* its group */
	char  user[64];      /* the user's name ("uid N" without one) */
	bool  socket_chgrp;  /* fcgi.socket_group set: chgrp the socket ... */
	gid_t socket_gid;    /* ... to this group */
};

/*
 * Resolves the configuration's users and groups and fixes the cache
 * directory, before anything else touches the file system. In: conf (its
 * process.*, fcgi.socket_group, recording.cache_*; borrowed), prog (the
 * program's name, for messages). Out: *p; err (errlen bytes) gets one
 * line "FILE: KEY: reason" on an error.
 *
 * Users and groups come from getpwnam_r(3) and getgrnam_r(3) (POSIX.1-
 * 2008): /etc/passwd and /etc/group, or whatever nsswitch.conf names.
 *
 * Returns CP_OK; CP_INPUT when
 *   - the effective uid is 0 and process.user is "" (root is refused),
 *     or process.user names root;
 *   - process.user, process.group, fcgi.socket_group or
 *     recording.cache_group names no such user or group;
 *   - not root, and process.user/process.group is not the user/group the
 *     process already runs as (only root can become another user);
 *   - not root, the cache directory is not owned by this user, or its
 *     group must change to recording.cache_group and the process is not in
 *     that group (chown(2): EPERM);
 * CP_SYSTEM when the cache directory cannot be created (mkdir(2): only its
 * last component; the parent must exist), opened or changed (its errno in
 * the message); CP_NOMEM.
 */
enum cp_err priv_prepare(const struct cp_conf *conf, const char *prog,
    struct priv *p, char *err, size_t errlen);

/*
 * Becomes p->uid/p->gid for good when p->drop (else does nothing and
 * returns CP_OK). Order and calls: setgroups(2) with the user's
 * supplementary groups from getgrouplist(3) (the groups of /etc/group that
 * list the user: "usermod -aG www-data callpipe" is how an administrator
 * gives it nginx's group, as systemd's User= does through initgroups(3);
 * none of root's groups survive), then setresgid(2), then setresuid(2), each
 * checked; setresgid(2)/setresuid(2) set the real, effective and saved
 * IDs together (plain setuid(2) leaves the saved set-user-ID 0 when the
 * process lacks CAP_SETUID), so the last step cannot be undone.
 * Afterwards it verifies with getresuid(2)/getresgid(2) that all three
 * are the target and that setuid(0) and setgid(0) fail.
 * On Linux it then sets PR_SET_DUMPABLE back to 1 (prctl(2)), as nginx
 * does: core files and LeakSanitizer work as for a process started as the
 * user.
 * setgroups, getgrouplist and setres*id are not POSIX (Linux and the BSDs;
 * glibc).
 * Call it before any thread exists and before forking.
 * Returns CP_OK; CP_SYSTEM with the failing call and its errno in err
 * (errlen bytes); CP_NOMEM.
 */
enum cp_err priv_drop(const struct priv *p, char *err, size_t errlen);

#endif
