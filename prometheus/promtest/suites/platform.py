"""The platform's alerts: a generated promtool suite, inputs just over and just under each threshold of the spec."""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import (
    APP_JOB,
    CACHE_OPS,
    CELERY_FAILED,
    CELERY_QUEUE,
    CELERY_SUCCEEDED,
    REQ_LATENCY,
    SECURITY_EVENTS,
)
from monitoring_spec.promql import num
from prometheus.promtest.dsl import (
    TEST_SCALE,
    TestFile,
    at,
    gauge,
    guard_counts,
    just_over,
    just_under,
    minutes,
    series,
    steady,
)


def suite(t: ModuleType) -> TestFile:
    f = TestFile(t, "platform.yml", "Alerts beyond the guide: targets, Redis, Celery, cache, the target table.")
    w = minutes(t.ALERT_WINDOW)
    length = 40

    # --- targets ------------------------------------------------------------------------------
    down = f.rule("TargetDown")
    worker = {"job": "studio-worker", "instance": "worker:9808"}
    f.add("TargetDown: a target stops answering (fires after 2m)",
          [series("up", worker, "1x4 0x20")], [
              ("TargetDown", "6m", []), ("TargetDown", "7m", [f.firing(down, 0, **worker)])])
    f.add("TargetDown: every target answers (quiet)", [series("up", worker, gauge(1, length))],
          [("TargetDown", "10m", [])])
    app_down = f.rule("StudioAppDown")
    app1, app2 = ({"job": APP_JOB, "instance": f"app-{i}:8000"} for i in (1, 2))
    f.add("StudioAppDown: every app instance down (fires after 1m)",
          [series("up", app1, "1x4 0x20"), series("up", app2, "1x4 0x20")], [
              ("StudioAppDown", "5m", []), ("StudioAppDown", "6m", [f.firing(app_down, 1)])])
    f.add("StudioAppDown: one of two app instances down (quiet)",
          [series("up", app1, "1x4 0x20"), series("up", app2, gauge(1, 25))], [("StudioAppDown", "10m", [])])
    f.add("StudioAppDown: Prometheus has no app target at all (fires)",
          [series("up", worker, gauge(1, 10))], [("StudioAppDown", "0m", []), ("StudioAppDown", "1m",
                                                                               [f.firing(app_down, 1)])])
    redis_down = f.rule("RedisDown")
    rx = {"job": "redis", "instance": "redis-exporter:9121"}
    f.add("RedisDown: Redis stops answering its exporter (fires after 2m)",
          [series("redis_up", rx, "1x4 0x20")], [
              ("RedisDown", "6m", []), ("RedisDown", "7m", [f.firing(redis_down, 0, **rx)])])
    f.add("RedisDown: Redis up (quiet)", [series("redis_up", rx, gauge(1, 20))], [("RedisDown", "10m", [])])

    # --- Celery ---------------------------------------------------------------------------------
    fail = f.rule("CeleryTaskFailureRatioHigh")
    task = {"task": "courses.tasks.send_enrollment_email"}
    ratio = t.CELERY_FAILURE_RATIO
    for failed, fires in ((just_over(ratio, TEST_SCALE), True), (at(ratio, TEST_SCALE), False)):  # "above"
        inputs = [series(CELERY_SUCCEEDED, task, steady(TEST_SCALE - failed, length)),
                  series(CELERY_FAILED, task, steady(failed, length))]
        exp = [f.firing(fail, failed / TEST_SCALE, **task)] if fires else []
        checks = [("CeleryTaskFailureRatioHigh", "20m", exp)]
        if fires:  # true from minute 1, `for: 5m`
            checks = [("CeleryTaskFailureRatioHigh", "5m", []), ("CeleryTaskFailureRatioHigh", "6m", exp)] + checks
        f.add(f"CeleryTaskFailureRatioHigh: {failed} of {TEST_SCALE} runs fail ({'fires' if fires else 'quiet'})",
              inputs, checks)
    for runs, fires in guard_counts(t.CELERY_FAILURE_MIN_TASKS):
        inputs = [series(CELERY_FAILED, task, steady(runs / w, length))]  # every run fails; no success yet
        exp = [f.firing(fail, 1.0, **task)] if fires else []
        f.add(f"CeleryTaskFailureRatioHigh: minimum-runs guard, {num(runs)} runs in {t.ALERT_WINDOW}, all "
              f"failing ({'fires' if fires else 'quiet'})", inputs, [("CeleryTaskFailureRatioHigh", "20m", exp)])
    backlog = f.rule("CeleryQueueBacklog")
    queue = {"queue": "celery"}
    for depth, fires in ((t.CELERY_QUEUE_BACKLOG + 1, True), (t.CELERY_QUEUE_BACKLOG, False)):
        inputs = [series(CELERY_QUEUE, {**queue, "job": "studio-worker", "instance": "worker:9808"},
                         gauge(depth, length))]
        exp = [f.firing(backlog, depth, **queue)] if fires else []
        checks = [("CeleryQueueBacklog", "20m", exp)]
        if fires:
            checks = [("CeleryQueueBacklog", "9m", []), ("CeleryQueueBacklog", "10m", exp)] + checks
        f.add(f"CeleryQueueBacklog: {depth} messages waiting ({'fires' if fires else 'quiet'})", inputs, checks)

    # --- security events: a ticket, from SECURITY_EVENTS_TICKET in the window, after SECURITY_EVENTS_FOR -------
    suspicious = f.rule("SuspiciousRequests")
    hold = minutes(t.SECURITY_EVENTS_FOR)
    for events, fires in guard_counts(t.SECURITY_EVENTS_TICKET):
        inputs = [series(SECURITY_EVENTS, {"event": "DisallowedHost"}, steady(events / w, length))]
        exp = [f.firing(suspicious, events)] if fires else []
        checks = [("SuspiciousRequests", f"{w + hold + 5}m", exp)]
        if fires:  # the window is full at minute w, then `for:`
            checks = [("SuspiciousRequests", f"{w + hold - 1}m", []), ("SuspiciousRequests", f"{w + hold}m", exp)] + checks
        f.add(f"SuspiciousRequests: {num(events)} security events in {t.ALERT_WINDOW} ({'fires' if fires else 'quiet'})",
              inputs, checks)

    # --- cache --------------------------------------------------------------------------------
    collapse = f.rule("CacheHitRatioCollapse")
    floor = t.CACHE_HIT_RATIO_FLOOR
    for hits, fires in ((just_under(floor, TEST_SCALE), True), (at(floor, TEST_SCALE), False)):  # "below"
        inputs = [
            series(CACHE_OPS, {"operation": "get", "result": "hit"}, steady(hits, length)),
            series(CACHE_OPS, {"operation": "get", "result": "miss"}, steady(TEST_SCALE - hits, length)),
            series(CACHE_OPS, {"operation": "set", "result": "set"}, steady(TEST_SCALE, length)),  # not a read
        ]
        exp = [f.firing(collapse, hits / TEST_SCALE)] if fires else []
        checks = [("CacheHitRatioCollapse", "20m", exp)]
        if fires:  # true from minute 1, `for: 10m`
            checks = [("CacheHitRatioCollapse", "10m", []), ("CacheHitRatioCollapse", "11m", exp)] + checks
        f.add(f"CacheHitRatioCollapse: {hits} hits per {TEST_SCALE} reads ({'fires' if fires else 'quiet'})",
              inputs, checks)
    for reads, fires in guard_counts(t.CACHE_MIN_LOOKUPS):
        inputs = [series(CACHE_OPS, {"operation": "get", "result": "miss"}, steady(reads / w, length))]
        exp = [f.firing(collapse, 0.0)] if fires else []
        f.add(f"CacheHitRatioCollapse: minimum-reads guard, {num(reads)} reads in {t.ALERT_WINDOW}, all "
              f"misses ({'fires' if fires else 'quiet'})", inputs, [("CacheHitRatioCollapse", "20m", exp)])

    # --- the guide's target table, per endpoint (averages); every endpoint in one test ------------
    def endpoint_inputs(avg_ms_of) -> list[dict]:
        inputs = []
        for target in t.TARGETS:
            avg_ms = avg_ms_of(target)
            share = [TEST_SCALE // len(target.views)] * len(target.views)
            share[0] += TEST_SCALE - sum(share)
            for view, requests in zip(target.views, share, strict=True):  # an endpoint's views are summed
                inputs += [
                    series(f"{REQ_LATENCY}_sum", {"view": view, "method": "GET"},
                           steady(requests * avg_ms / 1000, length)),
                    series(f"{REQ_LATENCY}_count", {"view": view, "method": "GET"}, steady(requests, length)),
                ]
            # Writes are not in the target table: a slow POST does not move the GET average.
            inputs += [series(f"{REQ_LATENCY}_sum", {"view": target.view, "method": "POST"},
                              steady(TEST_SCALE * target.needs_work_ms * 2 / 1000, length)),
                       series(f"{REQ_LATENCY}_count", {"view": target.view, "method": "POST"},
                              steady(TEST_SCALE, length))]
        return inputs

    def endpoint_alerts(alertname: str, avg_ms_of) -> list[dict]:
        return [f.firing(f.rule(alertname, endpoint=x.key), avg_ms_of(x) / 1000, endpoint=x.key) for x in t.TARGETS]

    def over(x):
        return x.target_ms  # "misses its target": an average of exactly the target is a miss

    def under(x):
        return x.target_ms - 1

    exp = endpoint_alerts("EndpointLatencyOverTarget", over)
    f.add("EndpointLatencyOverTarget: every endpoint averaging exactly its target (fires after 15m)",
          endpoint_inputs(over), [("EndpointLatencyOverTarget", "15m", []), ("EndpointLatencyOverTarget", "16m", exp),
                                  ("EndpointLatencyOverTarget", "30m", exp), ("EndpointLatencyNeedsWork", "30m", [])])
    f.add("EndpointLatencyOverTarget: every endpoint averaging 1 ms under its target (quiet)",
          endpoint_inputs(under), [("EndpointLatencyOverTarget", "30m", [])])

    def needs_work(x):
        return x.needs_work_ms + 1

    def at_needs_work(x):
        return x.needs_work_ms

    f.add("EndpointLatencyNeedsWork: every endpoint averaging 1 ms over its needs-work line (fires after 15m)",
          endpoint_inputs(needs_work), [
              ("EndpointLatencyNeedsWork", "15m", []),
              ("EndpointLatencyNeedsWork", "16m", endpoint_alerts("EndpointLatencyNeedsWork", needs_work)),
              # Both fire; Alertmanager inhibits OverTarget for the same endpoint.
              ("EndpointLatencyOverTarget", "30m", endpoint_alerts("EndpointLatencyOverTarget", needs_work))])
    f.add("EndpointLatencyNeedsWork: every endpoint averaging exactly its needs-work line (quiet)",
          endpoint_inputs(at_needs_work), [("EndpointLatencyNeedsWork", "30m", [])])
    for requests, fires in guard_counts(t.ENDPOINT_TARGET_MIN_REQUESTS):  # every endpoint, both alerts
        inputs = []
        for target in t.TARGETS:
            slow_ms = target.needs_work_ms * 2
            inputs += [
                series(f"{REQ_LATENCY}_sum", {"view": target.view, "method": "GET"},
                       steady(requests / w * slow_ms / 1000, length)),
                series(f"{REQ_LATENCY}_count", {"view": target.view, "method": "GET"}, steady(requests / w, length)),
            ]
        checks = [(name, "30m", endpoint_alerts(name, lambda x: x.needs_work_ms * 2) if fires else [])
                  for name in ("EndpointLatencyOverTarget", "EndpointLatencyNeedsWork")]
        f.add(f"EndpointLatency*: minimum-traffic guard, {num(requests)} slow GET requests per endpoint in "
              f"{t.ALERT_WINDOW} ({'fires' if fires else 'quiet'})", inputs, checks)

    # --- meta -----------------------------------------------------------------------------------
    f.add("Watchdog: always firing", [], [("Watchdog", "0m", [f.firing(f.rule("Watchdog"), 1)]),
                                           ("Watchdog", "30m", [f.firing(f.rule("Watchdog"), 1)])])
    rf = f.rule("PrometheusRuleFailures")
    grp = {"rule_group": "/etc/prometheus/rules/alerts.yml;studio.alerts.guide"}
    labels = {**grp, "job": "prometheus", "instance": "localhost:9090"}
    f.add("PrometheusRuleFailures: a rule group fails at every evaluation (fires after 10m)",
          [series("prometheus_rule_evaluation_failures_total", labels, steady(1, length))], [
              ("PrometheusRuleFailures", "10m", []),
              ("PrometheusRuleFailures", "11m", [f.firing(rf, w, **grp)])])
    f.add("PrometheusRuleFailures: one failed evaluation (quiet)",
          [series("prometheus_rule_evaluation_failures_total", labels, "0x4 1x30")],
          [("PrometheusRuleFailures", f"{m}m", []) for m in range(5, 20)])
    nf = f.rule("AlertmanagerNotificationsFailing")
    integ = {"integration": "slack"}
    labels = {**integ, "job": "alertmanager", "instance": "alertmanager:9093"}
    f.add("AlertmanagerNotificationsFailing: Slack rejects every notification (fires after 10m)",
          [series("alertmanager_notifications_failed_total", labels, steady(1, length))], [
              ("AlertmanagerNotificationsFailing", "10m", []),
              ("AlertmanagerNotificationsFailing", "11m", [f.firing(nf, w, **integ)])])
    f.add("AlertmanagerNotificationsFailing: no failures (quiet)",
          [series("alertmanager_notifications_failed_total", labels, gauge(0, length))],
          [("AlertmanagerNotificationsFailing", "20m", [])])
    return f
