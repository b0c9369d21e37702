"""prometheus_client's multiprocess collector without its window of a process' file at 0 bytes.

MmapedDict creates a process' .db file and sizes it only afterwards: a scrape in that moment fails on the empty
file (struct.error) and answers 500 for every process' metrics (seen: a fresh gunicorn's /metrics in the suite),
and a worker killed in that moment leaves the empty file for good, so every later scrape fails
(prometheus/client_python#1199, open).  An empty file holds no sample: leaving it out changes no count.
"""
from __future__ import annotations

import glob
import os

from prometheus_client import multiprocess


def _sized(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:  # a gauge file removed by mark_process_dead since the listing
        return False


class MultiProcessCollector(multiprocess.MultiProcessCollector):
    def collect(self):
        files = [f for f in glob.glob(os.path.join(self._path, "*.db")) if _sized(f)]
        return self.merge(files, accumulate=True)
