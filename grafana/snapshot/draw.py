"""Drawing one panel into its box of the dashboard's figure, the way Grafana shows it (dark theme).

Every function takes the figure, the panel's box in pixels, the panel JSON and its data, and returns the
threshold steps it drew or coloured by (what the snapshot reports) and how."""
from __future__ import annotations

import math
from datetime import UTC, datetime

from matplotlib import dates as mdates
from matplotlib.patches import Rectangle, Wedge
from matplotlib.ticker import FuncFormatter, MaxNLocator

from grafana.snapshot import colors, fields, frames, units
from grafana.snapshot.data import PanelData
from grafana.snapshot.layout import DPI, WIDTH, Rect
from grafana.snapshot.model import ThresholdStep

PT = 72 / DPI  # points per pixel
TITLE_H = 30
INNER = 8
NO_DATA = "No data"


class Canvas:
    """Pixel coordinates from the top-left corner on a matplotlib figure."""

    def __init__(self, fig, height: int):
        self.fig, self.height = fig, height

    def axes(self, r: Rect, **kw):
        return self.fig.add_axes([r.x / WIDTH, 1 - (r.y + r.h) / self.height, r.w / WIDTH, r.h / self.height], **kw)

    def text(self, x: float, y: float, s: str, size_px: float = 13, color: str = colors.TEXT, **kw):
        return self.fig.text(x / WIDTH, 1 - y / self.height, s, fontsize=size_px * PT, color=color, **kw)

    def box(self, r: Rect, color: str, edge: str | None = None, alpha: float = 1.0, zorder: float = -2):
        self.fig.patches.append(Rectangle((r.x / WIDTH, 1 - (r.y + r.h) / self.height), r.w / WIDTH,
                                          r.h / self.height, transform=self.fig.transFigure, facecolor=color,
                                          edgecolor=edge or color, linewidth=0.8, alpha=alpha, zorder=zorder))


def _fit(text: str, width_px: float, size_px: float) -> str:
    """The text cut to what fits a width (DejaVu Sans averages ~0.58 em a character)."""
    most = max(1, int(width_px / (size_px * 0.58)))
    return text if len(text) <= most else text[: max(1, most - 1)] + "…"


def frame(c: Canvas, r: Rect, title: str) -> Rect:
    """The panel's background and title; returns the box left for its content."""
    c.box(r, colors.PANEL, colors.BORDER)
    c.text(r.x + INNER, r.y + TITLE_H / 2 + 1, _fit(title, r.w - 2 * INNER, 13), 13, colors.TEXT,
           va="center", ha="left")
    return Rect(r.x + INNER, r.y + TITLE_H, r.w - 2 * INNER, r.h - TITLE_H - INNER)


def no_data(c: Canvas, r: Rect, why: str = "") -> None:
    c.text(r.x + r.w / 2, r.y + r.h / 2, NO_DATA, 16, colors.TEXT_WEAK, ha="center", va="center")
    if why:
        c.text(r.x + r.w / 2, r.y + r.h / 2 + 20, _fit(why, r.w - 8, 10), 10, colors.NAMED["red"],
               ha="center", va="center")


def _steps(field: dict) -> list[ThresholdStep]:
    return [ThresholdStep(v, name, colors.resolve(name)) for v, name in colors.threshold_steps(field)]


def _pairs(steps: list[ThresholdStep]) -> list[tuple[float | None, str]]:
    return [(s.value, s.color) for s in steps]


def _value_color(field: dict, steps: list[ThresholdStep], value: float | None, lo: float, hi: float) -> str:
    """A value's colour: mapping, fixed colour, continuous scheme over [lo, hi], else the thresholds'."""
    _, mapped = fields.mapped(field, value)
    if mapped:
        return mapped
    mode = (field.get("color") or {}).get("mode", "thresholds")
    if mode == "fixed" and fields.fixed_color(field):
        return fields.fixed_color(field)
    if mode.startswith("continuous-") and value is not None:
        return colors.scheme(mode, (value - lo) / (hi - lo) if hi > lo else 1.0)
    return colors.for_value(_pairs(steps), value)


def _display(field: dict, value: float | None) -> str:
    text, _ = fields.mapped(field, value)
    if text is not None:
        return text
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_DATA
    return units.fmt(value, field.get("unit"), field.get("decimals"))


# --- time series -------------------------------------------------------------------------------------------

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
    steps = _steps(defaults)
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

    t0, t1 = mdates.date2num(_dt(start)), mdates.date2num(_dt(end))
    for s, f, color, is_right in zip(drawn_series, configs, palette, right, strict=True):
        target = ax2 if is_right else ax
        xs = [mdates.date2num(_dt(t)) for t in s.times]
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
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if end - start <= 2 * 86400 else "%m-%d %H:%M",
                                                      tz=UTC))
    _limits(ax, defaults)
    if ax2 is not None:
        lo, hi = ax2.get_ylim()
        ax2.set_ylim(0 if defaults.get("min") == 0 and lo >= 0 else lo, hi)
    _draw_thresholds(ax, steps, style)
    for ts, _ in annotations:
        if start <= ts <= end:
            x = mdates.date2num(_dt(ts))
            ax.axvline(x, color=colors.NAMED["purple"], linewidth=1, linestyle=(0, (3, 3)), zorder=4)
    if legend_box is not None:
        _legend(c, legend_box, drawn_series, configs, palette, calcs, mode, row_h)
    return (steps if style != "off" else []), (style if style != "off" else "")


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


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
        c.text(box.x + 18, y, _fit(s.name, name_w - 4, size), size, colors.TEXT, va="center")
        for j, calc in enumerate(calcs if columns else []):
            value = frames.reduce(s.values, calc)
            c.text(box.x + 18 + name_w + col_w * (j + 1) - 4, y, units.fmt(value, f.get("unit"), f.get("decimals")),
                   size, colors.TEXT, ha="right", va="center")
        y += row_h
    if len(shown) < len(series):
        c.text(box.x + 18, y, f"+{len(series) - len(shown)} more series", size, colors.TEXT_WEAK, va="center")


# --- stat, gauge, bar gauge ----------------------------------------------------------------------------------

def _reduced(panel: dict, data: PanelData) -> list[tuple[frames.Series, float | None]]:
    calcs = ((panel.get("options") or {}).get("reduceOptions") or {}).get("calcs") or ["lastNotNull"]
    return [(s, frames.reduce(s.values, calcs[0])) for s in data.series]


def _font_for(text: str, w: float, h: float, most: float = 48) -> float:
    """A value's font size (px): as large as the box allows, within Grafana's usual sizes."""
    return max(10.0, min(most, h * 0.5, w * 0.85 / max(1, len(text)) / 0.62))


def stat(c: Canvas, r: Rect, panel: dict, data: PanelData) -> tuple[list[ThresholdStep], str]:
    options = panel.get("options") or {}
    values = [(s, v) for s, v in _reduced(panel, data) if v is not None]
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    steps = _steps(defaults)
    if not values:
        no_data(c, r, "; ".join(data.errors.values()))
        return steps, "color"
    n = len(values)
    horizontal = r.w >= r.h
    for i, (s, value) in enumerate(values):
        f = fields.config(panel, s.name)
        cell = Rect(r.x + i * r.w / n, r.y, r.w / n - 4, r.h) if horizontal else \
            Rect(r.x, r.y + i * r.h / n, r.w, r.h / n - 4)
        color = _value_color(f, steps, value, 0, 1)
        text = _display(f, value)
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
            c.text(cell.x + cell.w / 2, cell.y + 8, _fit(label, cell.w, 11), 11, colors.TEXT, ha="center", va="center")
        c.text(cell.x + cell.w / 2, top, text, size, "#ffffff" if background else color, ha="center",
               va="center", fontweight="bold", zorder=5)
    return steps, "color"


def gauge(c: Canvas, r: Rect, panel: dict, data: PanelData) -> tuple[list[ThresholdStep], str]:
    values = [(s, v) for s, v in _reduced(panel, data) if v is not None]
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    steps = _steps(defaults)
    if not values:
        no_data(c, r, "; ".join(data.errors.values()))
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
        color = _value_color(f, steps, value, lo, hi)
        ax.add_patch(Wedge((0, 0), 1.0, angle(value), 210, width=0.22, facecolor=color, linewidth=0))
        text = _display(f, value)
        c.text(cell.x + cell.w / 2, cell.y + cell.h * 0.5, text, _font_for(text, side * 0.6, cell.h * 0.5, 40),
               color, ha="center", va="center", fontweight="bold", zorder=5)
        if n > 1:
            c.text(cell.x + cell.w / 2, cell.y + cell.h - 10, _fit(s.name, cell.w, 11), 11, ha="center", va="center")
    return steps, "color"


def bargauge(c: Canvas, r: Rect, panel: dict, data: PanelData) -> tuple[list[ThresholdStep], str]:
    options = panel.get("options") or {}
    values = [(s, v) for s, v in _reduced(panel, data) if v is not None]
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    steps = _steps(defaults)
    if not values:
        no_data(c, r, "; ".join(data.errors.values()))
        return steps, "color"
    numbers = [v for _, v in values]
    lo = defaults.get("min") if defaults.get("min") is not None else min(0.0, min(numbers))
    hi = defaults.get("max") if defaults.get("max") is not None else max(numbers)
    hi = hi if hi > lo else lo + 1
    n = len(values)
    vertical = options.get("orientation") == "vertical"
    for i, (s, value) in enumerate(values):
        f = fields.config(panel, s.name)
        color = _value_color(f, steps, value, lo, hi)
        frac = min(1.0, max(0.0, (value - lo) / (hi - lo)))
        text = _display(f, value)
        if vertical:
            w = r.w / n
            bar = Rect(r.x + i * w + 4, r.y + 16, w - 8, r.h - 34)
            if options.get("showUnfilled", True):
                c.box(bar, colors.UNFILLED, zorder=-1)
            c.box(Rect(bar.x, bar.y + bar.h * (1 - frac), bar.w, bar.h * frac), color, zorder=-0.9)
            c.text(bar.x + bar.w / 2, r.y + 8, text, 11, color, ha="center", va="center", fontweight="bold")
            c.text(bar.x + bar.w / 2, r.y + r.h - 8, _fit(s.name, w, 10), 10, ha="center", va="center")
            continue
        row = r.h / n
        label_h = min(16.0, row * 0.4)
        bar_h = max(3.0, min(row - label_h - 4, 40.0))
        y = r.y + i * row
        c.text(r.x, y + label_h / 2, _fit(s.name, r.w * 0.7, min(12, label_h)), min(12, label_h), va="center")
        value_w = 90
        bar = Rect(r.x, y + label_h + 1, r.w - value_w - 6, bar_h)
        if options.get("showUnfilled", True):
            c.box(bar, colors.UNFILLED, zorder=-1)
        if options.get("displayMode") == "gradient" and frac > 0:
            pieces = 24
            for k in range(pieces):
                a = k / pieces * frac
                piece_color = _value_color(f, steps, lo + (hi - lo) * (a + frac / pieces), lo, hi)
                c.box(Rect(bar.x + bar.w * a, bar.y, bar.w * frac / pieces + 0.5, bar.h), piece_color, zorder=-0.9)
        else:
            c.box(Rect(bar.x, bar.y, bar.w * frac, bar.h), color, zorder=-0.9)
        c.text(r.x + r.w, bar.y + bar.h / 2, text, _font_for(text, value_w, bar_h * 1.4, 22), color, ha="right",
               va="center", fontweight="bold")
    return steps, "color"


# --- tables ---------------------------------------------------------------------------------------------------

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
        c.text(r.x + j * width + 6, r.y + row_h / 2, _fit(col, width - 8, size), size, colors.NAMED["blue"],
               va="center")
    fit = max(1, int((r.h - row_h) // row_h))
    drawn: list[ThresholdStep] = []
    for i, row in enumerate(rows[: fit if len(rows) <= fit else fit - 1]):
        y = r.y + row_h * (i + 1)
        for j, col in enumerate(columns):
            f = fields.config(panel, col)
            value = row.get(col)
            cell = Rect(r.x + j * width, y, width, row_h)
            if col == "Time" and isinstance(value, float):
                text = _dt(value).strftime("%Y-%m-%d %H:%M:%S")
            elif isinstance(value, float):
                text = _display(f, value)
                cell_type = ((f.get("custom") or {}).get("cellOptions") or {}).get("type")
                if cell_type in ("color-background", "color-text"):
                    steps = _steps(f)
                    drawn = drawn or steps
                    color = colors.for_value(_pairs(steps), value)
                    if cell_type == "color-background":
                        c.box(Rect(cell.x + 1, cell.y + 1, cell.w - 2, cell.h - 2), color, zorder=-1)
                        c.text(cell.x + 6, y + row_h / 2, text, size, "#ffffff", va="center")
                        continue
                    c.text(cell.x + 6, y + row_h / 2, text, size, color, va="center")
                    continue
            else:
                text = "" if value is None else str(value)
            c.text(cell.x + 6, y + row_h / 2, _fit(text, width - 8, size), size, colors.TEXT, va="center")
    if len(rows) > fit:
        c.text(r.x + 6, r.y + row_h * fit + row_h / 2, f"+{len(rows) - fit + 1} more rows", size, colors.TEXT_WEAK,
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


def row(c: Canvas, r: Rect, panel: dict) -> None:
    marker = "▸ " if panel.get("collapsed") else "▾ "
    c.text(r.x + 2, r.y + r.h / 2, marker + panel.get("title", ""), 15, colors.TEXT, va="center", fontweight="bold")
