"""Issue 14, point 1: process_start_time_seconds where the counters live, one series per target.

Rules tell "this target restarted, its counters began again at zero" from "Prometheus sees an old process
for the first time" by this gauge, so its value is the start of the counters' incarnation: the gunicorn
master's (every worker answers the same; a respawned worker changes nothing; a new master does), the
Celery worker's main process.  In single-process mode prometheus_client's own process collector exports
it, and nothing is added.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
from celery import Celery
from prometheus_client import REGISTRY, CollectorRegistry, ProcessCollector, generate_latest

from monitoring_spec.contract import PROCESS_START
from observability import celery_metrics, process_start, views
from tests.test_metrics_multiprocess import wait_for_workers
from tests.test_metrics_support import Scrape, http, scrape

RESPONSES = "django_http_responses_total_by_status_view_method_total"


def start_samples(s: Scrape) -> list[tuple[frozenset, float]]:
    return [(labels, value) for (name, labels), value in s.samples.items() if name == PROCESS_START]


def only_start(s: Scrape) -> float:
    samples = start_samples(s)
    assert len(samples) == 1 and samples[0][0] == frozenset(), samples  # once, no labels
    return samples[0][1]


# --- In-process: which registry carries it, and what it says ----------------------------------


def test_the_collector_reports_the_recorded_start_else_this_processs(monkeypatch):
    registry = CollectorRegistry()
    registry.register(process_start.ProcessStartCollector())
    monkeypatch.setenv(process_start.START_TIME_ENV, "1700000000.25")
    assert registry.get_sample_value(PROCESS_START) == 1700000000.25
    monkeypatch.delenv(process_start.START_TIME_ENV)
    standard = CollectorRegistry()
    ProcessCollector(registry=standard)  # prometheus_client's own: the same value for this process
    assert registry.get_sample_value(PROCESS_START) == pytest.approx(standard.get_sample_value(PROCESS_START), abs=0.01)
    assert process_start.mark_counters_start(1234.5) == 1234.5
    assert registry.get_sample_value(PROCESS_START) == 1234.5


def test_only_the_multiprocess_registries_add_it(monkeypatch, tmp_path):
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    # Single-process: the default registry's process collector, once (ours would duplicate the name).
    assert views.registry() is REGISTRY
    assert len(start_samples(Scrape(generate_latest(REGISTRY).decode()))) == 1
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv(process_start.START_TIME_ENV, "1700000000.5")
    assert only_start(Scrape(generate_latest(views.registry()).decode())) == 1700000000.5
    app = Celery(broker="memory://", set_as_current=False)
    assert only_start(Scrape(generate_latest(celery_metrics.worker_registry(app, str(tmp_path))).decode())) \
        == 1700000000.5


def test_proc_start_time_of_a_process_is_what_the_standard_collector_says():
    standard = CollectorRegistry()
    ProcessCollector(registry=standard)
    assert process_start.process_start_time() == pytest.approx(standard.get_sample_value(PROCESS_START), abs=0.01)
    assert process_start.process_start_time(os.getppid()) <= process_start.process_start_time()
    assert process_start.process_start_time(2**30) is None  # no such process


# --- Real servers ------------------------------------------------------------------------------


@pytest.mark.slow
def test_gunicorn_reports_its_masters_start_through_respawned_workers_and_a_new_one_after_a_restart(
        gunicorn_factory):
    t0 = time.time()
    server = gunicorn_factory(workers=3)
    t1 = time.time()
    url = f"{server.base_url}/metrics"
    originals = wait_for_workers(server, 3)
    first = scrape(url)
    start = only_start(first)
    assert t0 - 0.5 <= start <= t1, (t0, start, t1)
    # Whichever worker answers, the same value.
    assert {only_start(scrape(url)) for _ in range(12)} == {start}

    # Every original worker SIGKILLed: from now on only workers gunicorn respawned answer.
    for pid in originals:
        os.kill(pid, signal.SIGKILL)
    respawned = wait_for_workers(server, 3, exclude=originals)
    assert not respawned & originals
    for _ in range(20):
        assert http(f"{server.base_url}/healthz")[0] == 200
    kept = [scrape(url) for _ in range(12)]
    assert {only_start(s) for s in kept} == {start}
    served = kept[-1].sum(RESPONSES, view="healthz")
    assert served >= 20  # the counts went on (the killed workers' files stay), so no restart to report

    # A full restart (a new master wipes the directory): the counters begin again, and the start moves.
    server.stop()
    t2 = time.time()
    server.start()
    t3 = time.time()
    restarted = scrape(url)
    new_start = only_start(restarted)
    assert t2 - 0.5 <= new_start <= t3 and new_start > start, (t2, new_start, t3)
    assert restarted.sum(RESPONSES, view="healthz") < served


@pytest.mark.slow
def test_celery_worker_reports_its_main_process_start(redis_server, celery_worker_factory):
    t0 = time.time()
    worker = celery_worker_factory(concurrency=2, CELERY_BROKER_URL=redis_server.url)
    t1 = time.time()
    first = scrape(worker.metrics_url)
    start = only_start(first)
    # /proc's boot time is whole seconds: the start may read up to a second early.
    assert t0 - 1.5 <= start <= t1, (t0, start, t1)
    assert start == pytest.approx(process_start.process_start_time(worker.proc.pid), abs=0.01)  # the main process
    assert only_start(scrape(worker.metrics_url)) == start
