"""python manage.py explain_endpoints: each endpoint's queries and PostgreSQL's plans (docs/database-indexes.md).

Every variant of core.query_plans (the four endpoints of the target table, with each filter, ordering and
search parameter) is requested once through the test Client with the caches missed; each SELECT it ran is
printed with its parameters, the indexes its plan uses, any sequential scan of a large table
(monitoring_spec.database) and EXPLAIN (ANALYZE, BUFFERS).  Everything runs in one transaction that is rolled
back (the signed-in variant writes a session); the course cache it empties (Redis) is not: a running stack's
next requests miss it once.

    python manage.py explain_endpoints                 # every variant
    python manage.py explain_endpoints --only course_list
    python manage.py explain_endpoints --no-analyze    # plans without running the queries

Exits non-zero when a query breaks the rule of monitoring_spec.database (the plans are printed first).
"""
from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from core import query_plans
from monitoring_spec import database as spec
from monitoring_spec.targets import TARGETS_BY_KEY


class Command(BaseCommand):
    help = "Print each endpoint's SQL with EXPLAIN (ANALYZE, BUFFERS) on the configured PostgreSQL database."

    def add_arguments(self, parser):
        parser.add_argument("--only", action="append", choices=sorted(TARGETS_BY_KEY), help="endpoint key(s)")
        parser.add_argument("--no-analyze", action="store_true", help="EXPLAIN without ANALYZE, BUFFERS")

    def handle(self, *args, only, no_analyze, **options):
        if connection.vendor != "postgresql":
            raise CommandError(f"explain_endpoints needs PostgreSQL; DATABASE_URL points at {connection.vendor}")
        options_sql = "COSTS, VERBOSE OFF" if no_analyze else "ANALYZE, BUFFERS"
        with transaction.atomic():
            problems = self.report(only, options_sql)
            transaction.set_rollback(True)
        if problems:  # the plans are printed; the exit status makes it usable as a check
            raise CommandError(f"{problems} sequential scan(s) of large tables where an index should serve")

    def report(self, only, options_sql: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        rows = query_plans.table_rows()
        out = self.stdout.write
        out(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, PostgreSQL {version}, database "
            f"{connection.settings_dict['NAME']}")
        out("# rows (pg_class.reltuples): " + ", ".join(
            f"{name} {n}" for name, n in sorted(rows.items(), key=lambda item: -item[1]) if n))
        out(f"# large table: >= {spec.SEQ_SCAN_MAX_TABLE_ROWS} rows")
        problems = 0
        for variant in query_plans.variants(query_plans.samples()):
            if only and variant.endpoint not in only:
                continue
            out("")
            out(f"## {TARGETS_BY_KEY[variant.endpoint].name}: {variant.label}  GET {variant.path}")
            for number, query in enumerate(query_plans.capture(variant), 1):
                plan = query.explain()
                scans = query_plans.seq_scans(plan, rows)
                if not variant.seq_scan_allowed:
                    problems += len(scans)
                out("")
                out(f"### query {number}: {query.text()}")
                out(f"indexes: {', '.join(query_plans.indexes_used(plan)) or 'none'}")
                for scan in scans:
                    out(f"SEQUENTIAL SCAN of large table {scan.table} ({scan.table_rows} rows), filter {scan.filter}"
                        + (f" (allowed: {variant.seq_scan_allowed})" if variant.seq_scan_allowed else ""))
                out(query.explain(options_sql))
        out("")
        out(f"# {problems} sequential scan(s) of large tables where an index should serve")
        return problems
