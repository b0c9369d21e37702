"""Beyond the guide: targets and Redis down, Celery, the cache, and per-endpoint target-table tickets."""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import APP_JOB, CELERY_QUEUE, PROMETHEUS_JOB, PROMETHEUS_PEER_JOB, dashboard_url
from monitoring_spec.promql import num
from monitoring_spec.recorded import Names
from prometheus.rulesets.model import Alert, Group, human_percent


def group(t: ModuleType) -> Group:
    n = Names(t)
    w = t.ALERT_WINDOW
    platform = Group("studio.alerts.platform", [
        Alert(
            "StudioAppDown",
            f'absent(up{{job="{APP_JOB}"}} == 1)',
            "1m", "page",
            "No instance of the app answers Prometheus",
            f"No {APP_JOB} target has answered a scrape for a minute (value {{{{ $value }}}}): "
            "the site is down or Prometheus cannot reach it.",
            dashboard_url("overview"), {"job": APP_JOB}),
        Alert(
            "TargetDown",
            # The Prometheus replicas' own targets are PrometheusReplicaMissing's (one page, not two).
            f'up{{job!~"{PROMETHEUS_JOB}|{PROMETHEUS_PEER_JOB}"}} == 0',
            "2m", "warning",
            "{{ $labels.job }} target {{ $labels.instance }} is down",
            "Prometheus could not scrape {{ $labels.job }} at {{ $labels.instance }} for 2 minutes "
            "(up = {{ $value }}).",
            dashboard_url("overview")),
        Alert(
            "SuspiciousRequests",
            f"sum({n.security_events}) >= {num(t.SECURITY_EVENTS_TICKET)}",
            t.SECURITY_EVENTS_FOR, "ticket",
            "Clients keep sending requests Django refuses as suspicious",
            f'{{{{ printf "%.0f" $value }}}} security events (forged Host headers, CSRF failures, oversized or '
            f"malformed requests) in the last {w}, for {t.SECURITY_EVENTS_FOR} (threshold "
            f"{num(t.SECURITY_EVENTS_TICKET)}): a scan or an attack, or a client or proxy sending a wrong Host. "
            "Not application errors: they never count toward ErrorSpike.",
            dashboard_url("errors")),
        Alert(
            "RedisDown",
            "redis_up == 0",
            "2m", "warning",
            "Redis does not answer its exporter",
            "redis_exporter at {{ $labels.instance }} reports Redis down (redis_up = {{ $value }}) for 2 minutes: "
            "cache reads fall through to the database and Celery cannot queue tasks.",
            dashboard_url("cache_celery")),
        Alert(
            "CeleryTaskFailureRatioHigh",
            f"{n.celery_failed_ratio} > {num(t.CELERY_FAILURE_RATIO)}\n"
            f"and\n{n.celery_finished} >= {num(t.CELERY_FAILURE_MIN_TASKS)}",
            "5m", "warning",
            "Celery task {{ $labels.task }} fails too often",
            f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.task }}}} runs that finished in the last {w} "
            f"failed (threshold {human_percent(t.CELERY_FAILURE_RATIO)}, counted from "
            f"{num(t.CELERY_FAILURE_MIN_TASKS)} runs in the window).",
            dashboard_url("cache_celery", "var-task={{ $labels.task }}")),
        Alert(
            "CeleryQueueBacklog",
            f"max by (queue) ({CELERY_QUEUE}) > {num(t.CELERY_QUEUE_BACKLOG)}",
            "10m", "warning",
            "Celery queue {{ $labels.queue }} is backing up",
            f"{{{{ $value | printf \"%.0f\" }}}} messages wait in queue {{{{ $labels.queue }}}} "
            f"(threshold {num(t.CELERY_QUEUE_BACKLOG)}) for 10 minutes: workers are down, stuck or too few.",
            dashboard_url("cache_celery")),
        Alert(
            "CacheHitRatioCollapse",
            f"{n.cache_hit_ratio} < {num(t.CACHE_HIT_RATIO_FLOOR)}\n"
            f"and\n{n.cache_reads} >= {num(t.CACHE_MIN_LOOKUPS)}",
            "10m", "warning",
            f"Cache hit ratio below {human_percent(t.CACHE_HIT_RATIO_FLOOR)}",
            f"Only {{{{ $value | humanizePercentage }}}} of cache reads in the last {w} were hits "
            f"(floor {human_percent(t.CACHE_HIT_RATIO_FLOOR)}, counted from {num(t.CACHE_MIN_LOOKUPS)} reads) "
            "for 10 minutes: the database takes the load the cache should.",
            dashboard_url("cache_celery")),
    ])
    for target in t.TARGETS:
        views_query = "&".join(f"var-view={v}" for v in target.views)
        guard = f'{n.endpoint_requests}{{endpoint="{target.key}"}} >= {num(t.ENDPOINT_TARGET_MIN_REQUESTS)}'
        platform.rules.append(Alert(
            "EndpointLatencyOverTarget",
            f'{n.endpoint_latency_avg}{{endpoint="{target.key}"}} >= {num(target.target_ms / 1000)}\nand\n{guard}',
            "15m", "ticket",
            f"{target.name}: average latency misses its {target.target_ms} ms target",
            f"{target.name} ({', '.join(target.views)}) averaged {{{{ $value | humanizeDuration }}}} per GET "
            f"over the last {w} for 15 minutes; the guide's target is under {target.target_ms} ms "
            f"(excellent under {target.excellent_ms} ms).",
            dashboard_url("endpoints", views_query), {"endpoint": target.key}))
        platform.rules.append(Alert(
            "EndpointLatencyNeedsWork",
            f'{n.endpoint_latency_avg}{{endpoint="{target.key}"}} > {num(target.needs_work_ms / 1000)}\nand\n{guard}',
            "15m", "ticket",
            f"{target.name}: average latency in the guide's \"needs work\" band",
            f"{target.name} ({', '.join(target.views)}) averaged {{{{ $value | humanizeDuration }}}} per GET "
            f"over the last {w} for 15 minutes; above {target.needs_work_ms} ms the guide says it needs work.",
            dashboard_url("endpoints", views_query), {"endpoint": target.key}))
    return platform
