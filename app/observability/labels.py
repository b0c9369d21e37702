"""Label values of the studio_* metrics that are computed, not given, and the label sets created at zero.

Above the definitions (observability.metrics, which imports nothing of this package) and below the
code that counts (observability.errors, .celery_metrics, .cache): both need the same values, and
keeping them here is what lets metrics stay a leaf and errors import metrics, never the reverse.
"""
from __future__ import annotations

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


def country_label(value: str | None) -> str:
    """The ISO code in `value` (case-insensitive, surrounding blanks ignored), else "unknown"."""
    if value:
        code = value.strip().upper()
        if code in ISO_3166_ALPHA2:
            return code
    return metrics.UNKNOWN_COUNTRY


def initialise(task_names=()) -> None:
    """Create the label sets whose values are known, at zero (idempotent, cheap)."""
    exceptions = initial_exception_labels()
    for source in metrics.ERROR_SOURCES:
        for exception in exceptions:
            metrics.ERRORS.labels(source, exception)
    metrics.ERRORS_BY_COUNTRY.labels(metrics.UNKNOWN_COUNTRY)
    for operation, results in metrics.CACHE_OPERATIONS.items():
        for result in results:
            metrics.CACHE_OPERATIONS_TOTAL.labels(operation, result)
    initialise_tasks(task_names)


def initialise_tasks(task_names) -> None:
    for name in task_names:
        for metric in (metrics.CELERY_TASKS_SENT, metrics.CELERY_TASKS_STARTED, metrics.CELERY_TASKS_SUCCEEDED,
                       metrics.CELERY_TASKS_FAILED, metrics.CELERY_TASKS_RETRIED, metrics.CELERY_TASK_RUNTIME):
            metric.labels(name)
