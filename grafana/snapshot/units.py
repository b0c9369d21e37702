"""Numbers as Grafana shows them for a field's unit and decimals (Grafana's valueFormats, the units used here).

`fmt(0.35, "s")` is "350 ms", `fmt(0.0123, "percentunit")` is "1.23%", `fmt(1500, "reqps")` is "1.50K req/s".
Decimals left unset are chosen from the value's magnitude, as Grafana does.
"""
from __future__ import annotations

import math


def decimals_for(value: float) -> int:
    """Grafana's getDecimalsForValue: about two significant digits, none for whole numbers."""
    if value == 0 or not math.isfinite(value):
        return 0
    log10 = math.floor(math.log10(abs(value)))
    dec = -log10 + 1
    norm = value / 10 ** -dec
    if norm > 2.25:
        dec += 1
    if value % 1 == 0:
        dec = 0
    return max(0, dec)


def to_fixed(value: float, decimals: int | None = None) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if decimals is None:
        decimals = decimals_for(value)
    decimals = max(0, int(decimals))
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0"


def _scaled(value: float, decimals, factor: float, suffixes: tuple[str, ...]) -> tuple[str, str]:
    steps = 0
    while abs(value) >= factor and steps < len(suffixes) - 1:
        steps += 1
        value /= factor
    return to_fixed(value, decimals), suffixes[steps]


def _seconds(size: float, decimals) -> tuple[str, str]:
    a = abs(size)
    if size == 0:
        return "0", " s"
    if a < 1e-6:
        return to_fixed(size * 1e9, decimals), " ns"
    if a < 1e-3:
        return to_fixed(size * 1e6, decimals), " µs"
    if a < 1:
        return to_fixed(size * 1e3, decimals), " ms"
    for limit, div, ext in ((60, 1, " s"), (3600, 60, " min"), (86400, 3600, " hour"), (604800, 86400, " day"),
                            (31536000, 604800, " week")):
        if a < limit:
            return to_fixed(size / div, decimals), ext
    return to_fixed(size / 3.15569e7, decimals), " year"


def _millis(size: float, decimals) -> tuple[str, str]:
    a = abs(size)
    for limit, div, ext in ((1000, 1, " ms"), (60000, 1000, " s"), (3600000, 60000, " min"),
                            (86400000, 3600000, " hour"), (31536000000, 86400000, " day")):
        if a < limit:
            return to_fixed(size / div, decimals), ext
    return to_fixed(size / 31536000000, decimals), " year"


_COUNT = ("", "K", "M", "B", "T")
_SHORT = ("", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept")
_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_PER_SECOND = {"reqps": "req/s", "ops": "ops/s", "rps": "reads/s", "wps": "writes/s", "iops": "io/s",
               "opm": "ops/min", "reqpm": "req/min"}


def parts(value: float, unit: str | None, decimals: int | None = None) -> tuple[str, str]:
    """(number, suffix) of a value in a unit."""
    unit = unit or "none"
    if not math.isfinite(value):
        return to_fixed(value), ""
    if unit == "s":
        return _seconds(value, decimals)
    if unit == "ms":
        return _millis(value, decimals)
    if unit == "percentunit":
        return to_fixed(value * 100, decimals), "%"
    if unit == "percent":
        return to_fixed(value, decimals), "%"
    if unit in _PER_SECOND:
        text, prefix = _scaled(value, decimals, 1000, _COUNT)
        return text, f"{prefix} {_PER_SECOND[unit]}"
    if unit == "short":
        return _scaled(value, decimals, 1000, _SHORT)
    if unit in ("bytes", "decbytes"):
        factor, prefixes = (1024, _BINARY) if unit == "bytes" else (1000, _COUNT)
        text, prefix = _scaled(value, decimals, factor, prefixes)
        return text, f" {prefix}B"
    return to_fixed(value, decimals), ""


def fmt(value: float | None, unit: str | None, decimals: int | None = None) -> str:
    if value is None:
        return "-"
    text, suffix = parts(value, unit, decimals)
    return text + suffix
