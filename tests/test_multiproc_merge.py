"""Dead processes' metrics files merged into one aggregate per type (observability.multiproc.merge_dead_files):
the totals a scrape reads are the same before, during and after, and odd files (empty, half-written) neither
stop the merge nor lose a count.  Files are written by real processes (forked, then reaped), as workers do."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict

from observability import multiproc

VIEWS = 4
OBSERVATIONS = 12  # per process and view

# Each child writes counter and histogram files as a worker does, then exits: its pid is dead once reaped.
WRITER = f"""
import os, sys
from prometheus_client import Counter, Histogram

for i in range(int(sys.argv[1]), int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:
        requests = Counter("demo_requests", "requests", ["view"])
        latency = Histogram("demo_latency_seconds", "latency", ["view"], buckets=(0.01, 0.1, 1.0))
        for v in range({VIEWS}):
            requests.labels(f"v{{v}}").inc(i + 1)
            for k in range({OBSERVATIONS}):
                latency.labels(f"v{{v}}").observe((k % 3) * 0.05)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def write_processes(path: Path, first: int, last: int) -> None:
    subprocess.run([sys.executable, "-c", WRITER, str(first), str(last)], check=True,
                   env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(path)})


def expected(first: int, last: int) -> dict[str, float]:
    n = last - first
    return {"requests": VIEWS * sum(i + 1 for i in range(first, last)), "count": VIEWS * OBSERVATIONS * n,
            "le_0.01": VIEWS * (OBSERVATIONS // 3) * n}


def totals(path: Path) -> dict[str, float]:
    collector = multiproc.MultiProcessCollector(CollectorRegistry(), path=str(path))
    out = {"requests": 0.0, "count": 0.0, "le_0.01": 0.0}
    for family in collector.collect():
        for s in family.samples:
            if s.name == "demo_requests_total":
                out["requests"] += s.value
            elif s.name == "demo_latency_seconds_count":
                out["count"] += s.value
            elif s.name == "demo_latency_seconds_bucket" and s.labels["le"] == "0.01":
                out["le_0.01"] += s.value
    return out


def per_process_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.glob("*.db") if "merged" not in p.name)


def test_merge_keeps_every_total_and_leaves_one_file_per_type(tmp_path):
    write_processes(tmp_path, 0, 6)
    before = totals(tmp_path)
    assert before == expected(0, 6)
    assert len(per_process_files(tmp_path)) == 12

    assert multiproc.merge_dead_files(str(tmp_path)) == 12
    assert per_process_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["counter_merged.db", "histogram_merged.db"]
    assert totals(tmp_path) == before

    write_processes(tmp_path, 6, 9)  # more restarts: added to the aggregate
    assert multiproc.merge_dead_files(str(tmp_path)) == 6
    assert totals(tmp_path) == expected(0, 9)


def test_a_live_process_files_are_never_merged(tmp_path):
    write_processes(tmp_path, 0, 2)
    live = MmapedDict(str(tmp_path / f"counter_{os.getpid()}.db"))  # this process: alive
    live.close()
    assert multiproc.merge_dead_files(str(tmp_path)) == 4
    assert per_process_files(tmp_path) == [f"counter_{os.getpid()}.db"]


def test_reads_during_merges_are_never_double_nor_missing(tmp_path):
    """A collector reads without pause in another thread while the files are merged batch by batch."""
    write_processes(tmp_path, 0, 40)
    want = expected(0, 40)
    pids = sorted({int(name.split("_")[1][:-3]) for name in per_process_files(tmp_path)})
    reads, wrong, stop = [0], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                got = totals(tmp_path)
            except Exception as exc:  # a file gone between listing and reading
                wrong.append(repr(exc))
                continue
            reads[0] += 1
            if got != want:
                wrong.append(got)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for batch in range(0, len(pids), 2):
            merged = set(pids[batch:batch + 2])
            assert multiproc.merge_dead_files(str(tmp_path), is_dead=merged.__contains__, timeout=10) == 4
    finally:
        stop.set()
        thread.join()
    assert per_process_files(tmp_path) == []
    assert wrong == []
    assert reads[0] >= 20, reads  # the reads overlapped the merges
    assert totals(tmp_path) == want


def test_empty_and_half_written_files_do_not_stop_the_merge(tmp_path):
    write_processes(tmp_path, 0, 3)
    want = totals(tmp_path)
    (tmp_path / "counter_5000001.db").touch()  # created, never sized: no sample (no such pid: > pid_max)
    zeroed = tmp_path / "histogram_5000002.db"
    zeroed.write_bytes(b"\0" * 65536)  # sized, header never written: no sample
    half = tmp_path / "counter_5000003.db"
    good = MmapedDict(str(half))
    good.write_value('["demo_requests", "demo_requests_total", {"view": "v0"}, "requests"]', 5.0, 0.0)
    good.close()
    half.write_bytes(half.read_bytes()[:20])  # cut inside its first entry: unreadable

    assert multiproc.merge_dead_files(str(tmp_path)) == 8  # 6 written, the empty and the zeroed ones
    assert per_process_files(tmp_path) == ["counter_5000003.db"]  # left for the collector, as before
    half.unlink()
    assert totals(tmp_path) == want


def test_an_unreadable_aggregate_leaves_its_type_alone(tmp_path):
    write_processes(tmp_path, 0, 2)
    (tmp_path / "counter_merged.db").write_bytes(b"\xff\xff\x00\x00" + b"\0" * 12)  # claims 65535 bytes used
    assert multiproc.merge_dead_files(str(tmp_path)) == 2  # the histograms only
    left = per_process_files(tmp_path)
    assert len(left) == 2 and all(name.startswith("counter_") for name in left), left


def test_a_failed_merge_never_raises(tmp_path):
    assert multiproc.merge_dead_files(str(tmp_path / "missing")) == 0


def test_the_merge_waits_for_a_reading_scrape_and_gives_up_in_time(tmp_path):
    write_processes(tmp_path, 0, 1)
    with multiproc._flock(str(tmp_path), multiproc.fcntl.LOCK_SH):  # a scrape reading
        assert multiproc.merge_dead_files(str(tmp_path), timeout=0.2) is None
    assert len(per_process_files(tmp_path)) == 2
    assert multiproc.merge_dead_files(str(tmp_path)) == 2


def test_a_process_forked_while_a_scrape_reads_does_not_keep_the_lock(tmp_path):
    """A Celery pool child forked while a scrape thread of the main process holds the lock would otherwise keep
    the lock's descriptor, and with it the lock, for its whole life: every later merge would give up."""
    write_processes(tmp_path, 0, 1)
    reading, forked = threading.Event(), threading.Event()

    def scrape():
        with multiproc._flock(str(tmp_path), multiproc.fcntl.LOCK_SH):
            reading.set()
            forked.wait(10)

    thread = threading.Thread(target=scrape)
    thread.start()
    reading.wait(10)
    child = os.fork()
    if child == 0:  # a long-lived child that never touches the lock
        try:
            time.sleep(30)
        finally:
            os._exit(0)
    try:
        forked.set()
        thread.join()
        assert multiproc.merge_dead_files(str(tmp_path), timeout=5) == 2
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_a_starting_celery_worker_removes_a_previous_run_aggregate(tmp_path):
    """The worker cleans its directory at start (remove_stale_files): a previous run's aggregate is stale too."""
    from observability import celery_metrics

    write_processes(tmp_path, 0, 2)
    assert multiproc.merge_dead_files(str(tmp_path)) == 4
    celery_metrics.remove_stale_files(str(tmp_path))
    assert list(tmp_path.glob("*.db")) == []


def test_a_histogram_sum_never_reads_lower_after_a_merge(tmp_path):
    """Latency sums are floats: added in another order they can round one unit lower, which rate() and the
    recording rules read as a counter reset.  A live process' file and two dead ones, merged one at a time:
    every scrape reads at least what the one before it read, and the exact sum correctly rounded."""
    import math
    import random
    from fractions import Fraction

    from prometheus_client.mmap_dict import mmap_key

    key = mmap_key("demo_latency_seconds", "demo_latency_seconds_sum", [], [], "latency")
    rng = random.Random(18)
    pids = [os.getpid(), 5000011, 5000012, 5000013]  # this process (alive), then no such pid (> pid_max)

    def scraped_sum(path: Path) -> float:
        collector = multiproc.MultiProcessCollector(CollectorRegistry(), path=str(path))
        return next(s.value for f in collector.collect() for s in f.samples if s.name == "demo_latency_seconds_sum")

    for case in range(40):
        path = tmp_path / f"case{case}"
        path.mkdir()
        values = [rng.choice([0.1, 0.2, 0.3, 0.7]) * rng.randint(1, 999) for _ in pids]
        for pid, value in zip(pids, values, strict=True):
            d = MmapedDict(str(path / f"histogram_{pid}.db"))
            d.write_value(key, value, 0.0)
            d.close()
        before = scraped_sum(path)
        assert before == float(sum(Fraction(v) for v in values)) == math.fsum(values)
        for dead in pids[1:]:
            assert multiproc.merge_dead_files(str(path), is_dead=lambda pid, dead=dead: pid == dead) == 1
            after = scraped_sum(path)
            assert after >= before, (values, before, after)
            assert after - before <= 4 * math.ulp(before)  # stored at most one unit above the exact sum
            before = after
