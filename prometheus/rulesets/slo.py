"""Multi-window, multi-burn-rate alerts on the availability and latency SLOs (the SRE workbook's table)."""
from __future__ import annotations

from decimal import Decimal
from types import ModuleType

from monitoring_spec.contract import dashboard_url
from monitoring_spec.promql import duration_seconds, num
from monitoring_spec.recorded import Names
from prometheus.rulesets.model import Alert, Group, human_percent


def burn_threshold(factor: float, objective: float) -> str:
    """factor x (1 - objective), the error ratio that spends the budget `factor` times too fast, written as the
    exact decimal (14.4 x (1 - 0.999) = 0.0144): an error ratio of exactly that much compares equal to it,
    which `14.4 * (1 - 0.999)` in floating point (0.014400000000000013) would not."""
    return str((Decimal(repr(float(factor))) * (1 - Decimal(repr(float(objective))))).normalize())


def group(t: ModuleType) -> Group:
    slo = Group("studio.alerts.slo", [])
    period_days = duration_seconds(t.SLO_PERIOD) / 86400
    for b in t.SLO_BURN_RATE_WINDOWS:
        budget = burn_threshold(b.factor, t.SLO_AVAILABILITY_OBJECTIVE)
        slo.rules.append(Alert(
            "AvailabilityErrorBudgetBurn",
            f"{Names.slo_availability(b.long)} > {budget}\nand\n{Names.slo_availability(b.short)} > {budget}",
            t.FOR_BY_LONG_WINDOW[b.long], b.severity,
            f"Availability error budget burning {num(b.factor)}x too fast ({b.long} and {b.short} windows)",
            f"{{{{ $value | humanizePercentage }}}} of responses over the last {b.long} were 5xx; the objective is "
            f"{human_percent(t.SLO_AVAILABILITY_OBJECTIVE)} good over {t.SLO_PERIOD}, and at this pace the "
            f"{t.SLO_PERIOD} error budget is gone in {num(round(period_days / b.factor, 1))} days.",
            dashboard_url("overview"), {"slo": "availability", "long": b.long, "short": b.short}))
    for b in t.SLO_BURN_RATE_WINDOWS:
        budget = burn_threshold(b.factor, t.SLO_LATENCY_OBJECTIVE)
        slo.rules.append(Alert(
            "LatencyErrorBudgetBurn",
            f"{Names.slo_latency(b.long)} > {budget}\nand\n{Names.slo_latency(b.short)} > {budget}",
            t.FOR_BY_LONG_WINDOW[b.long], b.severity,
            f"{{{{ $labels.endpoint }}}} latency budget burning {num(b.factor)}x too fast "
            f"({b.long} and {b.short} windows)",
            f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.endpoint }}}} GET requests over the last {b.long} "
            f"were slower than the endpoint's target; the objective is {human_percent(t.SLO_LATENCY_OBJECTIVE)} "
            f"within target over {t.SLO_PERIOD}, and at this pace the budget is gone in "
            f"{num(round(period_days / b.factor, 1))} days.",
            dashboard_url("endpoints"), {"slo": "latency", "long": b.long, "short": b.short}))
    return slo
