"""Issue 15, finding 11: /readyz tells anonymous callers "ok" or the names of the failed checks, details only to
the metrics token's holders and the allowed networks; each check answers within a second, one run at a time,
its result kept a second, so probes cannot pile up on a sick dependency.  Real sockets: a refused port, a
server that accepts and never answers, a real Redis stopped (the broker)."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from config.celery import app as celery_app
from core import health
from observability import outages
from tests.fixtures.faults import TcpFault
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif("postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
                                   reason="points PostgreSQL's connection at a fault (SQLite has no server)")


@pytest.fixture(autouse=True)
def fresh(settings):
    settings.METRICS_PUBLIC = False  # production's default: no token, no networks, nothing public
    settings.METRICS_TOKEN = settings.METRICS_TOKEN_FILE = None
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.READYZ_DETAIL_NETWORKS = []
    health.forget()
    for tracker in outages.TRACKERS:
        tracker.reset()
    yield
    health.forget()
    for tracker in outages.TRACKERS:
        tracker.reset()


@pytest.fixture
def database_down():
    """The default database (every thread's connection) pointed at a port where nothing listens."""
    settings_dict = connection.settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"]
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(free_port())
    health.forget()
    yield
    health.forget()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = saved


def probe(client=None, **headers):
    started = time.perf_counter()
    response = (client or Client(HTTP_HOST="localhost")).get("/readyz", **headers)
    return response, time.perf_counter() - started


def test_anonymous_callers_get_ok_and_nothing_else():
    response, _ = probe()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@postgres_only
def test_anonymous_callers_get_the_names_of_the_failed_checks_only(database_down):
    response, elapsed = probe()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["database"]}
    assert b"127.0.0.1" not in response.content and b"refused" not in response.content.lower()
    print(f"\n/readyz with the database refusing: {elapsed * 1000:.0f} ms")


@postgres_only
def test_details_go_to_the_metrics_token_and_to_the_detail_networks(settings, database_down):
    settings.METRICS_TOKEN = "readyz-token-123"
    with_token, _ = probe(HTTP_AUTHORIZATION="Bearer readyz-token-123")
    wrong, _ = probe(HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.json() == {"status": "unavailable", "failed": ["database"]}
    checks = with_token.json()["checks"]
    assert set(checks) == {"database", "cache", "broker"}
    assert checks["database"]["ok"] is False and "refused" in checks["database"]["detail"].lower()
    assert checks["cache"]["ok"] is True and checks["database"]["ms"] >= 0

    settings.METRICS_TOKEN = None
    settings.READYZ_DETAIL_NETWORKS = ["10.0.0.0/8"]
    assert "checks" not in probe(REMOTE_ADDR="127.0.0.1")[0].json()
    assert "checks" in probe(REMOTE_ADDR="10.1.2.3")[0].json()
    settings.READYZ_DETAIL_NETWORKS = ["not-a-network", "::1/128"]  # a bad entry shows nothing to anyone
    assert "checks" not in probe(REMOTE_ADDR="10.1.2.3")[0].json()
    assert "checks" in probe(REMOTE_ADDR="::1")[0].json()

    settings.READYZ_DETAIL_NETWORKS = []
    settings.METRICS_PUBLIC = True  # development: /metrics open, so are the details
    assert "checks" in probe()[0].json()


@postgres_only
def test_a_database_that_never_answers_costs_a_probe_one_second_and_probes_do_not_pile_up(settings):
    settings.READYZ_CACHE_SECONDS = 0.2  # so that the kept result expires while the first check still hangs
    silent = TcpFault(None, "silent").start()
    settings_dict = connection.settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"]
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(silent.port)
    health.forget()
    try:
        with ThreadPoolExecutor(8) as pool:  # eight probes at once
            first = list(pool.map(lambda _: probe(), range(8)))
        again = [probe() for _ in range(5)]  # the result is kept
        time.sleep(0.3)  # kept result expired; the check that hangs (2 s connect timeout) is still running
        late = probe()
        attempts = silent.accepted
    finally:
        health.forget()
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved
        silent.stop()
    slowest = max(t for _, t in first + again + [late])
    print(f"\n/readyz, database never answers: 14 probes, slowest {slowest:.2f} s; connections the checks "
          f"opened: {attempts}")
    for response, _ in first + again + [late]:
        assert response.status_code == 503 and response.json()["failed"] == ["database"]
    assert slowest < 1.5
    assert max(t for _, t in again) < 0.1
    assert attempts == 1  # one check run reached the server, whatever the number of probes


@pytest.mark.parametrize("broker", ["refused", "stopped redis", "never answers"])
def test_the_broker_check_answers_within_a_second_when_the_broker_is_down(settings, redis_server, broker):
    silent = TcpFault(None, "silent").start() if broker == "never answers" else None
    if broker == "stopped redis":
        redis_server.stop()
    url = {"refused": f"redis://127.0.0.1:{free_port()}/0", "stopped redis": redis_server.url,
           "never answers": f"redis://127.0.0.1:{silent.port if silent else 0}/0"}[broker]
    saved = celery_app.conf.broker_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.broker_url = url
    try:
        response, elapsed = probe()
        health.forget()
    finally:
        celery_app.conf.broker_url = saved
        if silent:
            silent.stop()
    print(f"\n/readyz with the broker {broker}: {elapsed * 1000:.0f} ms")
    assert response.status_code == 503 and json.loads(response.content) == {"status": "unavailable",
                                                                             "failed": ["broker"]}
    assert elapsed < 1.5
    if broker != "never answers":
        assert elapsed < 0.5  # a refused connection is known at once (it took 2 s before)
