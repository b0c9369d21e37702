"""Table panels (the panel's transformations applied, sorted as it says, cells coloured by a column's thresholds)
and the geomap, drawn as a table of its values by country rather than a map."""
from __future__ import annotations

import math

from grafana.snapshot import colors, fields, frames
from grafana.snapshot.data import PanelData
from grafana.snapshot.draw import Canvas, display, dt, fit, no_data, pairs, steps_of
from grafana.snapshot.layout import Rect
from grafana.snapshot.model import ThresholdStep


def table(c: Canvas, r: Rect, panel: dict, data: PanelData, as_geomap: bool = False) -> tuple[list[ThresholdStep], str]:
    if not data.tables or not any(t.rows for t in data.tables):
        no_data(c, r, "; ".join(data.errors.values()))
        return [], ""
    t = frames.transform(data.tables, [] if as_geomap else panel.get("transformations", []))
    columns = [col for col in t.columns if not (as_geomap and col == "Time")]
    if as_geomap:
        value_col = next((col for col in columns if col.startswith("Value")), None)
        rows = sorted(t.rows, key=lambda row: -(row.get(value_col) or 0)) if value_col else t.rows
    else:
        rows = _sorted(panel, t.rows)
    if not rows:
        no_data(c, r)
        return [], ""
    row_h, size = 22, 11
    if as_geomap:
        c.text(r.x, r.y + 6, "geomap: values by country (drawn as a table)", 10, colors.TEXT_WEAK, va="center")
        r = Rect(r.x, r.y + 14, r.w, r.h - 14)
    width = r.w / max(1, len(columns))
    c.box(Rect(r.x, r.y, r.w, row_h), "#202226", zorder=-1)
    for j, col in enumerate(columns):
        c.text(r.x + j * width + 6, r.y + row_h / 2, fit(col, width - 8, size), size, colors.NAMED["blue"],
               va="center")
    room = max(1, int((r.h - row_h) // row_h))
    drawn: list[ThresholdStep] = []
    for i, row in enumerate(rows[: room if len(rows) <= room else room - 1]):
        y = r.y + row_h * (i + 1)
        for j, col in enumerate(columns):
            f = fields.config(panel, col)
            value = row.get(col)
            cell = Rect(r.x + j * width, y, width, row_h)
            if col == "Time" and isinstance(value, float):
                text = dt(value).strftime("%Y-%m-%d %H:%M:%S")
            elif isinstance(value, float):
                text = display(f, value)
                cell_type = ((f.get("custom") or {}).get("cellOptions") or {}).get("type")
                if cell_type in ("color-background", "color-text"):
                    steps = steps_of(f)
                    drawn = drawn or steps
                    color = colors.for_value(pairs(steps), value)
                    if cell_type == "color-background":
                        c.box(Rect(cell.x + 1, cell.y + 1, cell.w - 2, cell.h - 2), color, zorder=-1)
                        c.text(cell.x + 6, y + row_h / 2, text, size, "#ffffff", va="center")
                        continue
                    c.text(cell.x + 6, y + row_h / 2, text, size, color, va="center")
                    continue
            else:
                text = "" if value is None else str(value)
            c.text(cell.x + 6, y + row_h / 2, fit(text, width - 8, size), size, colors.TEXT, va="center")
    if len(rows) > room:
        c.text(r.x + 6, r.y + row_h * room + row_h / 2, f"+{len(rows) - room + 1} more rows", size, colors.TEXT_WEAK,
               va="center")
    return drawn, ("color" if drawn else "")


def _sorted(panel: dict, rows: list[dict]) -> list[dict]:
    for sort in reversed((panel.get("options") or {}).get("sortBy") or []):
        name = sort.get("displayName")

        def key(row, name=name):
            v = row.get(name)
            return (v is None or (isinstance(v, float) and math.isnan(v)), v if isinstance(v, float) else str(v))
        rows = sorted(rows, key=key)
        if sort.get("desc"):
            present = [row for row in rows if isinstance(row.get(name), float) and not math.isnan(row[name])]
            rows = list(reversed(present)) + [row for row in rows if row not in present]
    return rows
