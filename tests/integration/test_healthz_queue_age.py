"""GET /healthz is 503 once the oldest due job has waited longer than
health.max_queue_age_s, and 200 again when it is gone.

A callpipe-fcgi of our own (no workers, so nothing claims the job) runs on
a scratch database with health.max_queue_age_s = 60. A queued job whose
run_after is an hour ago makes /healthz 503 with a one-line reason; a
queued job due in the future, or one that waited less than the limit,
does not; with the old row deleted it is 200 again.
"""

import json

from cplib import check, eq

TIMEOUT = 180


def healthz(inst):
    return inst.request("GET", "/healthz")


def test_healthz_queue_age(stack):
    with stack.scratch_database() as (name, connect):
        with stack.fcgi_instance({"database.name": name,
                                  "health.max_queue_age_s": 60}) as inst:
            r = healthz(inst)
            eq(r.status, 200, "empty queue: /healthz (%r)" % r)

            db = connect()
            try:
                with db.cursor() as cur:
                    # Due in a day, and one due 10 s ago: neither is too old.
                    cur.execute("INSERT INTO jobs (kind, dedupe_key, state, max_attempts, "
                                "run_after) VALUES ('sweep', 'hz:future', 'queued', 1, "
                                "UTC_TIMESTAMP(3) + INTERVAL 1 DAY), ('sweep', 'hz:fresh', "
                                "'queued', 1, UTC_TIMESTAMP(3) - INTERVAL 10 SECOND)")
                    # Running and dead jobs do not wait in the queue.
                    cur.execute("INSERT INTO jobs (kind, dedupe_key, state, max_attempts, "
                                "run_after) VALUES ('sweep', 'hz:dead', 'dead', 1, "
                                "UTC_TIMESTAMP(3) - INTERVAL 1 DAY)")
                db.commit()
                r = healthz(inst)
                eq(r.status, 200, "only young or future queued jobs: /healthz (%r)" % r)

                with db.cursor() as cur:
                    cur.execute("INSERT INTO jobs (kind, dedupe_key, state, max_attempts, "
                                "run_after) VALUES ('sweep', 'hz:old', 'queued', 1, "
                                "UTC_TIMESTAMP(3) - INTERVAL 1 HOUR)")
                db.commit()
                r = healthz(inst)
                eq(r.status, 503, "a job due an hour ago: /healthz (%r)" % r)
                err = json.loads(r.body.decode("utf-8"))["error"]
                check("oldest due job has waited" in err and "max_queue_age_s 60" in err
                      and "\n" not in err, "503 reason: %r", err)
                age = int(err.split("waited ")[1].split(" s")[0])
                check(3590 <= age <= 3700, "age in the reason: %d s", age)
                check(r.header("retry-after"), "503 without Retry-After: %r", r.headers_list)
                eq(inst.request("HEAD", "/healthz").status, 503, "HEAD /healthz")

                with db.cursor() as cur:
                    cur.execute("DELETE FROM jobs WHERE dedupe_key = 'hz:old'")
                db.commit()
                r = healthz(inst)
                eq(r.status, 200, "old job deleted: /healthz (%r)" % r)
            finally:
                db.close()
