"""A panel's targets asked of Prometheus over the snapshot's range, with Grafana's variables substituted."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from grafana.snapshot import frames
from grafana.snapshot.query import Prometheus, QueryError
from grafana.snapshot.timerange import parse_duration
from grafana.snapshot.variables import grafana_values, substitute


@dataclass
class PanelData:
    series: list[frames.Series] = field(default_factory=list)
    tables: list[frames.Table] = field(default_factory=list)
    with_data: list[str] = field(default_factory=list)
    without_data: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    step: float = 0.0


def _has_numbers(values) -> bool:
    return any(isinstance(v, float) and not math.isnan(v) for v in values)


def fetch(prom: Prometheus, panel: dict, start: float, end: float, width_px: float, scrape: float) -> PanelData:
    step, values = grafana_values(start, end, int(width_px), scrape)
    data = PanelData(step=step)
    targets = [t for t in panel.get("targets", []) if not t.get("hide") and t.get("expr")]
    for target in targets:
        ref = target.get("refId", "A")
        expr = substitute(target["expr"], values)
        try:
            if target.get("format") == "table":
                result = prom.instant(expr, end)
                value_name = "Value" if len(targets) == 1 else f"Value #{ref}"
                table = frames.table_frame(ref, result, value_name)
                data.tables.append(table)
                found = _has_numbers([row[value_name] for row in table.rows])
            elif target.get("instant") and not target.get("range"):
                series = frames.instant_series(ref, target, prom.instant(expr, end))
                data.series += series
                found = any(s.numbers() for s in series)
            else:
                series = frames.range_series(ref, target, prom.range(expr, start, end, step), start, end, step)
                data.series += series
                found = any(s.numbers() for s in series)
        except QueryError as exc:
            data.errors[ref] = str(exc)
            found = False
        (data.with_data if found else data.without_data).append(ref)
    return data


def annotation_events(prom: Prometheus, dash: dict, start: float, end: float, scrape: float) -> list[tuple[float, str]]:
    """Prometheus annotations (e.g. releases): where each series starts having samples, Grafana marks an event."""
    events = []
    for anno in dash.get("annotations", {}).get("list", []):
        target = anno.get("target") or {}  # Grafana's current model: the query is the annotation's target
        expr = target.get("expr") or anno.get("expr")
        if not expr or not anno.get("enable", True):
            continue
        step, values = grafana_values(start, end, 1000, scrape)
        if target.get("interval"):  # the target's minimum step
            step = max(step, parse_duration(target["interval"]))
        try:
            result = prom.range(substitute(expr, values), start, end, step)
        except QueryError:
            continue
        for item in result:
            text = frames.legend(anno.get("titleFormat", ""), item.get("metric", {}), anno.get("name", ""))
            previous = None
            for ts, _ in item.get("values", []):
                ts = float(ts)
                if previous is None or ts - previous > step * 1.5:
                    events.append((ts, text))
                previous = ts
    return sorted(events)
