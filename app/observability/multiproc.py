"""The multiprocess metrics directory: prometheus_client's collector made safe against two of its ways to fail,
and the merge that keeps a scrape's cost flat as processes come and go.

Empty files.  MmapedDict creates a process' .db file and sizes it only afterwards: a scrape in that moment
fails on the empty file (struct.error) and answers 500 for every process' metrics (seen: a fresh gunicorn's
/metrics in the suite), and a worker killed in that moment leaves the empty file for good, so every later
scrape fails (prometheus/client_python#1199, open).  An empty file holds no sample: leaving it out changes no
count.

Dead processes' files.  A process' counter, histogram and summary values live in `{type}_{pid}.db` and must
outlive it (its counts are part of the totals), so every worker gunicorn ever started (crash, timeout,
max_requests recycling) left one more set of files that every later scrape reads.  merge_dead_files() sums
the files of processes that no longer exist into one aggregate per type, `{type}_merged.db` (the collector
takes the type from the name's first part and adds it like any other process' file), and removes them.
Exact: the values are summed per key, as the collector sums them, and a scrape never sees a dead process'
samples twice (aggregate and file) nor not at all: readers hold a shared flock on LOCK_NAME while they list
and read the files, the merge holds it exclusively from its first read to its last removal.  Gauges are
left alone: the app and the worker have no multiprocess gauge, mark_process_dead removes the live* modes'
files, and the other modes export one series per pid, which a merge would change.

Plain code over the standard library and prometheus_client: the gunicorn master imports it from its
configuration file (child_exit) before Django is set up.
"""
from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import math
import os
import re
import threading
import time

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

logger = logging.getLogger(__name__)

LOCK_NAME = "merge.lock"  # not *.db: the collector reads every *.db
MERGED = "merged"  # the aggregate's "pid": counter_merged.db
MERGED_TYPES = ("counter", "histogram", "summary")  # summed by the collector, whatever the process
_PER_PROCESS = re.compile(r"^(counter|histogram|summary)_(\d+)\.db$")
_SPENT = ".merging"  # a merged file renamed out of the collector's sight before the aggregate replaces the old one


def _sized(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:  # a gauge file removed by mark_process_dead since the listing
        return False


# The lock's descriptors open in this process.  A fork copies them, and a copy keeps the flock for as long as
# the child lives: a Celery pool child forked while a scrape thread of the main process read (or merged) would
# hold the lock for good, and every merge, or every scrape, would wait behind it.  So a child closes its copies.
_held: set[int] = set()
_held_guard = threading.Lock()


def _close_copies_in_child() -> None:
    _held_guard.release()  # taken by the forking thread, the one that goes on in the child
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(before=_held_guard.acquire, after_in_parent=_held_guard.release,
                    after_in_child=_close_copies_in_child)


@contextlib.contextmanager
def _flock(path: str, operation: int, timeout: float | None = None):
    """Hold the directory's lock (flock: per open file, so threads of one process each hold their own);
    yields False, holding nothing, when `timeout` seconds pass first."""
    with _held_guard:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDONLY | os.O_CREAT, 0o644)
        _held.add(fd)
    try:
        if timeout is None:
            fcntl.flock(fd, operation)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, operation | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.005)
        yield True
    finally:
        with _held_guard:
            _held.discard(fd)
            os.close(fd)  # releases the lock


def _fsum_per_series(metrics: dict) -> dict:
    """One sample per series, its files' values added with math.fsum (the exact sum, rounded once).  The stock
    collector adds them one by one in the order the files are listed, and a merge changes that order: a
    histogram's _sum could then read one unit in the last place lower than the scrape before, which rate() and
    the recording rules take for a counter reset (a spike of the whole cumulative latency).  Counts are integers
    and unchanged either way; gauges keep their per-process modes."""
    for metric in metrics.values():
        if metric.type not in MERGED_TYPES:
            continue
        values: dict = {}
        for sample in metric.samples:
            values.setdefault((sample.name, sample.labels), []).append(sample.value)
        if len(values) < len(metric.samples):
            metric.samples = [metric.samples[0]._replace(name=name, labels=labels, value=math.fsum(vs))
                              for (name, labels), vs in values.items()]
    return metrics


class MultiProcessCollector(multiprocess.MultiProcessCollector):
    def collect(self):
        # Read under the shared lock: a merge must not swap files between the listing and the reads.
        with _flock(self._path, fcntl.LOCK_SH):
            files = [f for f in glob.glob(os.path.join(self._path, "*.db")) if _sized(f)]
            metrics = self._read_metrics(files)  # reads every file before returning
        return self._accumulate_metrics(_fsum_per_series(metrics), True)


class MergingMultiProcessCollector(MultiProcessCollector):
    """For a scrape served by the process that forks the writers (the Celery worker's main process, whose pool
    children are replaced after max_tasks_per_child tasks): every scrape first merges the children gone since."""

    def collect(self):
        merge_dead_files(self._path, timeout=0.5)
        return super().collect()


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _read(path: str) -> list[tuple[str, float, float]]:
    if os.path.getsize(path) == 0:  # created, never sized: no sample
        return []
    return [(key, value, ts) for key, value, ts, _pos in MmapedDict.read_all_values_from_file(path)]


def _at_least_exact(values: list[float]) -> float:
    """The sum stored for merged values: never below their exact sum, so that no later scrape (which adds the
    files with fsum) reads less than one before the merge; an integer sum (counts, buckets) is exact as it is."""
    total = math.fsum(values)
    if all(v.is_integer() for v in values) and abs(total) < 2**53:
        return total
    return math.nextafter(total, math.inf)  # at most one unit in the last place above the exact sum


def _merge_type(path: str, typ: str, sources: list[str]) -> int:
    """Sum `sources` into the type's aggregate and take them out of the directory; returns how many.
    Caller holds the exclusive lock."""
    aggregate = os.path.join(path, f"{typ}_{MERGED}.db")
    totals: dict[str, list] = {}  # key: [values, newest timestamp]
    if os.path.exists(aggregate):
        for key, value, ts in _read(aggregate):  # unreadable: raise, and touch nothing of this type
            totals[key] = [[value], ts]
    merged = []
    for source in sources:
        try:
            values = _read(source)
        except Exception as exc:  # half-written or foreign: leave it, the collector reads it as before
            logger.warning("metrics merge: %s left in place, unreadable: %r", os.path.basename(source), exc)
            continue
        for key, value, ts in values:
            entry = totals.setdefault(key, [[], 0.0])
            entry[0].append(value)
            entry[1] = max(entry[1], ts)
        merged.append(source)
    if not merged:
        return 0
    # No fsync: the directory is wiped whenever a master starts, so nothing in it has to outlive the machine;
    # os.replace is atomic for every other process regardless.
    tmp = os.path.join(path, f".{typ}_{MERGED}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)  # a leftover would be opened and added to
    written = MmapedDict(tmp)
    try:
        for key, (values, ts) in totals.items():
            written.write_value(key, _at_least_exact(values), ts)
    finally:
        written.close()
    # Out of sight first, so that every failure before the aggregate's replace can be undone exactly.
    spent = []
    try:
        for source in merged:
            os.rename(source, source + _SPENT)
            spent.append(source)
        os.replace(tmp, aggregate)
    except OSError:
        for source in spent:
            os.rename(source + _SPENT, source)
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    for source in spent:
        with contextlib.suppress(OSError):  # out of sight already: a leftover is removed next time
            os.remove(source + _SPENT)
    return len(merged)


def merge_dead_files(path: str, *, is_dead=None, timeout: float = 1.0) -> int | None:
    """Merge the counter, histogram and summary files of the processes that no longer exist into one
    aggregate file per type; returns how many files were merged, None when the lock was not had within
    `timeout` seconds (scrapes reading).  Never raises: a failure is logged and leaves the files where they
    were (the counts stay right, scrapes only stay slower), to be merged by a later call.

    `is_dead(pid)` says whose files may be merged (default: no process has that pid).  A live process' file
    must never be merged, and neither may a file whose pid a process about to be started could take: call
    this where no process that writes to `path` is being forked meanwhile (gunicorn: the master's child_exit),
    or where a pid would have to come round the whole pid space meanwhile (a Celery scrape: billiard forks in
    another thread of the same process, and a dead child's pid is not handed out again until they wrap)."""
    is_dead = is_dead or (lambda pid: not pid_exists(pid))
    try:
        with _flock(path, fcntl.LOCK_EX, timeout) as held:
            if not held:
                logger.warning("metrics merge: %s busy for %.1f s, files left for the next merge", path, timeout)
                return None
            for leftover in glob.glob(os.path.join(path, "*" + _SPENT)):
                # Merged by an earlier call that could not remove it, or (a process killed between its renames
                # and the aggregate's replace) not merged: lost then, but only where a new master wipes the
                # directory anyway, its counters starting again (process_start moves).
                os.remove(leftover)
            by_type: dict[str, list[str]] = {typ: [] for typ in MERGED_TYPES}
            for name in sorted(os.listdir(path)):
                match = _PER_PROCESS.match(name)
                if match and is_dead(int(match.group(2))):
                    by_type[match.group(1)].append(os.path.join(path, name))
            count = 0
            for typ, sources in by_type.items():
                if sources:
                    try:
                        count += _merge_type(path, typ, sources)
                    except Exception:
                        logger.exception("metrics merge: %s files of %s left in place", typ, path)
            return count
    except Exception:
        logger.exception("metrics merge: %s left as it was", path)
        return 0
