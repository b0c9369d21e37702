"""Health endpoints and JSON error handlers."""
from __future__ import annotations

import functools
import ipaddress
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core import database, health
from core.api import error_response
from core.client_address import client_ip, invalid_networks
from observability.views import refusal as metrics_refusal


def healthz(request):
    """The process is alive and serving; touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Database, cache and broker are reachable: 200 {"status": "ok"}; else 503 naming what failed.

    Each check's detail (its answer or error, which names hosts and ports, and its time) only for callers
    that may read /metrics (its token, networks, or METRICS_PUBLIC) or come from READYZ_DETAIL_NETWORKS."""
    results = health.readiness()
    failed = sorted(name for name, r in results.items() if not r["ok"])
    body = {"status": "ok" if not failed else "unavailable"}
    if failed:
        body["failed"] = failed
    if _may_see_details(request):
        body["checks"] = results
    response = JsonResponse(body, status=503 if failed else 200)
    response["Cache-Control"] = "no-store"
    # Not django.request's ERROR line at every probe: the dependency's outage is logged once (observability.outages).
    response._has_been_logged = True
    return response


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    # An entry that is not a network shows details to nobody (core.checks reports it), never a 500.
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if not invalid_networks([c]))


def _may_see_details(request) -> bool:
    networks = _networks(tuple(getattr(settings, "READYZ_DETAIL_NETWORKS", None) or ()))
    address = client_ip(request)
    if address is not None and any(address.version == n.version and address in n for n in networks):
        return True
    return metrics_refusal(request) is None


@csrf_exempt  # unknown API paths: 404 for every method, never the CSRF check's 403
def not_found(request, exception=None):
    return error_response(404, "not found", path=request.path[:200])


def server_error(request):
    """Django's 500s; a 503 with Retry-After when the database could not answer (core.database)."""
    exc = sys.exc_info()[1]
    if database.unavailable(exc):
        return database.unavailable_response(exc)
    return error_response(500, "internal server error")


def bad_request(request, exception=None):
    """Django's 400s: a forged Host, a malformed body, and bodies or forms over DATA_UPLOAD_MAX_* (413)."""
    if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        return error_response(413, "request too large")
    return error_response(400, "bad request")


def permission_denied(request, exception=None):
    return error_response(403, "forbidden")
