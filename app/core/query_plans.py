"""The SQL each endpoint of the target table runs, and PostgreSQL's plan for it.

Shared by `manage.py explain_endpoints` (the plans pasted into docs/database-indexes.md) and
tests/test_query_plans.py (no sequential scan of a large table).  Each variant is one request through the
test Client with the caches missed, so the queries are the ones a cold request runs; they are recorded with
their parameters (an execute wrapper, not CaptureQueriesContext, which keeps only the interpolated text) so
that EXPLAIN sees exactly what the view sent.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection
from django.test import Client

from accounts import cache as profile_cache
from courses import cache as course_cache
from courses import selectors as course_selectors
from monitoring_spec import database as spec

PAGE_SIZES = (20, 100)  # the API's default and its maximum (API_PAGE_SIZE, API_MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Variant:
    endpoint: str  # monitoring_spec.targets key
    label: str  # what the variant exercises: "ordering=title", "q=django"
    path: str
    user_id: int | None = None  # signed in as this user (the /me/ view)
    # Why a sequential scan is the planner's right (or known) choice for this variant; None: it must use indexes.
    seq_scan_allowed: str | None = None


@dataclass(frozen=True)
class Query:
    sql: str
    params: tuple

    def explain(self, options: str = "FORMAT JSON"):
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN ({options}) {self.sql}", self.params)
            rows = cursor.fetchall()
        if "JSON" in options.upper():
            value = rows[0][0]
            return (json.loads(value) if isinstance(value, str) else value)[0]["Plan"]
        return "\n".join(row[0] for row in rows)

    def text(self) -> str:
        """The statement with its parameters filled in, as PostgreSQL's log would show it."""
        with connection.cursor() as cursor:
            return cursor.mogrify(self.sql, self.params) if hasattr(cursor, "mogrify") else self.sql


@dataclass(frozen=True)
class SeqScan:
    table: str
    table_rows: int
    filter: str | None


@dataclass
class Recorder:
    """connection.execute_wrapper: keeps each SELECT with its parameters, delegates unchanged."""

    queries: list[Query] = field(default_factory=list)

    def __call__(self, execute, sql, params, many, context):
        # Silk (development settings) records each request through the same connection: its bookkeeping is
        # not the endpoint's and does not exist in production.
        if not many and sql.lstrip().upper().startswith("SELECT") and '"silk_' not in sql:
            self.queries.append(Query(sql, tuple(params or ())))
        return execute(sql, params, many, context)


def samples() -> dict:
    """Arguments present in any seeded database: a published course, an enrolled student, a forum category."""
    from courses.models import Course, Enrollment
    from forum.models import Category

    slug = Course.objects.filter(published=True).order_by("pk").values_list("slug", flat=True)[:1]
    user_id = Enrollment.objects.order_by("user_id").values_list("user_id", flat=True)[:1]
    category = Category.objects.order_by("slug").values_list("slug", flat=True)[:1]
    found = {"slug": slug.first(), "user_id": user_id.first(), "forum_category": category.first()}
    missing = [name for name, value in found.items() if value is None]
    if missing:
        raise LookupError(f"no {', '.join(missing)} in the database: run `manage.py seed_data --size large` first")
    return found


def variants(sample: dict) -> list[Variant]:
    """Every filter, ordering and search parameter of the four endpoints, at both page sizes."""
    from courses.models import Course

    out = [Variant("course_list", "default (ordering=newest)", "/api/v1/courses/")]
    out += [Variant("course_list", f"category={c}", f"/api/v1/courses/?category={c}") for c in Course.Category.values[:1]]
    out += [Variant("course_list", f"level={v}", f"/api/v1/courses/?level={v}") for v in Course.Level.values[:1]]
    out.append(Variant("course_list", "category and level", "/api/v1/courses/?category=web&level=advanced"))
    out += [Variant("course_list", f"ordering={o}", f"/api/v1/courses/?ordering={o}")
            for o in course_selectors.ORDERINGS if o != "newest"]
    out.append(Variant("course_list", "category and ordering=popular",
                       "/api/v1/courses/?category=web&ordering=popular"))
    out.append(Variant("course_list", "q=mastering pandas (search, few matches)",
                       "/api/v1/courses/?q=mastering%20pandas"))
    out.append(Variant("course_list", "q=django (search, a word in 4% of courses)", "/api/v1/courses/?q=django",
                       seq_scan_allowed="at random_page_cost=4 the planner costs the trigram bitmap as high as "
                                        "scanning 3,000 courses (docs/database-indexes.md, Search)"))
    out.append(Variant("course_list", "page=2&page_size=100", "/api/v1/courses/?page=2&page_size=100"))
    out.append(Variant("course_detail", "slug", f"/api/v1/courses/{sample['slug']}/"))
    out.append(Variant("user_profile", "users/<id>/profile", f"/api/v1/users/{sample['user_id']}/profile/"))
    out.append(Variant("user_profile", "me (signed in)", "/api/v1/me/", user_id=sample["user_id"]))
    out.append(Variant("forum_topics", "default", "/api/v1/forum/topics/"))
    out.append(Variant("forum_topics", "category", f"/api/v1/forum/topics/?category={sample['forum_category']}"))
    out.append(Variant("forum_topics", "page=2&page_size=100", "/api/v1/forum/topics/?page=2&page_size=100"))
    out.append(Variant("forum_topics", "category, page=2&page_size=100",
                       f"/api/v1/forum/topics/?category={sample['forum_category']}&page=2&page_size=100"))
    return out


def capture(variant: Variant, client: Client | None = None) -> list[Query]:
    """The SELECTs one cold request of `variant` runs (caches missed; a 200 or LookupError)."""
    from django.contrib.auth import get_user_model

    client = client or Client(HTTP_HOST=allowed_host())
    if variant.user_id is not None:
        client.force_login(get_user_model().objects.get(pk=variant.user_id))
    course_cache.invalidate_all()  # also retires every cached profile (they show course titles)
    if variant.user_id is not None:
        profile_cache.invalidate(variant.user_id)
    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        response = client.get(variant.path)
    if response.status_code != 200:
        raise LookupError(f"{variant.path} answered {response.status_code}: {response.content[:200]!r}")
    return recorder.queries


def allowed_host() -> str:
    from django.conf import settings

    for host in settings.ALLOWED_HOSTS:
        if host and host != "*" and not host.startswith("."):
            return host
    return "localhost"


def table_rows() -> dict[str, int]:
    """Rows per table as the planner sees them (pg_class.reltuples, current after ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, c.reltuples::bigint FROM pg_class c "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE c.relkind = 'r' AND n.nspname = current_schema()")
        return {name: max(int(rows), 0) for name, rows in cursor.fetchall()}


def walk(plan: dict, ancestors: tuple = ()):
    """(node, its ancestors' node types) for every node of a plan tree."""
    yield plan, ancestors
    for child in plan.get("Plans", ()):
        yield from walk(child, (*ancestors, plan["Node Type"]))


def seq_scans(plan: dict, rows: dict[str, int]) -> list[SeqScan]:
    """Sequential scans in `plan` of large tables that the query does not need most of (monitoring_spec.database)."""
    found = []
    for node, ancestors in walk(plan):
        table_rows = rows.get(node.get("Relation Name"), 0)
        if node.get("Node Type") != "Seq Scan" or table_rows < spec.SEQ_SCAN_MAX_TABLE_ROWS:
            continue
        whole_table = node.get("Plan Rows", 0) >= spec.SEQ_SCAN_WHOLE_TABLE_FRACTION * table_rows
        if whole_table and "Limit" not in ancestors:
            continue
        found.append(SeqScan(node["Relation Name"], table_rows, node.get("Filter")))
    return found


def indexes_used(plan: dict) -> list[str]:
    return sorted({node["Index Name"] for node, _ in walk(plan) if "Index Name" in node})
