"""PostgreSQL whose every wait is bounded: ENGINE "core.database.postgresql" (settings/base.py, postgres:// URLs).

django-prometheus' PostgreSQL backend (every query counted and timed), plus the bounds psycopg leaves open:

* connecting -- libpq's connect_timeout, settings.DATABASE_CONNECT_TIMEOUT (whole seconds, psycopg's minimum
  is 2), bounds the whole attempt, a server that accepts TCP and never answers included (psycopg's own
  default is 130 s).
* statements -- the server cancels any statement running longer than settings.DATABASE_STATEMENT_TIMEOUT
  (``options=-c statement_timeout``: QueryCanceled, and the connection stays usable).  A server that stopped
  answering cannot cancel anything, so the client stops waiting one second later (BoundedConnection): the
  connection is closed and an OperationalError raised.  Django's health check of a kept connection
  (CONN_HEALTH_CHECKS' SELECT 1) waits at most HEALTH_CHECK_TIMEOUT (1 s).  A statement timeout of 0 turns
  both statement bounds off.
* outages -- a failed connection attempt, a wait that ran out and a connection lost under a statement are
  reported to observability.outages.DATABASE (a log line when the outage starts, a summary a minute, a line
  when a connection works again) and their exceptions are marked as the outage's: core.views answers them
  503 with Retry-After, Sentry and studio_errors_total report the outage once.  While the database is out,
  each process sends one connection attempt at a time to it; the others fail at once, so requests do not
  queue behind attempts that may each take DATABASE_CONNECT_TIMEOUT to fail.

psycopg >= 3.3: Connection.wait(gen, interval, timeout) raising errors._WaitTimeout is what bounds the waits
(pyproject.toml pins the minor version this was written against).
"""
from __future__ import annotations

import threading

import psycopg
from django.conf import settings
from django_prometheus.db.backends.postgresql import base as prometheus_base
from psycopg.errors import _WaitTimeout

from observability import outages

# While the database is out: this process's one connection attempt in flight (any alias; there is one).
_attempt = threading.Lock()
# Django's health check of a kept connection (SELECT 1): a server that takes longer is treated as gone, the
# connection dropped and a new one made, so a frozen server costs a request this plus DATABASE_CONNECT_TIMEOUT.
HEALTH_CHECK_TIMEOUT = 1.0


class BoundedConnection(psycopg.Connection):
    """A psycopg connection that waits at most `read_timeout` seconds for each answer of the server."""

    read_timeout: float | None = None  # None: as long as the server takes
    report_outages = True  # off while Django health-checks a kept connection: a stale one is no outage

    def wait(self, gen, interval=None, timeout=None):
        limit = self.read_timeout if timeout is None else timeout
        try:
            result = super().wait(gen, timeout=limit) if interval is None else super().wait(gen, interval, limit)
        except _WaitTimeout:
            self.close()  # in the middle of the protocol: this connection cannot be used again
            exc = psycopg.OperationalError(f"the database did not answer within {limit:g} s (connection closed)")
            if self.report_outages:
                outages.DATABASE.failure(exc, "query")
            raise exc from None
        except psycopg.Error as exc:
            if self.report_outages and (self.closed or self.broken):  # the connection was lost, not a statement
                outages.DATABASE.failure(exc, "query")
            raise
        outages.DATABASE.success()
        return result


class _Driver:
    """The psycopg module as Django's backend uses it (Database.Error, Database.connect, ...), except that it
    connects with BoundedConnection."""

    def __getattr__(self, name):
        return getattr(psycopg, name)

    @staticmethod
    def connect(*args, **kwargs):
        return BoundedConnection.connect(*args, **kwargs)


def statement_timeout() -> float:
    return max(0.0, float(getattr(settings, "DATABASE_STATEMENT_TIMEOUT", 0) or 0))


def read_timeout() -> float | None:
    """How long the client waits for an answer: one second past the server's own statement timeout."""
    seconds = statement_timeout()
    return seconds + 1.0 if seconds else None


class DatabaseWrapper(prometheus_base.DatabaseWrapper):
    Database = _Driver()

    def get_connection_params(self):
        params = super().get_connection_params()
        params.setdefault("connect_timeout", max(2, int(getattr(settings, "DATABASE_CONNECT_TIMEOUT", 2))))
        milliseconds = int(statement_timeout() * 1000)
        options = str(params.get("options") or "")
        if milliseconds and "statement_timeout" not in options:
            params["options"] = f"{options} -c statement_timeout={milliseconds}".strip()
        return params

    def get_new_connection(self, conn_params):
        held = False
        if outages.DATABASE.down:
            held = _attempt.acquire(blocking=False)
            if not held:
                exc = psycopg.OperationalError("the database is unavailable (this process is already trying to "
                                               "connect)")
                outages.DATABASE.failure(exc, "connect")
                raise exc
        try:
            connection = super().get_new_connection(conn_params)
        except psycopg.Error as exc:
            outages.DATABASE.failure(exc, "connect")
            raise
        finally:
            if held:
                _attempt.release()
        connection.read_timeout = read_timeout()
        outages.DATABASE.success()
        return connection

    def ensure_connection(self):
        if self.connection is not None and self.connection.closed and not self.in_atomic_block:
            self.close()  # closed by BoundedConnection after a wait ran out: connect again, as the next request would
        super().ensure_connection()

    def create_cursor(self, name=None):
        if self.connection.closed:  # lost inside a transaction: an outage, not "the connection is closed" as a bug
            exc = psycopg.OperationalError("the database connection was lost")
            outages.DATABASE.failure(exc, "query")
            raise exc
        return super().create_cursor(name)

    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if outages.DATABASE.down:  # a kept connection is suspect: drop it unasked, connect through the one attempt
            return False
        saved = connection.read_timeout, connection.report_outages
        connection.read_timeout, connection.report_outages = HEALTH_CHECK_TIMEOUT, False
        try:
            return super().is_usable()
        finally:
            connection.read_timeout, connection.report_outages = saved
