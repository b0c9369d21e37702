"""Issue 3, point 4 (Celery): task metrics from a real prefork worker on a real Redis broker.

The web app (real gunicorn, tasks not eager) publishes; the worker runs them against the test
database and a real SMTP server that refuses the first delivery (a retry); its prefork children
write multiprocess files and the worker's main process serves /metrics on its own port.
"""
from __future__ import annotations

import time

import pytest
from celery import Celery
from prometheus_client import REGISTRY

from tests import factories as f
from tests.test_metrics_support import delta, http, promtool_check, scrape

pytestmark = pytest.mark.slow

SEND = "courses.tasks.send_enrollment_confirmation"
STATS = "courses.tasks.recompute_course_stats"
DRILL = "observability.drill_fail"


def wait_for(url: str, done, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        s = scrape(url)
        if done(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.2)


def test_task_metrics_from_a_prefork_worker_and_the_queue_length(
        redis_server, smtp_server, gunicorn_factory, celery_worker_factory):
    student = f.user(email="grace@example.com")
    token = f.token_for(student)
    course = f.course()
    smtp = smtp_server(fail_first=1)
    worker = celery_worker_factory(
        concurrency=2, CELERY_BROKER_URL=redis_server.url, CELERY_METRICS_QUEUES="celery,backlog",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp.port)
    w0 = scrape(worker.metrics_url)
    for task in (SEND, STATS, DRILL):  # created at zero in the worker before any task ran
        for name in ("started", "succeeded", "failed", "retried"):
            assert w0.has(f"studio_celery_tasks_{name}_total", task=task), (name, task)
        assert w0.has("studio_celery_task_runtime_seconds_count", task=task)
    assert w0.value("studio_celery_queue_length", queue="celery") == 0  # no key at all: 0
    assert w0.value("studio_celery_queue_length", queue="backlog") == 0
    assert w0.sum("studio_build_info") == 1

    app = gunicorn_factory(workers=2, CELERY_TASK_ALWAYS_EAGER=0, CELERY_BROKER_URL=redis_server.url)
    g0 = scrape(f"{app.base_url}/metrics")
    status, _, body = http(f"{app.base_url}/api/v1/courses/{course.slug}/enroll/", "POST",
                           headers={"Authorization": f"Token {token}"})
    assert status == 201, body
    g1 = scrape(f"{app.base_url}/metrics")
    assert delta(g0, g1, "studio_celery_tasks_sent_total", task=SEND) == 1  # counted by the publisher
    assert delta(g0, g1, "studio_celery_tasks_sent_total", task=STATS) == 1
    assert delta(g0, g1, "studio_celery_tasks_started_total") == 0  # not run here

    sent_before = REGISTRY.get_sample_value("studio_celery_tasks_sent_total", {"task": DRILL}) or 0
    # Not the current app: shared tasks in this process must keep using the project's (eager) app.
    producer = Celery(broker=redis_server.url, set_as_current=False)
    for _ in range(2):
        producer.send_task(DRILL, args=["metrics drill"])
    for _ in range(3):  # a queue nobody consumes
        producer.send_task(DRILL, args=["waiting"], queue="backlog")
    assert REGISTRY.get_sample_value("studio_celery_tasks_sent_total", {"task": DRILL}) - sent_before == 5

    w1 = wait_for(worker.metrics_url, lambda s: s.value("studio_celery_tasks_succeeded_total", task=SEND) >= 1
                  and s.value("studio_celery_tasks_failed_total", task=DRILL) >= 2
                  and s.value("studio_celery_tasks_succeeded_total", task=STATS) >= 1)
    assert len(smtp.messages) == 1, worker.logs()[-3000:]
    assert delta(w0, w1, "studio_celery_tasks_started_total", task=SEND) == 2  # refused once, then delivered
    assert delta(w0, w1, "studio_celery_tasks_retried_total", task=SEND) == 1
    assert delta(w0, w1, "studio_celery_tasks_succeeded_total", task=SEND) == 1
    assert delta(w0, w1, "studio_celery_tasks_failed_total", task=SEND) == 0
    assert delta(w0, w1, "studio_celery_tasks_sent_total", task=SEND) == 1  # the retry, published by a child
    assert delta(w0, w1, "studio_celery_tasks_succeeded_total", task=STATS) == 1
    assert delta(w0, w1, "studio_celery_tasks_started_total", task=DRILL) == 2
    assert delta(w0, w1, "studio_celery_tasks_failed_total", task=DRILL) == 2
    assert delta(w0, w1, "studio_celery_task_runtime_seconds_count") == 5
    assert 0 < delta(w0, w1, "studio_celery_task_runtime_seconds_sum") < 30
    # Failures are errors (once each: Celery's own ERROR log of them is not counted again); a retry is not.
    assert delta(w0, w1, "studio_errors_total", source="task", exception="DrillTaskError") == 2
    assert delta(w0, w1, "studio_errors_total", source="task") == 2
    assert delta(w0, w1, "studio_errors_total", source="log") == 0
    # Queue length: LLEN of the broker's list at scrape time.
    assert w1.value("studio_celery_queue_length", queue="backlog") == 3
    assert w1.value("studio_celery_queue_length", queue="celery") == 0
    producer.send_task(DRILL, args=["waiting"], queue="backlog")
    assert scrape(worker.metrics_url).value("studio_celery_queue_length", queue="backlog") == 4

    # Every studio_ metric docs/metrics.md lists for the worker job is in its scrape, with that type.
    from tests.test_metrics_docs import documented

    for name, spec in documented().items():
        if name.startswith("studio_") and "worker" in spec["jobs"]:
            family = name[:-len("_total")] if spec["type"] == "counter" else name
            assert w1.types.get(family) == spec["type"], name

    rc, out = promtool_check(w1.text)
    assert rc == 0 and out.strip() == "", out


def test_the_web_app_reads_the_queue_length_so_a_backlog_is_seen_with_no_worker(redis_server, gunicorn_factory):
    """The game day's worker-stop fault: with the worker down its /metrics is gone, and a queue length read only
    there left CeleryQueueBacklog blind exactly when tasks pile up.  The web app's scrape reads it too."""
    app = gunicorn_factory(workers=2, CELERY_TASK_ALWAYS_EAGER=0, CELERY_BROKER_URL=redis_server.url,
                           CELERY_METRICS_QUEUES="celery,backlog")
    before = scrape(f"{app.base_url}/metrics")
    assert before.value("studio_celery_queue_length", queue="backlog") == 0
    producer = Celery(broker=redis_server.url, set_as_current=False)
    for _ in range(3):  # no worker consumes anything in this test
        producer.send_task(DRILL, args=["waiting"], queue="backlog")
    after = scrape(f"{app.base_url}/metrics")
    assert after.value("studio_celery_queue_length", queue="backlog") == 3
    assert after.value("studio_celery_queue_length", queue="celery") == 0
    rc, out = promtool_check(after.text)
    assert rc == 0 and out.strip() == "", out
