"""make install lays callpipe out as a Debian service (issue 8, items 2 and 5).

`make -C <build> install DESTDIR=<tmp>` of the stack's build tree; the
directories come from that Makefile itself (make prints them), so any
--prefix/--sysconfdir/--localstatedir is checked as configured:

- the layout: exactly these files and no others — the three programs in
  sbindir; schema/*.sql (byte-identical) in $(pkgdatadir)/schema; the
  status page (every file of nginx/html/) in $(pkgdatadir)/html; the nginx
  site template with render.sh in $(pkgdatadir)/nginx, which renders it;
  the sample config in $(sysconfdir)/callpipe, mode 0640, its cache under
  $(localstatedir); the two units, the tmpfiles.d and sysusers.d entries;
  the four man pages;
- the units: their ExecStart, User, ReadWritePaths and hardening lines, and
  `systemd-analyze verify --man=no --root=DESTDIR` (with the host's
  /usr/lib/systemd/system copied in) printing nothing at all; the same
  verify on a copy with an unknown key must print it (the check can fail);
- tmpfiles.d and sysusers.d: systemd-sysusers and systemd-tmpfiles --create
  into the DESTDIR make the user and the cache directory 2750
  callpipe:www-data;
- the man pages: `mandoc -T lint -W warning` prints nothing; at -W style
  every message is STYLE; each .Xr between callpipe's pages names an
  installed page; every key of etc/callpipe.conf is in callpipe.conf(5);
- the installed callpipectl names $(pkgdatadir)/schema as its migrations
  directory, and, run in a private mount namespace where that directory is
  the DESTDIR's, migrates an empty scratch database with no --dir.
"""

import filecmp
import glob
import grp
import os
import re
import shutil
import stat
import subprocess
import tempfile

import cplib
from cplib import check, eq

TIMEOUT = 300

DIRS = ("prefix", "sbindir", "sysconfdir", "localstatedir", "pkgdatadir",
        "schemadir", "mandir", "systemdsystemunitdir", "tmpfilesdir",
        "sysusersdir")
PROGRAMS = ("callpipe-fcgi", "callpipe-worker", "callpipectl")
UNITS = ("callpipe-fcgi.service", "callpipe-worker@.service")
MANS = ("man8/callpipe-fcgi.8", "man8/callpipe-worker.8", "man8/callpipectl.8",
        "man5/callpipe.conf.5")

_state = {}


def run(argv, what, timeout=240, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    check(p.returncode == 0, "%s: exit %d: %s", what, p.returncode,
          (p.stdout + p.stderr)[-2000:])
    return p


def installed(stack):
    """(destdir, dirs): the build tree installed into a new DESTDIR under
    run/ (once per run; DESTDIRs of earlier runs are removed first)."""
    if "dest" in _state:
        return _state["dest"], _state["dirs"]
    build = stack.env["CALLPIPE_BUILD"]
    for old in glob.glob(os.path.join(stack.run_dir, "install-test-*")):
        shutil.rmtree(old, ignore_errors=True)
    # make itself expands the directories (${prefix} and all).
    rules = "cp-print-dirs:\n" + "".join("\t@echo '%s=$(%s)'\n" % (d, d) for d in DIRS)
    p = run(["make", "-s", "-C", build, "-f", "Makefile", "-f", "-", "cp-print-dirs"],
            "make cp-print-dirs", input=rules)
    dirs = dict(l.split("=", 1) for l in p.stdout.strip().split("\n"))
    eq(sorted(dirs), sorted(DIRS), "directories printed by make")
    for d, v in dirs.items():
        check(os.path.isabs(v), "%s = %r is not absolute", d, v)
    dest = tempfile.mkdtemp(prefix="install-test-", dir=stack.run_dir)
    run(["make", "-s", "-C", build, "install", "DESTDIR=" + dest], "make install")
    _state["dest"], _state["dirs"] = dest, dirs
    return dest, dirs


def at(dest, path):
    return dest + path


def files_under(root):
    out = set()
    for d, _, fs in os.walk(root):
        for f in fs:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def unit_settings(path):
    """{key: [values]} of a unit file (comments and sections dropped)."""
    keys = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            k, _, v = line.partition("=")
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def test_install_layout(stack):
    dest, d = installed(stack)
    src = stack.src
    sql = sorted(os.path.basename(f) for f in glob.glob(os.path.join(src, "schema", "*.sql")))
    html = sorted(os.listdir(os.path.join(src, "nginx", "html")))
    check(sql and html, "no schema/*.sql or nginx/html files in %s", src)
    want = set()
    want |= {os.path.join(d["sbindir"], p) for p in PROGRAMS}
    want |= {os.path.join(d["schemadir"], f) for f in sql}
    want |= {os.path.join(d["pkgdatadir"], "html", f) for f in html}
    want |= {os.path.join(d["pkgdatadir"], "nginx", f)
             for f in ("callpipe.conf.in", "render.sh", "README.md")}
    want.add(os.path.join(d["sysconfdir"], "callpipe", "callpipe.conf"))
    want |= {os.path.join(d["systemdsystemunitdir"], u) for u in UNITS}
    want.add(os.path.join(d["tmpfilesdir"], "callpipe.conf"))
    want.add(os.path.join(d["sysusersdir"], "callpipe.conf"))
    want |= {os.path.join(d["mandir"], m) for m in MANS}
    got = {"/" + f for f in files_under(dest)}
    eq(sorted(got - want), [], "files installed that the layout does not have")
    eq(sorted(want - got), [], "files of the layout not installed")

    for p in PROGRAMS:
        path = at(dest, os.path.join(d["sbindir"], p))
        check(os.access(path, os.X_OK), "%s is not executable", path)
    for f in sql:
        check(filecmp.cmp(os.path.join(src, "schema", f), at(dest, os.path.join(
            d["schemadir"], f)), shallow=False), "installed %s differs from schema/%s", f, f)
    for f in html:
        check(filecmp.cmp(os.path.join(src, "nginx", "html", f), at(dest, os.path.join(
            d["pkgdatadir"], "html", f)), shallow=False), "installed html/%s differs", f)

    # The sample config: 0640, the source's text but for the cache under
    # localstatedir (the units' ReadWritePaths).
    conf = at(dest, os.path.join(d["sysconfdir"], "callpipe", "callpipe.conf"))
    eq(stat.S_IMODE(os.stat(conf).st_mode), 0o640, "mode of the installed config")
    cache = os.path.join(d["localstatedir"], "cache", "callpipe")
    eq(cplib.conf_lookup(conf, "recording.cache_dir"), cache + "/recordings",
       "recording.cache_dir of the installed config")
    with open(os.path.join(src, "etc", "callpipe.conf"), encoding="utf-8") as f:
        a = f.read().split("\n")
    with open(conf, encoding="utf-8") as f:
        b = f.read().split("\n")
    eq(len(a), len(b), "lines of the installed config vs etc/callpipe.conf")
    diff = [(x, y) for x, y in zip(a, b) if x != y]
    eq(len(diff), 1 if "/var/cache/callpipe" != cache else 0,
       "lines changed in the installed config (%r)" % diff)

    # The nginx site renders from its installed place (render.sh finds the
    # template beside itself) with the installed paths.
    nginx = at(dest, os.path.join(d["pkgdatadir"], "nginx"))
    with open(os.path.join(nginx, "render.sh"), encoding="utf-8") as f:
        m = re.search(r"^required=\(([^)]*)\)", f.read(), re.M)
    check(m, "render.sh has no required=(...) line")
    values = {"SERVER_NAME": "calls.example.com", "LISTEN": "443",
              "FCGI_SOCKET": "/run/callpipe/fcgi.sock", "CACHE_DIR": cache + "/recordings",
              "HTML_DIR": os.path.join(d["pkgdatadir"], "html")}
    args = []
    for name in m.group(1).split():
        if name not in values:
            check(re.search(r"_(DIR|CERT|KEY|SOCKET|FILE|LOG)$", name),
                  "render.sh requires %s: give this test a value for it", name)
            values[name] = "/etc/ssl/callpipe/" + name.lower()
        args.append("%s=%s" % (name, values[name]))
    p = run(["bash", os.path.join(nginx, "render.sh")] + args, "installed render.sh")
    check("fastcgi_pass unix:/run/callpipe/fcgi.sock;" in p.stdout,
          "rendered site lacks fastcgi_pass to the installed socket: %r", p.stdout[:500])
    check("root %s;" % values["HTML_DIR"] in p.stdout,
          "rendered site does not serve %s", values["HTML_DIR"])


def test_install_units_verify(stack):
    dest, d = installed(stack)
    units = {u: at(dest, os.path.join(d["systemdsystemunitdir"], u)) for u in UNITS}
    conf = os.path.join(d["sysconfdir"], "callpipe", "callpipe.conf")
    cache = os.path.join(d["localstatedir"], "cache", "callpipe")
    fcgi = unit_settings(units["callpipe-fcgi.service"])
    worker = unit_settings(units["callpipe-worker@.service"])
    eq(fcgi.get("ExecStart"), ["%s/callpipe-fcgi -c %s" % (d["sbindir"], conf)],
       "callpipe-fcgi.service ExecStart")
    eq(worker.get("ExecStart"), ["%s/callpipe-worker -c %s" % (d["sbindir"], conf)],
       "callpipe-worker@.service ExecStart")
    eq(fcgi.get("ReadWritePaths"), ["%s /run/callpipe" % cache],
       "callpipe-fcgi.service ReadWritePaths")
    eq(worker.get("ReadWritePaths"), [cache], "callpipe-worker@.service ReadWritePaths")
    eq(fcgi.get("RuntimeDirectory"), ["callpipe"], "RuntimeDirectory")
    for name, u in (("callpipe-fcgi", fcgi), ("callpipe-worker@", worker)):
        for k, v in (("User", "callpipe"), ("Group", "callpipe"),
                     ("SupplementaryGroups", "www-data"), ("NoNewPrivileges", "yes"),
                     ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                     ("Restart", "on-failure"), ("ProtectHome", "yes"),
                     ("PrivateDevices", "yes")):
            eq(u.get(k), [v], "%s.service %s" % (name, k))
        with open(units[name + ".service"], encoding="utf-8") as f:
            left = re.findall(r"@[A-Za-z_]+@", f.read())
        eq(left, [], "%s.service: placeholders make left" % name)

    # systemd-analyze needs the units and targets they name under the root.
    sysdir = at(dest, "/usr/lib/systemd/system")
    if not os.path.isdir(sysdir):
        shutil.copytree("/usr/lib/systemd/system", sysdir, symlinks=True)
    argv = ["systemd-analyze", "verify", "--man=no", "--root=" + dest]
    p = subprocess.run(argv + list(units.values()), capture_output=True, text=True,
                       timeout=120)
    eq((p.returncode, p.stdout + p.stderr), (0, ""), "systemd-analyze verify of the units")

    # The same check on a copy with an unknown key must say so.
    bad = os.path.join(os.path.dirname(units["callpipe-fcgi.service"]),
                       "callpipe-itest-bad.service")
    with open(units["callpipe-fcgi.service"], encoding="utf-8") as f:
        text = f.read()
    with open(bad, "w", encoding="utf-8") as f:
        f.write(text.replace("[Service]\n", "[Service]\nFrobnicate=yes\n", 1))
    try:
        p = subprocess.run(argv + [bad], capture_output=True, text=True, timeout=120)
        check("Unknown key 'Frobnicate'" in p.stdout + p.stderr,
              "systemd-analyze verify missed an unknown key: %r", p.stdout + p.stderr)
    finally:
        os.unlink(bad)


def test_install_tmpfiles_sysusers(stack):
    dest, d = installed(stack)
    www = grp.getgrnam("www-data")
    etc = at(dest, "/etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "www-data:x:%d:%d:www-data:/var/www:/usr/sbin/nologin\n" % (www.gr_gid, www.gr_gid))
    with open(os.path.join(etc, "group"), "w") as f:
        f.write("root:x:0:\nwww-data:x:%d:\n" % www.gr_gid)
    sysusers = at(dest, os.path.join(d["sysusersdir"], "callpipe.conf"))
    run(["systemd-sysusers", "--root=" + dest, sysusers], "systemd-sysusers")
    users = {l.split(":")[0]: l.split(":") for l in open(os.path.join(etc, "passwd"))}
    check("callpipe" in users, "systemd-sysusers made no callpipe user: %r", list(users))
    check(users["callpipe"][6].strip().endswith("nologin"),
          "callpipe's shell is %r, not nologin", users["callpipe"][6])
    tmpfiles = at(dest, os.path.join(d["tmpfilesdir"], "callpipe.conf"))
    p = run(["systemd-tmpfiles", "--root=" + dest, "--create", tmpfiles], "systemd-tmpfiles")
    eq(p.stdout + p.stderr, "", "systemd-tmpfiles output")
    st = os.stat(at(dest, os.path.join(d["localstatedir"], "cache", "callpipe")))
    eq(oct(stat.S_IMODE(st.st_mode)), oct(0o2750), "mode of the cache directory")
    eq(st.st_uid, int(users["callpipe"][2]), "owner of the cache directory")
    eq(st.st_gid, www.gr_gid, "group of the cache directory")


def test_install_man_lint(stack):
    dest, d = installed(stack)
    pages = [at(dest, os.path.join(d["mandir"], m)) for m in MANS]
    p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning"] + pages,
                       capture_output=True, text=True, timeout=60)
    eq((p.returncode, p.stdout + p.stderr), (0, ""), "mandoc -T lint -W warning")
    # Everything below -W warning is STYLE (a reference to a page mandoc's
    # database lacks among it).
    p = subprocess.run(["mandoc", "-T", "lint", "-W", "style"] + pages,
                       capture_output=True, text=True, timeout=60)
    msgs = [l for l in (p.stdout + p.stderr).split("\n")
            if l.startswith("mandoc: ") and ": outdated mandoc.db" not in l]
    other = [l for l in msgs if ": STYLE: " not in l]
    eq(other, [], "mandoc messages that are not STYLE")
    # Every reference from one callpipe page to another names one installed.
    names = {os.path.basename(m).rsplit(".", 1)[0]: os.path.basename(m).rsplit(".", 1)[1]
             for m in MANS}
    for page in pages:
        with open(page, encoding="utf-8") as f:
            for m in re.finditer(r"^\.Xr (callpipe\S*) (\d)", f.read(), re.M):
                eq(names.get(m.group(1)), m.group(2),
                   "%s: .Xr %s %s names no installed page" % (page, m.group(1), m.group(2)))
    # Every key of the annotated sample is documented.
    with open(os.path.join(stack.src, "etc", "callpipe.conf"), encoding="utf-8") as f:
        keys = [k for _, k, _ in cplib._conf_settings(f.read().split("\n"))]
    with open(pages[3], encoding="utf-8") as f:
        man = f.read()
    documented = set()
    for m in re.finditer(r"^\.It Cm (.*?)(?: Pq .*)?$", man, re.M):
        documented |= {k.strip() for k in m.group(1).split(" , ")}
    check(len(keys) > 40, "only %d keys found in etc/callpipe.conf", len(keys))
    eq([k for k in keys if k not in documented], [],
       "keys of etc/callpipe.conf missing from callpipe.conf(5)")


def test_install_ctl_default_schema(stack):
    dest, d = installed(stack)
    ctl = at(dest, os.path.join(d["sbindir"], "callpipectl"))
    env = {k: v for k, v in stack.ctl_env().items() if k != "CALLPIPE_SCHEMA_DIR"}
    p = run([ctl, "migrate", "--help"], "installed callpipectl migrate --help", env=env)
    check("DIR defaults to %s\n" % d["schemadir"] in p.stdout,
          "installed callpipectl does not default to %s: %r", d["schemadir"], p.stdout)
    p = run([stack.ctl_bin, "migrate", "--help"], "build-tree callpipectl migrate --help",
            env=env)
    check("DIR defaults to %s\n" % os.path.join(stack.src, "schema") in p.stdout,
          "build-tree callpipectl does not default to the source schema/: %r", p.stdout)

    # The installed program with no --dir, its pkgdatadir the DESTDIR's
    # (bound over the nearest existing ancestor in a mount namespace of
    # its own), on an empty database.
    top = d["pkgdatadir"]
    while not os.path.isdir(top):
        top = os.path.dirname(top)
    check(top not in ("/", "/usr", "/etc", "/var", "/lib", "/bin", "/sbin"),
          "pkgdatadir %s: nearest existing directory %s is too wide to bind over",
          d["pkgdatadir"], top)
    sql = sorted(os.path.basename(f) for f in glob.glob(os.path.join(stack.src, "schema",
                                                                     "*.sql")))
    name = "callpipe_scratch_%d" % os.getpid()
    admin = stack.db()
    tmp = tempfile.mkdtemp(prefix="itest-install-")
    try:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
            cur.execute("CREATE DATABASE `%s` CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_unicode_ci" % name)
        conf = stack.conf_copy({"database.name": name}, tmp)
        p = run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount --bind "$1" "$2" && exec "$3" -c "$4" migrate', "sh",
                 at(dest, top), top, ctl, conf], "installed callpipectl migrate", env=env)
        eq(p.stdout.strip(), "%d migration(s) applied from %s" % (len(sql), d["schemadir"]),
           "installed callpipectl migrate output")
        rows = stack.query("SELECT version FROM `%s`.schema_migrations ORDER BY version" % name)
        eq(len(rows), len(sql), "schema_migrations rows of the scratch database")
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_install_uninstall(stack):
    """make uninstall takes back every file (the config too: unchanged)."""
    dest, d = installed(stack)
    try:
        run(["make", "-s", "-C", stack.env["CALLPIPE_BUILD"], "uninstall", "DESTDIR=" + dest],
            "make uninstall")
        # What the tests themselves put there: systemd's units, the user
        # database of sysusers.
        left = sorted(f for f in files_under(dest)
                      if not (f.startswith("usr/lib/systemd/system/") and
                              os.path.basename(f) not in UNITS)
                      and not f.startswith(("etc/passwd", "etc/group", "etc/shadow",
                                            "etc/gshadow", "etc/.pwd.lock")))
        eq(left, [], "files make uninstall left")
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        _state.clear()
