"""Overview: the guide's key metrics on one screen, with release markers."""

from __future__ import annotations

import monitoring_spec as spec
from grafana import panels as ui
from grafana import queries as pq
from monitoring_spec import contract as metric
from monitoring_spec.recorded import Names


def build():
    t = spec
    rec = Names(t)
    win = pq.alert_window()
    app = (pq.INSTANCE, pq.VIEW)
    slow = t.SLOW_TRANSACTION_P95_SECONDS
    slow_q = t.SLOW_TRANSACTION_QUANTILE
    buckets = t.REQUEST_LATENCY_BUCKETS
    slow_share = f"1 - ({pq.share_within(metric.REQ_LATENCY, slow, buckets, app, win)})"
    firing = 'ALERTS{alertstate="firing"}'
    # The heartbeat (severity none: the dead-man's switch's) always fires; counted, it kept the stat red.
    paging = 'ALERTS{alertstate="firing", severity!="none"}'

    lay = ui.Layout()
    lay.fill(
        [
            ui.stat(
                "Request rate",
                [ui.q(pq.summed("rate", metric.REQUESTS, app, win))],
                unit="reqps",
                description=f"Requests per second over the last {win}.",
            ),
            ui.stat(
                "Error rate (5xx share)",
                [ui.q(rec.responses_5xx_ratio)],
                unit="percentunit",
                decimals=2,
                steps_=ui.above(t.HIGH_ERROR_RATE_RATIO),
                description=(
                    f"5xx share of user responses (probes and scrapes left out) over the last {win}: {ui.ALERT_NUMBER}. "
                    f"Red above {pq.percent_text(t.HIGH_ERROR_RATE_RATIO)} (HighErrorRate alert)."
                ),
                links=[ui.link_to("errors", with_view=True)],
            ),
            ui.stat(
                f"Errors in last {win}",
                [ui.q(rec.errors)],
                decimals=0,
                steps_=ui.above(t.ERROR_SPIKE_MIN_ERRORS),
                description=(
                    f"Errors from requests, tasks and logs (studio_errors_total), exactly counted: {ui.ALERT_NUMBER}. Red at "
                    f"{t.ERROR_SPIKE_MIN_ERRORS} or more (ErrorSpike alert)."
                ),
                links=[ui.link_to("errors")],
            ),
            ui.stat(
                f"{pq.quantile_name(slow_q)} latency ({win})",
                [ui.q(rec.latency_quantile)],
                unit="s",
                steps_=ui.above(slow),
                description=(
                    f"{pq.quantile_name(slow_q)} latency of user requests: {ui.ALERT_NUMBER}. Red above "
                    f"{pq.seconds_text(slow)} (SlowTransactions alert)."
                ),
                links=[ui.link_to("endpoints", with_view=True)],
            ),
            ui.stat(
                f"Slow transactions (> {pq.seconds_text(slow)})",
                [ui.q(slow_share)],
                unit="percentunit",
                decimals=2,
                description=f"Share of requests slower than {pq.seconds_text(slow)} over the last {win}.",
            ),
            ui.stat(
                "Firing alerts",
                [ui.q(f"count({paging}) or vector(0)")],
                decimals=0,
                color_mode="background",
                graph=False,
                steps_=ui.above(pq.ANY),
                description="Prometheus alerts currently firing, the always-firing heartbeat (Watchdog) aside: "
                "any of them turns this red.",
            ),
        ],
        h=4,
    )

    lay.row("Traffic and errors")
    lay.add(
        ui.timeseries(
            "Request rate by status",
            [ui.q(pq.summed("rate", metric.RESPONSES, app, pq.RATE, ("status",)), "{{status}}")],
            unit="reqps",
            stack=True,
            fill=30,
            description="Responses per second by HTTP status code.",
        ),
        w=8,
        h=8,
    )
    lay.add(
        ui.timeseries(
            "Error rate (5xx share)",
            [ui.q(rec.responses_5xx_ratio, f"5xx share ({win})")],
            unit="percentunit",
            steps_=ui.above(t.HIGH_ERROR_RATE_RATIO),
            threshold_style="dashed",
            min_=0,
            links=[ui.link_to("errors", with_view=True)],
            description=(
                f"5xx share of user responses over a sliding {win} window: {ui.ALERT_NUMBER}. Dashed line: the "
                f"HighErrorRate threshold ({pq.percent_text(t.HIGH_ERROR_RATE_RATIO)})."
            ),
        ),
        w=8,
        h=8,
    )
    lay.add(
        ui.timeseries(
            f"Errors per {win}",
            [ui.q(rec.errors, "errors")],
            steps_=ui.above(t.ERROR_SPIKE_MIN_ERRORS),
            threshold_style="dashed",
            min_=0,
            links=[ui.link_to("errors")],
            description=(
                f"Errors counted over a sliding {win} window: {ui.ALERT_NUMBER}. Dashed line: the ErrorSpike "
                f"threshold ({t.ERROR_SPIKE_MIN_ERRORS} errors)."
            ),
        ),
        w=8,
        h=8,
    )

    lay.row("Latency")
    lay.add(
        ui.timeseries(
            "Request latency percentiles",
            ui.percentile_targets(metric.REQ_LATENCY, app, with_average=True),
            unit="s",
            steps_=ui.above(slow),
            threshold_style="dashed",
            min_=0,
            links=[ui.link_to("endpoints", with_view=True)],
            description=(
                f"P50/P75/P95/P99 and average latency (django-prometheus histogram, view "
                f"time without middleware). Dashed line: the SlowTransactions P95 "
                f"threshold ({pq.seconds_text(slow)})."
            ),
        ),
        w=16,
        h=9,
    )
    lay.add(
        ui.timeseries(
            f"Slow transactions (> {pq.seconds_text(slow)})",
            [ui.q(f"1 - ({pq.share_within(metric.REQ_LATENCY, slow, buckets, app)})", "slower than target")],
            unit="percentunit",
            min_=0,
            description=f"Share of requests that took longer than {pq.seconds_text(slow)}.",
        ),
        w=8,
        h=9,
    )

    db = t.DB_SLOW_QUERY_SECONDS
    lay.row("Database and alerts")
    lay.add(
        ui.timeseries(
            "Database query time",
            [
                ui.q(pq.quantile(pq.P95, metric.DB_DURATION, (pq.INSTANCE,)), "query P95", ref="A"),
                ui.q(pq.quantile(pq.P99, metric.DB_DURATION, (pq.INSTANCE,)), "query P99", ref="B"),
                ui.q(pq.average(metric.DB_DURATION, (pq.INSTANCE,)), "query average", ref="C"),
                ui.q(pq.average(metric.REQUEST_DB_SECONDS, app), "DB time per request (average)", ref="D"),
            ],
            unit="s",
            steps_=ui.above(db),
            threshold_style="dashed",
            min_=0,
            links=[ui.link_to("database", with_view=True)],
            description=(
                f"Single-query percentiles (django_db_query_duration_seconds) and the "
                f"database time a request spends in total. Dashed line: the "
                f"DatabaseIssues threshold ({pq.ms_text(db)})."
            ),
        ),
        w=12,
        h=9,
    )
    lay.add(
        ui.table(
            "Firing alerts",
            [ui.q(firing, ref="A", instant=True, table=True)],
            transformations=[ui.hide_columns_transform("Time", "Value", "__name__", "alertstate")],
            description="Alerts in state firing, from Prometheus' ALERTS series.",
        ),
        w=12,
        h=9,
    )

    return ui.dashboard(
        "overview",
        "The guide's key metrics: traffic, error rate, errors in the alert window, latency "
        "percentiles, slow transactions, database time and firing alerts, with releases marked.",
        lay,
        [ui.datasource_var(), ui.instance_var(), ui.view_var()],
        annotations=[ui.build_info_annotation()],
    )
