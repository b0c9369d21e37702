"""Sentry down must not hurt users: a DSN at a closed port, or at a server that accepts connections
and never answers, fails no request and adds only a bounded delay (figures printed)."""
from __future__ import annotations

import statistics
import time

import pytest
import sentry_sdk

from observability.sentry import init_sentry, shutdown_sentry
from tests.fixtures.sentry_server import closed_port_dsn
from tests.test_sentry import request

pytestmark = pytest.mark.django_db

N = 15
PATHS = {"/healthz": 200, "/_drill/message/": 200, "/_drill/error/": 500, "/_drill/status/503/": 503}
MAX_REQUEST_SECONDS = 1.0  # far below the transport timeout (5 s) and the SDK's default (30 s)


def timed_requests() -> dict[str, list[float]]:
    out = {}
    for path, status in PATHS.items():
        times = []
        for _ in range(N):
            start = time.perf_counter()
            resp = request("get", path)
            times.append(time.perf_counter() - start)
            assert resp.status_code == status, (path, resp.status_code)
        out[path] = times
    return out


def summary(times: dict[str, list[float]]) -> str:
    return ", ".join(f"{p} median {statistics.median(t) * 1000:.1f} ms max {max(t) * 1000:.1f} ms"
                     for p, t in times.items())


@pytest.mark.parametrize("outage", ["closed-port", "never-answers"])
def test_sentry_outage_fails_no_request_and_bounds_the_delay(outage, settings, sentry_server, blackhole, capsys):
    settings.ENVIRONMENT = "production"
    settings.SENTRY_TRACES_SAMPLE_RATE = 1.0  # transactions too: the most traffic towards Sentry
    settings.SENTRY_PROFILES_SAMPLE_RATE = 0.0
    settings.SENTRY_DSN = None
    init_sentry(force=True)
    off = timed_requests()
    settings.SENTRY_DSN = sentry_server.dsn
    assert init_sentry(force=True)
    baseline = timed_requests()  # Sentry up: what the SDK itself costs, outage or not

    settings.SENTRY_DSN = closed_port_dsn() if outage == "closed-port" else blackhole.dsn
    assert init_sentry(force=True)
    try:
        during = timed_requests()
        start = time.perf_counter()
        sentry_sdk.get_client().close(timeout=settings.SENTRY_SHUTDOWN_TIMEOUT)  # what exit does
        shutdown = time.perf_counter() - start
    finally:
        shutdown_sentry(timeout=0)

    added = statistics.median(sum(during.values(), [])) - statistics.median(sum(baseline.values(), []))
    with capsys.disabled():
        print(f"\n[sentry outage: {outage}] Sentry off: {summary(off)}"
              f"\n[sentry outage: {outage}] Sentry up: {summary(baseline)}"
              f"\n[sentry outage: {outage}] Sentry unreachable: {summary(during)}"
              f"\n[sentry outage: {outage}] the outage added {added * 1000:.1f} ms median per request; "
              f"flush at shutdown took {shutdown:.2f} s "
              f"(bound SENTRY_SHUTDOWN_TIMEOUT={settings.SENTRY_SHUTDOWN_TIMEOUT:g} s)")
    worst = max(max(t) for t in during.values())
    assert worst < MAX_REQUEST_SECONDS, f"a request took {worst:.2f} s with Sentry down"
    assert added < 0.05
    assert shutdown <= settings.SENTRY_SHUTDOWN_TIMEOUT + 0.5
