"""Small helpers every JSON view uses: errors as JSON, parameter and body parsing, pagination."""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

_INT_RE = re.compile(r"-?[0-9]{1,12}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    """Restrict to `methods` (HEAD wherever GET is) and turn ApiError into its JSON response.

    The view keeps its methods as `allowed_methods`: the metrics create a 500 series of each of them
    at zero when the process starts (observability.labels.view_methods), so its first 500 is seen.
    A view that only reads is exempt from the CSRF check: it changes nothing, and any other method is
    its JSON 405, not Django's CSRF 403."""
    allowed = tuple(m.upper() for m in methods)
    served = (*allowed, "HEAD") if "GET" in allowed and "HEAD" not in allowed else allowed

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in served:
                response = error_response(405, f"method {request.method} not allowed", allowed=list(served))
                response["Allow"] = ", ".join(served)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.message, **exc.details)

        wrapper.allowed_methods = allowed  # copied by the decorators above it (functools.wraps: __dict__)
        if SAFE_METHODS.issuperset(allowed):
            wrapper.csrf_exempt = True
        return wrapper

    return decorate


# --- JSON request bodies ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One member of a JSON body: its type, whether it must be there, and for strings a maximum length."""

    type: type | tuple[type, ...] = str
    required: bool = True
    max_length: int | None = None


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
               dict: "an object"}
_JSON_CONTENT_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json\s*(?:;.*)?", re.IGNORECASE)
# Strings and everything that is not a bracket, removed before nesting is measured.  The closing quote is
# optional so that a match never fails: a failing match would be retried at every later quote, and
# '"\\' repeated over 256 KiB would then cost minutes.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _json_depth_exceeds(text: str, limit: int) -> bool:
    """True when arrays and objects in `text` nest deeper than `limit`; measured on the text, before any
    parser recurses into it (5,000 levels are a RecursionError in the json module)."""
    depth = 0
    for char in _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text)):
        depth = depth + 1 if char in "[{" else depth - 1
        if depth > limit:
            return True
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_field(name: str, spec: Field, value: Any) -> Any:
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    # JSON true is no integer, and an integer is a fine number.
    matches = any(isinstance(value, t) and not (isinstance(value, bool) and t is not bool) for t in types) \
        or (float in types and isinstance(value, int) and not isinstance(value, bool))
    if not matches:
        expected = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
        raise ApiError(400, f"'{name}' must be {expected}", field=name)
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(400, f"'{name}' contains a NUL character", field=name)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # "\ud800" in JSON: a lone surrogate, no character at all
            raise ApiError(400, f"'{name}' is not valid Unicode (a lone surrogate)", field=name) from None
        if spec.max_length is not None and len(value) > spec.max_length:
            raise ApiError(400, f"'{name}' is longer than {spec.max_length} characters", field=name)
    return value


def json_body(request: HttpRequest, fields: Mapping[str, Field]) -> dict[str, Any]:
    """The request's JSON object, checked against `fields` before anything else sees it: the content type
    (415), the size (413, API_MAX_BODY_BYTES), UTF-8, nesting (API_MAX_JSON_DEPTH), JSON syntax, an object
    at the top, then each field's presence, type, NULs, lone surrogates and length (400 naming the field).
    Members not in `fields` are left out of the result."""
    expected = "{" + ", ".join(f'"{name}": ...' for name in fields) + "}"
    length = str(request.META.get("CONTENT_LENGTH") or "")
    limit = settings.API_MAX_BODY_BYTES
    if length.isdigit() and int(length) > limit:  # refused before it is read
        raise ApiError(413, f"the body is larger than {limit} bytes", max_bytes=limit)
    content_type = str(request.META.get("CONTENT_TYPE") or "")
    if length not in ("", "0") and not _JSON_CONTENT_TYPE.fullmatch(content_type.strip()):
        raise ApiError(415, f"send the body as JSON ('Content-Type: application/json'): {expected}",
                       content_type=content_type[:100])
    raw = request.body
    if len(raw) > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes", max_bytes=limit)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"the body is not valid UTF-8; send JSON: {expected}") from None
    if _json_depth_exceeds(text, settings.API_MAX_JSON_DEPTH):
        raise ApiError(400, f"the body nests deeper than {settings.API_MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(text or "null", parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, f"the body is not JSON: {expected}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object: {expected}")
    checked = {}
    for name, spec in fields.items():
        if name not in data:
            if spec.required:
                raise ApiError(400, f"'{name}' is required: {expected}", field=name)
            continue
        checked[name] = _check_field(name, spec, data[name])
    return checked


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
