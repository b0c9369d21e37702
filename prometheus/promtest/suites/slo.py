"""The SLO burn-rate alerts: generated promtool suites.  Each window pair fires just over its threshold and
stays quiet with the long window, or the short one, exactly at it; its `for:` is checked to the evaluation.

Inputs are blocks: one sample per evaluation interval, with the events of that block.  Both windows of a pair
are exact counts over whole blocks, so "exactly at the threshold" is exact (the thresholds are written as
exact decimals: prometheus/rulesets/slo.py).
"""
from __future__ import annotations

import math
from types import ModuleType

from monitoring_spec.contract import REQ_LATENCY, RESPONSES
from monitoring_spec.promql import le_label, num
from prometheus.promtest.dsl import SLO_TEST_EVALUATION, TEST_SCALE_SLO, TestFile, minutes, series
from prometheus.rulesets.slo import burn_threshold

TARGET = {"job": "studio-app", "instance": "app:8000"}


def cumulative(increments: list[int]) -> str:
    """A counter whose k-th sample has grown by increments[k-1]: runs of equal growth as `a+bxn`."""
    parts, value, i = [], 0, 0
    parts.append("0")
    while i < len(increments):
        j = i
        while j < len(increments) and increments[j] == increments[i]:
            j += 1
        step, run = increments[i], j - i
        parts.append(f"{value + step}+{step}x{run - 1}" if run > 1 else f"{value + step}")
        value += step * run
        i = j
    return " ".join(parts)


def spread(total: int, blocks: int) -> list[int]:
    """`total` events over `blocks` blocks, as evenly as whole events allow (the larger blocks first)."""
    base, extra = divmod(total, blocks)
    return [base + 1] * extra + [base] * (blocks - extra)


class Pair:
    """One burn-rate window pair's cases, in blocks of the file's evaluation interval."""

    def __init__(self, t: ModuleType, b, objective: float, block_minutes: int):
        self.b = b
        self.block = block_minutes
        self.long = minutes(b.long) // block_minutes
        self.short = max(1, minutes(b.short) // block_minutes)
        self.at = round(float(burn_threshold(b.factor, objective)) * TEST_SCALE_SLO)  # bad events per block
        assert self.at / TEST_SCALE_SLO == float(burn_threshold(b.factor, objective)), (b, objective)
        self.for_blocks = math.ceil(minutes(t.FOR_BY_LONG_WINDOW[b.long]) / block_minutes)
        self.high = min(2 * self.at, (self.at + TEST_SCALE_SLO) // 2)  # well over, and possible (under 100 %)

    def over(self) -> tuple[list[int], int]:
        """Every block one bad event over the threshold: true from the first block, firing `for:` later."""
        fires_at = 1 + self.for_blocks
        return [self.at + 1] * (fires_at + 1), fires_at

    def long_at(self) -> list[int]:
        """The short window well over, the long one exactly at the threshold (nothing earlier)."""
        rest = self.long - self.short
        return spread(self.at * self.long - self.high * self.short, rest) + [self.high] * self.short

    def short_at(self) -> list[int]:
        """The long window over (well over in its older blocks), the short one exactly at the threshold."""
        return [self.high] * (self.long - self.short) + [self.at] * self.short


def suite(t: ModuleType, evaluation: str = SLO_TEST_EVALUATION, name: str = "slo.yml",
          pairs=lambda t: t.SLO_BURN_RATE_WINDOWS) -> TestFile:
    f = TestFile(t, name, "Multiwindow, multi-burn-rate SLO alerts: just over, each window exactly at, and `for:`.",
                 evaluation_interval=evaluation)
    block = minutes(evaluation)
    interval = f"{block}m"
    view = {**TARGET, "view": t.TARGETS[0].view, "method": "GET"}

    def availability(bad: list[int]) -> list[dict]:
        return [series(RESPONSES, {"status": "200", **view}, cumulative([TEST_SCALE_SLO - x for x in bad])),
                series(RESPONSES, {"status": "502", **view}, cumulative(bad))]

    def latency(target, slow: list[int]) -> list[dict]:
        labels = {**TARGET, "view": target.view, "method": "GET"}
        edge = {"le": le_label(target.target_ms / 1000)}
        return [series(f"{REQ_LATENCY}_count", labels, cumulative([TEST_SCALE_SLO] * len(slow))),
                series(f"{REQ_LATENCY}_bucket", {**labels, **edge}, cumulative([TEST_SCALE_SLO - x for x in slow]))]

    for alertname, objective, inputs_of, targets in (
            ("AvailabilityErrorBudgetBurn", t.SLO_AVAILABILITY_OBJECTIVE, lambda x, bad: availability(bad), [None]),
            ("LatencyErrorBudgetBurn", t.SLO_LATENCY_OBJECTIVE, latency, t.TARGETS)):
        for b in pairs(t):
            p = Pair(t, b, objective, block)
            for target in targets if b == t.SLO_BURN_RATE_WINDOWS[0] else targets[:1]:
                where = {} if target is None else {"endpoint": target.key}
                rule = f.rule(alertname, long=b.long)
                what = f"{alertname} {b.long}/{b.short} ({num(b.factor)}x)" + (f", {target.name}" if target else "")
                bad, fires_at = p.over()
                exp = [f.firing(rule, (p.at + 1) / TEST_SCALE_SLO, **where)]
                f.add(f"{what}: {p.at + 1} of {TEST_SCALE_SLO} bad per block (fires `for:` after the first)",
                      inputs_of(target, bad),
                      [(alertname, f"{block * (fires_at - 1)}m", []), (alertname, f"{block * fires_at}m", exp)],
                      interval=interval)
                # Quiet: this pair's condition is false (not even pending: a `for:` would hide a wrong
                # threshold, the window composition being at the threshold only for this evaluation); a
                # slower pair may rightly fire at such a pace: it has its own cases.
                quiet = [(f'count(ALERTS{{alertname="{alertname}", long="{b.long}"}})', f"{block * p.long}m", [])]
                f.add(f"{what}: short window well over, long window exactly at {p.at} per {TEST_SCALE_SLO} (quiet)",
                      inputs_of(target, p.long_at()), [], interval=interval, exprs=quiet)
                f.add(f"{what}: long window over, short window exactly at {p.at} per {TEST_SCALE_SLO} (quiet)",
                      inputs_of(target, p.short_at()), [], interval=interval, exprs=quiet)
    return f


EVALUATIONS = (SLO_TEST_EVALUATION, "1m")  # coarsest first; below COUNTER_HOLD (exact counts need it)


def suites(t: ModuleType) -> list[TestFile]:
    """Each pair evaluated as coarsely as its short window and its `for:` allow (a third of `for:`, the
    mutation check's step, must show): the day-long windows every 5 minutes keep promtool quick."""
    files = {}
    for b in t.SLO_BURN_RATE_WINDOWS:
        finest = min(minutes(b.short), max(1, minutes(t.FOR_BY_LONG_WINDOW[b.long]) // 3))
        evaluation = next(e for e in EVALUATIONS if minutes(e) <= finest)
        files.setdefault(evaluation, []).append(b)
    names = {"1m": "slo_timing.yml", SLO_TEST_EVALUATION: "slo.yml"}
    return [suite(t, e, names[e], lambda _, pairs=pairs: pairs) for e, pairs in files.items()]
