"""Histogram bucket edges.  Every target and threshold of the spec is an edge (a test checks), so that
"share of requests under X" and "any query over Y" are exact, not interpolated."""
from __future__ import annotations

from monitoring_spec.alerts import DB_SLOW_QUERY_SECONDS, SLOW_TRANSACTION_P95_SECONDS
from monitoring_spec.targets import TARGETS

__all__ = [
    "REQUEST_LATENCY_BUCKETS",
    "DB_QUERY_BUCKETS",
    "ms",
    "required_request_edges",
    "required_db_edges",
]

REQUEST_LATENCY_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75,
    1.0, 2.5, 5.0, 10.0, float("inf"),
)
DB_QUERY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"),
)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def required_request_edges() -> set[float]:
    """Every request-latency number of the spec, in seconds."""
    edges = {SLOW_TRANSACTION_P95_SECONDS}
    for t in TARGETS:
        edges |= {t.excellent_ms / 1000, t.target_ms / 1000, t.needs_work_ms / 1000}
    return edges


def required_db_edges() -> set[float]:
    return {DB_SLOW_QUERY_SECONDS}
