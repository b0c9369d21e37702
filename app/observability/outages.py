"""Dependency outages in the logs: a line when one starts, a summary a minute while it lasts, a line when it ends.

The database, the Redis cache and the Celery broker each have one tracker per process, told about every use:

    outages.CACHE.failure(exc, "get")   # the call failed; the first failure starts the outage
    outages.CACHE.success()             # the dependency really answered; ends the outage, if there was one

A failure never ends an outage and neither does anything but a real answer (a flush with nothing to write, a
skipped call), so "ended" is only logged once the dependency works again.  success() costs one attribute read
when nothing is down, so callers report every call.

Lines, on the logger ``observability.outages``, with the fields ``dependency`` and ``outage``
(started | continues | ended):

* started   -- once, at the tracker's level, with the first error and its traceback.  ERROR for the database
  and the broker (requests fail or tasks are not queued): one Sentry event and one studio_errors_total per
  process and outage.  WARNING for the cache, which requests survive (RedisDown pages for Redis itself).
* continues -- WARNING, at most one per settings.OUTAGE_SUMMARY_SECONDS (60 s) and only while failures keep
  coming: how long the outage has lasted and the failures since the last line, by operation.
* ended     -- WARNING, after the first success: how long it lasted and how many failures in all.

Every failure's exception is marked with its dependency (``outage_of`` finds the mark on an exception or
anything in its cause chain, e.g. Django's OperationalError wrapping psycopg's): Sentry drops events of marked
exceptions and studio_errors_total skips them, except for the started line itself, so an outage that fails a
thousand requests is reported once, not a thousand times (observability.sentry, observability.errors).

Per process: each gunicorn worker, Celery worker and beat reports the outages it sees (every line names its
process).  Plain Python and the settings; no other part of the project is imported here.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter

LOGGER_NAME = "observability.outages"
logger = logging.getLogger(LOGGER_NAME)

_MARK = "_studio_outage"
_DEFAULT_SUMMARY_SECONDS = 60.0


def _summary_seconds() -> float:
    try:
        from django.conf import settings

        return float(getattr(settings, "OUTAGE_SUMMARY_SECONDS", _DEFAULT_SUMMARY_SECONDS))
    except Exception:  # no settings (a plain script): the default
        return _DEFAULT_SUMMARY_SECONDS


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no exception"
    text = " ".join(str(exc).split())  # libpq's messages span lines
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def mark(exc: BaseException | None, dependency: str) -> None:
    if exc is not None:
        try:
            setattr(exc, _MARK, dependency)
        except Exception:  # an exception class with __slots__: it stays unmarked, reported as any error
            pass


def outage_of(exc: BaseException | None) -> str | None:
    """The dependency whose outage `exc` (or an exception it was raised from) belongs to, else None."""
    seen = 0
    while exc is not None and seen < 10:
        dependency = getattr(exc, _MARK, None)
        if dependency is not None:
            return dependency
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class Outage:
    """One dependency's state in this process.  Thread-safe; logs outside its lock."""

    def __init__(self, dependency: str, level: int = logging.ERROR):
        self.dependency = dependency
        self.level = level
        self.down = False  # read without the lock: a stale False costs one more locked check, never a line
        self._lock = threading.Lock()
        self._started = self._last_line = 0.0
        self._failures = 0
        self._recent: Counter[str] = Counter()

    def failure(self, exc: BaseException | None = None, operation: str = "") -> bool:
        """Report a failed use; True when it started an outage.  Marks `exc` (see outage_of)."""
        mark(exc, self.dependency)
        now = time.monotonic()
        summary = None
        with self._lock:
            started = not self.down
            if started:
                self.down, self._started, self._last_line, self._failures = True, now, now, 1
                self._recent = Counter()
            else:
                self._failures += 1
                self._recent[operation or "other"] += 1
                if now - self._last_line >= _summary_seconds():
                    summary = (now - self._started, now - self._last_line, self._recent)
                    self._recent, self._last_line = Counter(), now
        if started:
            logger.log(self.level, "%s outage started: %s failed: %s", self.dependency, operation or "a call",
                       describe(exc), exc_info=exc, extra={"dependency": self.dependency, "outage": "started"})
        elif summary is not None:
            lasted, since, counts = summary
            logger.warning("%s outage continues (%.1f s so far): %d failures in the last %.1f s (%s)",
                           self.dependency, lasted, sum(counts.values()), since,
                           ", ".join(f"{op}: {n}" for op, n in counts.most_common()),
                           extra={"dependency": self.dependency, "outage": "continues"})
        return started

    def success(self) -> None:
        """Report a use that got a real answer: ends the outage, if there is one."""
        if not self.down:
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
            lasted, failures = time.monotonic() - self._started, self._failures
        logger.warning("%s outage ended after %.1f s (%d failures in all)", self.dependency, lasted, failures,
                       extra={"dependency": self.dependency, "outage": "ended"})

    def reset(self) -> None:
        """Forget any outage without a line (tests start from a known state)."""
        with self._lock:
            self.down, self._failures, self._recent = False, 0, Counter()


# The Celery worker's consumer logs an ERROR at every reconnect attempt while the broker is down (one every
# few seconds): each is the broker outage's, reported to BROKER, not an error of its own.
CELERY_CONSUMER_LOGGER = "celery.worker.consumer.consumer"


def is_broker_reconnect(logger_name: str, message: str) -> bool:
    return logger_name == CELERY_CONSUMER_LOGGER and message.startswith("consumer: Cannot connect")


DATABASE = Outage("database")
BROKER = Outage("broker")
CACHE = Outage("cache", level=logging.WARNING)  # requests are served from the database meanwhile
TRACKERS = (DATABASE, BROKER, CACHE)
