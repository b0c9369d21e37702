"""Grafana's variables in a query, replaced as Grafana would before it asks Prometheus.

The one implementation: the snapshot uses it with the range and step of each panel, and the dashboard tests
(tests/fixtures/dashboards.py) with fixed durations promtool accepts.  Every template variable (`$instance`,
`$view`, `$task`) stands for "All", which Grafana sends as a regex matching everything.
"""
from __future__ import annotations

import re

# What the tests substitute: durations promtool accepts, whatever the range.
TEST_SUBSTITUTIONS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}

VARIABLE_REF = re.compile(
    r"\$\{(?P<braced>\w+)(?:[.:][^}]*)?\}|\$(?P<plain>\w+)|\[\[(?P<old>\w+)(?::\w+)?\]\]")

ALL = ".*"


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    """Grafana variables -> `values` (built-ins such as `__range`), every other variable -> '.*' (All)."""
    values = TEST_SUBSTITUTIONS if values is None else values

    def repl(m: re.Match) -> str:
        name = m.group("braced") or m.group("plain") or m.group("old")
        return values.get(name, ALL)
    return VARIABLE_REF.sub(repl, expr)


def duration(seconds: float) -> str:
    """A PromQL duration for a number of seconds (whole milliseconds)."""
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


# Grafana's kbn.roundInterval: an interval rounded to one a person would pick (upper bound ms -> interval ms).
_ROUNDED = ((15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000), (3_500, 2_000),
            (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000), (45_000, 30_000),
            (90_000, 60_000), (210_000, 120_000), (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000),
            (1_500_000, 1_200_000), (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000),
            (16_200_000, 10_800_000), (32_400_000, 21_600_000), (86_400_000, 43_200_000))


def round_interval(seconds: float) -> float:
    ms = seconds * 1000
    for bound, interval in _ROUNDED:
        if ms < bound:
            return interval / 1000
    return 86_400.0


def grafana_values(start: float, end: float, max_points: int, scrape_seconds: float) -> tuple[float, dict[str, str]]:
    """(step, built-in variables) for a panel `max_points` pixels wide, as Grafana computes them: the interval is
    the range over the panel's width, rounded, never under the scrape interval; `$__rate_interval` is
    max(interval + scrape interval, 4 x scrape interval)."""
    step = max(round_interval((end - start) / max(1, max_points)), scrape_seconds)
    rate = max(step + scrape_seconds, 4 * scrape_seconds)
    return step, {"__interval": duration(step), "__rate_interval": duration(rate),
                  "__range": duration(end - start), "__range_s": str(round(end - start))}
