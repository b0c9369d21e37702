"""Every error Django answers is JSON: the CSRF failure view, and a middleware for the rest.

The handlers of config/urls.py (core/views.py) already answer 400, 403, 404 and 500 in JSON; what
reaches a client from elsewhere -- Django's own 405 (HttpResponseNotAllowed, the admin's views), a view
or library returning a bare HttpResponse with an error status -- is rewritten by JsonErrorMiddleware with
the same status and headers (Allow, Retry-After, WWW-Authenticate, ...).
"""
from __future__ import annotations

from http import HTTPStatus

from core.api import error_response


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: 403 with the reason Django gives ("CSRF cookie not set.", "Referer checking
    failed - no Referer.", ...), which names no secret."""
    return error_response(403, "CSRF check failed", reason=str(reason)[:200])


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


class JsonErrorMiddleware:
    """An error response (4xx, 5xx) whose body is not JSON gets a JSON body, same status and headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code >= 400 and not getattr(response, "streaming", False) \
                and "json" not in response.get("Content-Type", "").lower():
            response.content = error_response(response.status_code, _phrase(response.status_code)).content
            response["Content-Type"] = "application/json"
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
