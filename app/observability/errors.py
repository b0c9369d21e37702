"""studio_errors_total: every error Sentry would capture, counted once, even when Sentry is down.

Sources, mirroring what the Sentry SDK reports (observability/sentry.py):

* request -- an unhandled exception in a request (Django's got_request_exception signal, the one
  the DjangoIntegration listens to), or a 5xx response no exception explains (what
  observability.request_id reports), except on settings.SENTRY_IGNORED_5XX_PATHS;
* task    -- a Celery task that failed for good (task_failure; observability.celery_metrics);
* log     -- a log record at ERROR or above (the LoggingIntegration's event_level), except from
  the loggers Sentry ignores: Django logs every unhandled request exception again on
  django.request, and Celery every task failure on celery.app.trace, so counting those would
  count one error twice.

Not errors: the records of Django's security loggers (django.security.*: DisallowedHost for a forged
Host header, RequestDataTooBig, TooManyFieldsSent, other SuspiciousOperations at ERROR, CSRF failures
at WARNING).  Any anonymous client causes them at will, with nothing wrong in the system, so they
count in studio_security_events_total{event} instead, whatever their level, and Sentry drops them
too (observability.sentry.before_send).

An exception is marked when counted: when code logs an exception and re-raises it (or a task logs
and fails), the second sighting is not counted -- Sentry's DedupeIntegration drops it too.  Exceptions
of a dependency outage (observability.outages) count once, by the outage's started line; the requests and
tasks they fail do not count again, as Sentry drops their events (observability.sentry.before_send).

Errors raised or logged while a request is served also count in studio_errors_by_country_total
and add the user (id, or client address when anonymous) to a Redis HyperLogLog per minute;
studio_error_users_5m is PFCOUNT over the last five of them at scrape time.  Redis is optional:
without it (or while it is down) the gauge reads 0 and nothing waits on it.
"""
from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time

from observability import metrics, outages
from observability.labels import (
    SECURITY_LOGGER,
    country_label,
    exception_label,
    is_security_logger,
    security_event_label,
)

logger = logging.getLogger(__name__)

# The request this thread is serving (set by observability.middleware.RequestMetricsMiddleware).
current_request: contextvars.ContextVar = contextvars.ContextVar("studio_metrics_request", default=None)

# Loggers whose ERROR records Sentry does not turn into events (sentry_sdk's defaults plus what its
# Django and Celery integrations add): the errors they report are counted at their source.
IGNORED_LOGGERS = frozenset({
    "sentry_sdk.errors", "urllib3.connectionpool", "urllib3.connection",
    "django.server", "django.request", "django.db.backends",
    "celery.worker.job", "celery.app.trace", "celery.redirected",
})

_MARK = "_studio_error_counted"
_error_children: dict[tuple[str, str], object] = {}
_country_children: dict[str, object] = {}
_security_children: dict[str, object] = {}  # logger name -> its event's child (the names are Django's)
_local = threading.local()


def record_error(source: str, exc: BaseException | None = None, request=None, *, outage_line: bool = False) -> bool:
    """Count one error (False when `exc` was counted already, or belongs to a dependency outage whose
    started line -- `outage_line` -- is what counts it).  Never raises."""
    if exc is not None:
        if getattr(exc, _MARK, False):
            return False
        if not outage_line and outages.outage_of(exc) is not None:
            return False
        try:
            setattr(exc, _MARK, True)
        except Exception:  # an exception class with __slots__: count it, it cannot be marked
            pass
    label = exception_label(type(exc)) if exc is not None else metrics.NO_EXCEPTION
    child = _error_children.get((source, label))
    if child is None:
        child = _error_children.setdefault((source, label), metrics.ERRORS.labels(source, label))
    child.inc()
    if request is not None:
        try:
            _count_request_error(request)
        except Exception:  # metrics never break the request
            logger.debug("could not attribute an error to its request", exc_info=True)
    return True


def _count_request_error(request) -> None:
    from django.conf import settings

    header = _meta_key(getattr(settings, "METRICS_COUNTRY_HEADER", "HTTP_CF_IPCOUNTRY"))
    country = country_label(request.META.get(header)) if header else metrics.UNKNOWN_COUNTRY
    child = _country_children.get(country)
    if child is None:
        child = _country_children.setdefault(country, metrics.ERRORS_BY_COUNTRY.labels(country))
    child.inc()
    add_error_user(user_key(request))


def _meta_key(header: str | None) -> str | None:
    """'CF-IPCountry' or 'HTTP_CF_IPCOUNTRY' -> 'HTTP_CF_IPCOUNTRY'."""
    if not header:
        return None
    if header.startswith("HTTP_") or header in ("REMOTE_ADDR", "REMOTE_HOST"):
        return header
    return "HTTP_" + header.upper().replace("-", "_")


def user_key(request) -> str:
    """The user's id when something already loaded the user (never a query here), else the address."""
    from django.utils.functional import LazyObject, empty

    user = request.__dict__.get("user")
    while isinstance(user, LazyObject):  # the token middleware's lazy user may wrap the session's
        user = user._wrapped
        if user is empty:  # nobody looked at it: loading it now would cost a query
            user = None
    try:
        if user is not None and user.is_authenticated and user.pk is not None:
            return f"u:{user.pk}"
    except Exception:  # a user object that cannot say
        pass
    return f"ip:{str(request.META.get('REMOTE_ADDR', ''))[:64]}"


# --- Distinct users hitting errors: one HyperLogLog per minute in Redis ----------------------

ERROR_USERS_WINDOW_MINUTES = 5
_REDIS_TIMEOUT = 0.25  # seconds: Redis being slow must not make an erroring request slower still
_REDIS_RETRY_AFTER = 5.0  # seconds without trying after a failure
_redis_state: dict = {"url": None, "client": None, "down_until": 0.0}


def _redis():
    from django.conf import settings

    url = getattr(settings, "METRICS_REDIS_URL", None)
    if not url:
        return None
    if time.monotonic() < _redis_state["down_until"]:
        return None
    if _redis_state["url"] != url:
        import redis

        _redis_state["client"] = redis.Redis.from_url(
            url, socket_connect_timeout=_REDIS_TIMEOUT, socket_timeout=_REDIS_TIMEOUT)
        _redis_state["url"] = url
    return _redis_state["client"]


def _redis_failed() -> None:
    _redis_state["down_until"] = time.monotonic() + _REDIS_RETRY_AFTER


def _error_users_key(minute: int) -> str:
    from django.conf import settings

    # One key for every process of the deployment (not a per-process cache prefix).
    return f"{getattr(settings, 'CACHE_KEY_PREFIX', None) or 'studio'}:metrics:error-users:{minute}"


def add_error_user(member: str) -> None:
    client = _redis()
    if client is None:
        return
    key = _error_users_key(int(time.time() // 60))
    try:
        pipe = client.pipeline(transaction=False)
        pipe.pfadd(key, member)
        pipe.expire(key, (ERROR_USERS_WINDOW_MINUTES + 1) * 60)
        pipe.execute()
    except Exception:  # Redis down: the gauge undercounts, the request does not notice
        _redis_failed()


def count_error_users() -> int:
    client = _redis()
    if client is None:
        return 0
    now = int(time.time() // 60)
    keys = [_error_users_key(now - i) for i in range(ERROR_USERS_WINDOW_MINUTES)]
    try:
        return int(client.pfcount(*keys))
    except Exception:
        _redis_failed()
        return 0


ERROR_USERS = metrics.ErrorUsersCollector(count_error_users)  # studio_error_users_5m, at scrape time


# --- Hooks ------------------------------------------------------------------------------------


def on_request_exception(sender, request=None, **kwargs) -> None:
    """got_request_exception: the unhandled exception being handled right now."""
    if request is not None:
        request._studio_request_error = True
    record_error("request", sys.exc_info()[1], request)


def count_unexplained_5xx(request, response) -> None:
    """A 5xx response that no unhandled exception explains (the middleware calls this)."""
    from django.conf import settings

    if getattr(request, "_studio_request_error", False):
        return
    if request.path in getattr(settings, "SENTRY_IGNORED_5XX_PATHS", ()):
        return
    record_error("request", None, request)


def count_security_event(logger_name: str) -> None:
    child = _security_children.get(logger_name)
    if child is None:
        child = metrics.SECURITY_EVENTS.labels(security_event_label(logger_name))
        if len(_security_children) < 1_000:  # logger names come from code, but any code may name one
            _security_children[logger_name] = child
    child.inc()


def _count_log_record(record: logging.LogRecord) -> None:
    if is_security_logger(record.name):  # a client's doing, not an error (see the module's docstring)
        try:
            count_security_event(record.name)
        except Exception:  # counting must never break logging
            pass
        return
    if record.levelno < logging.ERROR or record.name in IGNORED_LOGGERS or getattr(_local, "busy", False):
        return
    if outages.is_broker_reconnect(record.name, str(record.msg)):  # the outage's start line is the one error
        try:
            outages.BROKER.failure(ConnectionError(record.getMessage()[:300]), "consume")
        except Exception:  # counting must never break logging
            pass
        return
    _local.busy = True  # a log record emitted while counting (Redis client, ...) is not counted
    try:
        exc_info = record.exc_info
        exc = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
        record_error("log", exc, current_request.get(), outage_line=record.name == outages.LOGGER_NAME)
    except Exception:  # counting must never break logging
        pass
    finally:
        _local.busy = False


def install_log_hook() -> None:
    """Count ERROR records, and every record of the security loggers, however logging is configured
    (idempotent).

    Monkeypatch, for the reason the Sentry SDK patches the same method: a handler on the root
    logger misses loggers with propagate=False (Celery's task loggers) and is removed when Celery
    takes over the root logger in a worker; Logger.callHandlers sees every record that is handled.
    """
    original = logging.Logger.callHandlers
    if getattr(original, "_studio_counts_errors", False):
        return

    def callHandlers(self, record):
        try:
            return original(self, record)
        finally:
            if record.levelno >= logging.ERROR or record.name.startswith(SECURITY_LOGGER):
                _count_log_record(record)

    callHandlers._studio_counts_errors = True
    logging.Logger.callHandlers = callHandlers
