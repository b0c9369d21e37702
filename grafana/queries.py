"""PromQL for the dashboards: the variables' matchers, windows, and the quantities panels show.

Every threshold or target comes from the spec (monitoring_spec) at build time.  The only numbers written
here are percentiles (quantiles, not thresholds), ANY (a count threshold meaning "one or more") and TOP_N
(how many rows a top-N panel shows).
"""
from __future__ import annotations

import monitoring_spec as spec
from monitoring_spec import promql
from monitoring_spec.contract import RESPONSES
from monitoring_spec.promql import le_matcher, sel, user_traffic

PERCENTILES = (0.5, 0.75, 0.95, 0.99)  # quantiles for histogram_quantile(), not thresholds
P50, P75, P95, P99 = PERCENTILES
ANY = 1  # count threshold "one or more" (any firing alert, any failed task, any slow query)
TOP_N = 15  # rows in top-N panels
INSTANCE = 'instance=~"$instance"'
VIEW = f'view=~"$view", {user_traffic()}'  # the views picked in $view, user traffic only (no probes)
TASK = 'task=~"$task"'
STATUS_5XX = 'status=~"5.."'
GET = 'method="GET"'
RATE = "$__rate_interval"  # time series panels
RANGE = "$__range"  # instant "over the selected time range" panels


def alert_window() -> str:
    """The window every guide alert looks at (``monitoring_spec.ALERT_WINDOW``)."""
    return spec.ALERT_WINDOW

def rng(fn: str, metric: str, matchers: tuple[str, ...] | list[str], window: str) -> str:
    return f"{fn}({sel(metric, *matchers)}[{window}])"


def by(labels: tuple[str, ...] | list[str]) -> str:
    return f" by ({', '.join(labels)}) " if labels else ""


def summed(fn: str, metric: str, matchers, window: str, labels=()) -> str:
    return f"sum{by(labels)}({rng(fn, metric, tuple(matchers), window)})"


def quantile(q: float, histogram: str, matchers, window: str = RATE, labels=()) -> str:
    group = ", ".join(("le", *labels))
    inner = rng("rate", f"{histogram}_bucket", tuple(matchers), window)
    return f"histogram_quantile({q:g}, sum by ({group}) ({inner}))"


def average(histogram: str, matchers, window: str = RATE, labels=()) -> str:
    num = summed("rate", f"{histogram}_sum", matchers, window, labels)
    den = summed("rate", f"{histogram}_count", matchers, window, labels)
    return f"{num} / {den}"


def share_within(histogram: str, seconds: float, buckets, matchers, window: str = RATE) -> str:
    """Share (0..1) of observations at or below ``seconds`` (exact: it is a bucket edge)."""
    num = summed("rate", f"{histogram}_bucket", (*matchers, le_matcher(seconds, buckets)), window)
    den = summed("rate", f"{histogram}_count", matchers, window)
    return f"{num} / {den}"


def error_ratio(matchers, window: str, labels=()) -> str:
    """5xx share of all responses (the HighErrorRate alert's ratio)."""
    errors = summed("rate", RESPONSES, (*matchers, STATUS_5XX), window, labels)
    total = summed("rate", RESPONSES, matchers, window, labels)
    if labels:
        return f"{errors} / {total}"
    return f"({errors} or vector(0)) / {total}"


def views_regex(target: spec.EndpointTarget) -> str:
    return promql.views_regex(target.views)


def quantile_name(q: float) -> str:
    return "P" + format(q, ".0%").rstrip("%")


def ms_text(seconds: float) -> str:
    return f"{spec.ms(seconds):g} ms"


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"


def percent_text(ratio: float) -> str:
    return format(ratio, ".4%")[:-1].rstrip("0").rstrip(".") + " %"
