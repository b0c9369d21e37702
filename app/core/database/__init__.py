"""Database backends with bounded waits (postgresql/), and what a request answers when the database cannot.

An exception that reaches Django's handler500 (core.views.server_error) is a 503 with Retry-After rather than
a 500 when `unavailable(exc)`: it belongs to a dependency outage (observability.outages: the database refused,
did not answer in time or dropped the connection) or the server cancelled a statement at
DATABASE_STATEMENT_TIMEOUT.  Everything else stays a 500.  An outage's requests are reported once, by the
outage (observability.outages), so Django's per-request "Service Unavailable" log line is left out for them;
a cancelled statement is logged and sent to Sentry as any error (a query to fix, or a lock to find).
"""
from __future__ import annotations

from django.conf import settings
from psycopg.errors import QueryCanceled

from core.api import error_response
from observability import outages


def statement_cancelled(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, QueryCanceled):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def unavailable(exc: BaseException | None) -> bool:
    return outages.outage_of(exc) is not None or statement_cancelled(exc)


def unavailable_response(exc: BaseException | None):
    retry_after = max(1, int(getattr(settings, "DATABASE_RETRY_AFTER", 5)))
    response = error_response(503, "temporarily unavailable: try again later", retry_after=retry_after)
    response["Retry-After"] = str(retry_after)
    if outages.outage_of(exc) is not None:
        response._has_been_logged = True  # django.request's line per request: the outage is logged once
    return response
