"""Coverage of the call by its stored recording (issue 7 item 4).

recording_coverage = seconds of audio in the stored WAV / CallDuration;
recording_coverage_low = 1 when the gap is more than max(1 s, (1 -
recording.min_coverage) x CallDuration), and the call is then listed in
v_calls_low_coverage.

1. A full call (the simulator's CallDuration is the audio's length rounded
   up): coverage about 1.0, not low, not in the view.
2. A call that runs 6 s longer than its audio (the simulator's duration_s):
   the stored WAV is short of CallDuration, low, in the view with its gap.
3. The other order: CallDuration arrives after the WAV was stored. The
   call of case 1 gets its call_duration and coverage cleared, then a
   signed call status callback brings CallDuration = 3 x the audio: the
   status callback computes the coverage itself (low, in the view).
"""

import math
import wave

from cplib import check, eq

TIMEOUT = 200


def wav_seconds(path):
    with wave.open(path, "rb") as w:
        return w.getnframes() / float(w.getframerate())


def view_row(stack, call_sid):
    rows = stack.query("SELECT * FROM v_calls_low_coverage WHERE call_sid = %s",
                       (call_sid,))
    return rows[0] if rows else None


def test_coverage(stack):
    min_cov = float(stack.conf_get("recording.min_coverage") or 0.95)
    audio_s = wav_seconds(stack.audio("short"))

    # 1. A full call.
    info, _, row = stack.completed_call("short", timeout=120)
    sid = info["call_sid"]
    row = stack.wait_row(sid, lambda r: r["recording_coverage"] is not None, timeout=30,
                         what="recording_coverage set")
    stored = stack.cached_file(row["recording_sid"])
    check(stored, "no cached WAV of %s", row["recording_sid"])
    secs = wav_seconds(stored)
    eq(row["recording_audio_ms"], int(round(secs * 1000)), "recording_audio_ms vs the WAV")
    want = secs / row["call_duration"]
    check(abs(float(row["recording_coverage"]) - want) < 0.002,
          "coverage %s, want %.3f (%.3f s / %d s)", row["recording_coverage"], want, secs,
          row["call_duration"])
    check(float(row["recording_coverage"]) > 0.7, "full call coverage %s is not about 1",
          row["recording_coverage"])
    eq(row["recording_coverage_low"], 0, "full call recording_coverage_low")
    eq(view_row(stack, sid), None, "full call in v_calls_low_coverage")
    print("# full call: %.2f s of audio / %d s CallDuration = %s, low %s" % (
        secs, row["call_duration"], row["recording_coverage"], row["recording_coverage_low"]))

    # 2. The call runs 6 s past its audio: the WAV is short.
    run_s = math.ceil(audio_s) + 6
    info2, _, row2 = stack.completed_call("short", timeout=120, duration_s=run_s)
    sid2 = info2["call_sid"]
    row2 = stack.wait_row(sid2, lambda r: r["recording_coverage_low"] is not None,
                          timeout=30, what="recording_coverage_low set")
    secs2 = row2["recording_audio_ms"] / 1000.0
    gap = row2["call_duration"] - secs2
    check(gap > max(1.0, (1 - min_cov) * row2["call_duration"]),
          "the test's own call should have a gap: %.2f s of %d s", secs2,
          row2["call_duration"])
    eq(row2["recording_coverage_low"], 1, "short WAV: recording_coverage_low")
    v = view_row(stack, sid2)
    check(v is not None, "the short call %s is not in v_calls_low_coverage", sid2)
    check(abs(float(v["gap_seconds"]) - gap) < 0.6, "view gap_seconds %s, want ~%.1f",
          v["gap_seconds"], gap)
    print("# short WAV: %.2f s of audio / %d s CallDuration = %s, low %s, view gap %s s" % (
        secs2, row2["call_duration"], row2["recording_coverage"],
        row2["recording_coverage_low"], v["gap_seconds"]))

    # 3. CallDuration after the stored WAV: the status callback computes.
    stack.execute("UPDATE call_log SET call_duration = NULL, recording_coverage = NULL, "
                  "recording_coverage_low = NULL WHERE call_sid = %s", (sid,))
    long_s = int(math.ceil(secs)) * 3
    r = stack.post_webhook("/webhook/call_status", stack.voice_params(
        sid, CallStatus="completed", CallDuration=str(long_s)))
    check(r.status in (200, 204), "call status callback answered %d: %r", r.status, r.body)
    row3 = stack.row(sid)
    eq(row3["call_duration"], long_s, "call_duration from the late callback")
    want3 = secs / long_s
    check(row3["recording_coverage"] is not None and
          abs(float(row3["recording_coverage"]) - want3) < 0.002,
          "late CallDuration: coverage %s, want %.3f", row3["recording_coverage"], want3)
    eq(row3["recording_coverage_low"], 1, "late CallDuration: low")
    check(view_row(stack, sid) is not None, "late CallDuration: %s not in the view", sid)
    print("# status after the fetch: %.2f s / %d s = %s, low %s" % (
        secs, long_s, row3["recording_coverage"], row3["recording_coverage_low"]))
