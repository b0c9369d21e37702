"""Health endpoints and JSON error handlers."""
from __future__ import annotations

from django.http import JsonResponse

from core import health
from core.api import error_response


def healthz(request):
    """The process is alive and serving; touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Database, cache and broker are reachable; 503 naming what failed otherwise."""
    results = health.check_all()
    failed = sorted(name for name, r in results.items() if not r["ok"])
    body = {"status": "ok" if not failed else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


def not_found(request, exception=None):
    return error_response(404, "not found", path=request.path[:200])


def server_error(request):
    return error_response(500, "internal server error")


def bad_request(request, exception=None):
    return error_response(400, "bad request")


def permission_denied(request, exception=None):
    return error_response(403, "forbidden")
