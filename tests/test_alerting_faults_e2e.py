"""The guide's ErrorSpike on bad days, end to end with the real binaries and `make up`'s intervals (scrapes
and evaluations every 5 s, Alertmanager's group_wait 5 s) and the committed rules, `for:` unchanged:

- an error burst pages and resolves; then the app's scrapes fail for four intervals (SIGSTOP: a GC pause, a
  starved box, a network blip) and resume: nothing pages for the old errors;
- the app restarts in the middle of an error burst: the page still arrives, once, and ErrorSpike stays firing;
- a fresh process makes 12 errors before Prometheus' first scrape of it (a bad deploy failing from its first
  request): ErrorSpike pages.

Alertmanager's group_interval is 1 s here (make up: 5 m) so that a second page would show at once.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.error
import urllib.request

import pytest

from tests.fixtures.servers import free_port

pytestmark = pytest.mark.slow

INTERVAL = "5s"  # make up's STACK_SCRAPE_INTERVAL, for scrapes and rule evaluations
INTERVAL_SECONDS = 5
WINDOW_SECONDS = 300  # the guide's five minutes
FIRING = re.compile(r"\[FIRING:\d+\] ErrorSpike")


def errors(base_url: str, n: int) -> None:
    """n unhandled exceptions in a view: each one error Sentry would capture (studio_errors_total)."""
    for _ in range(n):
        try:
            urllib.request.urlopen(f"{base_url}/_drill/error/", timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 500
        else:
            raise AssertionError("the error drill answered without an error")


def firing_pages(monitoring) -> list[dict]:
    return [p for p in monitoring.sinks.pages if p["receiver"] != "deadmansswitch" and FIRING.search(json.dumps(p))]


def error_spike_state(prometheus) -> str | None:
    """firing, pending or None: ErrorSpike as Prometheus has it now."""
    states = {r["metric"]["alertstate"] for r in prometheus.query('ALERTS{alertname="ErrorSpike"}')}
    return "firing" if "firing" in states else ("pending" if states else None)


def count(prometheus) -> float:
    result = prometheus.query("studio:studio_errors:increase5m")
    return float(result[0]["value"][1]) if result else float("nan")


def wait_until(check, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


@pytest.fixture
def stack(gunicorn_factory, monitoring_factory):
    app = gunicorn_factory(workers=2, ENABLE_DRILL_ENDPOINTS="1")
    monitoring = monitoring_factory([app.base_url.removeprefix("http://")], interval=INTERVAL, group_wait=INTERVAL)
    monitoring.prometheus.wait_until('count_over_time(up{job="studio-app"}[1m]) >= 2', timeout=30)
    return app, monitoring


@pytest.mark.timeout(1200)  # a burst that resolves (5 min), a stall, then five minutes of watching
def test_a_scrape_gap_after_a_resolved_burst_pages_for_nothing(stack):
    app, monitoring = stack
    prometheus = monitoring.prometheus
    errors(app.base_url, 12)
    wait_until(lambda: firing_pages(monitoring), 60, "ErrorSpike paging for 12 errors")
    fired = len(firing_pages(monitoring))
    wait_until(lambda: error_spike_state(prometheus) is None, WINDOW_SECONDS + 60, "ErrorSpike resolving", every=2)
    print(f"\nburst paged ({fired} pages) and resolved; count now {count(prometheus)}")

    os.killpg(app.proc.pid, signal.SIGSTOP)  # the whole server: master and workers
    try:
        time.sleep(4 * INTERVAL_SECONDS)
        stalled = prometheus.query('up{job="studio-app"} == 0')
    finally:
        os.killpg(app.proc.pid, signal.SIGCONT)
    assert stalled, "the stall made scrapes fail"
    resumed = time.monotonic()
    wait_until(lambda: prometheus.query('up{job="studio-app"} == 1'), 60, "scrapes resuming")

    # The old rules counted the errors again once `offset 5m` fell into the gap (about 290 s after it).
    worst = 0.0
    while time.monotonic() - resumed < WINDOW_SECONDS + 4 * INTERVAL_SECONDS:
        assert error_spike_state(prometheus) is None, f"ErrorSpike for old errors, {time.monotonic() - resumed:.0f}s on"
        worst = max(worst, count(prometheus))
        time.sleep(2)
    assert len(firing_pages(monitoring)) == fired, "a page arrived for errors ten minutes old"
    assert worst == 0, f"errors counted after the gap: {worst}"
    print(f"no page and a count of 0 for {time.monotonic() - resumed:.0f}s after the gap")


def test_a_restart_in_the_middle_of_a_burst_still_pages_once(stack):
    app, monitoring = stack
    prometheus = monitoring.prometheus
    errors(app.base_url, 6)
    wait_until(lambda: count(prometheus) >= 6, 30, "the first six errors scraped")
    app.stop()  # SIGTERM, and a fresh multiprocess directory: the counters start again at zero
    app.start()
    errors(app.base_url, 6)
    started = time.monotonic()
    wait_until(lambda: firing_pages(monitoring), 60, "ErrorSpike paging for 6 + 6 errors across a restart")
    print(f"\npaged {time.monotonic() - started:.1f}s after the second half of the burst; count {count(prometheus)}")
    while time.monotonic() - started < 90:
        assert error_spike_state(prometheus) == "firing", "ErrorSpike dropped out after the restart"
        time.sleep(2)
    assert count(prometheus) == 12
    by_receiver = {}
    for page in firing_pages(monitoring):
        by_receiver[page["receiver"]] = by_receiver.get(page["receiver"], 0) + 1
    assert by_receiver == {"email": 1, "slack": 1}, by_receiver


def test_errors_before_the_first_scrape_of_a_fresh_process_page(gunicorn_factory, monitoring_factory):
    # Prometheus is already looking for the app where it is not yet running...
    monitoring = monitoring_factory([f"127.0.0.1:{free_port()}"], interval=INTERVAL, group_wait=INTERVAL)
    prometheus = monitoring.prometheus
    app = gunicorn_factory(workers=2, ENABLE_DRILL_ENDPOINTS="1")
    errors(app.base_url, 12)  # ...the new process fails from its first requests...
    targets = prometheus.workdir / "targets" / "app.json"
    targets.write_text(json.dumps([{"targets": [app.base_url.removeprefix("http://")]}]))  # ...then it is found
    started = time.monotonic()
    wait_until(lambda: firing_pages(monitoring), 60, "ErrorSpike paging for errors made before the first scrape")
    print(f"\npaged {time.monotonic() - started:.1f}s after Prometheus was told of the new process")
    assert count(prometheus) == 12
