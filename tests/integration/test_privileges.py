"""callpipe-fcgi and callpipe-worker never run as root (issue 8, item 1).

The stack's master is started by root with process.user = "callpipe": it
binds the socket, then it, its children and its workers run as callpipe
(real, effective, saved and filesystem ids of /proc/<pid>/status, and the
supplementary groups getgrouplist gives); nginx's workers run as www-data.
The socket is callpipe:www-data 0660 and the configuration 0640
root:callpipe; the cache directory is callpipe:www-data 2750 (setgid) and a
stored recording in it is group www-data, mode 0640: www-data reads it
(runuser), nobody does not.

Refusals, each a non-zero exit with one line naming the reason, before any
socket exists: root with process.user unset (both programs), a world-
readable file holding secrets (the mode and the fix named), an unknown
process.user, fcgi.socket_group or recording.cache_group (the key named).
Started as callpipe itself (no drop) the master works when
fcgi.socket_group is "" and stops with a clear error when it names a group
callpipe is not in.
"""

import contextlib
import grp
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from cplib import check, eq

TIMEOUT = 180


def ids(pid):
    """{"Uid": [r, e, s, fs], "Gid": [...], "Groups": [...]} of a process,
    or None when it is gone (a child recycled after fcgi.max_requests)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Uid", "Gid", "Groups"):
                    out[k] = [int(x) for x in v.split()]
    except FileNotFoundError:
        return None
    return out


def service(stack):
    user = stack.env.get("CALLPIPE_SERVICE_USER") or "callpipe"
    pw = pwd.getpwnam(user)
    return user, pw


def check_ids(pid, what, uid, gid, groups):
    """True when pid was checked, False when it is gone already."""
    got = ids(pid)
    if got is None:
        return False
    eq(got["Uid"], [uid] * 4, "%s %d: real/effective/saved/fs uid" % (what, pid))
    eq(got["Gid"], [gid] * 4, "%s %d: real/effective/saved/fs gid" % (what, pid))
    eq(sorted(got["Groups"]), sorted(groups), "%s %d: supplementary groups" % (what, pid))
    return True


def nginx_worker_pids(stack):
    path = stack.env.get("NGINX_PID_FILE") or os.path.join(stack.run_dir, "pids",
                                                            "nginx.pid")
    with open(path, encoding="ascii") as f:
        master = int(f.read().strip())
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, encoding="ascii", errors="replace") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(rest[1]) == master:
                kids.append(int(name))
    return master, kids


def test_processes_run_as_service_users(stack):
    user, pw = service(stack)
    groups = os.getgrouplist(user, pw.pw_gid)
    check(0 not in groups, "%s's groups %r include root's", user, groups)
    master = stack.fcgi_master_pid()
    check(check_ids(master, "callpipe-fcgi master", pw.pw_uid, pw.pw_gid, groups),
          "the master %d is gone", master)
    kids = [p for p in stack.fcgi_child_pids()
            if check_ids(p, "FastCGI child", pw.pw_uid, pw.pw_gid, groups)]
    workers = [p for p in stack.worker_pids()
               if check_ids(p, "callpipe-worker", pw.pw_uid, pw.pw_gid, groups)]
    check(kids, "no FastCGI child to check")
    check(workers, "no worker to check")
    with open(os.path.join(stack.run_dir, "log", "callpipe-fcgi.log"), encoding="utf-8",
              errors="replace") as f:
        log = f.read()
    check("running as %s (uid %d, gid %d), dropped from root" % (
        user, pw.pw_uid, pw.pw_gid) in log,
        "the master's log does not say it dropped from root to %s", user)

    www = pwd.getpwnam(stack.env.get("CALLPIPE_NGINX_USER") or "www-data")
    nmaster, nworkers = nginx_worker_pids(stack)
    eq(ids(nmaster)["Uid"][1], 0, "nginx master's effective uid")
    check(nworkers, "nginx has no workers")
    for pid in nworkers:
        got = ids(pid)
        check(got is not None, "nginx worker %d is gone", pid)
        eq(got["Uid"], [www.pw_uid] * 4, "nginx worker %d uid" % pid)
        eq(got["Gid"], [www.pw_gid] * 4, "nginx worker %d gid" % pid)

    sock = os.stat(stack.env["CALLPIPE_FCGI_SOCKET"])
    check(stat.S_ISSOCK(sock.st_mode), "%s is not a socket", stack.env["CALLPIPE_FCGI_SOCKET"])
    eq((sock.st_uid, sock.st_gid, stat.S_IMODE(sock.st_mode)),
       (pw.pw_uid, www.pw_gid, 0o660), "socket owner, group, mode")
    conf = os.stat(stack.conf)
    eq((conf.st_uid, conf.st_gid, stat.S_IMODE(conf.st_mode)),
       (0, pw.pw_gid, 0o640), "configuration owner, group, mode")


def test_cache_dir_setgid_readable_by_nginx(stack):
    user, pw = service(stack)
    www = pwd.getpwnam(stack.env.get("CALLPIPE_NGINX_USER") or "www-data")
    st = os.stat(stack.cache_dir)
    eq((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
       (pw.pw_uid, www.pw_gid, 0o2750), "cache directory owner, group, mode")
    info, row = stack.api_call()
    path = stack.cached_file(row["recording_sid"], "wav")
    if path is None:   # another test emptied the cache: the route refills it
        r = stack.download(info["call_sid"])
        eq(r.status, 200, "download refilling the cache")
        path = stack.cached_file(row["recording_sid"], "wav")
    check(path is not None, "recording %s is not in the cache", row["recording_sid"])
    fst = os.stat(path)
    eq((fst.st_uid, fst.st_gid, stat.S_IMODE(fst.st_mode)),
       (pw.pw_uid, www.pw_gid, 0o640), "stored recording owner, group, mode")
    with open(path, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    p = subprocess.run(["runuser", "-u", www.pw_name, "--", "sha256sum", path],
                       capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "www-data reading %s (stderr %r)" % (path, p.stderr))
    eq(p.stdout.split()[0], want, "what www-data reads")
    p = subprocess.run(["runuser", "-u", "nobody", "--", "cat", path],
                       capture_output=True, timeout=30)
    check(p.returncode != 0, "nobody could read %s", path)


@contextlib.contextmanager
def scratch(stack):
    tmp = tempfile.mkdtemp(prefix="itest-priv-")
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_prog(stack, prog, conf, user=None, timeout=20):
    """Runs callpipe-fcgi or callpipe-worker -c conf (as user via runuser);
    it must exit by itself within timeout s. Returns CompletedProcess."""
    binary = os.path.join(stack.env["CALLPIPE_BIN_DIR"], prog)
    argv = [binary, "-c", conf]
    if user is not None:
        argv = ["runuser", "-u", user, "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=stack.ctl_env(), stdin=subprocess.DEVNULL)


def check_refused(what, p, *needles):
    check(p.returncode != 0, "%s: exit status 0", what)
    lines = [l for l in p.stderr.split("\n") if l.strip()]
    eq(len(lines), 1, "%s: lines on stderr (%r)" % (what, p.stderr))
    for n in needles:
        check(n in lines[0], "%s: %r does not say %r", what, lines[0], n)


def test_root_without_process_user_refused(stack):
    check(os.geteuid() == 0, "this test runs as root")
    with scratch(stack) as tmp:
        sock = os.path.join(tmp, "fcgi.sock")
        conf = stack.conf_copy({"process.user": "", "fcgi.socket": sock}, tmp)
        for prog in ("callpipe-fcgi", "callpipe-worker"):
            p = run_prog(stack, prog, conf)
            check_refused(prog + " as root without process.user", p, conf, "process.user",
                          "does not run as root")
            eq(p.returncode, 1, prog + " exit status")
        check(not os.path.exists(sock), "the refused master made its socket")


def test_world_readable_secret_config_refused(stack):
    with scratch(stack) as tmp:
        sock = os.path.join(tmp, "fcgi.sock")
        conf = stack.conf_copy({"fcgi.socket": sock}, tmp)
        os.chmod(conf, 0o644)
        for prog in ("callpipe-fcgi", "callpipe-worker"):
            p = run_prog(stack, prog, conf)
            check_refused(prog + " with a 0644 config", p, conf, "mode 0644",
                          "twilio.auth_token", "chmod 0640")
        check(not os.path.exists(sock), "the refused master made its socket")


def test_unknown_user_and_groups_refused(stack):
    with scratch(stack) as tmp:
        sock = os.path.join(tmp, "fcgi.sock")
        for key, value in (("process.user", "callpipe-no-such-user"),
                           ("process.group", "callpipe-no-such-group"),
                           ("fcgi.socket_group", "callpipe-no-such-group"),
                           ("recording.cache_group", "callpipe-no-such-group")):
            conf = stack.conf_copy({key: value, "fcgi.socket": sock}, tmp,
                                   name="%s.conf" % key)
            p = run_prog(stack, "callpipe-fcgi", conf)
            check_refused("callpipe-fcgi with %s %s" % (key, value), p, conf, key + ":",
                          '"%s"' % value, "no such")
        check(not os.path.exists(sock), "a refused master made its socket")


def start_as(stack, user, conf, log):
    """callpipe-fcgi -c conf as user (runuser), output to the file log."""
    binary = os.path.join(stack.env["CALLPIPE_BIN_DIR"], "callpipe-fcgi")
    with open(log, "wb") as f:
        return subprocess.Popen(["runuser", "-u", user, "--", binary, "-c", conf],
                                stdout=f, stderr=f, env=stack.ctl_env(),
                                stdin=subprocess.DEVNULL, start_new_session=True)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def stop(proc):
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def test_started_as_service_user(stack):
    user, pw = service(stack)
    with scratch(stack) as tmp:
        # The socket's directory is the service user's (as /run/callpipe is).
        sockdir = os.path.join(tmp, "s")
        os.mkdir(sockdir, 0o700)
        os.chown(sockdir, pw.pw_uid, pw.pw_gid)
        sock = os.path.join(sockdir, "fcgi.sock")
        base = {"fcgi.socket": sock, "worker.processes": 0, "fcgi.children": 1}
        # A group the service user is not in: the socket cannot be given
        # to it (Debian's nogroup has no members).
        other = grp.getgrnam("nogroup")
        check(user not in other.gr_mem and other.gr_gid != pw.pw_gid,
              "%s is in group nogroup: the refusal below cannot happen", user)
        www = other.gr_name
        conf = stack.conf_copy(dict(base, **{"fcgi.socket_group": www}), tmp,
                               name="in-no-group.conf")
        log = os.path.join(tmp, "in-no-group.log")
        proc = start_as(stack, user, conf, log)
        try:
            proc.wait(20)
        finally:
            stop(proc)
        err = read(log)
        check(proc.returncode != 0, "callpipe-fcgi as %s chgrp'ed its socket to %s", user, www)
        check("fcgi.socket_group %s: cannot chgrp %s: Operation not permitted" % (www, sock)
              in err, "no clear error about the socket's group: %r", err[-800:])
        check(not os.path.exists(sock), "the socket was left behind")
        # fcgi.socket_group "": it runs, as itself, no drop.
        conf = stack.conf_copy(dict(base, **{"fcgi.socket_group": ""}), tmp,
                               name="no-group.conf")
        log = os.path.join(tmp, "no-group.log")
        proc = start_as(stack, user, conf, log)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(sock):
                if proc.poll() is not None:
                    check(False, "callpipe-fcgi as %s exited %r: %s", user, proc.returncode,
                          read(log)[-800:])
                check(time.monotonic() < deadline, "no socket in 20 s")
                time.sleep(0.05)
            # The master: the callpipe-fcgi of runuser's session whose parent
            # is no callpipe-fcgi (runuser may fork or not).
            fcgis = [int(n) for n in os.listdir("/proc") if n.isdigit()
                     and _sid(int(n)) == proc.pid and _exe(int(n)) == "callpipe-fcgi"]
            masters = [q for q in fcgis if _ppid(q) not in fcgis]
            eq(len(masters), 1, "masters among %r" % fcgis)
            got = ids(masters[0])
            eq(got["Uid"], [pw.pw_uid] * 4, "master started as %s: uid" % user)
            st = os.stat(sock)
            eq((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
               (pw.pw_uid, pw.pw_gid, 0o660), "socket of the master started as %s" % user)
        finally:
            stop(proc)
        err = read(log)
        check("running as %s (uid %d, gid %d)\n" % (user, pw.pw_uid, pw.pw_gid) in err,
              "the master started as %s does not log who it runs as: %r", user, err[-800:])
        check(not os.path.exists(sock), "the master started as %s left its socket", user)


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _sid(pid):
    try:
        return os.getsid(pid)
    except OSError:
        return -1


def _exe(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return ""


def test_root_started_socket_owner_without_group(stack):
    """Started as root with fcgi.socket_group "": the socket is still the
    service user's (only its group is left alone), mode fcgi.socket_mode."""
    check(os.geteuid() == 0, "this test runs as root")
    user, pw = service(stack)
    with scratch(stack) as tmp:
        sock = os.path.join(tmp, "fcgi.sock")
        conf = stack.conf_copy({"fcgi.socket": sock, "fcgi.socket_group": "",
                                "worker.processes": 0, "fcgi.children": 1}, tmp)
        log = os.path.join(tmp, "root-no-group.log")
        binary = os.path.join(stack.env["CALLPIPE_BIN_DIR"], "callpipe-fcgi")
        with open(log, "wb") as f:
            proc = subprocess.Popen([binary, "-c", conf], stdout=f, stderr=f,
                                    env=stack.ctl_env(), stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(sock):
                if proc.poll() is not None:
                    check(False, "callpipe-fcgi exited %r: %s", proc.returncode,
                          read(log)[-800:])
                check(time.monotonic() < deadline, "no socket in 20 s")
                time.sleep(0.05)
            st = os.lstat(sock)
            eq((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
               (pw.pw_uid, 0, 0o660), "socket of a root-started master, no socket group")
        finally:
            stop(proc)
