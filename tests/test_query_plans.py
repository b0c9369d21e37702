"""On the large data set, no request of the target table makes PostgreSQL scan a large table sequentially.

Each endpoint is requested through the test Client with every filter, ordering and search parameter
(core.query_plans.variants), caches missed; every SELECT it ran is EXPLAINed with its parameters and the
plan tree walked for a Seq Scan of a table of SEQ_SCAN_MAX_TABLE_ROWS rows or more (monitoring_spec.database;
the rule and its exceptions: docs/database-indexes.md).  The large data set is seeded once for the module
(about 35 s on PostgreSQL), VACUUM ANALYZEd so the planner sees real statistics, and flushed afterwards so
that later tests start from an empty database.
"""
from __future__ import annotations

import contextlib
import io
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from core import query_plans
from monitoring_spec import database as spec
from monitoring_spec.targets import TARGETS, TARGETS_BY_KEY

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="query plans are PostgreSQL's: SQLite has no EXPLAIN (FORMAT JSON) and another planner"),
]

TRIGRAM_INDEX = "course_title_trgm_idx"  # courses/migrations/0003: only where the server has pg_trgm


@contextlib.contextmanager
def unbounded_database():
    """A connection without the request-sized statement and read timeouts (3 s, 4 s): seeding 350,000 rows
    commits for longer than that on a busy machine.  The next connection has the configured bounds again."""
    with override_settings(DATABASE_STATEMENT_TIMEOUT=0):
        connection.close()
        try:
            yield
        finally:
            connection.close()


@pytest.fixture(scope="module")
def large_data(django_db_setup, django_db_blocker):
    try:
        with django_db_blocker.unblock(), unbounded_database():
            started = time.monotonic()
            call_command("seed_data", "--size", "large", stdout=io.StringIO())
            seeded = time.monotonic()
            with connection.cursor() as cursor:  # autocommit here: VACUUM cannot run in a transaction
                cursor.execute("VACUUM ANALYZE")
            print(f"\nlarge data set: seeded in {seeded - started:.1f}s, "
                  f"VACUUM ANALYZE {time.monotonic() - seeded:.1f}s")
            rows = query_plans.table_rows()
        yield rows
    finally:  # a seed that failed half-way must not leave its rows to the tests after this module
        with django_db_blocker.unblock(), unbounded_database():
            call_command("flush", interactive=False, verbosity=0)


def trigram_indexed() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [TRIGRAM_INDEX])
        return cursor.fetchone() is not None


def plan_failures(endpoint: str) -> tuple[list[str], int]:
    """Every sequential scan of a large table in `endpoint`'s queries, named; and how many queries were checked."""
    rows = query_plans.table_rows()
    failures, checked = [], 0
    for variant in query_plans.variants(query_plans.samples()):
        if variant.endpoint != endpoint or variant.seq_scan_allowed:
            continue
        if "q=" in variant.path and not trigram_indexed():
            continue  # nothing can serve a substring search without pg_trgm: the doc's Search section
        for query in query_plans.capture(variant):
            checked += 1
            for scan in query_plans.seq_scans(query.explain(), rows):
                failures.append(
                    f"{TARGETS_BY_KEY[endpoint].name} [{variant.label}] GET {variant.path}: Seq Scan on {scan.table} "
                    f"({scan.table_rows} rows, filter {scan.filter}) in\n    {query.text()}")
    return failures, checked


def test_the_large_data_set_has_large_tables(large_data):
    large = {name for name, n in large_data.items() if n >= spec.SEQ_SCAN_MAX_TABLE_ROWS}
    assert {"courses_course", "courses_lesson", "courses_enrollment", "auth_user", "accounts_profile",
            "forum_topic", "forum_post"} <= large, large_data


@pytest.mark.parametrize("endpoint", [target.key for target in TARGETS])
def test_no_sequential_scan_of_a_large_table(large_data, endpoint):
    failures, checked = plan_failures(endpoint)
    assert checked, f"no query recorded for {endpoint}: the check would pass vacuously"
    assert not failures, f"{len(failures)} sequential scan(s) of large tables:\n" + "\n".join(failures)


def test_a_dropped_index_makes_it_fail_naming_endpoint_table_and_query(large_data):
    # Inside the test's transaction: PostgreSQL's DDL is transactional, so the rollback restores the index.
    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "course_title_idx"')
    failures, _ = plan_failures("course_list")
    print("\n".join(failures))
    title = [f for f in failures if "[ordering=title]" in f]
    assert title, failures
    assert "Course list" in title[0] and "Seq Scan on courses_course" in title[0]
    assert 'ORDER BY "courses_course"."title" ASC' in title[0]


def test_make_explain_prints_each_query_with_its_plan_and_fails_on_a_scan(large_data):
    out = io.StringIO()
    call_command("explain_endpoints", "--only", "course_detail", stdout=out)
    text = out.getvalue()
    assert "## Course detail: slug" in text and text.count("### query") == 3, text
    assert "Execution Time" in text and "Buffers: shared" in text
    assert "# 0 sequential scan(s)" in text

    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute('DROP INDEX "course_rating_idx"')
    with pytest.raises(CommandError, match=r"^2 sequential scan"):
        call_command("explain_endpoints", "--only", "course_list", "--no-analyze", stdout=(out := io.StringIO()))
    assert "## Course list: ordering=-rating" in out.getvalue()
