"""Issue 14, point 2: what a client causes at will is a security event, not an error.

Every record of Django's django.security.* loggers (a forged Host header, an oversized body, too many
fields, a CSRF failure) counts in studio_security_events_total{event} and no longer in
studio_errors_total, so ten requests with a forged Host header cannot fire ErrorSpike; Sentry drops
their events.  Responses are Django's own: the instrumentation counts and delegates.
"""
from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from observability import labels
from observability.sentry import before_send
from tests import factories as f
from tests.test_metrics_support import delta, http, scrape
from tests.test_settings import STRONG_KEY

SECURITY = "studio_security_events_total"
ERRORS = "studio_errors_total"


def sample(name: str, **labels_) -> float:
    return REGISTRY.get_sample_value(name, labels_) or 0.0


def errors_total() -> float:
    """studio_errors_total, every series summed, in this process."""
    return sum(s.value for family in REGISTRY.collect() if family.name == ERRORS[:-len("_total")]
               for s in family.samples if s.name == ERRORS)


def test_the_event_label_is_the_loggers_last_component_from_a_fixed_list():
    for event in labels.SECURITY_EVENTS:
        assert labels.security_event_label(f"django.security.{event}") == event
    for name in ("django.security.SomeSubclassOfOurs", "django.security", "django.security.csrf.extra"):
        assert labels.security_event_label(name) == "other", name
    assert labels.is_security_logger("django.security.DisallowedHost")
    assert labels.is_security_logger("django.security")
    assert not labels.is_security_logger("django.securityish") and not labels.is_security_logger("django.request")


def test_every_known_event_exists_at_zero_from_process_start():
    for event in (*labels.SECURITY_EVENTS, "other"):
        assert REGISTRY.get_sample_value(SECURITY, {"event": event}) is not None, event


@pytest.mark.django_db
def test_security_records_count_as_events_whatever_their_level_and_never_as_errors(client, settings):
    before = {e: sample(SECURITY, event=e) for e in ("DisallowedHost", "RequestDataTooBig", "csrf", "other")}
    errors_before = errors_total()

    assert client.get("/healthz", HTTP_HOST="evil.example").status_code == 400  # ERROR on DisallowedHost
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"username": "x" * 500, "password": "y"})
    assert client.post("/api/v1/auth/token/", body, content_type="application/json").status_code == 413
    csrf_client = Client(enforce_csrf_checks=True)  # a session client without the CSRF token: WARNING on csrf
    csrf_client.force_login(f.user())
    assert csrf_client.post(f"/api/v1/courses/{f.course().slug}/enroll/").status_code == 403
    logging.getLogger("django.security.SomethingOfALibrary").warning("not one of Django's names")

    assert sample(SECURITY, event="DisallowedHost") - before["DisallowedHost"] == 1
    assert sample(SECURITY, event="RequestDataTooBig") - before["RequestDataTooBig"] == 1
    assert sample(SECURITY, event="csrf") - before["csrf"] == 1
    assert sample(SECURITY, event="other") - before["other"] == 1
    assert errors_total() == errors_before
    logging.getLogger("apps.api").error("a real error")  # the log hook still counts everything else
    assert errors_total() == errors_before + 1


def test_sentry_drops_the_events_of_security_loggers_and_scrubs_the_rest():
    assert before_send({"logger": "django.security.DisallowedHost", "level": "error"}) is None
    assert before_send({"logger": "django.security.csrf", "level": "warning"}) is None
    kept = before_send({"logger": "apps.api", "level": "error", "extra": {"password": "hunter2"}})
    assert kept["extra"]["password"] == "[Filtered]"
    assert before_send({"level": "error"}) is not None  # an exception captured by the Django integration


@pytest.mark.slow
def test_forged_host_headers_under_production_settings_are_security_events_not_errors(
        gunicorn_factory, redis_server, tmp_path):
    token = "metrics-token-for-the-security-test"
    log_file = tmp_path / "studio.log"
    server = gunicorn_factory(
        workers=2, DJANGO_SETTINGS_MODULE="config.settings.production", ENVIRONMENT="production",
        SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="127.0.0.1,localhost", METRICS_TOKEN=token, LOG_FILE=str(log_file),
        REDIS_URL=redis_server.url, CACHE_URL=redis_server.url, CELERY_BROKER_URL=redis_server.url)
    url = f"{server.base_url}/metrics"
    before = scrape(url, token)
    for event in (*labels.SECURITY_EVENTS, "other"):  # created at zero, so the first burst is seen by rate()
        assert before.has(SECURITY, event=event), event
    paths = ["/healthz", "/api/v1/courses/", "/no/such/page", "/metrics"]
    for i in range(12):
        status, _, body = http(f"{server.base_url}{paths[i % len(paths)]}", headers={"Host": f"evil-{i}.example"})
        assert status == 400, body  # Django's answer, unchanged
    after = scrape(url, token)

    assert delta(before, after, ERRORS) == 0
    assert delta(before, after, SECURITY, event="DisallowedHost") == 12
    assert delta(before, after, SECURITY) == 12
    assert delta(before, after, "studio_errors_by_country_total") == 0
    # Still logged (the instrumentation counts and delegates): one JSON line per request.
    records = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    assert sum(r["logger"] == "django.security.DisallowedHost" for r in records) == 12
