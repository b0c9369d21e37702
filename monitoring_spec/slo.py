"""Service level objectives, measured on the app's HTTP responses, and their burn-rate alert windows."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "SLO_AVAILABILITY_OBJECTIVE",
    "SLO_LATENCY_OBJECTIVE",
    "BurnRateWindow",
    "SLO_PERIOD",
    "SLO_BURN_RATE_WINDOWS",
    "FOR_BY_LONG_WINDOW",
]

SLO_AVAILABILITY_OBJECTIVE = 0.999  # share of responses that are not 5xx
SLO_LATENCY_OBJECTIVE = 0.95  # share of an endpoint's GET requests at or under its target_ms (a bucket edge)


@dataclass(frozen=True)
class BurnRateWindow:
    severity: str  # "page" or "ticket"
    factor: float  # burn rate: how many times faster than "exactly spend the budget in the SLO period"
    long: str  # long window: the budget really is burning
    short: str  # short window: ...and still is (resets the alert quickly after a fix)


SLO_PERIOD = "30d"
# The SRE workbook's multiwindow, multi-burn-rate table (chapter 5, "Alerting on SLOs").
SLO_BURN_RATE_WINDOWS: tuple[BurnRateWindow, ...] = (
    BurnRateWindow("page", 14.4, "1h", "5m"),  # 2 % of a 30-day budget in one hour
    BurnRateWindow("page", 6.0, "6h", "30m"),  # 5 % in six hours
    BurnRateWindow("ticket", 3.0, "1d", "2h"),  # 10 % in a day
    BurnRateWindow("ticket", 1.0, "3d", "6h"),  # 10 % in three days
)
# A burn-rate alert's `for:`, by its long window (as the SRE workbook and pyrra do).
FOR_BY_LONG_WINDOW = {"1h": "2m", "6h": "15m", "1d": "1h", "3d": "3h"}
