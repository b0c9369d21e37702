"""Overview: the guide's key metrics on one screen, with release markers."""
from __future__ import annotations

from .common import (
    ANY,
    DB_DURATION,
    INSTANCE,
    P95,
    P99,
    PERCENTILES,
    RATE,
    REQ_LATENCY,
    REQUEST_DB_SECONDS,
    REQUESTS,
    RESPONSES,
    VIEW,
    Layout,
    above,
    alert_window,
    average,
    build_info_annotation,
    dashboard,
    datasource_var,
    error_ratio,
    errors_in_window,
    hide_columns_transform,
    instance_var,
    link_to,
    ms_text,
    percent_text,
    q,
    quantile,
    quantile_name,
    seconds_text,
    share_within,
    stat,
    summed,
    table,
    thresholds,
    timeseries,
    view_var,
)


def build():
    t = thresholds
    win = alert_window()
    app = (INSTANCE, VIEW)
    slow = t.SLOW_TRANSACTION_P95_SECONDS
    slow_q = t.SLOW_TRANSACTION_QUANTILE
    buckets = t.REQUEST_LATENCY_BUCKETS
    slow_share = f"1 - ({share_within(REQ_LATENCY, slow, buckets, app, win)})"
    firing = 'ALERTS{alertstate="firing"}'

    lay = Layout()
    lay.fill([
        stat("Request rate", [q(summed("rate", REQUESTS, app, win))], unit="reqps",
             description=f"Requests per second over the last {win}."),
        stat("Error rate (5xx share)", [q(error_ratio(app, win))], unit="percentunit",
             decimals=2, steps_=above(t.HIGH_ERROR_RATE_RATIO),
             description=(f"5xx responses / all responses over the last {win}. Red above "
                          f"{percent_text(t.HIGH_ERROR_RATE_RATIO)} (HighErrorRate alert)."),
             links=[link_to("errors", with_view=True)]),
        stat(f"Errors in last {win}", [q(errors_in_window(win))],
             decimals=0, steps_=above(t.ERROR_SPIKE_MIN_ERRORS),
             description=(f"Errors from requests, tasks and logs (studio_errors_total). Red at "
                          f"{t.ERROR_SPIKE_MIN_ERRORS} or more (ErrorSpike alert)."),
             links=[link_to("errors")]),
        stat(f"{quantile_name(slow_q)} latency ({win})",
             [q(quantile(slow_q, REQ_LATENCY, app, win))], unit="s",
             steps_=above(slow),
             description=(f"{quantile_name(slow_q)} request latency. Red above "
                          f"{seconds_text(slow)} (SlowTransactions alert)."),
             links=[link_to("endpoints", with_view=True)]),
        stat(f"Slow transactions (> {seconds_text(slow)})", [q(slow_share)],
             unit="percentunit", decimals=2,
             description=f"Share of requests slower than {seconds_text(slow)} over the last {win}."),
        stat("Firing alerts", [q(f"count({firing}) or vector(0)")], decimals=0,
             color_mode="background", graph=False, steps_=above(ANY),
             description="Prometheus alerts currently firing (any firing alert turns this red)."),
    ], h=4)

    lay.row("Traffic and errors")
    lay.add(timeseries(
        "Request rate by status",
        [q(summed("rate", RESPONSES, app, RATE, ("status",)), "{{status}}")],
        unit="reqps", stack=True, fill=30,
        description="Responses per second by HTTP status code."), w=8, h=8)
    lay.add(timeseries(
        "Error rate (5xx share)", [q(error_ratio(app, RATE), "5xx share")],
        unit="percentunit", steps_=above(t.HIGH_ERROR_RATE_RATIO), threshold_style="dashed",
        min_=0, links=[link_to("errors", with_view=True)],
        description=(f"Dashed line: the HighErrorRate threshold "
                     f"({percent_text(t.HIGH_ERROR_RATE_RATIO)}).")), w=8, h=8)
    lay.add(timeseries(
        f"Errors per {win}",
        [q(errors_in_window(win), "errors")],
        steps_=above(t.ERROR_SPIKE_MIN_ERRORS), threshold_style="dashed", min_=0,
        links=[link_to("errors")],
        description=(f"Errors counted over a sliding {win} window. Dashed line: the ErrorSpike "
                     f"threshold ({t.ERROR_SPIKE_MIN_ERRORS} errors).")), w=8, h=8)

    lay.row("Latency")
    lay.add(timeseries(
        "Request latency percentiles",
        [q(quantile(p, REQ_LATENCY, app), quantile_name(p), ref=chr(ord("A") + i))
         for i, p in enumerate(PERCENTILES)]
        + [q(average(REQ_LATENCY, app), "average", ref=chr(ord("A") + len(PERCENTILES)))],
        unit="s", steps_=above(slow), threshold_style="dashed", min_=0,
        links=[link_to("endpoints", with_view=True)],
        description=(f"P50/P75/P95/P99 and average latency (django-prometheus histogram, view "
                     f"time without middleware). Dashed line: the SlowTransactions P95 "
                     f"threshold ({seconds_text(slow)}).")), w=16, h=9)
    lay.add(timeseries(
        f"Slow transactions (> {seconds_text(slow)})",
        [q(f"1 - ({share_within(REQ_LATENCY, slow, buckets, app)})", "slower than target")],
        unit="percentunit", min_=0,
        description=f"Share of requests that took longer than {seconds_text(slow)}."),
        w=8, h=9)

    db = t.DB_SLOW_QUERY_SECONDS
    lay.row("Database and alerts")
    lay.add(timeseries(
        "Database query time",
        [q(quantile(P95, DB_DURATION, (INSTANCE,)), "query P95", ref="A"),
         q(quantile(P99, DB_DURATION, (INSTANCE,)), "query P99", ref="B"),
         q(average(DB_DURATION, (INSTANCE,)), "query average", ref="C"),
         q(average(REQUEST_DB_SECONDS, app), "DB time per request (average)", ref="D")],
        unit="s", steps_=above(db), threshold_style="dashed", min_=0,
        links=[link_to("database", with_view=True)],
        description=(f"Single-query percentiles (django_db_query_duration_seconds) and the "
                     f"database time a request spends in total. Dashed line: the "
                     f"DatabaseIssues threshold ({ms_text(db)}).")), w=12, h=9)
    lay.add(table(
        "Firing alerts",
        [q(firing, ref="A", instant=True, table=True)],
        transformations=[hide_columns_transform("Time", "Value", "__name__", "alertstate")],
        description="Alerts in state firing, from Prometheus' ALERTS series."), w=12, h=9)

    return dashboard(
        "overview",
        "The guide's key metrics: traffic, error rate, errors in the alert window, latency "
        "percentiles, slow transactions, database time and firing alerts, with releases marked.",
        lay,
        [datasource_var(), instance_var(), view_var()],
        annotations=[build_info_annotation()],
    )

