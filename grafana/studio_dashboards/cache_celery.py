"""Cache and Celery: hit ratios (app and Redis INFO), operations, tasks, runtime, queues, workers."""
from __future__ import annotations

from .common import (
    ANY,
    CACHE_OPS,
    CELERY_FAILED,
    CELERY_QUEUE,
    CELERY_RETRIED,
    CELERY_RUNTIME,
    CELERY_SENT,
    CELERY_STARTED,
    CELERY_SUCCEEDED,
    INSTANCE,
    P95,
    PERCENTILES,
    RATE,
    TASK,
    WORKER_JOB,
    Layout,
    above,
    alert_window,
    dashboard,
    datasource_var,
    instance_var,
    percent_text,
    q,
    quantile,
    quantile_name,
    series_override,
    stat,
    steps,
    summed,
    task_var,
    thresholds,
    timeseries,
)

REDIS_HITS = "redis_keyspace_hits_total"
REDIS_MISSES = "redis_keyspace_misses_total"
UP_MAPPING = [{"type": "value", "options": {"0": {"text": "down", "color": "red", "index": 0},
                                            "1": {"text": "up", "color": "green", "index": 1}}}]


def app_hit_ratio(window: str) -> str:
    hits = summed("rate", CACHE_OPS, (INSTANCE, 'result="hit"'), window)
    lookups = summed("rate", CACHE_OPS, (INSTANCE, 'result=~"hit|miss"'), window)
    return f"{hits} / {lookups}"


def redis_hit_ratio(window: str) -> str:
    hits = summed("rate", REDIS_HITS, (), window)
    misses = summed("rate", REDIS_MISSES, (), window)
    return f"{hits} / ({hits} + {misses})"


def failure_ratio(window: str, labels=("task",)) -> str:
    tasks = (INSTANCE, TASK)
    failed = summed("rate", CELERY_FAILED, tasks, window, labels)
    succeeded = summed("rate", CELERY_SUCCEEDED, tasks, window, labels)
    return f"{failed} / ({failed} + {succeeded})"


def build():
    t = thresholds
    floor = t.CACHE_HIT_RATIO_FLOOR
    backlog = t.CELERY_QUEUE_BACKLOG
    fail_ratio = t.CELERY_FAILURE_RATIO
    hit_steps = steps("red", (floor, "green"))
    win = alert_window()
    inst = (INSTANCE,)
    tasks = (INSTANCE, TASK)
    workers_up = f'sum(up{{job="{WORKER_JOB}"}}) or vector(0)'

    lay = Layout()
    lay.fill([
        stat(f"App cache hit ratio ({win})", [q(app_hit_ratio(win))], unit="percentunit",
             decimals=1, steps_=hit_steps,
             description=("hits / (hits + misses) of the app's cache reads "
                          "(studio_cache_operations_total). Red below "
                          f"{percent_text(floor)} (CacheHitRatioCollapse alert).")),
        stat(f"Redis hit ratio ({win})", [q(redis_hit_ratio(win))], unit="percentunit",
             decimals=1, steps_=hit_steps,
             description=("keyspace_hits / (hits + misses) from Redis INFO (redis exporter): "
                          "every client of the Redis, including Celery.")),
        stat("Redis", [q("min(redis_up)")], mappings=UP_MAPPING, color_mode="background",
             graph=False, steps_=steps("red", (ANY, "green"))),
        stat("Workers up", [q(workers_up)], decimals=0, color_mode="background", graph=False,
             steps_=steps("red", (ANY, "green")),
             description=f'Scrape targets of job "{WORKER_JOB}" that answer.'),
        stat(f"Tasks succeeded/s ({win})",
             [q(summed("rate", CELERY_SUCCEEDED, tasks, win))], unit="ops"),
        stat(f"Tasks failed (last {win})",
             [q(f"sum(increase({CELERY_FAILED}{{{INSTANCE}, {TASK}}}[{win}])) or vector(0)")],
             decimals=0, steps_=above(ANY, bad="orange")),
        stat(f"Tasks retried (last {win})",
             [q(f"sum(increase({CELERY_RETRIED}{{{INSTANCE}, {TASK}}}[{win}])) or vector(0)")],
             decimals=0),
        stat("Longest queue", [q(f"max({CELERY_QUEUE}{{{INSTANCE}}})")], decimals=0,
             steps_=above(backlog),
             description=(f"Messages waiting in the fullest Celery queue. Red above {backlog} "
                          f"(CeleryQueueBacklog alert).")),
    ], h=4)

    lay.row("Cache")
    lay.add(timeseries(
        "Cache hit ratio",
        [q(app_hit_ratio(RATE), "app (django cache)", ref="A"),
         q(redis_hit_ratio(RATE), "Redis keyspace", ref="B")],
        unit="percentunit", min_=0, max_=1, steps_=hit_steps, threshold_style="dashed",
        description=(f"Dashed line: the CacheHitRatioCollapse floor ({percent_text(floor)}), "
                     f"which the alert applies to the app cache.")), w=8, h=9)
    lay.add(timeseries(
        "App cache operations",
        [q(summed("rate", CACHE_OPS, inst, RATE, ("operation", "result")),
           "{{operation}} {{result}}")],
        unit="ops", stack=True, fill=30, min_=0,
        overrides=[series_override(".*error", color={"fixedColor": "red", "mode": "fixed"})],
        description="studio_cache_operations_total by operation and result (hit, miss, set, "
                    "delete, error)."), w=8, h=9)
    lay.add(timeseries(
        "Redis commands and clients",
        [q(summed("rate", "redis_commands_processed_total", (), RATE), "commands/s", ref="A"),
         q("sum(redis_connected_clients)", "connected clients", ref="B")],
        unit="ops", min_=0,
        overrides=[{"matcher": {"id": "byName", "options": "connected clients"},
                    "properties": [{"id": "unit", "value": "short"},
                                   {"id": "custom.axisPlacement", "value": "right"}]}]),
        w=8, h=9)

    lay.row("Celery tasks")
    lay.add(timeseries(
        "Task throughput",
        [q(summed("rate", metric, tasks, RATE), legend, ref=chr(ord("A") + i))
         for i, (metric, legend) in enumerate((
             (CELERY_SENT, "sent"), (CELERY_STARTED, "started"),
             (CELERY_SUCCEEDED, "succeeded"), (CELERY_FAILED, "failed"),
             (CELERY_RETRIED, "retried")))],
        unit="ops", min_=0,
        overrides=[series_override("failed", color={"fixedColor": "red", "mode": "fixed"}),
                   series_override("retried",
                                   color={"fixedColor": "orange", "mode": "fixed"})]),
        w=12, h=9)
    lay.add(timeseries(
        "Failures and retries per minute by task",
        [q(f"{summed('rate', CELERY_FAILED, tasks, RATE, ('task',))} * 60", "failed {{task}}",
           ref="A"),
         q(f"{summed('rate', CELERY_RETRIED, tasks, RATE, ('task',))} * 60",
           "retried {{task}}", ref="B")],
        bars=True, stack=True, fill=80, min_=0), w=12, h=9)
    lay.add(timeseries(
        "Task runtime percentiles",
        [q(quantile(p, CELERY_RUNTIME, tasks), quantile_name(p), ref=chr(ord("A") + i))
         for i, p in enumerate(PERCENTILES)],
        unit="s", min_=0), w=8, h=9)
    lay.add(timeseries(
        "Task runtime P95 by task",
        [q(quantile(P95, CELERY_RUNTIME, tasks, labels=("task",)), "{{task}}")],
        unit="s", min_=0, legend_calcs=("mean", "max")), w=8, h=9)
    lay.add(timeseries(
        "Queue length",
        [q(f"max by (queue) ({CELERY_QUEUE}{{{INSTANCE}}})", "{{queue}}")],
        min_=0, fill=25, steps_=above(backlog), threshold_style="dashed",
        description=(f"Messages waiting per queue (studio_celery_queue_length). Dashed line: "
                     f"the CeleryQueueBacklog threshold ({backlog}).")), w=8, h=9)
    lay.add(timeseries(
        "Workers up",
        [q(f'sum(up{{job="{WORKER_JOB}"}})', "up", ref="A"),
         q(f'count(up{{job="{WORKER_JOB}"}})', "scrape targets", ref="B")],
        min_=0, steps_=steps("red", (ANY, "green")), threshold_style="dashed",
        legend_calcs=("min", "lastNotNull")), w=12, h=8)
    lay.add(timeseries(
        "Failure ratio by task",
        [q(f"{failure_ratio(RATE)} > 0", "{{task}}")],
        unit="percentunit", min_=0, steps_=above(fail_ratio), threshold_style="dashed",
        description=(f"failed / (failed + succeeded) per task. Dashed line: the "
                     f"CeleryTaskFailureRatioHigh threshold ({percent_text(fail_ratio)}).")),
        w=12, h=8)

    return dashboard(
        "cache_celery",
        "Cache and Celery: app and Redis hit ratios, cache operations, task throughput, "
        "failures, runtime, queue length and workers up.",
        lay,
        [datasource_var(), instance_var(), task_var()],
    )
