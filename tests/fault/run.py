#!/usr/bin/python3
"""callpipe's fault suite against the running local stack.

    /usr/bin/python3 tests/fault/run.py [NAME ...]

Like tests/integration/run.py (whose loader and reporting it reuses): reads
run/stack.env, imports tests/fault/test_*.py in name order (or only those
named: a file name with or without .py, or a test function's name) and
calls each test_*(stack) with a cplib.Stack. A test fails when it raises,
when it runs longer than its file's TIMEOUT (default 120 s), or when the
stack is not as it was before it (faultlib.stack_problems: MariaDB,
callpipe-fcgi's children and workers, nginx, the simulator's REST outage,
mounts under run/).

The whole suite has SUITE_BUDGET_S (360 s): a test gets at most what is
left of it, and one that would start with less than MIN_START_S left
fails without running. A test that timed out gets GRACE_S more to put the
stack back (its own deadlines end before its TIMEOUT, see faultlib.Deadline).

Prints "PASS name (N.Ns)" or "FAIL name: reason" per test, the tests'
figures as "# ..." lines, and, last, "N passed, N failed". Exit status 1
when any test failed (or none ran).
"""

import importlib.util
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
INTEGRATION = os.path.join(REPO, "tests", "integration")
sys.path.insert(0, HERE)
sys.path.insert(0, INTEGRATION)

import cplib  # noqa: E402

SUITE_BUDGET_S = 360.0
MIN_START_S = 20.0
GRACE_S = 25.0
DEFAULT_TIMEOUT = 120.0


def _integration_runner():
    spec = importlib.util.spec_from_file_location(
        "integration_run", os.path.join(INTEGRATION, "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ir = _integration_runner()


def main(argv):
    names = [os.path.basename(a[:-3] if a.endswith(".py") else a) for a in argv]
    bad = [a for a in argv if a.startswith("-")]
    if bad:
        print("FAIL usage: unknown option %s (run.py [NAME ...])" % bad[0])
        print("0 passed, 1 failed")
        return 1
    env_path = cplib.stack_env_path(REPO)
    try:
        stack = cplib.Stack(cplib.load_env(env_path), env_path)
    except (OSError, ValueError) as e:
        print("FAIL stack: cannot read %s: %s (run 'etc/dev.sh up' first)" % (env_path, e))
        print("0 passed, 1 failed")
        return 1
    import faultlib  # noqa: E402 - after sys.path has tests/integration

    t_suite = time.monotonic()
    passed = failed = 0
    matched, ran_any = set(), False
    probs = faultlib.stack_problems(stack)
    if probs:
        print("FAIL stack: not healthy before the fault suite: %s" % "; ".join(probs))
        print("0 passed, 1 failed")
        return 1
    files = sorted(f for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    for f in files:
        fname, path = f[:-3], os.path.join(HERE, f)
        try:
            mod = ir.load(fname, path)
        except BaseException as e:  # noqa: B902
            if not names or fname in names:
                matched.add(fname)
                failed += 1
                print("FAIL %s: cannot import: %s" % (fname, ir.one_line(ir.reason_of(e)[0])))
                sys.stdout.flush()
            continue
        timeout = float(getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT))
        for tname, fn in ir.test_functions(mod):
            if names and fname not in names and tname not in names:
                continue
            matched.add(fname if fname in names else tname)
            ran_any = True
            left = SUITE_BUDGET_S - (time.monotonic() - t_suite)
            if left < MIN_START_S:
                failed += 1
                print("FAIL %s: not run: %.0f s of the suite's %.0f s left" % (
                    tname, max(left, 0), SUITE_BUDGET_S))
                sys.stdout.flush()
                continue
            t0 = time.monotonic()
            reason, tb = ir.run_one(fn, stack, min(timeout, left), GRACE_S)
            probs = faultlib.stack_problems(stack)
            if probs:
                reason = (reason + "; " if reason else "") + \
                    "the stack is not as it was: " + "; ".join(probs)
            if ir.report_one(tname, reason, tb, time.monotonic() - t0):
                passed += 1
            else:
                failed += 1
    return ir.report_end(names, matched, ran_any, passed, failed, t_suite, "fault suite", HERE)


if __name__ == "__main__":
    rc = main(sys.argv[1:])
    sys.stdout.flush()
    # Threads of a timed-out test may still run: leave without waiting.
    os._exit(rc)
