"""process_start_time_seconds on a multiprocess /metrics: when the scraped target's counters began.

Prometheus rules tell "this target restarted, its counters began again at zero" from "Prometheus sees an
old process for the first time" by this standard gauge.  In single-process mode prometheus_client's own
ProcessCollector exports it (this process's start), and this module adds nothing.  In multiprocess mode
(PROMETHEUS_MULTIPROC_DIR) the /metrics registry has no process collector, and "the process answering
the scrape" would be the wrong start anyway: one of several workers answers, while the counters it sums
live as long as the multiprocess directory.  So the value is the start of the counters' incarnation,
one value per target, whichever process answers:

* gunicorn: the master's ``on_starting`` (config/gunicorn.py), which wipes the directory, records the
  time in its environment (START_TIME_ENV); every worker it forks, respawned ones included, inherits it,
  so a killed worker changes nothing (its counts stay in the directory) and a new master does;
* Celery worker: its main process, which serves /metrics and cleans the directory at start
  (observability.celery_metrics.on_worker_init records the main process's own start);
* any other process in multiprocess mode: its own start (a single process, e.g. runserver).

Plain code over the standard library and prometheus_client, importable before Django is set up: the
gunicorn master imports it from its configuration file.
"""
from __future__ import annotations

import os
import time

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitoring_spec import contract

START_TIME_ENV = "STUDIO_METRICS_START_TIME"  # seconds since the Epoch, as repr(float)

_IMPORTED_AT = time.time()  # the fallback where /proc cannot say (not Linux)


def process_start_time(pid: int | str = "self") -> float | None:
    """A process's start, seconds since the Epoch, as the standard ProcessCollector computes it
    (/proc/<pid>/stat starttime in clock ticks after boot, plus btime); None when /proc cannot say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        with open("/proc/stat", "rb") as fh:
            btime = next(float(line.split()[1]) for line in fh if line.startswith(b"btime "))
        # The fields after the command name (which may hold spaces and parentheses); starttime is the 22nd.
        starttime = float(stat[stat.rfind(b")") + 2:].split()[19])
        return btime + starttime / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def own_start_time() -> float:
    start = process_start_time()
    return start if start is not None else _IMPORTED_AT


def mark_counters_start(when: float | None = None) -> float:
    """Record in this process's environment, which the processes it forks inherit, that the counters
    begin now (or at `when`); returns the recorded value."""
    value = time.time() if when is None else float(when)
    os.environ[START_TIME_ENV] = repr(value)
    return value


def counters_start_time() -> float:
    """The recorded start of the counters (mark_counters_start), else this process's own start."""
    raw = os.environ.get(START_TIME_ENV)
    if raw:
        try:
            return float(raw)
        except ValueError:  # set by hand to something else: this process is the best remaining answer
            pass
    return own_start_time()


class ProcessStartCollector(Collector):
    """process_start_time_seconds, one unlabelled sample: counters_start_time() at scrape time.
    Only for a multiprocess registry (the default registry's ProcessCollector has the same name)."""

    name = contract.PROCESS_START
    documentation = ("Start of this target's counters, seconds since the Unix epoch: in multiprocess mode the "
                     "gunicorn master's start (not the answering worker's) or the Celery worker's main process'.")

    def describe(self):
        return [GaugeMetricFamily(self.name, self.documentation)]

    def collect(self):
        yield GaugeMetricFamily(self.name, self.documentation, value=counters_start_time())
