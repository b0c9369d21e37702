"""Building promtool unit tests: series in promtool's expanding notation, histograms, and a test file.

Inputs are one sample a minute unless a test says otherwise; `minute` arguments count from 0.
"""
from __future__ import annotations

import math
from types import ModuleType

from monitoring_spec.contract import APP_JOB
from monitoring_spec.promql import duration_seconds, le_label, num
from prometheus.promtest.gotemplate import render_template
from prometheus.rulesets import all_alerts
from prometheus.rulesets.model import Alert, Group

RULE_FILES = ("recording.yml", "alerts.yml")
APP_TARGET = {"job": APP_JOB, "instance": "app:8000"}  # a scrape target in the unit tests

# Test inputs: how many events per minute the unit tests feed (not thresholds; a ratio is tested
# one event in this many either side of its threshold, e.g. 51 vs 49 per 1000 for 5 %).
TEST_SCALE = 1000
TEST_SCALE_SLO = 10000
SLO_TEST_EVALUATION = "5m"


def minutes(text: str) -> int:
    seconds = duration_seconds(text)
    if seconds % 60:
        raise ValueError(f"{text} is not a whole number of minutes")
    return seconds // 60


def steady(per_minute: float, length: int, start: float = 0) -> str:
    """A counter growing by `per_minute` every minute, minutes 0..length."""
    return f"{num(start)}+{num(round(per_minute, 9))}x{length}"


def jump(before: int, value: float, after: int) -> str:
    """0 for minutes 0..before, then `value` (all at once) for `after` more minutes."""
    return f"0x{before} {num(value)}x{after - 1}"


def born(at: int, value: float, after: int) -> str:
    """No series before minute `at`, then `value` from minute `at` on (a series born with its first events)."""
    return f"_x{at} {num(value)}x{after - 1}"


def gauge(value: float, length: int) -> str:
    return f"{num(value)}x{length}"


def labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def series(metric: str, labels: dict[str, str], values: str) -> dict:
    return {"series": f"{metric}{labels_text(labels)}", "values": values}


def histogram(metric: str, labels: dict[str, str], buckets: tuple[float, ...],
              per_minute: list[tuple[float, float]], length: int | None,
              extra: tuple[tuple[float, float], int] | None = None) -> list[dict]:
    """Bucket, _sum and _count series for `per_minute` [(seconds, how many)] observations each minute.

    `extra` ((seconds, how many), minute) adds observations once, at that minute.  With `length`
    None the values are the per-minute amounts themselves (for born()).
    """
    def values(of) -> str:
        inc = of(per_minute)
        if length is None:
            return num(round(inc, 9))
        if extra is None:
            return steady(inc, length)
        (observation, at) = extra
        once = of([observation])
        return (f"{steady(inc, at - 1)} {num(round(inc * at + once, 9))}"
                f"+{num(round(inc, 9))}x{length - at}")

    out = []
    for edge in buckets:
        out.append(series(f"{metric}_bucket", {**labels, "le": le_label(edge)},
                          values(lambda obs, edge=edge: sum(c for s, c in obs if s <= edge))))
    out.append(series(f"{metric}_sum", labels, values(lambda obs: sum(s * c for s, c in obs))))
    out.append(series(f"{metric}_count", labels, values(lambda obs: sum(c for s, c in obs))))
    return out


def histogram_quantile(q: float, buckets: tuple[float, ...], per_minute: list[tuple[float, float]]) -> float:
    """Prometheus's histogram_quantile on these observations (same linear interpolation)."""
    counts = [(edge, sum(c for s, c in per_minute if s <= edge)) for edge in buckets]
    total = counts[-1][1]
    rank = q * total
    for i, (edge, count) in enumerate(counts):
        if count >= rank:
            if math.isinf(edge):
                return counts[i - 1][0]
            start, below = (0.0, 0.0) if i == 0 else counts[i - 1]
            if i == 0 and edge <= 0:
                return edge
            return start + (edge - start) * ((rank - below) / (count - below))
    raise AssertionError("unreachable")


def just_over(ratio: float, scale: int) -> int:
    """The smallest count out of `scale` whose share is strictly above `ratio`."""
    x = round(ratio * scale, 6)
    count = math.floor(x) + 1
    assert 0 < count < scale, (ratio, scale)
    return count


def just_under(ratio: float, scale: int) -> int:
    """The largest count out of `scale` whose share is strictly below `ratio`."""
    x = round(ratio * scale, 6)
    count = math.ceil(x) - 1
    assert 0 <= count < scale, (ratio, scale)
    return count


def at(ratio: float, scale: int) -> int:
    """The count out of `scale` whose share is exactly `ratio` (a strict comparison must stay quiet there)."""
    count = round(ratio * scale)
    assert count / scale == ratio, (ratio, scale)
    return count


def guard_counts(minimum: int) -> tuple[tuple[float, bool], tuple[float, bool]]:
    """A ">= minimum" guard's two cases over the window: exactly the minimum (counts) and half an event
    short (does not): a guard one step away either way, or compared with ">", fails one of them."""
    return (minimum, True), (minimum - 0.5, False)


def next_edge(seconds: float, buckets: tuple[float, ...]) -> float:
    return min(e for e in buckets if e > seconds)


class TestFile:
    def __init__(self, t: ModuleType, name: str, comment: str, evaluation_interval: str = "1m"):
        self.t = t
        self.evaluation_interval = evaluation_interval
        self.name = name
        self.comment = comment
        self.tests: list[dict] = []
        self.alerts = all_alerts(t)

    def rule(self, alertname: str, **static: str) -> Alert:
        found = [a for a in self.alerts
                 if a.alert == alertname and all(a.labels.get(k) == v for k, v in static.items())]
        if len(found) != 1:
            raise ValueError(f"{alertname} {static}: {len(found)} rules match")
        return found[0]

    @staticmethod
    def firing(rule: Alert, value: float, **series_labels: str) -> dict:
        labels = {**rule.all_labels, **series_labels}
        return {
            "exp_labels": labels,
            "exp_annotations": {k: render_template(v, series_labels, value) for k, v in rule.annotations.items()},
        }

    def add(self, name: str, input_series: list[dict], checks: list[tuple[str, str, list[dict]]],
            interval: str = "1m", exprs: list[tuple[str, str, list[dict]]] = ()) -> None:
        """A test: alert checks (alertname, eval time, expected firing alerts) and PromQL checks
        (expression, eval time, expected samples)."""
        test = {"name": name, "interval": interval, "input_series": input_series}
        if checks:
            test["alert_rule_test"] = [{"eval_time": at, "alertname": alertname, "exp_alerts": expected}
                                       for alertname, at, expected in checks]
        if exprs:
            test["promql_expr_test"] = [{"expr": expr, "eval_time": at, "exp_samples": expected}
                                        for expr, at, expected in exprs]
        self.tests.append(test)

    def document(self, groups: list[Group]) -> dict:
        return {
            "rule_files": [f"../rules/{name}" for name in RULE_FILES],
            "evaluation_interval": self.evaluation_interval,
            # Recording rules first: the alerts read what they record at the same instant.
            "group_eval_order": [g.name for g in groups],
            "tests": self.tests,
        }
