"""Grafana's grid in pixels: 24 columns across a fixed width, rows of 30 px with 8 px between panels, so a
dashboard's picture always has the same size for the same JSON."""
from __future__ import annotations

from dataclasses import dataclass

WIDTH = 1800  # px: the picture's width, whatever the dashboard
DPI = 100
COLUMNS = 24
CELL = 30  # Grafana's GRID_CELL_HEIGHT
MARGIN = 8  # Grafana's GRID_CELL_VMARGIN, also between columns
PAD = 12  # around the grid
HEADER = 56  # the dashboard's title and time range above the grid


@dataclass(frozen=True)
class Rect:
    """A panel's box in pixels from the picture's top-left corner."""
    x: float
    y: float
    w: float
    h: float


def visible_panels(dash: dict) -> list[dict]:
    """What Grafana lays out: the top-level panels (rows included); a collapsed row's panels stay inside it."""
    return list(dash.get("panels", []))


def grid_bottom(dash: dict) -> int:
    return max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in visible_panels(dash)), default=0)


def size(dash: dict) -> tuple[int, int]:
    """(width, height) of the dashboard's picture in pixels."""
    return WIDTH, HEADER + grid_bottom(dash) * (CELL + MARGIN) + PAD


def rect(grid_pos: dict) -> Rect:
    column = (WIDTH - 2 * PAD + MARGIN) / COLUMNS
    x = PAD + grid_pos["x"] * column
    y = HEADER + grid_pos["y"] * (CELL + MARGIN)
    return Rect(x, y, grid_pos["w"] * column - MARGIN, grid_pos["h"] * (CELL + MARGIN) - MARGIN)


def fraction(r: Rect, height: int) -> list[float]:
    """The box as matplotlib's figure fractions [left, bottom, width, height]."""
    return [r.x / WIDTH, 1 - (r.y + r.h) / height, r.w / WIDTH, r.h / height]
