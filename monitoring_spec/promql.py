"""PromQL spelling shared by the rule generator (prometheus/) and the dashboards (grafana/)."""
from __future__ import annotations

import math
import re

from monitoring_spec.contract import PROBE_VIEWS


def num(x: float) -> str:
    """A number as PromQL/YAML text: 10, 0.05, 14.4 (shortest exact form, no trailing .0)."""
    x = float(x)
    if math.isinf(x):
        return "+Inf"
    if x.is_integer():
        return str(int(x))
    return repr(x)


def le_label(edge: float) -> str:
    """How prometheus_client spells a bucket edge in the `le` label."""
    return "+Inf" if math.isinf(edge) else repr(float(edge))


def le_matcher(seconds: float, buckets: tuple[float, ...]) -> str:
    """An exact `le` matcher for a bucket edge.

    prometheus_client writes edges like Go (`2.5`, `5.0`); Prometheus 3 normalises `5.0` to `5` on
    ingestion, so whole numbers match both spellings.
    """
    if float(seconds) not in buckets:
        raise ValueError(f"{seconds} s is not a histogram bucket edge of the spec (monitoring_spec.buckets)")
    text = repr(float(seconds))
    if text.endswith(".0"):
        return f'le=~"{text[:-2]}|{text}"'
    return f'le="{text}"'


def sel(metric: str, *matchers: str) -> str:
    """`metric{a, b}`; empty matchers are dropped, and with none left the bare name."""
    inner = ", ".join(m for m in matchers if m)
    return f"{metric}{{{inner}}}" if inner else metric


def views_regex(views: tuple[str, ...]) -> str:
    """The alternation of view labels, refusing a label that would need regex escaping."""
    for view in views:
        if not re.fullmatch(r"[\w:\-]+", view):
            raise ValueError(f"view label {view!r} has characters that would need regex escaping")
    return "|".join(views)


def views_matcher(views: tuple[str, ...]) -> str:
    return f'view=~"{views_regex(views)}"'


def user_traffic() -> str:
    """The matcher that leaves probe traffic out of the request SLI (contract.PROBE_VIEWS)."""
    return f'view!~"{views_regex(PROBE_VIEWS)}"'


def duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, pos = 0, 0
    for match in re.finditer(r"(\d+)([smhdwy])", text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * units[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a PromQL duration: {text!r}")
    return total
