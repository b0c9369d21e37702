"""Panels that show one reduced value per series: stat (with its sparkline), gauge and bar gauge, coloured by the
thresholds, a value mapping or a continuous colour scheme."""
from __future__ import annotations

from matplotlib.patches import Wedge

from grafana.snapshot import colors, fields, frames
from grafana.snapshot.data import PanelData
from grafana.snapshot.draw import INNER, Canvas, display, fit, no_data, steps_of, value_color
from grafana.snapshot.layout import Rect
from grafana.snapshot.model import ThresholdStep


def _reduced(panel: dict, data: PanelData) -> list[tuple[frames.Series, float | None]]:
    calcs = ((panel.get("options") or {}).get("reduceOptions") or {}).get("calcs") or ["lastNotNull"]
    return [(s, frames.reduce(s.values, calcs[0])) for s in data.series]


def _font_for(text: str, w: float, h: float, most: float = 48) -> float:
    """A value's font size (px): as large as the box allows, within Grafana's usual sizes."""
    return max(10.0, min(most, h * 0.5, w * 0.85 / max(1, len(text)) / 0.62))


def _prepared(c: Canvas, r: Rect, panel: dict, data: PanelData) -> tuple[list, dict, list[ThresholdStep]]:
    """(reduced values, field defaults, threshold steps) of a value panel; "No data" drawn when there are none."""
    values = [(s, v) for s, v in _reduced(panel, data) if v is not None]
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    if not values:
        no_data(c, r, "; ".join(data.errors.values()))
    return values, defaults, steps_of(defaults)


def stat(c: Canvas, r: Rect, panel: dict, data: PanelData) -> tuple[list[ThresholdStep], str]:
    options = panel.get("options") or {}
    values, defaults, steps = _prepared(c, r, panel, data)
    if not values:
        return steps, "color"
    n = len(values)
    horizontal = r.w >= r.h
    for i, (s, value) in enumerate(values):
        f = fields.config(panel, s.name)
        cell = Rect(r.x + i * r.w / n, r.y, r.w / n - 4, r.h) if horizontal else \
            Rect(r.x, r.y + i * r.h / n, r.w, r.h / n - 4)
        color = value_color(f, steps, value, 0, 1)
        text = display(f, value)
        background = options.get("colorMode") == "background"
        if background:
            c.box(Rect(cell.x - (INNER if n == 1 else 0), cell.y - 2, cell.w + (2 * INNER if n == 1 else 0),
                       cell.h + 2), color, zorder=-1)
        if options.get("graphMode", "none") == "area" and len(s.numbers()) > 1:
            ax = c.axes(Rect(cell.x, cell.y + cell.h * 0.55, cell.w, cell.h * 0.45))
            ax.set_axis_off()
            xs, ys = s.times, s.values
            line = "#ffffff" if background else color
            ax.plot(xs, ys, color=line, linewidth=1, alpha=0.9)
            ax.fill_between(xs, ys, min(s.numbers()), color=line, alpha=0.18, linewidth=0)
            ax.set_xlim(xs[0], xs[-1])
        label = s.name if n > 1 else ""
        top = cell.y + (cell.h * 0.42 if options.get("graphMode") == "area" else cell.h / 2)
        size = _font_for(text, cell.w, cell.h * (0.6 if options.get("graphMode") == "area" else 0.8))
        if label:
            c.text(cell.x + cell.w / 2, cell.y + 8, fit(label, cell.w, 11), 11, colors.TEXT, ha="center", va="center")
        c.text(cell.x + cell.w / 2, top, text, size, "#ffffff" if background else color, ha="center",
               va="center", fontweight="bold", zorder=5)
    return steps, "color"


def gauge(c: Canvas, r: Rect, panel: dict, data: PanelData) -> tuple[list[ThresholdStep], str]:
    values, defaults, steps = _prepared(c, r, panel, data)
    if not values:
        return steps, "color"
    n = len(values)
    for i, (s, value) in enumerate(values):
        f = fields.config(panel, s.name)
        lo = f.get("min", 0) if f.get("min") is not None else 0
        hi = f.get("max") if f.get("max") is not None else (100 if f.get("unit") == "percent" else
                                                            1 if f.get("unit") == "percentunit" else max(value, 1))
        cell = Rect(r.x + i * r.w / n, r.y, r.w / n, r.h)
        side = min(cell.w, cell.h * 1.25)
        ax = c.axes(Rect(cell.x + (cell.w - side) / 2, cell.y, side, cell.h))
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-0.75, 1.1)
        ax.set_aspect("equal")
        ax.set_axis_off()

        def angle(v: float, lo: float = lo, hi: float = hi) -> float:
            frac = 0.0 if hi <= lo else min(1.0, max(0.0, (v - lo) / (hi - lo)))
            return 210 - frac * 240

        ax.add_patch(Wedge((0, 0), 1.0, -30, 210, width=0.22, facecolor=colors.UNFILLED, linewidth=0))
        for j, step in enumerate(steps):  # the threshold band outside the arc
            a = lo if step.value is None else step.value
            b = steps[j + 1].value if j + 1 < len(steps) else hi
            if b is not None and b > a:
                ax.add_patch(Wedge((0, 0), 1.08, angle(min(b, hi)), angle(max(a, lo)), width=0.05,
                                   facecolor=step.rgb, linewidth=0))
        color = value_color(f, steps, value, lo, hi)
        ax.add_patch(Wedge((0, 0), 1.0, angle(value), 210, width=0.22, facecolor=color, linewidth=0))
        text = display(f, value)
        c.text(cell.x + cell.w / 2, cell.y + cell.h * 0.5, text, _font_for(text, side * 0.6, cell.h * 0.5, 40),
               color, ha="center", va="center", fontweight="bold", zorder=5)
        if n > 1:
            c.text(cell.x + cell.w / 2, cell.y + cell.h - 10, fit(s.name, cell.w, 11), 11, ha="center", va="center")
    return steps, "color"


def bargauge(c: Canvas, r: Rect, panel: dict, data: PanelData) -> tuple[list[ThresholdStep], str]:
    options = panel.get("options") or {}
    values, defaults, steps = _prepared(c, r, panel, data)
    if not values:
        return steps, "color"
    numbers = [v for _, v in values]
    lo = defaults.get("min") if defaults.get("min") is not None else min(0.0, min(numbers))
    hi = defaults.get("max") if defaults.get("max") is not None else max(numbers)
    hi = hi if hi > lo else lo + 1
    n = len(values)
    vertical = options.get("orientation") == "vertical"
    for i, (s, value) in enumerate(values):
        f = fields.config(panel, s.name)
        color = value_color(f, steps, value, lo, hi)
        frac = min(1.0, max(0.0, (value - lo) / (hi - lo)))
        text = display(f, value)
        if vertical:
            w = r.w / n
            bar = Rect(r.x + i * w + 4, r.y + 16, w - 8, r.h - 34)
            if options.get("showUnfilled", True):
                c.box(bar, colors.UNFILLED, zorder=-1)
            c.box(Rect(bar.x, bar.y + bar.h * (1 - frac), bar.w, bar.h * frac), color, zorder=-0.9)
            c.text(bar.x + bar.w / 2, r.y + 8, text, 11, color, ha="center", va="center", fontweight="bold")
            c.text(bar.x + bar.w / 2, r.y + r.h - 8, fit(s.name, w, 10), 10, ha="center", va="center")
            continue
        row = r.h / n
        label_h = min(16.0, row * 0.4)
        bar_h = max(3.0, min(row - label_h - 4, 40.0))
        y = r.y + i * row
        c.text(r.x, y + label_h / 2, fit(s.name, r.w * 0.7, min(12, label_h)), min(12, label_h), va="center")
        value_w = 90
        bar = Rect(r.x, y + label_h + 1, r.w - value_w - 6, bar_h)
        if options.get("showUnfilled", True):
            c.box(bar, colors.UNFILLED, zorder=-1)
        if options.get("displayMode") == "gradient" and frac > 0:
            pieces = 24
            for k in range(pieces):
                a = k / pieces * frac
                piece_color = value_color(f, steps, lo + (hi - lo) * (a + frac / pieces), lo, hi)
                c.box(Rect(bar.x + bar.w * a, bar.y, bar.w * frac / pieces + 0.5, bar.h), piece_color, zorder=-0.9)
        else:
            c.box(Rect(bar.x, bar.y, bar.w * frac, bar.h), color, zorder=-0.9)
        c.text(r.x + r.w, bar.y + bar.h / 2, text, _font_for(text, value_w, bar_h * 1.4, 22), color, ha="right",
               va="center", fontweight="bold")
    return steps, "color"
