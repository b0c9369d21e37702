"""The guide's four alerts: a generated promtool suite, inputs just over and just under each threshold of the spec."""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import DB_DURATION, ERRORS, REQ_LATENCY, RESPONSES
from monitoring_spec.promql import num
from prometheus.promtest.dsl import (
    APP_TARGET,
    TEST_SCALE,
    TestFile,
    born,
    gauge,
    histogram,
    histogram_quantile,
    jump,
    just_over,
    just_under,
    minutes,
    next_edge,
    series,
    steady,
)
from prometheus.rulesets.model import db_query_buckets


def suite(t: ModuleType) -> TestFile:
    f = TestFile(t, "guide.yml", "The guide's four alerts: just over fires, just under stays quiet; `for:` timing.")
    w = minutes(t.ALERT_WINDOW)
    length = 3 * w + 10  # minutes of input

    # --- ErrorSpike: N or more errors in the window ------------------------------------------
    spike = f.rule("ErrorSpike")
    n_err = t.ERROR_SPIKE_MIN_ERRORS
    at = w + 1  # the errors happen at this minute, all at once
    for count, fires in ((n_err, True), (n_err - 1, False)):
        first = count // 2 + count % 2
        inputs = [
            series(ERRORS, {"source": "request", "exception": "ValueError"}, jump(at - 1, first, length - at)),
            series(ERRORS, {"source": "task", "exception": "TimeoutError"}, jump(at - 1, count - first, length - at)),
        ]
        exp = [f.firing(spike, count)] if fires else []
        f.add(f"ErrorSpike: {count} errors in {t.ALERT_WINDOW} across two sources ({'fires' if fires else 'quiet'})",
              inputs, [
                  ("ErrorSpike", f"{at - 1}m", []),
                  ("ErrorSpike", f"{at}m", exp),  # for: 0 -> at once
                  ("ErrorSpike", f"{at + w - 1}m", exp),  # still inside the window
                  ("ErrorSpike", f"{at + w}m", []),  # the errors left the window
              ])
    for count, fires in ((n_err, True), (n_err - 1, False)):
        inputs = [
            series("up", APP_TARGET, gauge(1, length)),  # Prometheus has been scraping the app all along
            series(ERRORS, {"source": "request", "exception": "ValueError", **APP_TARGET}, gauge(0, length)),
            # A new exception type: its series appears with its first errors and must count in full.
            series(ERRORS, {"source": "log", "exception": "BrandNewError", **APP_TARGET},
                   born(at, count, length - at)),
        ]
        exp = [f.firing(spike, count)] if fires else []
        f.add(f"ErrorSpike: {count} errors of a new exception type ({'fires' if fires else 'quiet'})",
              inputs, [("ErrorSpike", f"{at}m", exp), ("ErrorSpike", f"{at + w}m", [])])
    inputs = [
        # Prometheus starts scraping a process that has been up for a while: the lifetime totals it
        # finds are not new errors (no alert after a Prometheus restart), only what comes after is.
        series("up", APP_TARGET, born(at, 1, length - at)),
        series(ERRORS, {"source": "request", "exception": "ValueError", **APP_TARGET},
               born(at, n_err * n_err, length - at)),
    ]
    f.add("ErrorSpike: old totals of a process Prometheus only now sees are not a spike (quiet)",
          inputs, [("ErrorSpike", f"{m}m", []) for m in range(at, at + w + 1)])
    # Samples every 2 minutes, evaluations every minute: at an odd minute the newest sample is a minute
    # old and increase() would extrapolate (9 errors read as 11.25).  The count must stay exact.
    for count, fires in ((n_err, True), (n_err - 1, False)):
        inputs = [series(ERRORS, {"source": "request", "exception": "ValueError", **APP_TARGET},
                         f"0 0 {num(count)}x{length // 2}")]
        exp = [f.firing(spike, count)] if fires else []
        f.add(f"ErrorSpike: {count} errors counted exactly between sparse samples ({'fires' if fires else 'quiet'})",
              inputs, [("ErrorSpike", "3m", []), ("ErrorSpike", "4m", exp), ("ErrorSpike", "5m", exp)],
              interval="2m")

    # --- SlowTransactions: P95 over the threshold --------------------------------------------
    slow = f.rule("SlowTransactions")
    p95 = t.SLOW_TRANSACTION_P95_SECONDS
    q = t.SLOW_TRANSACTION_QUANTILE
    buckets = t.REQUEST_LATENCY_BUCKETS
    fast = buckets[0]
    over_share = just_over(1 - q, TEST_SCALE)  # requests per TEST_SCALE slower than the threshold
    cases = [
        ("every request takes 1.2x the threshold", [(p95 * 1.2, TEST_SCALE)], True),
        (f"{over_share} per {TEST_SCALE} requests over the threshold",
         [(fast, TEST_SCALE - over_share), (p95 * 1.2, over_share)], True),
        ("every request takes 0.9x the threshold", [(p95 * 0.9, TEST_SCALE)], False),
    ]
    assert p95 < p95 * 1.2 <= next_edge(p95, buckets) and p95 * 0.9 <= p95
    for label, observations, fires in cases:
        value = histogram_quantile(q, buckets, observations)
        assert (value > p95) == fires, (label, value)
        inputs = histogram(REQ_LATENCY, {"view": t.TARGETS[0].view, "method": "GET"}, buckets, observations, length)
        exp = [f.firing(slow, value)] if fires else []
        checks = [("SlowTransactions", f"{3 * w}m", exp)]
        if fires:
            # Two samples make a rate at minute 1; `for: 1m` holds it back until minute 2.
            checks = [("SlowTransactions", "1m", []), ("SlowTransactions", "2m", exp)] + checks
        f.add(f"SlowTransactions: {label} ({'fires' if fires else 'quiet'})", inputs, checks)

    # --- HighErrorRate: 5xx share above the ratio, with enough traffic --------------------------
    high = f.rule("HighErrorRate")
    ratio = t.HIGH_ERROR_RATE_RATIO
    view = {"view": t.TARGETS[0].view, "method": "GET"}
    for bad, fires in ((just_over(ratio, TEST_SCALE), True), (just_under(ratio, TEST_SCALE), False)):
        client_errors = TEST_SCALE // 10  # 4xx are not errors of ours
        inputs = [
            series(RESPONSES, {"status": "200", **view}, steady(TEST_SCALE - bad - client_errors, length)),
            series(RESPONSES, {"status": "404", **view}, steady(client_errors, length)),
            series(RESPONSES, {"status": "500", **view}, steady(bad, length)),
        ]
        exp = [f.firing(high, bad / TEST_SCALE)] if fires else []
        checks = [("HighErrorRate", f"{3 * w}m", exp)]
        if fires:
            checks = [("HighErrorRate", "1m", []), ("HighErrorRate", "2m", exp)] + checks
        f.add(f"HighErrorRate: {bad} 5xx per {TEST_SCALE} responses ({'fires' if fires else 'quiet'})",
              inputs, checks)
    min_req = t.HIGH_ERROR_RATE_MIN_REQUESTS
    for total, fires in ((min_req, True), (min_req - 1, False)):
        # Every response a 5xx, all in one burst: only the minimum-traffic guard decides.
        inputs = [
            series(RESPONSES, {"status": "200", **view}, gauge(0, length)),
            series(RESPONSES, {"status": "503", **view}, jump(w, total, length - w)),
        ]
        exp = [f.firing(high, 1.0)] if fires else []
        f.add(f"HighErrorRate: minimum traffic guard, {total} requests all failing ({'fires' if fires else 'quiet'})",
              inputs, [("HighErrorRate", f"{w + 1}m", []), ("HighErrorRate", f"{w + 2}m", exp)])
    inputs = [
        series("up", APP_TARGET, gauge(1, length)),
        series(RESPONSES, {"status": "200", **view, **APP_TARGET}, gauge(0, length)),
        # The first 5xx of a view creates its series: the burst must count in full.
        series(RESPONSES, {"status": "500", "view": t.TARGETS[1].view, "method": "GET", **APP_TARGET},
               born(w, min_req, length - w)),
    ]
    f.add("HighErrorRate: a view's first 5xx responses create their series and still count (fires)",
          inputs, [("HighErrorRate", f"{w}m", []), ("HighErrorRate", f"{w + 1}m", [f.firing(high, 1.0)])])

    # --- DatabaseIssues: any query slower than the threshold (a bucket edge) -----------------
    dbi = f.rule("DatabaseIssues")
    db_buckets = db_query_buckets(t)
    slow_q = t.DB_SLOW_QUERY_SECONDS
    assert slow_q < slow_q * 1.2 <= next_edge(slow_q, db_buckets)
    db = {"alias": "default", "vendor": "postgresql"}
    at = w * 2
    background = [(db_buckets[0], TEST_SCALE)]
    # One extra query of 1.2x the threshold at minute `at` among fast ones, then only fast ones again.
    spiked = histogram(DB_DURATION, db, db_buckets, background, length, extra=((slow_q * 1.2, 1), at))
    exp = [f.firing(dbi, 1, **db)]
    f.add("DatabaseIssues: one query of 1.2x the threshold among fast ones (fires for one window)", spiked, [
        ("DatabaseIssues", f"{at - 1}m", []),
        ("DatabaseIssues", f"{at}m", exp),  # for: 0 -> at once
        ("DatabaseIssues", f"{at + w - 1}m", exp),
        ("DatabaseIssues", f"{at + w}m", []),
    ])
    inputs = histogram(DB_DURATION, db, db_buckets, [(slow_q * 0.8, TEST_SCALE)], length)
    f.add("DatabaseIssues: only queries of 0.8x the threshold (quiet)", inputs,
          [("DatabaseIssues", f"{m}m", []) for m in (w, 2 * w, 3 * w)])
    inputs = histogram(DB_DURATION, db, db_buckets, [(slow_q, TEST_SCALE)], length)
    f.add("DatabaseIssues: queries exactly at the threshold are not slower than it (quiet)", inputs,
          [("DatabaseIssues", f"{m}m", []) for m in (w, 2 * w, 3 * w)])
    replica = {"alias": "replica", "vendor": "postgresql"}
    inputs = [series("up", APP_TARGET, gauge(1, length))]
    inputs += [{"series": x["series"], "values": born(at, float(x["values"]), length - at)}
               for x in histogram(DB_DURATION, {**replica, **APP_TARGET}, db_buckets, [(slow_q * 1.2, 1)], None)]
    f.add("DatabaseIssues: the very first query of a new database is slow (fires)", inputs, [
        ("DatabaseIssues", f"{at}m", [f.firing(dbi, 1, **replica)]),  # `sum by (alias, vendor)`
        ("DatabaseIssues", f"{at + w}m", []),
    ])
    return f
