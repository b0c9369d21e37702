"""STUDIO_INSTRUMENTATION=off (settings base.py, the bare app of benchmarks/capacity.py and bench_settings' "bare"):
under a real gunicorn, the same requests that move django_http_* and reach Sentry on the instrumented app move
no metric and send no envelope on the bare one, and its /metrics is a 404."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from observability import multiproc
from tests.fixtures.sentry_server import SentryServer

pytestmark = pytest.mark.slow

PATHS = ["/api/v1/courses/", "/api/v1/courses/?level=beginner", "/api/v1/forum/topics/", "/_drill/log-error/", "/healthz"]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def django_http_total(multiproc_dir: str) -> float:
    """Every django_http_* sample summed, read from the workers' files into a private registry."""
    registry = CollectorRegistry()
    multiproc.MultiProcessCollector(registry, path=multiproc_dir)
    return sum(s.value for metric in registry.collect() for s in metric.samples
               if s.name.startswith("django_http_") and not s.name.endswith("_created"))


@pytest.fixture
def two_sentries():
    servers = [SentryServer().start(), SentryServer().start()]
    yield servers
    for server in servers:
        server.stop()


def test_instrumentation_off_moves_no_metric_sends_no_envelope_and_has_no_metrics_endpoint(
        gunicorn_factory, two_sentries):
    on_sentry, off_sentry = two_sentries
    common = {"SENTRY_TRACES_SAMPLE_RATE": "1.0", "SENTRY_PROFILES_SAMPLE_RATE": "0", "ENABLE_DRILL_ENDPOINTS": "1"}
    on = gunicorn_factory(workers=2, SENTRY_DSN=on_sentry.dsn, **common)
    off = gunicorn_factory(workers=2, SENTRY_DSN=off_sentry.dsn, STUDIO_INSTRUMENTATION="off", **common)
    before = {app: django_http_total(app.multiproc_dir) for app in (on, off)}
    for app in (on, off):
        for _ in range(5):
            assert [status_of(app.base_url + p) for p in PATHS] == [200] * len(PATHS)

    # The instrumented app, for contrast: the same traffic moved its metrics and reached Sentry.
    assert django_http_total(on.multiproc_dir) - before[on] >= 5 * len(PATHS)
    on_sentry.wait_for_event(lambda e: "fire drill" in str(e))
    assert status_of(on.base_url + "/metrics") == 200

    assert status_of(off.base_url + "/metrics") == 404
    assert django_http_total(off.multiproc_dir) == before[off] == 0
    off.stop()  # gunicorn's workers exit: anything the SDK held is flushed now
    assert off_sentry.requests == 0 and not off_sentry.envelopes
