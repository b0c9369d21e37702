"""Time series panels: lines (or bars) per series on Grafana's time axis, threshold lines and bands as the panel's
thresholdsStyle says, right-hand axes from overrides, release annotations, and the legend with its calculations."""
from __future__ import annotations

import math
from datetime import UTC

from matplotlib import dates as mdates
from matplotlib.ticker import FuncFormatter, MaxNLocator

from grafana.snapshot import colors, fields, frames, units
from grafana.snapshot.data import PanelData
from grafana.snapshot.draw import PT, Canvas, dt, fit, no_data, steps_of
from grafana.snapshot.layout import Rect
from grafana.snapshot.model import ThresholdStep


def _style_axes(ax, unit: str | None, color: str = colors.TEXT_WEAK) -> None:
    ax.set_facecolor(colors.PANEL)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=color, labelsize=10 * PT, length=0, pad=3)
    ax.grid(True, color=colors.GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: units.fmt(v, unit)))


def _legend_rows(panel: dict, series: list[frames.Series]) -> tuple[list[str], str, str]:
    legend = (panel.get("options") or {}).get("legend") or {}
    return list(legend.get("calcs") or []), legend.get("displayMode", "list"), legend.get("placement", "bottom")


def timeseries(c: Canvas, r: Rect, panel: dict, data: PanelData, start: float, end: float,
               annotations: list[tuple[float, str]]) -> tuple[list[ThresholdStep], str]:
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    custom = defaults.get("custom") or {}
    style = (custom.get("thresholdsStyle") or {}).get("mode", "off")
    steps = steps_of(defaults)
    drawn_series = [s for s in data.series if s.numbers()]
    if not drawn_series:
        no_data(c, r, "; ".join(data.errors.values()))
        return [], ""
    calcs, mode, placement = _legend_rows(panel, drawn_series)
    configs = [fields.config(panel, s.name) for s in drawn_series]
    palette = [fields.fixed_color(f) or colors.CLASSIC[i % len(colors.CLASSIC)] for i, f in enumerate(configs)]

    # The legend's box first: what is left is the plot's.
    row_h = 16
    legend_box = None
    if mode != "hidden":
        if placement == "right":
            lw = min(r.w * 0.35, 260)
            legend_box = Rect(r.x + r.w - lw, r.y, lw, r.h)
            plot = Rect(r.x, r.y, r.w - lw - 6, r.h)
        else:
            rows = len(drawn_series) + (1 if mode == "table" else 0)
            lh = min(rows * row_h + 4, r.h * 0.42)
            legend_box = Rect(r.x, r.y + r.h - lh, r.w, lh)
            plot = Rect(r.x, r.y, r.w, r.h - lh - 4)
    else:
        plot = r
    right = [f.get("custom", {}).get("axisPlacement") == "right" for f in configs]
    left_w, right_w, bottom_h = 62, (62 if any(right) else 6), 20
    axes_box = Rect(plot.x + left_w, plot.y + 4, max(20.0, plot.w - left_w - right_w), max(20.0, plot.h - bottom_h - 4))
    ax = c.axes(axes_box)
    unit = defaults.get("unit")
    _style_ax = [ax]
    _style_axes(ax, unit)
    ax2 = None
    if any(right):
        ax2 = ax.twinx()
        unit2 = next(f.get("unit") for f, is_right in zip(configs, right, strict=True) if is_right)
        _style_axes(ax2, unit2)
        ax2.grid(False)
        _style_ax.append(ax2)

    t0, t1 = mdates.date2num(dt(start)), mdates.date2num(dt(end))
    for s, f, color, is_right in zip(drawn_series, configs, palette, right, strict=True):
        target = ax2 if is_right else ax
        xs = [mdates.date2num(dt(t)) for t in s.times]
        fc = f.get("custom") or {}
        fill = float(fc.get("fillOpacity", 0) or 0) / 100
        if fc.get("drawStyle") == "bars":
            width = (xs[1] - xs[0]) * 0.8 if len(xs) > 1 else (t1 - t0) / 100
            target.bar(xs, [0 if math.isnan(v) else v for v in s.values], width=width, color=color,
                       alpha=max(fill, 0.25), linewidth=0, zorder=1)
            continue
        dash = (fc.get("lineStyle") or {}).get("fill") == "dash"
        lw = float(fc.get("lineWidth", 1) or 1)
        if len(s.numbers()) == 1 and len(xs) > 1:  # a lone sample between gaps: Grafana shows a point
            i = next(i for i, v in enumerate(s.values) if not math.isnan(v))
            target.plot([xs[i]], [s.values[i]], "o", color=color, markersize=2.5, zorder=3)
        target.plot(xs, s.values, color=color, linewidth=lw, linestyle="--" if dash else "-", zorder=3)
        if fill > 0:
            target.fill_between(xs, s.values, 0, color=color, alpha=fill, linewidth=0, zorder=2)
    ax.set_xlim(t0, t1)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=max(3, int(axes_box.w / 90)), tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter(_time_format(end - start), tz=UTC))
    _limits(ax, defaults)
    if ax2 is not None:
        lo, hi = ax2.get_ylim()
        ax2.set_ylim(0 if defaults.get("min") == 0 and lo >= 0 else lo, hi)
    _draw_thresholds(ax, steps, style)
    for ts, _ in annotations:
        if start <= ts <= end:
            x = mdates.date2num(dt(ts))
            ax.axvline(x, color=colors.NAMED["purple"], linewidth=1, linestyle=(0, (3, 3)), zorder=4)
    if legend_box is not None:
        _legend(c, legend_box, drawn_series, configs, palette, calcs, mode, row_h)
    return (steps if style != "off" else []), (style if style != "off" else "")


def _time_format(seconds: float) -> str:
    """Grafana's time axis labels: seconds shown for ranges of minutes, the date for ranges of days."""
    if seconds <= 15 * 60:
        return "%H:%M:%S"
    return "%H:%M" if seconds <= 2 * 86400 else "%m-%d %H:%M"


def _limits(ax, field: dict) -> None:
    lo, hi = ax.get_ylim()
    if field.get("min") is not None:
        lo = field["min"]
    if field.get("max") is not None:
        hi = field["max"]
    if hi <= lo:
        hi = lo + 1
    ax.set_ylim(lo, hi)


def _draw_thresholds(ax, steps: list[ThresholdStep], style: str) -> None:
    """Lines at each step and/or bands between steps, within the axis Grafana chose (never widened)."""
    if style == "off" or not steps:
        return
    lo, hi = ax.get_ylim()
    if "area" in style:
        for i, step in enumerate(steps):
            bottom = lo if step.value is None else step.value
            top = steps[i + 1].value if i + 1 < len(steps) else hi
            if top is not None and top > bottom:
                ax.axhspan(max(bottom, lo), min(top, hi), color=step.rgb, alpha=0.15, linewidth=0, zorder=0)
    if "line" in style or "dashed" in style:
        for step in steps[1:]:
            if step.value is not None and lo <= step.value <= hi:
                ax.axhline(step.value, color=step.rgb, linewidth=1,
                           linestyle=(0, (6, 4)) if "dashed" in style else "-", zorder=2)
    ax.set_ylim(lo, hi)


def _legend(c: Canvas, box: Rect, series, configs, palette, calcs, mode, row_h) -> None:
    size = 11
    columns = [frames.CALC_NAMES.get(calc, calc) for calc in calcs] if mode == "table" else []
    col_w = 74
    name_w = box.w - col_w * len(columns) - 18
    y = box.y + row_h / 2
    rows_fit = max(1, int(box.h // row_h) - (1 if columns else 0))
    if columns:
        for j, name in enumerate(columns):
            c.text(box.x + 18 + name_w + col_w * (j + 1) - 4, y, name, size, colors.NAMED["blue"], ha="right",
                   va="center")
        y += row_h
    shown = series if len(series) <= rows_fit else series[: rows_fit - 1]
    for s, f, color in zip(shown, configs, palette, strict=False):
        c.box(Rect(box.x + 2, y - 1.5, 12, 3), color, zorder=2)
        c.text(box.x + 18, y, fit(s.name, name_w - 4, size), size, colors.TEXT, va="center")
        for j, calc in enumerate(calcs if columns else []):
            value = frames.reduce(s.values, calc)
            c.text(box.x + 18 + name_w + col_w * (j + 1) - 4, y, units.fmt(value, f.get("unit"), f.get("decimals")),
                   size, colors.TEXT, ha="right", va="center")
        y += row_h
    if len(shown) < len(series):
        c.text(box.x + 18, y, f"+{len(series) - len(shown)} more series", size, colors.TEXT_WEAK, va="center")
