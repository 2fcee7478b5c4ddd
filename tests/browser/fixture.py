#!/usr/bin/python3
"""fixture: the calls the browser tests look at, made on the running stack.

Usage: fixture.py STACK_ENV OUT_JSON

The stack must be up with the openai backends (etc/dev.sh up --backends
openai). Through the Twilio simulator, as tests/integration/test_openai_*
do, it makes from one new caller number ("the lead"):

  completed  a Hebrew call (run/audio/he_call.wav, 10.5 s) to the demo
             business, all three stages completed;
  other      the same number calling a second business made here (its
             call must never show on the demo business's page);
  failed     a call to the demo business whose first transcription upload
             the OpenAI simulator answers 400 (one-shot bad_request: a
             permanent error), so its transcript is failed with last_error.

OUT_JSON gets what the tests need: the base URL, the demo business's token,
the CA file, the three CallSids, the lead's number, the failed call's
last_error, the OpenAI simulator's control URL and a stall below the
client's timeout (stt.openai.timeout_ms) for the retry test to inject.
Exit status 0 when all is made, 1 with the reason on stderr otherwise.
"""

import json
import os
import secrets
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from cplib import Stack, TestFailure, check, eq, load_env  # noqa: E402

CLIP = "he_call"
TIMEOUT_S = 150


def lead_number():
    """A fresh Israeli mobile number in E.164 (+97250 and 7 digits)."""
    return "+97250%07d" % secrets.randbelow(10 ** 7)


def make(stack):
    sim = stack.openai_sim()  # waits for earlier speech jobs, clears faults and log
    lead = lead_number()

    info, _ = stack.clip_call(CLIP, language=None, **{"from": lead})
    completed = info["call_sid"]
    row = stack.wait_statuses(completed, timeout=TIMEOUT_S)
    eq(row["business_id"], stack.business_id, "business of the completed call")

    other_bid, other_nums = stack.create_business("browser other")
    info, _ = stack.clip_call(CLIP, language=None, **{"from": lead, "to": other_nums[0]})
    other = info["call_sid"]
    row = stack.wait_statuses(other, timeout=TIMEOUT_S)
    eq(row["business_id"], other_bid, "business of the other business's call")

    stack.openai_sim()
    sim.fault("transcriptions", "bad_request", count=1)
    info, _ = stack.clip_call(CLIP, language=None, **{"from": lead})
    failed = info["call_sid"]
    row = stack.wait_stage(failed, "transcript", ("failed", "completed"), timeout=TIMEOUT_S)
    eq(row["transcript_status"], "failed", "transcript_status after the one-shot 400")
    check(row["last_error"], "the failed call has no last_error: %r", row)
    eq(row["recording_status"], "completed", "recording_status of the failed call")

    timeout_s = stack.conf_get("stt.openai.timeout_ms") / 1000.0
    return {
        "base_url": stack.base_url,
        "token": stack.token,
        "business_id": stack.business_id,
        "ca_cert": stack.env["CALLPIPE_CA_CERT"],
        "lead": lead,
        "completed_sid": completed,
        "failed_sid": failed,
        "other_sid": other,
        "other_business_id": other_bid,
        "failed_last_error": row["last_error"],
        "openai_sim_url": stack.openai.url,
        # Two uploads (caller, agent) of stall_s each keep the transcript
        # processing for about 2 * stall_s (9 s with the stack's 5 s
        # timeout): the page's refresh 5 s after the retry's 202 lands in it
        # even when it comes ~4 s late, and the one after that too when the
        # claim is late. Each stall stays below the client's timeout
        # (stt.openai.timeout_ms, the whole upload and answer) so nothing
        # fails.
        "stall_s": max(1.0, min(4.5, timeout_s - 0.5)),
        "stall_count": 2,
        "clip_duration_s": stack.clip(CLIP).get("duration"),
    }


def main(argv):
    if len(argv) != 3:
        print("usage: fixture.py STACK_ENV OUT_JSON", file=sys.stderr)
        return 2
    env_path, out = argv[1], argv[2]
    try:
        stack = Stack(load_env(env_path), env_path)
        data = make(stack)
    except (TestFailure, ValueError, OSError) as e:
        print("fixture: %s" % e, file=sys.stderr)
        return 1
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
