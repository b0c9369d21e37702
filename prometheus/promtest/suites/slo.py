"""The SLO burn-rate alerts: a generated promtool suite, inputs just over and just under each threshold of the spec."""
from __future__ import annotations

import math
from types import ModuleType

from monitoring_spec.contract import REQ_LATENCY, RESPONSES
from monitoring_spec.promql import num
from prometheus.promtest.dsl import (
    SLO_TEST_EVALUATION,
    TEST_SCALE,
    TEST_SCALE_SLO,
    TestFile,
    histogram,
    just_over,
    just_under,
    minutes,
    series,
    steady,
)


def suite(t: ModuleType) -> TestFile:
    # Rules are evaluated every SLO_TEST_EVALUATION here (not every minute): the burn-rate windows are
    # hours long, and this keeps `promtool test rules` quick.  Inputs are still one sample a minute.
    f = TestFile(t, "slo.yml", "Multiwindow, multi-burn-rate SLO alerts: each window pair just over and just under.",
                 evaluation_interval=SLO_TEST_EVALUATION)
    scale = TEST_SCALE_SLO
    step = minutes(SLO_TEST_EVALUATION)

    def fires_at(b) -> int:
        # Both windows hold from the first evaluation that has two samples (minute `step`); the alert
        # fires at the first evaluation at least `for:` later.
        return step + math.ceil(minutes(t.FOR_BY_LONG_WINDOW[b.long]) / step) * step

    def eval_minute(b) -> int:
        return fires_at(b)

    for b in t.SLO_BURN_RATE_WINDOWS:
        # At this pair's evaluation time no slower pair (lower factor, also true at this pace) fires yet.
        slower = [o for o in t.SLO_BURN_RATE_WINDOWS if o.factor < b.factor]
        assert all(fires_at(o) > eval_minute(b) for o in slower), b

    # --- availability ---------------------------------------------------------------------------
    view = {"view": t.TARGETS[0].view, "method": "GET"}
    for b in t.SLO_BURN_RATE_WINDOWS:
        budget = b.factor * (1 - t.SLO_AVAILABILITY_OBJECTIVE)
        rule = f.rule("AvailabilityErrorBudgetBurn", long=b.long)
        at = eval_minute(b)
        for bad, fires in ((just_over(budget, scale), True), (just_under(budget, scale), False)):
            inputs = [series(RESPONSES, {"status": "200", **view}, steady(scale - bad, at + 1)),
                      series(RESPONSES, {"status": "502", **view}, steady(bad, at + 1))]
            # A faster pair would also fire at this pace only if its factor were lower: it is not.
            exp = [f.firing(rule, bad / scale)] if fires else []
            f.add(f"AvailabilityErrorBudgetBurn {b.long}/{b.short} ({num(b.factor)}x): {bad} of {scale} responses "
                  f"5xx ({'fires' if fires else 'quiet'})", inputs, [("AvailabilityErrorBudgetBurn", f"{at}m", exp)])

    # --- latency, per endpoint --------------------------------------------------------------------
    buckets = t.REQUEST_LATENCY_BUCKETS
    for index, b in enumerate(t.SLO_BURN_RATE_WINDOWS):
        budget = b.factor * (1 - t.SLO_LATENCY_OBJECTIVE)
        rule = f.rule("LatencyErrorBudgetBurn", long=b.long)
        at = eval_minute(b)
        for target in (t.TARGETS if index == 0 else t.TARGETS[:1]):
            edge = target.target_ms / 1000
            for slow, fires in ((just_over(budget, TEST_SCALE), True), (just_under(budget, TEST_SCALE), False)):
                # Good requests take exactly the target (a bucket edge: they count as within it).
                observations = [(edge, TEST_SCALE - slow), ((target.target_ms + 1) / 1000, slow)]
                inputs = []
                for v in target.views:  # every view of the endpoint: they are summed
                    inputs += histogram(REQ_LATENCY, {"view": v, "method": "GET"}, buckets, observations, at + 1)
                total = TEST_SCALE * len(target.views)
                exp = [f.firing(rule, slow / TEST_SCALE, endpoint=target.key)] if fires else []
                f.add(f"LatencyErrorBudgetBurn {b.long}/{b.short} ({num(b.factor)}x): {target.name}, {slow} of "
                      f"{total} GETs over {target.target_ms} ms ({'fires' if fires else 'quiet'})",
                      inputs, [("LatencyErrorBudgetBurn", f"{at}m", exp)])
    return f
