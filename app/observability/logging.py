"""Logging per the guide, built in one function so every environment shares one shape.

    development  console DEBUG (plain text), file INFO (var/log/studio.log), SQL with LOG_SQL=1
    production   file INFO as JSON lines, rotating at 50 MB with 5 backups; console WARNING;
                 ERROR records become Sentry events (LoggingIntegration, observability.sentry)
    test         console WARNING, no file unless LOG_FILE is set

Records carry the request id (RequestIdFilter) and whatever the caller passed in `extra`
(user_id, course_id, ...).  Named loggers: apps.api, apps.forum_integration, apps.api.cache.

Plain Python apart from the settings namespace it reads: the settings modules import it.
"""
from __future__ import annotations

import contextvars
import datetime as _dt
import json
import logging
import os
import sys
from collections.abc import Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from observability import scrubbing

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None

# The guide's named loggers, and the project's own packages (their DEBUG records are wanted in
# development; third-party DEBUG chatter is not).
NAMED_LOGGERS = ("apps", "apps.api", "apps.forum_integration", "apps.api.cache")
PROJECT_LOGGERS = ("apps", "core", "accounts", "courses", "forum", "observability", "config")

# Attributes every LogRecord has: anything else on a record came from `extra`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message", "asctime", "request_id", "taskName"}
# Never serialised from `extra`: Django's request object (repr is noise; the id says which request).
_SKIP_EXTRA = frozenset({"request"})

# The current request's id (set by observability.request_id.RequestContextMiddleware).
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record: the current request's, or '-' outside requests."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            rid = request_id_var.get()
            if rid is None:  # django.request logs after the middleware returned: it passes the request
                rid = getattr(getattr(record, "request", None), "request_id", None)
            record.request_id = rid or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, then `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _dt.datetime.fromtimestamp(record.created, _dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or "-",
            "process": record.process,
        }
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRS or key in _SKIP_EXTRA or key in payload or key.startswith("_"):
                continue
            payload[key] = scrubbing.FILTERED if scrubbing.is_sensitive_key(key) else value
        if record.exc_info:
            payload["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(payload, default=str, ensure_ascii=False)
        except Exception:  # a value whose str() fails must not lose the record
            return json.dumps({k: repr(v) for k, v in payload.items()}, ensure_ascii=False)


class ConsoleHandler(logging.StreamHandler):
    """A StreamHandler writing to whatever sys.stderr is at the time of each record.

    The plain one keeps the stream it was built with: after a reconfiguration while sys.stderr
    was temporarily replaced (a test's capture, `django.setup()` run again), it writes to a
    closed file for the rest of the process.
    """

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


class SharedRotatingFileHandler(RotatingFileHandler):
    """RotatingFileHandler that several processes may share (gunicorn workers, Celery, beat).

    The standard handler rotates per process: after one process renames the file, the others keep
    writing into the backup and later rotate it again, shuffling and losing lines.  Here rollover
    happens under an exclusive lock file, a process notices that the file it holds was rotated by
    another and reopens the new one, and it never rotates a file someone else just rotated.
    """

    def __init__(self, filename, mode="a", maxBytes=0, backupCount=0, encoding="utf-8", delay=False, errors=None):
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(filename, mode, maxBytes, backupCount, encoding, delay, errors)
        self._lock_path = os.fspath(filename) + ".lock"

    def _stream_is_stale(self) -> bool:
        if self.stream is None:
            return False
        try:
            on_disk = os.stat(self.baseFilename)
        except FileNotFoundError:
            return True
        held = os.fstat(self.stream.fileno())
        return (on_disk.st_dev, on_disk.st_ino) != (held.st_dev, held.st_ino)

    def _reopen(self) -> None:
        if self.stream is not None:
            self.stream.close()
        self.stream = self._open()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._stream_is_stale():
                self._reopen()
        except Exception:
            self.handleError(record)
            return
        super().emit(record)

    def doRollover(self) -> None:
        if fcntl is None:
            return super().doRollover()
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if self._stream_is_stale():  # another process rotated while we waited
                    self._reopen()
                    if self.stream.seek(0, os.SEEK_END) < self.maxBytes:
                        return
                super().doRollover()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _level_number(level: str) -> int:
    return logging.getLevelName(str(level).upper()) if not str(level).isdigit() else int(level)


def build_logging(
    *,
    console_level: str = "INFO",
    console_json: bool = False,
    file_path: str | os.PathLike | None = None,
    file_level: str = "INFO",
    file_json: bool = True,
    max_bytes: int = 50 * 1024 * 1024,
    backup_count: int = 5,
    log_sql: bool = False,
    extra_handlers: Mapping[str, dict] | None = None,
) -> dict:
    """A logging.config.dictConfig dictionary.

    `extra_handlers` ({name: handler dict}) are attached to the root logger beside the console and
    the file: the place for other instrumentation (e.g. an error-counting handler for metrics).
    """
    formatters = {
        "plain": {"format": PLAIN_FORMAT},
        "json": {"()": "observability.logging.JsonFormatter"},
    }
    filters = {"request_id": {"()": "observability.logging.RequestIdFilter"}}
    handlers: dict[str, dict] = {
        "console": {
            "class": "observability.logging.ConsoleHandler",
            "level": console_level.upper(),
            "formatter": "json" if console_json else "plain",
            "filters": ["request_id"],
        },
    }
    levels = [_level_number(console_level)]
    if file_path:
        handlers["file"] = {
            "class": "observability.logging.SharedRotatingFileHandler",
            "level": file_level.upper(),
            "formatter": "json" if file_json else "plain",
            "filters": ["request_id"],
            "filename": os.fspath(file_path),
            "maxBytes": int(max_bytes),
            "backupCount": int(backup_count),
            "encoding": "utf-8",
            "delay": True,  # a process that never logs never opens the file
        }
        levels.append(_level_number(file_level))
    for name, handler in (extra_handlers or {}).items():
        handlers[name] = dict(handler)
    app_level = logging.getLevelName(min(levels))  # the project's own loggers: as verbose as any handler
    root_handlers = list(handlers)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "filters": filters,
        "handlers": handlers,
        "root": {"handlers": root_handlers, "level": "INFO"},  # third-party DEBUG stays out
        "loggers": {
            **{name: {"level": app_level} for name in PROJECT_LOGGERS + NAMED_LOGGERS},
            # SQL statements are DEBUG records of this logger (Django emits them when DEBUG is on).
            "django.db.backends": {"level": "DEBUG" if log_sql else "INFO"},
            # The Sentry transport's retries while Sentry is unreachable: three lines per event.
            "urllib3.connectionpool": {"level": "ERROR"},
        },
    }


def logging_from_settings(ns: Mapping[str, Any]) -> dict:
    """LOGGING from the LOG_* settings of a settings module: `LOGGING = logging_from_settings(globals())`."""
    return build_logging(
        console_level=ns.get("LOG_CONSOLE_LEVEL", "INFO"),
        console_json=ns.get("LOG_CONSOLE_JSON", False),
        file_path=ns.get("LOG_FILE"),
        file_level=ns.get("LOG_LEVEL", "INFO"),
        file_json=ns.get("LOG_JSON", True),
        max_bytes=ns.get("LOG_FILE_MAX_BYTES", 50 * 1024 * 1024),
        backup_count=ns.get("LOG_FILE_BACKUP_COUNT", 5),
        log_sql=ns.get("LOG_SQL", False),
        extra_handlers=ns.get("LOG_EXTRA_HANDLERS"),
    )
