"""Label values of the studio_* metrics that are computed, not given, and the label sets created at zero
(those of django-prometheus' per-view response counter included: initialise_view_responses).

Above the definitions (observability.metrics, which imports nothing of this package) and below the
code that counts (observability.errors, .celery_metrics, .cache): both need the same values, and
keeping them here is what lets metrics stay a leaf and errors import metrics, never the reverse.
"""
from __future__ import annotations

from monitoring_spec import contract
from observability import metrics
from observability.countries import ISO_3166_ALPHA2

# The exception label: the exception's class when the project defines it, else the nearest class in
# its MRO with one of these names, else "Exception".  Bounded, and still says what went wrong.
WELL_KNOWN_EXCEPTIONS = (
    # databases (Django re-raises driver errors under these names)
    "OperationalError", "InterfaceError", "IntegrityError", "DataError", "ProgrammingError",
    "InternalError", "NotSupportedError", "DatabaseError",
    # cache, broker, mail, network
    "ConnectionInterrupted", "RedisError", "SMTPException", "ConnectionError",
    "TimeoutError", "SoftTimeLimitExceeded", "TimeLimitExceeded", "OSError",
    # Django
    "ObjectDoesNotExist", "MultipleObjectsReturned", "ValidationError", "PermissionDenied",
    "SuspiciousOperation", "ImproperlyConfigured", "TemplateDoesNotExist", "TemplateSyntaxError",
    "NoReverseMatch",
    # the standard library
    "JSONDecodeError", "UnicodeError", "ValueError", "TypeError", "KeyError", "IndexError", "LookupError",
    "AttributeError", "NameError", "ImportError", "ZeroDivisionError", "ArithmeticError", "RecursionError",
    "NotImplementedError", "RuntimeError", "AssertionError", "MemoryError", "Exception", "BaseException",
)
_WELL_KNOWN = frozenset(WELL_KNOWN_EXCEPTIONS)
# Created at zero for every source: what an outage raises first (plus the project's own classes).
LIKELY_EXCEPTIONS = ("OperationalError", "InterfaceError", "DatabaseError", "IntegrityError",
                     "ConnectionInterrupted", "ConnectionError", "TimeoutError", "OSError", "SMTPException",
                     "Exception")
# Top-level packages whose exception classes are labelled by their own name (the drills app included:
# its DrillError is what a fire drill looks for on the dashboards).
PROJECT_PACKAGES = frozenset({"config", "core", "accounts", "courses", "forum", "observability", "drills"})

_label_cache: dict[type, str] = {}


def _is_project_class(cls: type) -> bool:
    return cls.__module__.partition(".")[0] in PROJECT_PACKAGES


def exception_label(cls: type | None) -> str:
    if cls is None:
        return metrics.NO_EXCEPTION
    label = _label_cache.get(cls)
    if label is None:
        label = "Exception"
        for klass in cls.__mro__:
            if _is_project_class(klass) or klass.__name__ in _WELL_KNOWN:
                label = klass.__name__
                break
        if len(_label_cache) < 10_000:
            _label_cache[cls] = label
    return label


def initial_exception_labels() -> list[str]:
    """The exception labels created at zero: none, the likely ones, the project's own classes."""
    labels = [metrics.NO_EXCEPTION, *LIKELY_EXCEPTIONS]
    pending = [BaseException]
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                pending.append(sub)
                if _is_project_class(sub) and sub.__name__ not in labels:
                    labels.append(sub.__name__)
    return labels


# --- Security events: records of Django's django.security.* loggers --------------------------------

SECURITY_LOGGER = "django.security"
# Django names each security logger after the SuspiciousOperation subclass it reports
# (django.core.handlers.exception, the session backends, the admin) or, for CSRF failures, "csrf".
# The project logs its own the same way: a sign-in refused by the throttle (accounts/throttle.py) and a
# token that does not authenticate (accounts/auth.py).
PROJECT_SECURITY_EVENTS = contract.AUTH_SECURITY_EVENTS
SECURITY_EVENTS = (
    "DisallowedHost", "DisallowedRedirect", "SuspiciousOperation", "SuspiciousFileOperation",
    "SuspiciousMultipartForm", "SuspiciousSession", "InvalidSessionKey", "RequestDataTooBig",
    "TooManyFieldsSent", "TooManyFilesSent", "DisallowedModelAdminLookup", "DisallowedModelAdminToField",
    "DisallowedRasterLookup", "csrf", *PROJECT_SECURITY_EVENTS,
)
OTHER_SECURITY_EVENT = "other"  # a subclass the project or a library defines: its name is not bounded
_SECURITY_EVENTS = frozenset(SECURITY_EVENTS)


def is_security_logger(name: str) -> bool:
    return name == SECURITY_LOGGER or name.startswith(SECURITY_LOGGER + ".")


def security_event_label(logger_name: str) -> str:
    """'django.security.DisallowedHost' -> 'DisallowedHost'; a name not in the fixed list -> 'other'."""
    event = logger_name.rpartition(".")[2]
    return event if event in _SECURITY_EVENTS and logger_name == f"{SECURITY_LOGGER}.{event}" else OTHER_SECURITY_EVENT


def country_label(value: str | None) -> str:
    """The ISO code in `value` (case-insensitive, surrounding blanks ignored), else "unknown"."""
    if value:
        code = value.strip().upper()
        if code in ISO_3166_ALPHA2:
            return code
    return metrics.UNKNOWN_COUNTRY


# --- django-prometheus' per-view responses: a 500 of every named view, created at zero ----------------

ALLOWED_METHODS_ATTR = "allowed_methods"  # what core.api.api_view records on the views it makes
DEFAULT_VIEW_METHODS = ("GET",)  # a view that declares nothing (health probes, the admin's pages)
INITIAL_VIEW_STATUSES = ("500",)  # what a rate() panel or rule must see from the first one


def view_methods(callback) -> tuple[str, ...]:
    """The methods a view serves: those core.api.api_view recorded, a class-based view's handlers
    (OPTIONS, which Django answers itself, left out), else GET."""
    methods = getattr(callback, ALLOWED_METHODS_ATTR, None)
    if methods:
        return tuple(str(m).upper() for m in methods)
    view_class = getattr(callback, "view_class", None)
    names = [m.upper() for m in getattr(view_class, "http_method_names", ())
             if m != "options" and hasattr(view_class, m)]
    return tuple(names) or DEFAULT_VIEW_METHODS


def known_views(patterns=None, namespaces: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """{view label: methods} of every named URL pattern of the URLconf (default: ROOT_URLCONF).  The label
    is resolver_match.view_name, as django-prometheus puts it on its metrics ("courses:course-list");
    unnamed patterns are left out (their label would be a function's dotted path)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    if patterns is None:
        patterns = get_resolver().url_patterns
    views: dict[str, tuple[str, ...]] = {}
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            found = known_views(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found = {":".join((*namespaces, pattern.name)): view_methods(pattern.callback)}
        else:
            continue
        for name, methods in found.items():  # one name on two patterns: the methods of both
            views[name] = tuple(dict.fromkeys((*views.get(name, ()), *methods)))
    return views


def initialise_view_responses(responses, views: dict[str, tuple[str, ...]]) -> None:
    """Create django-prometheus' django_http_responses_total_by_status_view_method{status, view, method}
    (`responses`, its Counter) at zero for INITIAL_VIEW_STATUSES of every view and method given: the
    labels come from the code, never from a request."""
    for view, methods in views.items():
        for method in methods:
            for status in INITIAL_VIEW_STATUSES:
                responses.labels(status=status, view=view, method=method)


def initialise(task_names=()) -> None:
    """Create the label sets whose values are known, at zero (idempotent, cheap)."""
    exceptions = initial_exception_labels()
    for source in metrics.ERROR_SOURCES:
        for exception in exceptions:
            metrics.ERRORS.labels(source, exception)
    metrics.ERRORS_BY_COUNTRY.labels(metrics.UNKNOWN_COUNTRY)
    for event in (*SECURITY_EVENTS, OTHER_SECURITY_EVENT):
        metrics.SECURITY_EVENTS.labels(event)
    for operation, results in metrics.CACHE_OPERATIONS.items():
        for result in results:
            metrics.CACHE_OPERATIONS_TOTAL.labels(operation, result)
    initialise_tasks(task_names)


def initialise_tasks(task_names) -> None:
    for name in task_names:
        for metric in (metrics.CELERY_TASKS_SENT, metrics.CELERY_TASKS_STARTED, metrics.CELERY_TASKS_SUCCEEDED,
                       metrics.CELERY_TASKS_FAILED, metrics.CELERY_TASKS_RETRIED, metrics.CELERY_TASK_RUNTIME):
            metric.labels(name)
