"""Sentry, in-process: the real SDK, initialised by observability.sentry.init_sentry() from settings,
sends envelopes to a local HTTP server; the tests read what arrived.

Each capture path of issue 4 (request exception, 5xx without exception, database error, template
error, ERROR log record, capture_message, Celery task failure), the context it carries
(environment, release, user, tags, course context, request id), scrubbing, and the sample rate.
"""
from __future__ import annotations

import io
import json
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode
from wsgiref.util import setup_testing_defaults

import pytest
import sentry_sdk
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from observability.sentry import init_sentry, shutdown_sentry
from tests import factories
from tests.fixtures.sentry_server import exception_types

pytestmark = pytest.mark.django_db

RELEASE = "studio@1.2.3-test"
SECRET_PASSWORD = "Pw-SECRET-hunter2"
SECRET_COOKIE = "COOKIE-SECRET-42abc"
SECRET_QS = "QS-SECRET-token-77"
EMAIL = "alice.secret@example.com"


@pytest.fixture
def sentry(settings, sentry_server):
    """Sentry on, pointed at the local server; call it with setting overrides to re-initialise."""

    def start(**overrides):
        settings.SENTRY_DSN = sentry_server.dsn
        settings.SENTRY_RELEASE = RELEASE
        settings.ENVIRONMENT = "staging"
        settings.SENTRY_TRACES_SAMPLE_RATE = 0.0
        settings.SENTRY_PROFILES_SAMPLE_RATE = 0.0
        settings.SENTRY_SEND_PII = False
        for key, value in overrides.items():
            setattr(settings, key, value)
        assert init_sentry(force=True)
        return sentry_server

    yield start
    shutdown_sentry(timeout=2)


@dataclass
class Response:
    status_code: int
    headers: dict
    content: bytes

    def __getitem__(self, name):
        return self.headers[name.lower()]

    def json(self):
        return json.loads(self.content)


def request(method: str, path: str, data: dict | None = None, **headers) -> Response:
    """A request through Django's real WSGIHandler -- the one gunicorn calls and the SDK wraps
    (transactions, request data) -- in this thread, so it sees the test's database transaction."""
    path, _, query = path.partition("?")
    body = urlencode(data).encode() if data is not None else b""
    environ = {"REQUEST_METHOD": method.upper(), "PATH_INFO": path, "QUERY_STRING": query,
               "HTTP_HOST": "localhost", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    if data is not None:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    setup_testing_defaults(environ)
    environ.update(headers)
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"] = int(status.split()[0])
        seen["headers"] = {k.lower(): v for k, v in response_headers}

    # Like django.test.Client: the test's connection (inside a transaction) must not be closed.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return Response(seen["status"], seen["headers"], content)


@pytest.fixture
def alice():
    user = factories.user("alice", email=EMAIL, password=SECRET_PASSWORD)
    return user, factories.token_for(user)


def assert_common(event, env, alice_user=None):
    assert event["environment"] == "staging"
    assert event["release"] == RELEASE
    if alice_user is not None:
        assert event["user"]["id"] == str(alice_user.pk)
        assert event["user"]["username"] == "alice"
        assert "email" not in event["user"]
        assert event["tags"]["user_type"] == "student"
    assert event["contexts"]["course"] == {"id": 0, "slug": "fire-drill", "title": "Fire drill"}
    for secret in (SECRET_PASSWORD, SECRET_COOKIE, SECRET_QS, EMAIL):
        assert secret.encode() not in env.raw, f"{secret} reached Sentry"


def test_request_exception_arrives_with_context_and_scrubbed_data(sentry, alice):
    server = sentry()
    user, token = alice
    # The view logs the note (a breadcrumb) with an address and a password in it: both scrubbed.
    note = f"call {EMAIL} password={SECRET_PASSWORD}"
    resp = request("post", f"/_drill/error/?token={SECRET_QS}&page=2",
                   {"password": SECRET_PASSWORD, "email": EMAIL, "note": note},
                   HTTP_AUTHORIZATION=f"Token {token}", HTTP_COOKIE=f"sessionid={SECRET_COOKIE}",
                   HTTP_X_REQUEST_ID="req-drill-0001")
    assert resp.status_code == 500 and resp["X-Request-ID"] == "req-drill-0001"
    event, env = server.wait_for_event(lambda e: "DrillError" in exception_types(e))
    assert_common(event, env, user)
    assert token.encode() not in env.raw
    assert event["tags"]["feature"] == "drill_error"
    assert event["tags"]["request_id"] == "req-drill-0001"
    assert event["exception"]["values"][-1]["mechanism"]["handled"] is False
    req = event["request"]
    assert req["url"] == "http://localhost/_drill/error/" and req["method"] == "POST"
    assert req["headers"]["Authorization"] == "[Filtered]" and req["headers"]["Cookie"] == "[Filtered]"
    assert req["headers"]["X-Request-Id"] == "req-drill-0001"
    assert req["data"] == {"password": "[Filtered]", "email": "[email]", "note": "call [email] password=[Filtered]"}
    assert "token=[Filtered]" in req["query_string"] and "page=2" in req["query_string"]
    crumbs = [c.get("message") or "" for c in event["breadcrumbs"]["values"]]
    assert any("(note: call [email] password=[Filtered])" in c for c in crumbs), crumbs
    assert "sentry_key=public" in env.http_headers["X-Sentry-Auth"]


def test_email_is_sent_only_when_pii_is_opted_in(sentry, alice):
    server = sentry(SENTRY_SEND_PII=True)
    user, token = alice
    resp = request("get", "/_drill/error/", HTTP_AUTHORIZATION=f"Token {token}")
    assert resp.status_code == 500
    event, env = server.wait_for_event(lambda e: "DrillError" in exception_types(e))
    assert event["user"]["email"] == EMAIL and event["user"]["username"] == "alice"
    assert token.encode() not in env.raw  # secrets stay scrubbed with PII on


def test_database_error_arrives(sentry, alice):
    server = sentry()
    user, token = alice
    resp = request("get", "/_drill/db-error/", HTTP_AUTHORIZATION=f"Token {token}")
    assert resp.status_code == 500
    event, env = server.wait_for_event(
        lambda e: {"ProgrammingError", "OperationalError"} & set(exception_types(e)))
    assert_common(event, env, user)
    assert event["tags"]["feature"] == "drill_database"
    assert "drill_missing_table" in event["exception"]["values"][-1]["value"]


def test_template_error_arrives(sentry):
    server = sentry()
    resp = request("get", "/_drill/template-error/")
    assert resp.status_code == 500
    event, env = server.wait_for_event(lambda e: "TemplateSyntaxError" in exception_types(e))
    assert_common(event, env)
    assert event["tags"]["feature"] == "drill_template" and event["tags"]["user_type"] == "anonymous"
    assert "user" not in event or not event["user"].get("id")


def test_capture_message_arrives_with_the_id_it_returned(sentry, alice):
    server = sentry()
    user, token = alice
    resp = request("get", "/_drill/message/", HTTP_AUTHORIZATION=f"Token {token}")
    assert resp.status_code == 200
    event_id = resp.json()["event_id"]
    event, env = server.wait_for_event(lambda e: e.get("event_id") == event_id)
    assert event["message"] == "fire drill: capture_message" and event["level"] == "warning"
    assert_common(event, env, user)


def test_5xx_without_exception_is_reported_once_and_4xx_is_not(sentry):
    server = sentry()
    assert request("get", "/_drill/status/404/").status_code == 404
    assert request("get", "/_drill/status/503/").status_code == 503
    event, env = server.wait_for_event(lambda e: (e.get("message") or "").startswith("HTTP 503"))
    assert event["message"] == "HTTP 503 GET /_drill/status/<int:status>/"
    assert event["tags"]["feature"] == "drill_status"
    sentry_sdk.flush(timeout=5)
    messages = [p.get("message") for p in server.payloads("event")]
    assert messages == ["HTTP 503 GET /_drill/status/<int:status>/"], messages


def test_exception_is_not_reported_twice_as_5xx(sentry):
    server = sentry()
    assert request("get", "/_drill/error/").status_code == 500
    server.wait_for_event(lambda e: "DrillError" in exception_types(e))
    sentry_sdk.flush(timeout=5)
    assert len(server.payloads("event")) == 1


def test_security_records_are_no_events(sentry):
    """A forged Host header, logged at ERROR on django.security.DisallowedHost: any client can send it, so
    no event (studio_security_events_total counts it); the next real error is the only event."""
    server = sentry()
    assert request("get", "/healthz", HTTP_HOST="evil.example").status_code == 400
    assert request("get", "/_drill/error/").status_code == 500
    server.wait_for_event(lambda e: "DrillError" in exception_types(e))
    sentry_sdk.flush(timeout=5)
    events = server.payloads("event")
    assert len(events) == 1 and not any(str(e.get("logger", "")).startswith("django.security") for e in events)


def test_error_log_record_becomes_an_event_with_its_extra(sentry, alice):
    server = sentry()
    user, token = alice
    assert request("get", "/_drill/log-error/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    event, env = server.wait_for_event(lambda e: e.get("logger") == "apps.api")
    assert event["level"] == "error" and "ERROR log record" in event["logentry"]["message"]
    assert event["extra"]["user_id"] == user.pk and event["extra"]["course_id"] == 0
    assert_common(event, env, user)


def test_celery_task_failure_arrives(sentry, settings):
    """Eager here; tests/test_sentry_processes.py runs a real worker."""
    server = sentry()
    assert settings.CELERY_TASK_ALWAYS_EAGER
    resp = request("get", "/_drill/task-error/")
    assert resp.status_code == 202
    event, env = server.wait_for_event(lambda e: "DrillTaskError" in exception_types(e))
    assert event["exception"]["values"][-1]["mechanism"]["type"] == "celery"
    assert event["environment"] == "staging" and event["release"] == RELEASE


def test_transactions_at_sample_rate_one_carry_spans_and_view_context(sentry, alice):
    server = sentry(SENTRY_TRACES_SAMPLE_RATE=1.0)
    user, token = alice
    course = factories.course(slug="sentry-course", title="Sentry course")
    assert request("get", "/api/v1/courses/sentry-course/").status_code == 200
    tx, _ = server.wait_for("transaction", lambda t: t["transaction"] == "/api/v1/courses/{slug}/")
    ops = {span["op"] for span in tx["spans"]}
    assert "db" in ops, ops  # database queries
    assert "db.redis" in ops, ops  # the cache is Redis: its commands are spans
    assert tx["tags"]["feature"] == "course_detail"
    assert tx["contexts"]["course"] == {"slug": "sentry-course"}
    assert tx["contexts"]["trace"]["op"] == "http.server"

    resp = request("post", "/api/v1/courses/sentry-course/enroll/", HTTP_AUTHORIZATION=f"Token {token}")
    assert resp.status_code == 201
    tx, _ = server.wait_for("transaction", lambda t: t["transaction"] == "/api/v1/courses/{slug}/enroll/")
    assert tx["tags"]["feature"] == "course_enrollment"
    assert tx["user"] == {"id": str(user.pk), "username": "alice"}

    # Outgoing HTTP calls are spans.
    with sentry_sdk.start_transaction(name="outgoing", op="task"):
        urllib.request.urlopen(f"{server.url}/ping", timeout=5).read()
    tx, _ = server.wait_for("transaction", lambda t: t["transaction"] == "outgoing")
    assert any(span["op"] == "http.client" and "/ping" in span["description"] for span in tx["spans"])
    assert course.pk


def test_middleware_is_loaded_unwrapped_since_middleware_spans_are_off(sentry):
    """The SDK's per-middleware wrapper records nothing without middleware spans (CPU only,
    docs/benchmarks.md 4b); transactions, spans and errors come from elsewhere (tests above)."""
    from django.core.handlers import base
    from sentry_sdk.integrations.django import middleware as sentry_middleware

    from observability import sentry as studio_sentry

    sentry()
    assert sentry_middleware._wrap_middleware is studio_sentry._unwrapped
    token = sentry_middleware._import_string_should_wrap_middleware.set(True)  # as in load_middleware
    try:
        loaded = base.import_string("observability.perf.PerformanceMiddleware")
    finally:
        sentry_middleware._import_string_should_wrap_middleware.reset(token)
    from observability.perf import PerformanceMiddleware

    assert loaded is PerformanceMiddleware


def test_sample_rate_zero_sends_no_transactions(sentry):
    server = sentry(SENTRY_TRACES_SAMPLE_RATE=0.0)
    factories.course(slug="quiet-course")
    for _ in range(5):
        assert request("get", "/api/v1/courses/quiet-course/").status_code == 200
    assert request("get", "/_drill/message/").status_code == 200  # a marker that surely arrives
    server.wait_for_event(lambda e: e.get("message") == "fire drill: capture_message")
    sentry_sdk.flush(timeout=5)
    assert server.payloads("transaction") == []


def test_probes_and_metrics_make_no_transaction_at_any_rate(sentry):
    """SENTRY_UNTRACED_PATHS: polled every few seconds, nothing to learn (docs/benchmarks.md 4b)."""
    server = sentry(SENTRY_TRACES_SAMPLE_RATE=1.0)
    factories.course(slug="traced-course")
    for path in ("/healthz", "/readyz", "/metrics"):
        request("get", path)
        request("get", path, HTTP_SENTRY_TRACE="771a43a4192642f0b136d5159a501700-1234567890abcdef-1")
    assert request("get", "/api/v1/courses/traced-course/").status_code == 200  # traced, and after the probes
    server.wait_for("transaction", lambda t: t["transaction"] == "/api/v1/courses/{slug}/")
    sentry_sdk.flush(timeout=5)
    assert [t["transaction"] for t in server.payloads("transaction")] == ["/api/v1/courses/{slug}/"]


@pytest.mark.parametrize(("rate", "flag", "sent"), [(0.0, "1", True), (1.0, "0", False)])
def test_an_incoming_trace_keeps_its_sampling_decision(sentry, rate, flag, sent):
    server = sentry(SENTRY_TRACES_SAMPLE_RATE=rate)
    factories.course(slug="continued-course")
    trace_id = "771a43a4192642f0b136d5159a501701"
    assert request("get", "/api/v1/courses/continued-course/",
                   HTTP_SENTRY_TRACE=f"{trace_id}-1234567890abcdef-{flag}").status_code == 200
    assert request("get", "/_drill/message/").status_code == 200  # a marker that surely arrives
    server.wait_for_event(lambda e: e.get("message") == "fire drill: capture_message")
    sentry_sdk.flush(timeout=5)
    traces = [t["contexts"]["trace"]["trace_id"] for t in server.payloads("transaction")]
    assert (trace_id in traces) is sent


@pytest.mark.parametrize("release", [RELEASE, None])
def test_sessions_are_tracked_only_for_a_named_release(sentry, release):
    """Release health needs a release; without one every build is "dev" (docs/benchmarks.md 4b)."""
    server = sentry(SENTRY_RELEASE=release)
    factories.course(slug="session-course")
    assert request("get", "/api/v1/courses/session-course/").status_code == 200
    assert request("get", "/_drill/message/").status_code == 200  # a marker that surely arrives
    server.wait_for_event(lambda e: e.get("message") == "fire drill: capture_message")
    shutdown_sentry(timeout=5)  # flushes the session aggregates
    sessions = server.payloads("sessions")
    assert bool(sessions) is (release is not None), sessions
    if release is not None:
        assert sessions[0]["attrs"]["release"] == RELEASE


def test_sentry_is_off_without_a_dsn(settings, sentry_server):
    settings.SENTRY_DSN = None
    assert init_sentry(force=True) is False
    assert not sentry_sdk.get_client().is_active()
    assert request("get", "/_drill/error/").status_code == 500
    assert request("get", "/_drill/message/").json()["event_id"] is None
    assert sentry_server.requests == 0


def test_a_malformed_dsn_leaves_sentry_off_instead_of_breaking_the_site(settings):
    settings.SENTRY_DSN = "not-a-dsn"
    assert init_sentry(force=True) is False
    assert request("get", "/healthz").status_code == 200
