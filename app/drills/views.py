"""Views that fail on purpose (see urls.py).  Each sets the guide's context first, so the
resulting Sentry event shows what a real one carries: feature tag, course context, user."""
from __future__ import annotations

import logging
import os
import time

import sentry_sdk
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import Http404, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt

from core.api import ApiError, error_response, int_param
from drills.tasks import drill_fail, noop
from observability import context

logger = logging.getLogger("apps.api")

DRILL_COURSE = {"id": 0, "slug": "fire-drill", "title": "Fire drill"}
MAX_SLOW_MS = 5000
MAX_PERF_WORK = 50


class DrillError(RuntimeError):
    """Raised on purpose by the drill endpoints."""


def _enabled() -> None:
    if not (settings.DEBUG or settings.ENABLE_DRILL_ENDPOINTS):  # belt and braces: INSTALLED_APPS decides too
        raise Http404("no drills here")


def _drill(request, feature: str) -> None:
    _enabled()
    context.set_feature(feature)
    context.set_course(DRILL_COURSE)


@csrf_exempt  # POST bodies too: the drill shows what Sentry receives (scrubbed) of a form
def unhandled_error(request):
    _drill(request, "drill_error")
    logger.warning("fire drill: failing on purpose (note: %s)", request.POST.get("note", "")[:200])
    raise DrillError("fire drill: unhandled exception in a view")


def template_error(request):
    _drill(request, "drill_template")
    return JsonResponse({"html": render_to_string("drills/template_error.html", {"feature": "x"})})


def database_error(request):
    _drill(request, "drill_database")
    # A savepoint: the failure rolls back only itself, whatever transaction the caller runs in.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT drill_missing_column FROM drill_missing_table")
    return JsonResponse({"unreachable": True})


def status(request, status: int):
    _drill(request, "drill_status")
    if not 400 <= status <= 599:
        raise Http404("status must be 400-599")
    return JsonResponse({"error": {"status": status, "message": "fire drill"}}, status=status)


def message(request):
    _drill(request, "drill_message")
    event_id = sentry_sdk.capture_message("fire drill: capture_message", level="warning")
    return JsonResponse({"event_id": event_id})


def log_error(request):
    _drill(request, "drill_log")
    logger.error("fire drill: an ERROR log record", extra={"user_id": getattr(request.user, "pk", None),
                                                           "course_id": DRILL_COURSE["id"]})
    return JsonResponse({"logged": True})


def task_error(request):
    _drill(request, "drill_task")
    result = drill_fail.delay("fire drill: task failure")
    return JsonResponse({"task_id": result.id}, status=202)


MAX_ENQUEUE = 1000


def enqueue(request):
    """``?n=N``: N tasks that succeed, queued (a backlog while the worker is down: the game day)."""
    _drill(request, "drill_enqueue")
    try:
        n = max(1, min(int(request.GET.get("n", 1)), MAX_ENQUEUE))
    except ValueError:
        return error_response(400, "n must be a whole number", parameter="n")
    for _ in range(n):
        noop.delay()
    return JsonResponse({"queued": n}, status=202)


def _ms(request, default: int) -> int:
    """The `ms` query parameter, bounded to 0..MAX_SLOW_MS; `default` when absent or not a number."""
    try:
        return max(0, min(int(request.GET.get("ms", default)), MAX_SLOW_MS))
    except ValueError:
        return default


def slow(request):
    _drill(request, "drill_slow")
    ms = _ms(request, 1500)
    time.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms})


def db_slow(request):
    """One query that takes `ms` milliseconds inside the database (DatabaseIssues' condition)."""
    _drill(request, "drill_db_slow")
    ms = _ms(request, 600)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_sleep(%s)", [ms / 1000])
        else:  # SQLite has no sleep: lend it one, so the time is still spent inside a real query
            connection.connection.create_function("drill_sleep", 1, lambda s: time.sleep(s) or 0)
            cursor.execute("SELECT drill_sleep(%s)", [ms / 1000])
    return JsonResponse({"query_ms": ms})


def perf(request):
    """``?queries=Q&hits=H&misses=M``: exactly Q queries, H cache hits and M cache misses (the X-*
    headers and the window of observability/perf.py measured against known work)."""
    _enabled()
    if request.method != "GET":
        return error_response(405, f"method {request.method} not allowed", allowed=["GET"])
    try:
        n_queries, n_hits, n_misses = (int_param(request, name, 0, 0, MAX_PERF_WORK)
                                       for name in ("queries", "hits", "misses"))
    except ApiError as exc:
        return error_response(exc.status, exc.message, **exc.details)
    key = f"perf-drill:{os.urandom(8).hex()}"
    if n_hits:
        cache.set(key, 1, 60)  # a set is neither a hit nor a miss
    for _ in range(n_hits):
        cache.get(key)
    for _ in range(n_misses):
        cache.get(key + ":missing")
    if n_hits:
        cache.delete(key)
    with connection.cursor() as cursor:
        for _ in range(n_queries):
            cursor.execute("SELECT 1")
    return JsonResponse({"pid": os.getpid(), "queries": n_queries, "hits": n_hits, "misses": n_misses})
