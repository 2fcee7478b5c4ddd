"""After the fault suite, v_calls_stuck is empty for every call it made.

Issue 7: a healthy system keeps v_calls_stuck empty. The view's age
threshold (dba_settings.stuck_after_s, migration 006) is set to 0 for this
check, so any call of the suite still in a working state with no job
finishing it (recording 'recording', a stage 'processing', a recording
'pending' after the call ended, a stage pending after the one before it
completed) is listed and the test fails. Run alone, it makes two calls of
its own first, so it never passes on nothing.
"""

import time

import faultlib
from cplib import check
from faultlib import Deadline, fig

TIMEOUT = 60


def test_stuck_empty(stack):
    if not faultlib.STARTED:
        sids = [i["call_sid"] for i in faultlib.start_calls(stack, 2)]
        faultlib.wait_stages(stack, sids, Deadline(45))
    sids = list(dict.fromkeys(faultlib.STARTED))
    marks = ", ".join(["%s"] * len(sids))
    # A call may still be between two stages (its next job queued a moment
    # ago): wait until none of the suite's calls has a queued or running job.
    deadline = Deadline(40)
    while True:
        busy = stack.query("SELECT COUNT(*) AS n FROM jobs WHERE state IN "
                           "('queued', 'running') AND kind <> 'sweep' AND "
                           "call_sid IN (%s)" % marks, sids)[0]["n"]
        if busy == 0 or deadline.passed():
            break
        time.sleep(0.5)
    old = stack.query("SELECT stuck_after_s FROM dba_settings WHERE id = 1")
    check(old, "dba_settings has no row 1 (migration 006)")
    stack.execute("UPDATE dba_settings SET stuck_after_s = 0 WHERE id = 1")
    try:
        stuck = stack.query("SELECT call_sid, recording_status, transcript_status, "
                            "summary_status, last_error FROM v_calls_stuck WHERE "
                            "call_sid IN (%s)" % marks, sids)
    finally:
        stack.execute("UPDATE dba_settings SET stuck_after_s = %s WHERE id = 1",
                      (old[0]["stuck_after_s"],))
    fig("v_calls_stuck at threshold 0: %d of the suite's %d calls listed",
        len(stuck), len(sids))
    check(not stuck, "%d calls of the fault suite are stuck: %r", len(stuck), stuck[:5])
