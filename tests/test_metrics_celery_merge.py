"""Issue 18: a Celery worker whose pool children are replaced (max_tasks_per_child) keeps exact totals and a
flat multiprocess directory: each scrape of the worker's /metrics first merges the exited children's files
(observability.multiproc.MergingMultiProcessCollector)."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from celery import Celery

from tests.fixtures.servers import child_pids
from tests.test_metrics_support import delta, scrape

pytestmark = pytest.mark.slow

DRILL = "observability.drill_fail"
TASKS = 8


def per_process_pids(directory: str) -> set[int]:
    return {int(m.group(1)) for p in Path(directory).glob("*.db")
            if (m := re.match(r"^(?:counter|histogram|summary)_(\d+)\.db$", p.name))}


def test_replaced_pool_children_are_merged_and_counted_exactly(redis_server, celery_worker_factory):
    worker = celery_worker_factory(concurrency=2, CELERY_BROKER_URL=redis_server.url,
                                   CELERY_WORKER_MAX_TASKS_PER_CHILD=1)
    before = scrape(worker.metrics_url)
    producer = Celery(broker=redis_server.url, set_as_current=False)
    for _ in range(TASKS):  # each child runs one and is replaced
        producer.send_task(DRILL, args=["merge drill"])

    deadline = time.monotonic() + 60
    while True:
        after = scrape(worker.metrics_url)
        done = delta(before, after, "studio_celery_tasks_failed_total", task=DRILL) >= TASKS
        left = per_process_pids(worker.multiproc_dir) - child_pids(worker.proc.pid) - {worker.proc.pid}
        if (done and not left) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert delta(before, after, "studio_celery_tasks_started_total", task=DRILL) == TASKS, worker.logs()[-3000:]
    assert delta(before, after, "studio_celery_tasks_failed_total", task=DRILL) == TASKS
    assert delta(before, after, "studio_celery_task_runtime_seconds_count", task=DRILL) == TASKS
    assert delta(before, after, "studio_errors_total", source="task") == TASKS
    assert left == set(), left  # every exited child's files merged by a scrape
    assert (Path(worker.multiproc_dir) / "counter_merged.db").exists()
    assert scrape(worker.metrics_url).value("studio_celery_tasks_failed_total", task=DRILL) == \
        after.value("studio_celery_tasks_failed_total", task=DRILL)  # a scrape after the merge reads the same
