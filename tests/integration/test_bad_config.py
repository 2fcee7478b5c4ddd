"""A bad config stops start-up with the file, the line and the key named.

DESIGN.md §8 and etc/callpipe.conf: an unknown key (a typo) is an error,
and so is a value out of its range. We copy run/callpipe.conf, break one
known line, and run `callpipectl -c COPY migrate` and `callpipe-fcgi -c
COPY -t`: each exits non-zero and its stderr names the copy's path, the
line number and the key. The database is not touched.
"""

import os
import re
import subprocess
import tempfile

from cplib import check, eq


def broken_copy(stack, tmpdir, key, edit):
    """Copies CONF with edit(line) applied to the first line setting key;
    returns (path, line number)."""
    with open(stack.conf, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if re.match(r"^\s*%s\s*=" % re.escape(key), line):
            lines[i] = edit(line)
            break
    else:
        raise AssertionError("%s has no line setting %s" % (stack.conf, key))
    path = os.path.join(tmpdir, "bad-%s.conf" % key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path, i + 1


def assert_named(what, proc, path, line, key):
    check(proc.returncode != 0, "%s: exit status 0 with a bad config", what)
    err = proc.stderr
    check(path in err, "%s: stderr does not name the file %s: %r", what, path, err)
    check(re.search(r"(?<![0-9])%d(?![0-9])" % line, err.replace(path, "")),
          "%s: stderr does not name line %d: %r", what, line, err)
    check(key in err, "%s: stderr does not name the key %r: %r", what, key, err)


def test_bad_config(stack):
    fcgi_bin = os.path.join(stack.env["CALLPIPE_BUILD"], "fcgi-app", "callpipe-fcgi",
                            "callpipe-fcgi")
    migrations = stack.query("SELECT * FROM schema_migrations ORDER BY version")
    with tempfile.TemporaryDirectory(prefix="itest-conf-") as tmp:
        # A typo'd key on a known line.
        path, line = broken_copy(stack, tmp, "max_requests",
                                 lambda l: l.replace("max_requests", "max_reqeusts", 1))
        out = stack.ctl("migrate", conf=path)
        assert_named("callpipectl migrate (typo)", out, path, line, "max_reqeusts")
        out = subprocess.run([fcgi_bin, "-c", path, "-t"], capture_output=True, text=True,
                             timeout=30)
        assert_named("callpipe-fcgi -t (typo)", out, path, line, "max_reqeusts")

        # A known key with a value out of its range (1 .. 256).
        path, line = broken_copy(stack, tmp, "children",
                                 lambda l: re.sub(r"=\s*\d+", "= 0", l, count=1))
        out = stack.ctl("migrate", conf=path)
        assert_named("callpipectl migrate (children = 0)", out, path, line, "children")

        # The good config passes the same check.
        out = subprocess.run([fcgi_bin, "-c", stack.conf, "-t"], capture_output=True,
                             text=True, timeout=30)
        eq(out.returncode, 0, "callpipe-fcgi -t on the good config (stderr %r)" % out.stderr)
    eq(stack.query("SELECT * FROM schema_migrations ORDER BY version"), migrations,
       "schema_migrations after the refused runs")
