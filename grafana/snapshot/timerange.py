"""Times as the command takes them: RFC 3339, unix seconds, `now`, `now-1h` (Grafana's relative form)."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_RELATIVE = re.compile(r"now(?:(?P<sign>[-+])(?P<amount>(?:\d+(?:\.\d+)?[smhdw])+))?")


def parse_duration(text: str) -> float:
    """'30m', '1h30m', '90s' -> seconds; ValueError otherwise."""
    text = text.strip()
    if not text or _DURATION.sub("", text):
        raise ValueError(f"not a duration (like 30m, 1h, 90s): {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))


def parse_time(text: str, now: float | None = None) -> float:
    """An RFC 3339 time, unix seconds or now[-+duration] -> unix seconds; ValueError otherwise."""
    now = time.time() if now is None else now
    text = text.strip()
    m = _RELATIVE.fullmatch(text)
    if m:
        if not m.group("amount"):
            return now
        delta = parse_duration(m.group("amount"))
        return now - delta if m.group("sign") == "-" else now + delta
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time (RFC 3339, unix seconds or now-1h): {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the stack's times are UTC
    return parsed.timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def stamp(ts: float) -> str:
    """A directory name for a moment: 20261130T152700Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%dT%H%M%SZ")
