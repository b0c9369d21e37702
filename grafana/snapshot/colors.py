"""Grafana's colours (dark theme): named colours, rgba()/hex, the classic series palette, continuous schemes,
and the colour a value gets from a field's threshold steps."""
from __future__ import annotations

import math
import re

BACKGROUND = "#111217"
PANEL = "#181b1f"
BORDER = "#2c3235"
TEXT = "#ccccdc"
TEXT_WEAK = "#8e8e99"
GRID = "#2a2d33"
UNFILLED = "#22252b"

NAMED = {
    "green": "#73BF69", "semi-dark-green": "#56A64B", "dark-green": "#37872D", "light-green": "#96D98D",
    "super-light-green": "#C8F2C2",
    "yellow": "#FADE2A", "semi-dark-yellow": "#F2CC0C", "dark-yellow": "#E0B400", "light-yellow": "#FFEE52",
    "orange": "#FF9830", "semi-dark-orange": "#FF780A", "dark-orange": "#FA6400", "light-orange": "#FFB357",
    "red": "#F2495C", "semi-dark-red": "#E02F44", "dark-red": "#C4162A", "light-red": "#FF7383",
    "blue": "#5794F2", "semi-dark-blue": "#3274D9", "dark-blue": "#1F60C4", "light-blue": "#8AB8FF",
    "purple": "#B877D9", "semi-dark-purple": "#A352CC", "dark-purple": "#8F3BB8", "light-purple": "#CA95E5",
    "text": TEXT, "white": "#FFFFFF", "black": "#000000", "transparent": "#00000000",
}

# Grafana's classic palette, in the order series take it.
CLASSIC = ("#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A6", "#705DA0", "#508642",
           "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477", "#B7DBAB", "#F4D598",
           "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0")

SCHEMES = {  # continuous colour schemes: stops from the low end to the high end
    "continuous-YlRd": ("#FADE2A", "#FF9830", "#F2495C"),
    "continuous-RdYlGr": ("#F2495C", "#FADE2A", "#73BF69"),
    "continuous-GrYlRd": ("#73BF69", "#FADE2A", "#F2495C"),
    "continuous-greens": ("#C8F2C2", "#37872D"),
    "continuous-reds": ("#FFA6B0", "#C4162A"),
    "continuous-blues": ("#C0D8FF", "#1F60C4"),
}

_RGBA = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)")


def resolve(color: str | None, default: str = NAMED["green"]) -> str:
    """A Grafana colour (name, #hex, rgb()/rgba()) as #rrggbb or #rrggbbaa."""
    if not color:
        return default
    color = color.strip()
    if color in NAMED:
        return NAMED[color]
    if color.startswith("#"):
        return color
    m = _RGBA.fullmatch(color)
    if m:
        r, g, b = (round(float(x)) for x in m.groups()[:3])
        alpha = float(m.group(4)) if m.group(4) is not None else 1.0
        return f"#{r:02x}{g:02x}{b:02x}" + ("" if alpha >= 1 else f"{round(alpha * 255):02x}")
    return default


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def mix(a: str, b: str, t: float) -> str:
    ra, rb = _rgb(a), _rgb(b)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ra, rb, strict=True))


def scheme(mode: str, fraction: float) -> str:
    stops = SCHEMES.get(mode, SCHEMES["continuous-GrYlRd"])
    if math.isnan(fraction):
        fraction = 0.0
    fraction = min(1.0, max(0.0, fraction))
    pos = fraction * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    return mix(stops[i], stops[i + 1], pos - i)


def threshold_steps(field: dict) -> list[tuple[float | None, str]]:
    """(value, colour name as written) of a field config's threshold steps; the base step's value is None."""
    return [(s.get("value"), s.get("color", "green")) for s in (field.get("thresholds") or {}).get("steps", [])]


def for_value(steps: list[tuple[float | None, str]], value: float | None) -> str:
    """The colour of the highest step at or below the value (Grafana's getActiveThreshold)."""
    color = steps[0][1] if steps else "green"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return resolve(color)
    for step_value, step_color in steps:
        if step_value is None or value >= step_value:
            color = step_color
    return resolve(color)
