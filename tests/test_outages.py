"""Issue 15, finding 10: a dependency outage is logged once when it starts, summarised while it lasts and its end
logged only after a real success -- not a line (and a Sentry event) per failed call.

The tracker on its own, then a real Redis stopped under the app (cache and performance window), in-process with
the log captured and Sentry pointed at a local envelope sink.  The broker's outage under gunicorn is in
tests/test_cache_outage.py; the database's in tests/test_database_faults.py.
"""
from __future__ import annotations

import logging
import os
import time

import pytest
from django.test import Client, override_settings

from observability import outages
from observability.sentry import init_sentry, shutdown_sentry
from tests import factories as f


@pytest.fixture(autouse=True)
def fresh_trackers():
    for tracker in outages.TRACKERS:
        tracker.reset()
    yield
    for tracker in outages.TRACKERS:
        tracker.reset()


def lines(caplog, kind: str, dependency: str | None = None) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == outages.LOGGER_NAME and getattr(r, "outage", None) == kind
            and (dependency is None or r.dependency == dependency)]


def test_a_tracker_logs_the_start_once_a_summary_per_interval_and_the_end_after_a_success(caplog, settings):
    settings.OUTAGE_SUMMARY_SECONDS = 0.3
    caplog.set_level(logging.INFO, logger=outages.LOGGER_NAME)
    tracker = outages.Outage("thing", level=logging.ERROR)
    tracker.success()  # nothing is down: nothing to say
    assert [r for r in caplog.records if r.name == outages.LOGGER_NAME] == []

    first = ConnectionError("refused")
    assert tracker.failure(first, "get") is True
    assert [tracker.failure(ConnectionError("refused"), op) for op in ("get", "get", "set")] == [False] * 3
    assert len(lines(caplog, "started")) == 1 and lines(caplog, "continues") == []
    started = lines(caplog, "started")[0]
    assert started.levelno == logging.ERROR and started.exc_info[1] is first
    assert started.getMessage() == "thing outage started: get failed: ConnectionError: refused"

    time.sleep(0.35)
    tracker.failure(ConnectionError("refused"), "set")  # the interval is over: one summary of what came since
    (summary,) = lines(caplog, "continues")
    assert summary.levelno == logging.WARNING
    assert "4 failures in the last" in summary.getMessage() and "get: 2, set: 2" in summary.getMessage()
    tracker.failure(ConnectionError("refused"), "get")  # within the next interval: counted, not logged
    assert len(lines(caplog, "continues")) == 1 and lines(caplog, "ended") == []

    tracker.success()
    tracker.success()
    (ended,) = lines(caplog, "ended")
    assert "thing outage ended after" in ended.getMessage() and "(6 failures in all)" in ended.getMessage()
    assert tracker.failure(ConnectionError("again"), "get") is True  # a new outage starts a new story
    assert len(lines(caplog, "started")) == 2


def test_an_exception_of_an_outage_is_known_through_what_wraps_it():
    cause = OSError("connection refused")
    outages.CACHE.failure(cause, "get")
    try:
        try:
            raise cause
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapper:
        assert outages.outage_of(wrapper) == "cache"
    assert outages.outage_of(ValueError("unrelated")) is None
    assert outages.outage_of(None) is None


@pytest.fixture
def sentry(settings, sentry_server):
    settings.SENTRY_DSN = sentry_server.dsn
    settings.SENTRY_TRACES_SAMPLE_RATE = settings.SENTRY_PROFILES_SAMPLE_RATE = 0.0
    assert init_sentry(force=True)
    yield sentry_server
    shutdown_sentry(timeout=2)


@pytest.mark.django_db
def test_a_redis_outage_is_one_line_when_it_starts_a_summary_while_it_lasts_and_one_when_redis_answers(
        caplog, settings, redis_server, sentry):
    settings.OUTAGE_SUMMARY_SECONDS = 1.0
    settings.PERF_WINDOW_FLUSH_SECONDS = 0.2  # the window's background writes fail too, five times a second
    caplog.set_level(logging.INFO)
    course = f.course(lessons=2)
    caches = {"default": {
        "BACKEND": "observability.cache.RedisCache", "LOCATION": redis_server.url,
        "KEY_PREFIX": f"outage{os.getpid()}x{time.time_ns()}",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 0.25,
                    "SOCKET_TIMEOUT": 0.25, "IGNORE_EXCEPTIONS": True}}}
    client = Client(HTTP_HOST="localhost")
    url = f"/api/v1/courses/{course.slug}/"
    with override_settings(CACHES=caches):
        assert client.get(url).status_code == 200
        assert client.get(url)["X-Cache-Hits"] == "2"
        caplog.clear()

        redis_server.stop()
        down_at = time.time()
        statuses = []
        for _ in range(25):  # 2.5 s of requests: each one fails several cache calls
            statuses.append(client.get(url).status_code)
            time.sleep(0.1)
        time.sleep(1.2)  # no request: the window's flushes have nothing to write, which is no success
        during = list(caplog.records)
        assert statuses == [200] * 25
        assert len(lines(caplog, "started", "cache")) == 1
        assert len(lines(caplog, "continues", "cache")) >= 1
        assert lines(caplog, "ended") == []
        assert [r for r in during if r.levelno >= logging.ERROR] == []  # no ERROR line (and no event) per call
        summary = lines(caplog, "continues", "cache")[0].getMessage()

        redis_server.start()  # same port, empty
        back_at = time.time()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not lines(caplog, "ended"):
            assert client.get(url).status_code == 200
            time.sleep(0.05)
        (ended,) = lines(caplog, "ended", "cache")
        assert ended.created >= back_at  # only once Redis answered
        for _ in range(5):
            client.get(url)
        assert len(lines(caplog, "ended")) == 1 and len(lines(caplog, "started")) == 1
    time.sleep(0.5)  # anything on its way to Sentry
    events = sentry.payloads("event")
    cache_lines = [r for r in caplog.records if r.name in ("apps.api.cache", "django_redis")]
    print(f"\nRedis down {back_at - down_at:.1f} s, 25 requests: {len(during)} log line(s) during the outage "
          f"({len(lines(caplog, 'started'))} started, {len(lines(caplog, 'continues'))} summary); Sentry events: "
          f"{len(events)}; summary: {summary!r}; end: {ended.getMessage()!r}")
    assert len(events) <= 1, events
    assert cache_lines == []


def test_the_celery_consumers_reconnect_errors_are_the_broker_outage_not_an_error_each():
    """The game day's redis-down fault: the worker's consumer logged an ERROR at every reconnect attempt (13 in
    three minutes), each counted in studio_errors_total, and ErrorSpike fired on a Redis outage RedisDown pages."""
    from prometheus_client import REGISTRY

    from observability.sentry import before_send

    def errors() -> float:
        return sum(s.value for m in REGISTRY.collect() if m.name == "studio_errors"
                   for s in m.samples if s.name == "studio_errors_total")

    consumer = logging.getLogger(outages.CELERY_CONSUMER_LOGGER)
    before = errors()
    for _ in range(5):
        consumer.error("consumer: Cannot connect to %s: %s.", "redis://127.0.0.1:6380/0", "Error 111 connecting")
    assert outages.BROKER.down
    assert errors() - before == 1  # the outage's start line, once
    consumer.error("Unrecoverable error: %r", ValueError("not a reconnect"))
    assert errors() - before == 2  # any other error of the consumer still counts
    event = {"logger": outages.CELERY_CONSUMER_LOGGER, "logentry": {"message": "consumer: Cannot connect to %s: %s."}}
    assert before_send(event, {}) is None
    assert before_send({**event, "logentry": {"message": "Unrecoverable error: %r"}}, {}) is not None
