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
import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from concurrent_log_handler import ConcurrentRotatingFileHandler
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from observability import scrubbing

# The guide's named loggers, and the project's own packages (their DEBUG records are wanted in
# development; third-party DEBUG chatter is not).
NAMED_LOGGERS = ("apps", "apps.api", "apps.forum_integration", "apps.api.cache")
PROJECT_LOGGERS = ("apps", "core", "accounts", "courses", "forum", "observability", "config")

# Attributes every LogRecord has, and Django's request object (its repr is noise; the id says which
# request): anything else on a record came from `extra` and is written out.
_NOT_EXTRA = (*RESERVED_ATTRS, "taskName", "request")
# The fields every line starts with; the rest are `extra`, scrubbed by key.
_FIELDS = ("ts", "level", "logger", "message", "request_id", "process")

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


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: ts, level, logger, message, request_id, process, then `extra` fields
    (sensitive keys filtered, secrets inside the message and texts scrubbed: observability.scrubbing),
    exc_type and exc_info, stack_info.

    python-json-logger does the work (extra fields, exceptions, values JSON cannot encode); this
    sets the guide's field names, the millisecond UTC timestamp, and the scrubbing."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", ["levelname", "name", "message", "request_id", "process"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("reserved_attrs", _NOT_EXTRA)
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["ts"] = _dt.datetime.fromtimestamp(record.created, _dt.UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
        log_data["request_id"] = log_data.get("request_id") or "-"
        for key in log_data.keys() - _FIELDS:
            if scrubbing.is_sensitive_key(key):
                log_data[key] = scrubbing.FILTERED
            elif isinstance(log_data[key], str):
                log_data[key] = scrubbing.scrub_text(log_data[key], keep_email=True)
        if isinstance(log_data.get("message"), str):  # `password=...`, JSON text, a token after "Token "
            log_data["message"] = scrubbing.scrub_text(log_data["message"], keep_email=True)
        if record.exc_info:
            log_data["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            log_data["exc_info"] = log_data.pop("exc_info")  # after exc_type, for the reader


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


class SharedRotatingFileHandler(ConcurrentRotatingFileHandler):
    """concurrent-log-handler's rotating file handler, which several processes may share (gunicorn
    workers, Celery, beat): rollover under a lock file (``.__studio.lock`` beside the log), and a
    process reopens the file another one rotated.  Also creates the log's directory.

    One rule is the standard library's instead: a file rotates before the record that would take it
    to maxBytes, so no file ever exceeds maxBytes (concurrent-log-handler rotates only once a file is
    past it, which leaves files up to one record over: tests/test_logging.py)."""

    def __init__(self, filename, *args, **kwargs):
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(filename, *args, **kwargs)
        self._pending = threading.local()  # the size of the record this thread is emitting

    def format(self, record: logging.LogRecord) -> str:
        msg = super().format(record)
        self._pending.size = len(msg.encode(self.encoding or "utf-8", errors="replace")) + len(self.terminator)
        return msg

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.maxBytes <= 0:
            return False
        if super().shouldRollover(record):  # at the limit already (and the stream is flushed, at its end)
            return True
        if self.stream is not None and not self.stream.closed:
            size = self.stream.tell()
        else:
            try:
                size = os.path.getsize(self.baseFilename)
            except OSError:
                size = 0
        return size > 0 and size + getattr(self._pending, "size", 0) >= self.maxBytes


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
            "encoding": "utf-8",  # the file is opened at the first record: a process that never logs never opens it
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
