"""Issue 15, finding 6 and 7: a database that hangs or refuses is a JSON 503 with Retry-After within 5 s on
every endpoint (/readyz: within 3 s), and the app recovers by itself when the database comes back.

Real sockets: a server that accepts TCP connections and never answers, a port where nothing listens, and a
relay in front of the real PostgreSQL that the tests freeze, close and open again (tests/fixtures/faults.py).
In-process through Django's test client (the default connection pointed at the fault), then once through
gunicorn.  Times are printed.
"""
from __future__ import annotations

import contextlib
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client, override_settings

from core import health
from observability import outages
from observability.sentry import init_sentry, shutdown_sentry
from tests import factories as f
from tests.fixtures.faults import TcpFault
from tests.fixtures.sentry_server import exception_types
from tests.fixtures.servers import free_port
from tests.test_metrics_support import http
from tests.test_sentry import request as wsgi_request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
                       reason="PostgreSQL's engine (make test-sqlite runs SQLite, which has no server to lose)"),
]

API_LIMIT = 5.0  # seconds: the bound for every endpoint
READYZ_LIMIT = 3.0


@pytest.fixture(autouse=True)
def fresh_state():
    for tracker in outages.TRACKERS:
        tracker.reset()
    health.forget()
    yield
    health.forget()
    for tracker in outages.TRACKERS:
        tracker.reset()


@pytest.fixture
def sentry(settings, sentry_server):
    settings.SENTRY_DSN = sentry_server.dsn
    settings.SENTRY_TRACES_SAMPLE_RATE = settings.SENTRY_PROFILES_SAMPLE_RATE = 0.0
    assert init_sentry(force=True)
    yield sentry_server
    shutdown_sentry(timeout=2)


@contextlib.contextmanager
def database_at(port: int):
    """Point this process's default database (every thread's connection) at 127.0.0.1:`port`."""
    settings_dict = connection.settings_dict  # the dict every thread's connection is built from
    saved = settings_dict["HOST"], settings_dict["PORT"]
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(port)
    try:
        yield
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved
        health.forget()


@pytest.fixture
def real_postgres_relay():
    s = connection.settings_dict
    relay = TcpFault((s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432))).start()
    yield relay
    relay.stop()


@pytest.fixture
def data():
    """What every endpoint needs, committed before the database goes away."""
    student = f.user()
    course = f.course(lessons=2)
    topic = f.topic(author=student)
    return {"user": student, "course": course, "topic": topic, "token": f.token_for(student)}


def endpoints(d) -> list[tuple[str, str, dict | None, dict]]:
    """(method, path, JSON body, headers) of every endpoint that reads the database."""
    auth = {"HTTP_AUTHORIZATION": f"Token {d['token']}"}
    return [
        ("get", "/api/v1/courses/", None, {}),
        ("get", f"/api/v1/courses/{d['course'].slug}/", None, {}),
        ("get", f"/api/v1/users/{d['user'].pk}/profile/", None, {}),
        ("get", "/api/v1/me/", None, auth),
        ("get", "/api/v1/forum/topics/", None, {}),
        ("post", f"/api/v1/courses/{d['course'].slug}/enroll/", None, auth),
        ("post", "/api/v1/auth/token/", {"username": d["user"].username, "password": "pw-123456"}, {}),
        ("post", f"/api/v1/forum/topics/{d['topic'].pk}/posts/", {"body": "hello"}, auth),
    ]


def call(client: Client, method: str, path: str, body: dict | None, headers: dict):
    started = time.perf_counter()
    if body is None:
        response = getattr(client, method)(path, **headers)
    else:
        response = getattr(client, method)(path, data=json.dumps(body), content_type="application/json", **headers)
    return response, time.perf_counter() - started


def assert_unavailable(response, path: str) -> None:
    assert response.status_code == 503, (path, response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", path
    body = response.json()
    assert body["error"]["status"] == 503, body
    assert int(response["Retry-After"]) >= 1, path
    assert "127.0.0.1" not in response.content.decode() and "port" not in response.content.decode(), body


def sweep(client: Client, d) -> dict[str, float]:
    times = {}
    for method, path, body, headers in endpoints(d):
        response, elapsed = call(client, method, path, body, headers)
        assert_unavailable(response, path)
        times[f"{method.upper()} {path}"] = elapsed
    started = time.perf_counter()
    ready = client.get("/readyz")
    times["GET /readyz"] = time.perf_counter() - started
    assert ready.status_code == 503 and ready.json()["failed"] == ["database"], ready.content
    return times


def report(label: str, times: dict[str, float]) -> float:
    worst = max(t for p, t in times.items() if p != "GET /readyz")
    print(f"\n{label}: every endpoint 503, slowest {worst:.2f} s (limit {API_LIMIT:g}); "
          f"/readyz {times['GET /readyz']:.2f} s (limit {READYZ_LIMIT:g})")
    return worst


def test_a_database_that_accepts_and_never_answers_is_a_503_within_5_seconds(data):
    silent = TcpFault(None, "silent").start()
    client = Client(raise_request_exception=False, HTTP_HOST="localhost")
    try:
        with database_at(silent.port):
            times = sweep(client, data)
    finally:
        silent.stop()
    assert report("database accepts and never answers", times) < API_LIMIT
    assert times["GET /readyz"] < READYZ_LIMIT
    assert silent.accepted >= len(endpoints(data))  # each request really tried the server


def test_a_database_that_refuses_is_a_503(data):
    client = Client(raise_request_exception=False, HTTP_HOST="localhost")
    with database_at(free_port()):  # nothing listens there
        times = sweep(client, data)
    assert report("database refuses connections", times) < 1.0  # refused costs milliseconds
    assert times["GET /readyz"] < 1.0


def test_a_database_that_stops_answering_mid_connection_is_a_503_and_the_app_recovers(data, real_postgres_relay):
    relay, client = real_postgres_relay, Client(raise_request_exception=False, HTTP_HOST="localhost")
    path = f"/api/v1/courses/{data['course'].slug}/"
    with database_at(relay.port):
        assert client.get(path).status_code == 200  # a kept connection through the relay

        relay.set("silent")  # the server freezes: the kept connection and new ones get no answer
        response, frozen = call(client, "get", "/api/v1/forum/topics/", None, {})
        assert_unavailable(response, "frozen")
        assert frozen < API_LIMIT, frozen

        relay.set("refuse")
        response, refused = call(client, "get", "/api/v1/forum/topics/", None, {})
        assert_unavailable(response, "refused")

        relay.set("forward")  # the database is back: no restart, the next request works
        started, recovered_after, statuses = time.perf_counter(), None, []
        for _ in range(50):
            statuses.append(client.get("/api/v1/forum/topics/").status_code)
            if statuses[-1] == 200:
                recovered_after = time.perf_counter() - started
                break
            time.sleep(0.1)
        health.forget()
        assert client.get("/readyz").status_code == 200
    print(f"\nkept connection frozen: 503 in {frozen:.2f} s; refused: 503 in {refused:.3f} s; "
          f"back: 200 after {recovered_after:.3f} s ({len(statuses)} request(s))")
    assert recovered_after is not None and statuses == [200], statuses  # the very first request after


def test_a_statement_the_server_cancels_is_a_503_that_still_reaches_sentry(sentry):
    server = sentry
    with override_settings(DATABASE_STATEMENT_TIMEOUT=0.5):
        connection.close()  # the next connection takes the setting
        started = time.perf_counter()
        response = wsgi_request("get", "/_drill/db-slow/?ms=2000")
        elapsed = time.perf_counter() - started
    connection.close()
    assert response.status_code == 503 and response["retry-after"], response.content
    assert elapsed < 1.5, elapsed
    event, _ = server.wait_for_event(lambda e: "QueryCanceled" in exception_types(e))
    assert event["level"] == "error"  # a slow statement is a fault to fix: reported as before


def test_an_error_that_is_no_outage_is_still_a_500_in_sentry(sentry):
    server = sentry
    response = wsgi_request("get", "/_drill/db-error/")
    assert response.status_code == 500
    assert "retry-after" not in response.headers
    server.wait_for_event(lambda e: {"ProgrammingError", "OperationalError"} & set(exception_types(e)))


def test_a_database_outage_is_one_sentry_event_not_one_per_request(sentry, data):
    server = sentry
    client = Client(raise_request_exception=False, HTTP_HOST="localhost")
    with database_at(free_port()):
        for _ in range(10):
            assert client.get("/api/v1/forum/topics/").status_code == 503
    assert client.get("/api/v1/forum/topics/").status_code == 200  # ends the outage
    server.wait_for_event(lambda e: e.get("logger") == outages.LOGGER_NAME)
    time.sleep(1.0)  # anything else on its way
    events = server.payloads("event")
    print(f"\nSentry events for 10 requests failed by a refused database: {len(events)}")
    assert len(events) == 1, [e.get("logentry") or exception_types(e) for e in events]


@pytest.mark.slow
def test_under_gunicorn_a_hung_database_is_a_503_within_5_seconds_and_the_app_recovers(
        gunicorn_factory, real_postgres_relay, data):
    relay = real_postgres_relay
    s = connection.settings_dict
    db_url = f"postgres://{s['USER']}{':' + s['PASSWORD'] if s['PASSWORD'] else ''}@127.0.0.1:{relay.port}/{s['NAME']}"
    server = gunicorn_factory(workers=2, DATABASE_URL=db_url, METRICS_PUBLIC="0")
    base, auth = server.base_url, {"Authorization": f"Token {data['token']}"}
    requests = [("GET", "/api/v1/courses/", None, {}), ("GET", f"/api/v1/courses/{data['course'].slug}/", None, {}),
                ("GET", f"/api/v1/users/{data['user'].pk}/profile/", None, {}), ("GET", "/api/v1/me/", None, auth),
                ("GET", "/api/v1/forum/topics/", None, {}),
                ("POST", f"/api/v1/courses/{data['course'].slug}/enroll/", None, auth),
                ("POST", "/api/v1/auth/token/", {"username": data["user"].username, "password": "wrong"}, {}),
                ("POST", f"/api/v1/forum/topics/{data['topic'].pk}/posts/", {"body": "hi"}, auth)]

    def timed(method, path, body=None, headers=None):
        started = time.perf_counter()
        status, head, content = http(base + path, method, body, headers or {}, timeout=30)
        return status, head, content, time.perf_counter() - started

    for _ in range(4):  # kept connections in the workers' threads
        assert timed("GET", "/api/v1/forum/topics/")[0] == 200
    assert timed("GET", "/readyz")[0] == 200

    results = {}
    for mode in ("silent", "refuse"):
        relay.set(mode)
        times = {}
        for method, path, body, headers in requests:
            status, head, content, elapsed = timed(method, path, body, headers)
            assert status == 503, (mode, path, status, content[:300])
            assert head.get("Retry-After") and json.loads(content)["error"]["status"] == 503, (path, head)
            times[f"{method} {path}"] = elapsed
        status, _, content, ready = timed("GET", "/readyz")
        assert status == 503 and json.loads(content) == {"status": "unavailable", "failed": ["database"]}, content
        with ThreadPoolExecutor(12) as pool:  # a burst: requests must not queue behind hung attempts
            burst = list(pool.map(lambda _: timed("GET", "/api/v1/forum/topics/"), range(24)))
        assert {r[0] for r in burst} == {503}
        results[mode] = (max(times.values()), ready, max(r[3] for r in burst))

    relay.set("forward")
    started, recovered = time.perf_counter(), None
    while time.perf_counter() - started < 15:
        if timed("GET", "/api/v1/forum/topics/")[0] == 200:
            recovered = time.perf_counter() - started
            break
        time.sleep(0.05)
    statuses = [timed(m, p, b, h)[0] for m, p, b, h in requests[:5]]
    for mode, (worst, ready, burst) in results.items():
        print(f"\ngunicorn, database {mode}: slowest endpoint {worst:.2f} s, /readyz {ready:.2f} s, "
              f"24 concurrent requests: slowest {burst:.2f} s")
    print(f"gunicorn: database back -> first 200 after {recovered:.2f} s; relay connections accepted in all: "
          f"{relay.accepted}")
    for worst, ready, burst in results.values():
        assert worst < API_LIMIT and burst < API_LIMIT and ready < READYZ_LIMIT
    assert recovered is not None and recovered < 2.0
    assert statuses == [200] * 5
    logs = server.logs()
    assert logs.count("database outage started") <= 2  # once per worker process at most
