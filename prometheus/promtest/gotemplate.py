"""The subset of Go's text/template and Prometheus' template functions that the alert annotations use,
rendered in Python: the promtool tests spell out each expected annotation exactly."""
from __future__ import annotations

import math
import re


def go_g4(v: float) -> str:
    """Go's fmt %.4g."""
    if math.isnan(v) or math.isinf(v):
        return {True: "+Inf", False: "-Inf"}[v > 0] if math.isinf(v) else "NaN"
    return f"{v:.4g}"


def humanize_duration(v: float) -> str:
    """Prometheus's humanizeDuration template function."""
    if math.isnan(v) or math.isinf(v):
        return go_g4(v)
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        duration = int(v)
        seconds, mins = duration % 60, (duration // 60) % 60
        hours, days = (duration // 3600) % 24, duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {mins}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {mins}m {seconds}s"
        if mins:
            return f"{sign}{mins}m {seconds}s"
        return f"{sign}{go_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{go_g4(v)}{prefix}s"


def go_value(v: float) -> str:
    """fmt.Sprint of a float64 ({{ $value }})."""
    if float(v).is_integer() and abs(v) < 1e21:
        return str(int(v))
    return repr(float(v))


def render_template(text: str, labels: dict[str, str], value: float) -> str:
    def one(match: re.Match) -> str:
        action = " ".join(match.group(1).split())
        if m := re.fullmatch(r"\$labels\.(\w+)", action):
            return labels.get(m.group(1), "")
        if action == "$value":
            return go_value(value)
        if action in ('printf "%.0f" $value', '$value | printf "%.0f"'):
            return f"{value:.0f}"
        if action == "$value | humanizePercentage":
            return go_g4(value * 100) + "%"
        if action == "$value | humanizeDuration":
            return humanize_duration(value)
        raise ValueError(f"the test renderer does not know the template action {{{{ {action} }}}}")

    return re.sub(r"\{\{(.*?)\}\}", one, text)
