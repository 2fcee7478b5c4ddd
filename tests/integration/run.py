#!/usr/bin/python3
"""callpipe's integration tests against the running local stack.

    /usr/bin/python3 tests/integration/run.py [--backends offline|openai] [NAME ...]

Reads run/stack.env ($CALLPIPE_STACK_ENV, else <repo>/run/stack.env), imports
tests/integration/test_*.py in name order (or only those named: a file name
with or without .py, or a test function's name), and calls each function
`test_*(stack)` of each file in the order it is defined, with a cplib.Stack.
A test that raises anything fails; one that runs longer than its file's
TIMEOUT (default 120 s) fails too.

Each file says which backends it needs with a line `BACKENDS = "openai"`
(default "offline": pocketsphinx and rules); only the files for --backends
run (default: the backends the stack is up with, CALLPIPE_BACKENDS of
stack.env). A run for backends the stack is not up with fails at once
("etc/dev.sh up --backends openai" first), and so does a file named on the
command line that needs the other backends.

Prints "PASS name (N.Ns)" or "FAIL name: reason" per test and, as the very
last line, "N passed, N failed". Exit status 1 when any test failed (or
none ran), else 0. No pytest: Debian's python3 plus python3-twilio and
python3-pymysql only.
"""

import importlib.util
import inspect
import os
import re
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import cplib  # noqa: E402

DEFAULT_TIMEOUT = 120.0
BACKENDS = ("offline", "openai")
DEFAULT_BACKENDS = "offline"
BACKENDS_RE = re.compile(r"""^BACKENDS\s*=\s*["']([A-Za-z]+)["']\s*(?:#.*)?$""", re.M)


def discover(selected):
    """[(name, module_path)] of test files, in name order, filtered."""
    files = sorted(f for f in os.listdir(HERE)
                   if f.startswith("test_") and f.endswith(".py"))
    return [(f[:-3], os.path.join(HERE, f)) for f in files]


def backends_of(path):
    """The file's BACKENDS line (read from its text, so that a file for the
    other backends is never imported), or the default."""
    with open(path, encoding="utf-8") as f:
        m = BACKENDS_RE.search(f.read())
    return m.group(1) if m else DEFAULT_BACKENDS


def parse_args(argv):
    """(backends or None, [names]); raises ValueError on a bad option."""
    backends, names = None, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--backends":
            if i + 1 >= len(argv):
                raise ValueError("--backends needs offline or openai")
            backends = argv[i + 1]
            i += 2
            continue
        if a.startswith("--backends="):
            backends = a.split("=", 1)[1]
        elif a.startswith("-"):
            raise ValueError("unknown option %s" % a)
        else:
            names.append(a)
        i += 1
    if backends is not None and backends not in BACKENDS:
        raise ValueError("--backends takes %s, not %r" % (" or ".join(BACKENDS), backends))
    return backends, names


def load(name, path):
    spec = importlib.util.spec_from_file_location("itest_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_functions(mod):
    fns = [(n, f) for n, f in vars(mod).items()
           if n.startswith("test_") and inspect.isfunction(f) and
           f.__module__ == mod.__name__]
    fns.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    return fns


def reason_of(exc):
    if isinstance(exc, AssertionError):
        msg = str(exc) or "assertion failed"
        tb = traceback.extract_tb(exc.__traceback__)
        # A bare assert has no message: say where it was.
        if not str(exc) and tb:
            fr = tb[-1]
            msg = "assertion failed at %s:%d: %s" % (os.path.basename(fr.filename),
                                                    fr.lineno, fr.line)
        return msg, None
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "%s: %s" % (type(exc).__name__, exc), "".join(tb)


def run_one(fn, stack, timeout, grace_s=0.0):
    """(reason or None, traceback or None): fn(stack) in a thread, waited
    for timeout s, then grace_s more if it is still running."""
    box = {}

    def target():
        try:
            fn(stack)
        except BaseException as e:  # noqa: B902 - every exception fails the test
            box["exc"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        if grace_s > 0:
            t.join(grace_s)
        return "timed out after %.0f s%s" % (
            timeout, " (still running %.0f s later)" % grace_s
            if grace_s > 0 and t.is_alive() else ""), None
    if "exc" in box:
        return reason_of(box["exc"])
    return None, None


def one_line(s, n=1500):
    s = " | ".join(x.strip() for x in str(s).splitlines() if x.strip())
    return s if len(s) <= n else s[:n] + "..."


def main(argv):
    try:
        backends, names = parse_args(argv)
    except ValueError as e:
        print("FAIL usage: %s (run.py [--backends offline|openai] [NAME ...])" % e)
        print("0 passed, 1 failed")
        return 1
    selected = [a[:-3] if a.endswith(".py") else a for a in names]
    selected = [os.path.basename(a) for a in selected]
    passed = failed = 0
    t_suite = time.monotonic()

    env_path = cplib.stack_env_path(REPO)
    try:
        stack = cplib.Stack(cplib.load_env(env_path), env_path)
    except (OSError, ValueError) as e:
        print("FAIL stack: cannot read %s: %s (run 'etc/dev.sh up' first)" % (env_path, e))
        print("0 passed, 1 failed")
        return 1
    if backends is None:
        backends = stack.backends
    if backends != stack.backends:
        print("FAIL stack: it is up with the %s backends, these tests need %s "
              "(run 'etc/dev.sh up --backends %s' first)" % (stack.backends, backends, backends))
        print("0 passed, 1 failed")
        return 1
    print("# backends: %s" % backends)

    files = discover(selected)
    ran_any = False
    matched = set()
    for fname, path in files:
        try:
            need = backends_of(path)
        except OSError as e:
            # A file that cannot be read is a failure in every phase,
            # never a silent skip.
            failed += 1
            print("FAIL %s: cannot read: %s" % (fname, e))
            sys.stdout.flush()
            continue
        if need not in BACKENDS:
            # A typo would make the file run in no phase at all: count it
            # in the phase of the default backends, once.
            if backends == DEFAULT_BACKENDS:
                failed += 1
                print("FAIL %s: unknown BACKENDS %r (offline or openai)"
                      % (fname, need))
                sys.stdout.flush()
            continue
        if need != backends:
            if fname in selected:
                matched.add(fname)
                failed += 1
                print("FAIL %s: needs the %s backends (this run: %s; "
                      "run.py --backends %s after 'etc/dev.sh up --backends %s')"
                      % (fname, need, backends, need, need))
                sys.stdout.flush()
            continue
        try:
            mod = load(fname, path)
        except BaseException as e:  # noqa: B902
            if not selected or fname in selected:
                matched.add(fname)
                failed += 1
                print("FAIL %s: cannot import: %s" % (fname, one_line(reason_of(e)[0])))
                sys.stdout.flush()
            continue
        timeout = float(getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT))
        for tname, fn in test_functions(mod):
            if selected and fname not in selected and tname not in selected:
                continue
            matched.add(fname if fname in selected else tname)
            ran_any = True
            t0 = time.monotonic()
            reason, tb = run_one(fn, stack, timeout)
            if report_one(tname, reason, tb, time.monotonic() - t0):
                passed += 1
            else:
                failed += 1
    return report_end(selected, matched, ran_any, passed, failed, t_suite, "suite", HERE)


def report_one(tname, reason, tb, dt):
    """Prints a test's PASS or FAIL line (and its traceback); True when it passed."""
    if reason is None:
        print("PASS %s (%.1fs)" % (tname, dt))
    else:
        print("FAIL %s: %s (%.1fs)" % (tname, one_line(reason), dt))
        if tb:
            for line in tb.rstrip().splitlines():
                print("    " + line)
    sys.stdout.flush()
    return reason is None


def report_end(selected, matched, ran_any, passed, failed, t_suite, what, where):
    """Fails names that matched nothing and an empty suite, prints the
    totals line dev.sh counts; returns the exit status."""
    for s in selected:
        if s not in matched:
            failed += 1
            print("FAIL %s: no such test file or function" % s)
    if not ran_any and not failed:
        failed += 1
        print("FAIL suite: no tests found in %s" % where)
    print("# %s took %.1fs" % (what, time.monotonic() - t_suite))
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    rc = main(sys.argv[1:])
    sys.stdout.flush()
    # Threads of a timed-out test may still run: leave without waiting.
    os._exit(rc)
