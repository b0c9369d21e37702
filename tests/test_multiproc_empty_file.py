"""A process' metrics file caught at 0 bytes (prometheus_client creates it, then sizes it) must not fail the
scrape: the stock collector raises on it and /metrics answered 500 for every worker (seen in the suite on a fresh
gunicorn); a worker killed in that moment would leave the empty file, and every later scrape would fail."""
from __future__ import annotations

import struct

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from observability import multiproc


@pytest.fixture
def metrics_dir(tmp_path):
    # A real process' counter file, as prometheus_client's multiprocess values write it...
    written = MmapedDict(str(tmp_path / "counter_1001.db"))
    written.write_value(mmap_key("studio_demo_total", "studio_demo_total", ["view"], ["home"], ""), 7.0, 0.0)
    written.close()
    # ...and one caught between its creation and its sizing.
    (tmp_path / "counter_1002.db").touch()
    return tmp_path


def test_the_stock_collector_fails_on_the_empty_file(metrics_dir):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))
    with pytest.raises(struct.error):
        generate_latest(registry)


def test_ours_reads_every_other_file_and_counts_the_same(metrics_dir):
    registry = CollectorRegistry()
    multiproc.MultiProcessCollector(registry, path=str(metrics_dir))
    assert 'studio_demo_total{view="home"} 7.0' in generate_latest(registry).decode()
    (metrics_dir / "counter_1002.db").unlink()  # without the empty file, the stock collector agrees
    stock = CollectorRegistry()
    multiprocess.MultiProcessCollector(stock, path=str(metrics_dir))
    assert generate_latest(stock) == generate_latest(registry)
