"""PromQL spelling shared by the rule generator (prometheus/) and the dashboards (grafana/).

Plain Python, importable without Django, beside thresholds.py whose bucket edges it names.
"""
from __future__ import annotations


def le_matcher(seconds: float, buckets: tuple[float, ...]) -> str:
    """An exact `le` matcher for a bucket edge.

    prometheus_client writes edges like Go (`2.5`, `5.0`); Prometheus 3 normalises `5.0` to `5` on
    ingestion, so whole numbers match both spellings.
    """
    if float(seconds) not in buckets:
        raise ValueError(f"{seconds} s is not a histogram bucket edge in thresholds.py")
    text = repr(float(seconds))
    if text.endswith(".0"):
        return f'le=~"{text[:-2]}|{text}"'
    return f'le="{text}"'
