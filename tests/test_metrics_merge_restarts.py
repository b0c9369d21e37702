"""Issue 18: the merge of dead workers' files keeps the scraped totals exact through 200 worker restarts.

A real gunicorn (4 workers) serves client threads on three views while workers are killed a few at a time
and respawned (all four at once), 200 kills in all: first SIGTERM (graceful, as max_requests recycling and deploys stop them:
a worker answers what it accepted, so the scraped totals must EQUAL the responses received), then SIGKILL
(a request in flight may be counted and its answer lost: the totals lie between the responses received and
the requests sent).  Each exit runs the master's child_exit, which merges the dead worker's files into the
aggregate (observability.multiproc), so at the end the directory holds the aggregates and the live workers'
files only.  Scrapes run during the restarts too: none may fail.
"""
from __future__ import annotations

import http.client
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from tests import factories as f
from tests.fixtures.servers import child_pids, wait_for_children
from tests.test_metrics_support import delta, scrape

pytestmark = pytest.mark.slow

WORKERS = 4
AT_ONCE = 4  # killed together each round: the listening socket queues connections meanwhile
GRACEFUL_KILLS = 160
HARD_KILLS = 40
CLIENTS = 4
RESPONSES = "django_http_responses_total_by_status_view_method_total"
LATENCY_COUNT = "django_http_requests_latency_seconds_by_view_method_count"


class Traffic:
    """Client threads, one connection per request, counting per view what was sent and what got an answer."""

    def __init__(self, port: int, paths: dict[str, str]):
        self.port, self.paths = port, paths
        self.sent = dict.fromkeys(paths, 0)
        self.answered = dict.fromkeys(paths, 0)
        self.errors: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(CLIENTS)]

    def _run(self, i: int) -> None:
        views = list(self.paths)
        k = i
        while not self._stop.is_set():
            view = views[k % len(views)]
            k += 1
            with self._lock:
                self.sent[view] += 1
            # A client that gave up would not stop the server from answering (and counting) the request later:
            # wait as long as a respawn can take on a loaded machine.
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                conn.request("GET", self.paths[view], headers={"Connection": "close"})
                conn.getresponse().read()
            except (OSError, http.client.HTTPException) as exc:  # refused, reset or cut by a killed worker
                with self._lock:
                    self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
                continue
            finally:
                conn.close()
            with self._lock:
                self.answered[view] += 1

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join()


def booted(server, pid: int) -> bool:
    """A worker has loaded the app once its counter file exists: the zeroed label sets are written at start."""
    path = Path(server.multiproc_dir) / f"counter_{pid}.db"
    return path.exists() and path.stat().st_size > 0


def restart(server, kills: int, sig: int, scrapes: list[int]) -> None:
    """Kill `kills` booted workers, AT_ONCE at a time, each round waiting for a full set of booted workers."""
    master = server.proc.pid
    done = 0
    while done < kills:
        workers = wait_for_children(master, WORKERS, timeout=60, logs=server.logs)
        deadline = time.monotonic() + 60
        while not all(booted(server, pid) for pid in workers):
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.05)
            workers = child_pids(master)
        victims = sorted(workers)[:min(AT_ONCE, kills - done)]
        for pid in victims:
            os.kill(pid, sig)
        done += len(victims)
        wait_for_children(master, WORKERS, exclude=set(victims), timeout=60, logs=server.logs)
        if done % 30 < AT_ONCE:  # now and then a scrape while workers come and go: it must answer
            scrapes.append(scrape_status(server))


def scrape_status(server) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def per_process_pids(server) -> set[int]:
    return {int(m.group(1)) for p in Path(server.multiproc_dir).glob("*.db")
            if (m := re.match(r"^(?:counter|histogram|summary)_(\d+)\.db$", p.name))}


@pytest.mark.timeout(1200)  # ~2-4 min here; 200 Django boots under load must not meet the suite's 600 s
def test_totals_stay_exact_through_200_worker_restarts(gunicorn_factory):
    course = f.course()
    server = gunicorn_factory(workers=WORKERS, GUNICORN_MAX_REQUESTS="0")
    paths = {"healthz": "/healthz", "courses:course-list": "/api/v1/courses/",
             "courses:course-detail": f"/api/v1/courses/{course.slug}/"}
    scrapes: list[int] = []
    started = time.monotonic()

    before = scrape(f"{server.base_url}/metrics")
    with Traffic(server.port, paths) as graceful:
        restart(server, GRACEFUL_KILLS, signal.SIGTERM, scrapes)
    middle = scrape(f"{server.base_url}/metrics")
    graceful_s = time.monotonic() - started
    for view in paths:
        assert graceful.answered[view] > 0
        assert delta(before, middle, RESPONSES, view=view) == graceful.answered[view], (view, graceful.sent, graceful.errors)
        assert delta(before, middle, LATENCY_COUNT, view=view) == graceful.answered[view], view

    with Traffic(server.port, paths) as hard:
        restart(server, HARD_KILLS, signal.SIGKILL, scrapes)
    after = scrape(f"{server.base_url}/metrics")
    for view in paths:
        for name in (RESPONSES, LATENCY_COUNT):
            counted = delta(middle, after, name, view=view)
            assert hard.answered[view] <= counted <= hard.sent[view], (view, name, counted, hard.answered, hard.sent)

    assert scrapes and set(scrapes) == {200}
    # Every dead worker's files were merged: what remains is the aggregates and the live workers' files.
    live = child_pids(server.proc.pid)
    assert per_process_pids(server) <= live, (per_process_pids(server) - live, server.logs()[-3000:])
    assert (Path(server.multiproc_dir) / "counter_merged.db").exists()
    print(f"\n{GRACEFUL_KILLS} SIGTERM in {graceful_s:.0f} s, {HARD_KILLS} SIGKILL in "
          f"{time.monotonic() - started - graceful_s:.0f} s; answered {sum(graceful.answered.values())} + "
          f"{sum(hard.answered.values())}, sent {sum(graceful.sent.values())} + {sum(hard.sent.values())}")
