"""Cache and Celery: hit ratios (app and Redis INFO), operations, tasks, runtime, queues, workers."""

from __future__ import annotations

import monitoring_spec as spec
from grafana import panels as ui
from grafana import queries as pq
from monitoring_spec import contract as metric
from monitoring_spec.recorded import Names

UP_MAPPING = [
    {
        "type": "value",
        "options": {"0": {"text": "down", "color": "red", "index": 0}, "1": {"text": "up", "color": "green", "index": 1}},
    }
]


def build():
    t = spec
    rec = Names(t)
    floor = t.CACHE_HIT_RATIO_FLOOR
    backlog = t.CELERY_QUEUE_BACKLOG
    fail_ratio = t.CELERY_FAILURE_RATIO
    hit_steps = ui.steps("red", (floor, "green"))
    win = pq.alert_window()
    inst = (pq.INSTANCE,)
    tasks = (pq.INSTANCE, pq.TASK)
    workers_up = f'sum(up{{job="{metric.WORKER_JOB}"}}) or vector(0)'

    lay = ui.Layout()
    lay.fill(
        [
            ui.stat(
                f"App cache hit ratio ({win})",
                [ui.q(rec.cache_hit_ratio)],
                unit="percentunit",
                decimals=1,
                steps_=hit_steps,
                description=(
                    "hits / (hits + misses) of the app's cache reads "
                    f"(studio_cache_operations_total): {ui.ALERT_NUMBER}. Red below "
                    f"{pq.percent_text(floor)} (CacheHitRatioCollapse alert)."
                ),
            ),
            ui.stat(
                f"Redis hit ratio ({win})",
                [ui.q(rec.redis_hit_ratio)],
                unit="percentunit",
                decimals=1,
                steps_=hit_steps,
                description=(
                    "keyspace_hits / (hits + misses) from Redis INFO (redis exporter): "
                    "every client of the Redis, including Celery."
                ),
            ),
            ui.stat(
                "Redis",
                [ui.q("min(redis_up)")],
                mappings=UP_MAPPING,
                color_mode="background",
                graph=False,
                steps_=ui.steps("red", (pq.ANY, "green")),
            ),
            ui.stat(
                "Workers up",
                [ui.q(workers_up)],
                decimals=0,
                color_mode="background",
                graph=False,
                steps_=ui.steps("red", (pq.ANY, "green")),
                description=f'Scrape targets of job "{metric.WORKER_JOB}" that answer.',
            ),
            ui.stat(f"Tasks succeeded/s ({win})", [ui.q(pq.summed("rate", metric.CELERY_SUCCEEDED, tasks, win))], unit="ops"),
            ui.stat(
                f"Tasks failed (last {win})",
                [ui.q(f"sum(increase({metric.CELERY_FAILED}{{{pq.INSTANCE}, {pq.TASK}}}[{win}])) or vector(0)")],
                decimals=0,
                steps_=ui.above(pq.ANY, bad="orange"),
            ),
            ui.stat(
                f"Tasks retried (last {win})",
                [ui.q(f"sum(increase({metric.CELERY_RETRIED}{{{pq.INSTANCE}, {pq.TASK}}}[{win}])) or vector(0)")],
                decimals=0,
            ),
            ui.stat(
                "Longest queue",
                [ui.q(f"max({metric.CELERY_QUEUE}{{{pq.INSTANCE}}})")],
                decimals=0,
                steps_=ui.above(backlog),
                description=(f"Messages waiting in the fullest Celery queue. Red above {backlog} (CeleryQueueBacklog alert)."),
            ),
        ],
        h=4,
    )

    lay.row("Cache")
    lay.add(
        ui.timeseries(
            "Cache hit ratio",
            [
                ui.q(rec.cache_hit_ratio, f"app (django cache, {win})", ref="A"),
                ui.q(rec.redis_hit_ratio, f"Redis keyspace ({win})", ref="B"),
            ],
            unit="percentunit",
            min_=0,
            max_=1,
            steps_=hit_steps,
            threshold_style="dashed",
            description=(
                f"Hit ratios in a sliding {win} window; the app's is {ui.ALERT_NUMBER}. "
                f"Dashed line: the CacheHitRatioCollapse floor ({pq.percent_text(floor)}), "
                f"which the alert applies to the app cache."
            ),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "App cache operations",
            [ui.q(pq.summed("rate", metric.CACHE_OPS, inst, pq.RATE, ("operation", "result")), "{{operation}} {{result}}")],
            unit="ops",
            stack=True,
            fill=30,
            min_=0,
            overrides=[ui.series_override(".*error", color={"fixedColor": "red", "mode": "fixed"})],
            description="studio_cache_operations_total by operation and result (hit, miss, set, delete, error).",
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Redis commands and clients",
            [
                ui.q(pq.summed("rate", "redis_commands_processed_total", (), pq.RATE), "commands/s", ref="A"),
                ui.q("sum(redis_connected_clients)", "connected clients", ref="B"),
            ],
            unit="ops",
            min_=0,
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "connected clients"},
                    "properties": [{"id": "unit", "value": "short"}, {"id": "custom.axisPlacement", "value": "right"}],
                }
            ],
        ),
        w=8,
        h=9,
    )

    lay.row("Celery tasks")
    lay.add(
        ui.timeseries(
            "Task throughput",
            [
                ui.q(pq.summed("rate", counter, tasks, pq.RATE), legend, ref=chr(ord("A") + i))
                for i, (counter, legend) in enumerate(
                    (
                        (metric.CELERY_SENT, "sent"),
                        (metric.CELERY_STARTED, "started"),
                        (metric.CELERY_SUCCEEDED, "succeeded"),
                        (metric.CELERY_FAILED, "failed"),
                        (metric.CELERY_RETRIED, "retried"),
                    )
                )
            ],
            unit="ops",
            min_=0,
            overrides=[
                ui.series_override("failed", color={"fixedColor": "red", "mode": "fixed"}),
                ui.series_override("retried", color={"fixedColor": "orange", "mode": "fixed"}),
            ],
        ),
        w=12,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Failures and retries per minute by task",
            [
                ui.q(f"{pq.summed('rate', metric.CELERY_FAILED, tasks, pq.RATE, ('task',))} * 60", "failed {{task}}", ref="A"),
                ui.q(f"{pq.summed('rate', metric.CELERY_RETRIED, tasks, pq.RATE, ('task',))} * 60", "retried {{task}}", ref="B"),
            ],
            bars=True,
            stack=True,
            fill=80,
            min_=0,
        ),
        w=12,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Task runtime percentiles",
            ui.percentile_targets(metric.CELERY_RUNTIME, tasks),
            unit="s",
            min_=0,
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Task runtime P95 by task",
            [ui.q(rec.celery_runtime_quantile, "{{task}}")],
            unit="s",
            min_=0,
            legend_calcs=("mean", "max"),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Queue length",
            [ui.q(f"max by (queue) ({metric.CELERY_QUEUE}{{{pq.INSTANCE}}})", "{{queue}}")],
            min_=0,
            fill=25,
            steps_=ui.above(backlog),
            threshold_style="dashed",
            description=(
                f"Messages waiting per queue (studio_celery_queue_length). Dashed line: "
                f"the CeleryQueueBacklog threshold ({backlog})."
            ),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Workers up",
            [
                ui.q(f'sum(up{{job="{metric.WORKER_JOB}"}})', "up", ref="A"),
                ui.q(f'count(up{{job="{metric.WORKER_JOB}"}})', "scrape targets", ref="B"),
            ],
            min_=0,
            steps_=ui.steps("red", (pq.ANY, "green")),
            threshold_style="dashed",
            legend_calcs=("min", "lastNotNull"),
        ),
        w=12,
        h=8,
    )
    lay.add(
        ui.timeseries(
            "Failure ratio by task",
            [ui.q(f"{rec.celery_failed_ratio} > 0", "{{task}}")],
            unit="percentunit",
            min_=0,
            steps_=ui.above(fail_ratio),
            threshold_style="dashed",
            description=(
                f"failed / (failed + succeeded) runs per task in a sliding {win} window: {ui.ALERT_NUMBER}. Dashed line: the "
                f"CeleryTaskFailureRatioHigh threshold ({pq.percent_text(fail_ratio)})."
            ),
        ),
        w=12,
        h=8,
    )

    return ui.dashboard(
        "cache_celery",
        "Cache and Celery: app and Redis hit ratios, cache operations, task throughput, "
        "failures, runtime, queue length and workers up.",
        lay,
        [ui.datasource_var(), ui.instance_var(), ui.task_var()],
    )
