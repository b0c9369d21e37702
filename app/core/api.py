"""Small helpers every JSON view uses: errors as JSON, parameter parsing, pagination."""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

_INT_RE = re.compile(r"-?[0-9]{1,12}")


class ApiError(Exception):
    """Raised anywhere under a view to answer with a JSON error instead of a trace."""

    def __init__(self, status: int, message: str, **details: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def error_response(status: int, message: str, **details: Any) -> JsonResponse:
    body = {"error": {"status": status, "message": message}}
    if details:
        body["error"].update(details)
    return JsonResponse(body, status=status)


def api_view(*methods: str) -> Callable:
    """Restrict to `methods` and turn ApiError into its JSON response.

    The view keeps its methods as `allowed_methods`: the metrics create a 500 series of each of them
    at zero when the process starts (observability.labels.view_methods), so its first 500 is seen."""
    allowed = tuple(m.upper() for m in methods)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in allowed:
                response = error_response(405, f"method {request.method} not allowed", allowed=list(allowed))
                response["Allow"] = ", ".join(allowed)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.message, **exc.details)

        wrapper.allowed_methods = allowed  # copied by the decorators above it (functools.wraps: __dict__)
        return wrapper

    return decorate


def int_param(request: HttpRequest, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only and bounded length, so "²", " 2" and a ten-thousand-digit number are all 400.
    if not _INT_RE.fullmatch(raw):
        raise ApiError(400, f"'{name}' must be an integer between {minimum} and {maximum}", parameter=name)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ApiError(400, f"'{name}' must be an integer between {minimum} and {maximum}", parameter=name)
    return value


def choice_param(request: HttpRequest, name: str, choices: Iterable[str], default: str | None = None) -> str | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    allowed = sorted(choices)
    if raw not in allowed:
        raise ApiError(400, f"unknown value for '{name}'", parameter=name, allowed=allowed)
    return raw


def text_param(request: HttpRequest, name: str, max_length: int) -> str | None:
    raw = request.GET.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if len(raw) > max_length:
        raise ApiError(400, f"'{name}' is longer than {max_length} characters", parameter=name)
    if "\x00" in raw:
        raise ApiError(400, f"'{name}' contains a NUL character", parameter=name)
    return raw or None


def page_params(request: HttpRequest) -> tuple[int, int]:
    page = int_param(request, "page", 1, 1, settings.API_MAX_PAGE)
    size = int_param(request, "page_size", settings.API_PAGE_SIZE, 1, settings.API_MAX_PAGE_SIZE)
    return page, size


def paginate(queryset, page: int, size: int) -> tuple[list, dict]:
    """One COUNT and one LIMIT/OFFSET query; a page past the end is a 404."""
    total = queryset.count()
    pages = max(1, -(-total // size))
    if page > pages:
        raise ApiError(404, f"page {page} does not exist; there are {pages} pages", pages=pages)
    start = (page - 1) * size
    items = list(queryset[start:start + size])
    return items, {"page": page, "page_size": size, "total": total, "pages": pages}
