"""Every endpoint of the URLconf, read from the resolver (a new endpoint is covered without a test change),
with concrete paths to call it by, and what every answer to a hostile request must be.

Used by the bad-input sweep (tests/test_hostile_input.py) and the property-based test (tests/test_fuzz_api.py).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

# The endpoints that fail on purpose (development and test only; 404 in production).
EXCLUDED_NAMESPACES = ("drill", "silk")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<regex>[^()]*)\)")


@dataclass(frozen=True)
class Endpoint:
    name: str  # "courses:course-detail"; the route itself when the pattern has no name
    route: str  # "api/v1/courses/<slug:slug>/"
    view: str  # the view's code ("django.contrib.admin.options.ModelAdmin.changelist_view"): shared by routes

    @property
    def is_api(self) -> bool:
        return self.route.startswith(("api/", "^api/"))


def endpoints() -> list[Endpoint]:
    from django.urls import URLPattern, URLResolver, get_resolver

    found: list[Endpoint] = []

    def walk(patterns, prefix: str, namespaces: tuple[str, ...]) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                namespace = (pattern.namespace,) if pattern.namespace else ()
                walk(pattern.url_patterns, route, namespaces + namespace)
            elif isinstance(pattern, URLPattern) and not set(namespaces) & set(EXCLUDED_NAMESPACES):
                callback = pattern.callback
                view = f"{callback.__module__}.{getattr(callback, '__qualname__', type(callback).__name__)}"
                found.append(Endpoint(":".join((*namespaces, pattern.name or route)), route, view))

    walk(get_resolver().url_patterns, "", ())
    return found


def one_per_view(found: list[Endpoint]) -> list[Endpoint]:
    """The first endpoint of each view's code: the admin's pages of seven models are one changelist view."""
    seen: set[str] = set()
    return [e for e in found if not (e.view in seen or seen.add(e.view))]


def paths(endpoint: Endpoint, values: dict[str, list[str]]) -> list[str]:
    """Concrete paths for `endpoint`: each parameter by the values given for its converter kind ("int",
    "slug", "path", "str") or its name, a regex group by one of its alternatives."""
    route = endpoint.route.replace("^", "").replace("$", "")
    route = _GROUP.sub(lambda m: m["regex"].split("|")[0] if re.fullmatch(r"[\w|-]+", m["regex"]) else "x", route)
    slots = list(_CONVERTER.finditer(route))
    if not slots:
        return ["/" + route]
    variants = max(len(values.get(m["name"], values.get(m["kind"] or "str", ["x"]))) for m in slots)
    result = []
    for i in range(variants):
        def fill(m, i=i):
            options = values.get(m["name"], values.get(m["kind"] or "str", ["x"]))
            return options[min(i, len(options) - 1)]
        result.append("/" + _CONVERTER.sub(fill, route))
    return result


def assert_sane(method: str, path: str, response, what: str = "") -> None:
    """No 5xx; an error is JSON with its status and a message; an API answer is JSON; HEAD has no body."""
    status = response.status_code
    context = f"{method} {path[:120]} {what}: {status} {response.content[:200]!r}"
    assert status < 500, context
    if method == "HEAD":
        assert response.content == b"", context
        return
    if status >= 400 or path.startswith("/api/"):
        assert "application/json" in response.get("Content-Type", ""), context
        body = json.loads(response.content)
        if status >= 400:
            assert body["error"]["status"] == status and body["error"]["message"], context
