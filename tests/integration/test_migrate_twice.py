"""Migrations are applied once: a second `callpipectl migrate` does nothing.

The stack is migrated already (etc/dev.sh up). Two more runs each exit 0
and report 0 applied; schema_migrations and the tables stay as they were.
"""

import re

from cplib import check, eq


def test_migrate_twice(stack):
    before = stack.query("SELECT version, checksum, applied_at FROM schema_migrations "
                         "ORDER BY version")
    check(before, "schema_migrations is empty: the stack was never migrated")
    tables = stack.query("SELECT table_name AS t FROM information_schema.tables "
                         "WHERE table_schema = DATABASE() ORDER BY table_name")
    for i in (1, 2):
        out = stack.ctl("migrate")
        eq(out.returncode, 0, "migrate run %d exit status (stderr %r)" % (i, out.stderr))
        check(re.search(r"(?<![0-9])0 migration", out.stdout),
              "migrate run %d did not report 0 applied: %r", i, out.stdout)
    eq(stack.query("SELECT version, checksum, applied_at FROM schema_migrations "
                   "ORDER BY version"), before, "schema_migrations after two runs")
    eq(stack.query("SELECT table_name AS t FROM information_schema.tables "
                   "WHERE table_schema = DATABASE() ORDER BY table_name"), tables, "tables")
    names = {t["t"] for t in tables}
    for t in ("call_log", "jobs", "businesses", "business_numbers", "api_tokens",
              "schema_migrations"):
        check(t in names, "table %s missing", t)
