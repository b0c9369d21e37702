"""Prometheus results as what a panel draws: named series (legendFormat), or table rows (format: table) with
the transformations the dashboards use (merge, filterByValue, organize)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass
class Series:
    ref: str
    name: str
    labels: dict[str, str]
    times: list[float]
    values: list[float]  # NaN where Prometheus had no sample (a gap, as Grafana draws it)

    def numbers(self) -> list[float]:
        return [v for v in self.values if not math.isnan(v)]


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, object]] = field(default_factory=list)


def legend(fmt: str, labels: dict[str, str], expr: str) -> str:
    """A series' display name: legendFormat with {{label}} replaced; without one, Grafana's default (the
    metric and its labels, or the expression when the series has none)."""
    if fmt and fmt != "__auto":
        return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), fmt)
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    name = labels.get("__name__", "")
    if not shown:
        return name or expr
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}"


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def range_series(ref: str, target: dict, result: list[dict], start: float, end: float, step: float) -> list[Series]:
    """Range results on the full step grid from start to end, NaN where a series had no sample."""
    n = int(round((end - start) / step)) + 1
    grid = [start + i * step for i in range(n)]
    out = []
    for item in result:
        values = [math.nan] * n
        for ts, text in item.get("values", []):
            i = int(round((float(ts) - start) / step))
            if 0 <= i < n:
                values[i] = _number(text)
        labels = item.get("metric", {})
        out.append(Series(ref, legend(target.get("legendFormat", ""), labels, target["expr"]), labels, grid, values))
    return out


def instant_series(ref: str, target: dict, result: list[dict]) -> list[Series]:
    out = []
    for item in result:
        ts, text = item["value"]
        labels = item.get("metric", {})
        out.append(Series(ref, legend(target.get("legendFormat", ""), labels, target["expr"]), labels,
                          [float(ts)], [_number(text)]))
    return out


def table_frame(ref: str, result: list[dict], value_name: str) -> Table:
    """Grafana's table format of an instant result: Time, the labels (sorted), then the value column."""
    labels = sorted({k for item in result for k in item.get("metric", {})})
    table = Table(["Time", *labels, value_name])
    for item in result:
        ts, text = item["value"]
        table.rows.append({"Time": float(ts), **item.get("metric", {}), value_name: _number(text)})
    return table


def merge(tables: list[Table]) -> Table:
    """Grafana's merge: rows whose shared non-value fields agree become one row (here: the same labels)."""
    columns: list[str] = []
    for t in tables:
        columns += [c for c in t.columns if c not in columns]
    values = {c for t in tables for c in t.columns if c.startswith("Value")}
    keys = [c for c in columns if c not in values and c != "Time"]
    merged: dict[tuple, dict] = {}
    for t in tables:
        for row in t.rows:
            key = tuple(row.get(k) for k in keys)
            merged.setdefault(key, {}).update(row)
    return Table(columns, list(merged.values()))


def _is_null(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def transform(tables: list[Table], transformations: list[dict]) -> Table:
    """Apply the panel's transformations; with none, several frames are shown one after the other."""
    table: Table | None = None
    for step in transformations or []:
        kind, options = step.get("id"), step.get("options") or {}
        if kind == "merge":
            table = merge(tables)
            continue
        if table is None:
            table = merge(tables) if len(tables) > 1 else (tables[0] if tables else Table([]))
        if kind == "filterByValue":
            keep = options.get("type", "include") == "include"
            nulls = [f["fieldName"] for f in options.get("filters", []) if f.get("config", {}).get("id") == "isNull"]
            match_any = options.get("match", "any") == "any"
            rows = []
            for row in table.rows:
                hits = [_is_null(row.get(name)) for name in nulls]
                hit = any(hits) if match_any else all(hits)
                if hit == keep:
                    rows.append(row)
            table.rows = rows
        elif kind == "organize":
            excluded = {k for k, v in (options.get("excludeByName") or {}).items() if v}
            rename = options.get("renameByName") or {}
            order = options.get("indexByName") or {}
            columns = [c for c in table.columns if c not in excluded]
            columns.sort(key=lambda c: order.get(c, len(order) + table.columns.index(c)))
            table = Table([rename.get(c, c) for c in columns],
                          [{rename.get(c, c): row.get(c) for c in columns} for row in table.rows])
    if table is None:
        table = merge(tables) if len(tables) > 1 else (tables[0] if tables else Table([]))
    return table


def reduce(values: list[float], calc: str) -> float | None:
    """A Grafana reducer over a series (NaN are nulls)."""
    numbers = [v for v in values if not math.isnan(v)]
    if calc in ("lastNotNull", "last"):
        if calc == "last":
            return None if not values or math.isnan(values[-1]) else values[-1]
        return numbers[-1] if numbers else None
    if not numbers:
        return None
    if calc in ("firstNotNull", "first"):
        return numbers[0]
    if calc == "mean":
        return sum(numbers) / len(numbers)
    if calc == "max":
        return max(numbers)
    if calc == "min":
        return min(numbers)
    if calc == "sum":
        return sum(numbers)
    if calc == "count":
        return float(len(numbers))
    if calc == "range":
        return max(numbers) - min(numbers)
    if calc == "delta":
        return sum(max(0.0, b - a) for a, b in zip(numbers, numbers[1:], strict=False))
    if calc == "diff":
        return numbers[-1] - numbers[0]
    return numbers[-1]


CALC_NAMES = {"lastNotNull": "Last *", "last": "Last", "mean": "Mean", "max": "Max", "min": "Min", "sum": "Total",
              "firstNotNull": "First *", "first": "First", "count": "Count", "range": "Range", "delta": "Delta",
              "diff": "Difference"}
