"""Drawing a panel into its box of the dashboard's figure, the way Grafana shows it (dark theme): the canvas in
pixels, the panel's frame and title, "No data", rows, and what every kind of panel shares (threshold colours,
value mappings, display text).  The panels themselves: timeseries.py, values.py (stat, gauge, bar gauge),
tables.py; each returns the threshold steps it drew or coloured by, which the snapshot reports."""
from __future__ import annotations

import math
from datetime import UTC, datetime

from matplotlib.patches import Rectangle

from grafana.snapshot import colors, fields, units
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


def fit(text: str, width_px: float, size_px: float) -> str:
    """The text cut to what fits a width (DejaVu Sans averages ~0.58 em a character)."""
    most = max(1, int(width_px / (size_px * 0.58)))
    return text if len(text) <= most else text[: max(1, most - 1)] + "…"


def frame(c: Canvas, r: Rect, title: str) -> Rect:
    """The panel's background and title; returns the box left for its content."""
    c.box(r, colors.PANEL, colors.BORDER)
    c.text(r.x + INNER, r.y + TITLE_H / 2 + 1, fit(title, r.w - 2 * INNER, 13), 13, colors.TEXT,
           va="center", ha="left")
    return Rect(r.x + INNER, r.y + TITLE_H, r.w - 2 * INNER, r.h - TITLE_H - INNER)


def no_data(c: Canvas, r: Rect, why: str = "") -> None:
    c.text(r.x + r.w / 2, r.y + r.h / 2, NO_DATA, 16, colors.TEXT_WEAK, ha="center", va="center")
    if why:
        c.text(r.x + r.w / 2, r.y + r.h / 2 + 20, fit(why, r.w - 8, 10), 10, colors.NAMED["red"],
               ha="center", va="center")


def steps_of(field: dict) -> list[ThresholdStep]:
    return [ThresholdStep(v, name, colors.resolve(name)) for v, name in colors.threshold_steps(field)]


def pairs(steps: list[ThresholdStep]) -> list[tuple[float | None, str]]:
    return [(s.value, s.color) for s in steps]


def value_color(field: dict, steps: list[ThresholdStep], value: float | None, lo: float, hi: float) -> str:
    """A value's colour: mapping, fixed colour, continuous scheme over [lo, hi], else the thresholds'."""
    _, mapped = fields.mapped(field, value)
    if mapped:
        return mapped
    mode = (field.get("color") or {}).get("mode", "thresholds")
    if mode == "fixed" and fields.fixed_color(field):
        return fields.fixed_color(field)
    if mode.startswith("continuous-") and value is not None:
        return colors.scheme(mode, (value - lo) / (hi - lo) if hi > lo else 1.0)
    return colors.for_value(pairs(steps), value)


def display(field: dict, value: float | None) -> str:
    text, _ = fields.mapped(field, value)
    if text is not None:
        return text
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_DATA
    return units.fmt(value, field.get("unit"), field.get("decimals"))


def dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)

def row(c: Canvas, r: Rect, panel: dict) -> None:
    marker = "▸ " if panel.get("collapsed") else "▾ "
    c.text(r.x + 2, r.y + r.h / 2, marker + panel.get("title", ""), 15, colors.TEXT, va="center", fontweight="bold")
