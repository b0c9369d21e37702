"""Database: query rate, duration percentiles, slow queries, queries per request, connections."""
from __future__ import annotations

from .common import (
    ANY,
    DB_DURATION,
    DB_ERRORS,
    DB_EXECUTE,
    DB_NEW_CONNECTIONS,
    INSTANCE,
    P95,
    PERCENTILES,
    RANGE,
    RATE,
    REQUEST_DB_SECONDS,
    REQUEST_QUERIES,
    VIEW,
    Layout,
    above,
    alert_window,
    average,
    column_override,
    count_over,
    dashboard,
    dashboard_url,
    datasource_var,
    hide_columns_transform,
    instance_var,
    ms_text,
    q,
    quantile,
    quantile_name,
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
    inst = (INSTANCE,)
    app = (INSTANCE, VIEW)
    slow = t.DB_SLOW_QUERY_SECONDS
    buckets = t.DB_QUERY_BUCKETS
    by_view = ("view",)

    lay = Layout()
    lay.fill([
        stat("Queries per second", [q(summed("rate", DB_EXECUTE, inst, win))], unit="ops",
             description=f"django_db_execute_total, over the last {win}."),
        stat(f"P95 query time ({win})", [q(quantile(P95, DB_DURATION, inst, win))], unit="s",
             steps_=above(slow),
             description=f"Red above {ms_text(slow)}: the DatabaseIssues threshold."),
        stat(f"Queries over {ms_text(slow)} (last {win})",
             [q(f"{count_over(DB_DURATION, slow, buckets, inst, win)} or vector(0)")],
             decimals=0, steps_=above(ANY),
             description=(f"Queries slower than {ms_text(slow)} (exact: it is a bucket edge). "
                          f"Any is red: the DatabaseIssues alert fires on a single one.")),
        stat(f"Database errors (last {win})",
             [q(f"sum(increase({DB_ERRORS}{{{INSTANCE}}}[{win}])) or vector(0)")],
             decimals=0, steps_=above(ANY)),
        stat(f"Queries per request ({win})", [q(average(REQUEST_QUERIES, app, win))],
             decimals=1, description="Average number of SQL queries a request runs."),
        stat(f"DB time per request ({win})", [q(average(REQUEST_DB_SECONDS, app, win))],
             unit="s", description="Average time a request spends waiting for the database."),
    ], h=4)

    lay.row("Queries")
    lay.add(timeseries(
        "Query rate",
        [q(summed("rate", DB_EXECUTE, inst, RATE, ("alias", "vendor")),
           "{{alias}} ({{vendor}})")],
        unit="ops", min_=0, fill=25), w=8, h=9)
    lay.add(timeseries(
        "Query duration percentiles",
        [q(quantile(p, DB_DURATION, inst), quantile_name(p), ref=chr(ord("A") + i))
         for i, p in enumerate(PERCENTILES)]
        + [q(average(DB_DURATION, inst), "average", ref=chr(ord("A") + len(PERCENTILES)))],
        unit="s", min_=0, steps_=above(slow), threshold_style="dashed",
        description=(f"Single-query duration (django_db_query_duration_seconds). Dashed line: "
                     f"the DatabaseIssues threshold ({ms_text(slow)}). Percentiles are "
                     f"interpolated within buckets; the slow-query count is exact.")),
        w=8, h=9)
    lay.add(timeseries(
        f"Queries over {ms_text(slow)}",
        [q(count_over(DB_DURATION, slow, buckets, inst, RATE), "slow queries")],
        bars=True, fill=80, min_=0, steps_=above(ANY), threshold_style="dashed",
        description=f"Number of queries slower than {ms_text(slow)} in each interval."),
        w=8, h=9)

    lay.row("Per request (N+1 detection)")
    lay.add(timeseries(
        "Queries per request by view (average)",
        [q(average(REQUEST_QUERIES, app, labels=by_view), "{{view}}")],
        min_=0, legend_calcs=("mean", "max")), w=8, h=9)
    lay.add(timeseries(
        "Queries per request by view (P95)",
        [q(quantile(P95, REQUEST_QUERIES, app, labels=by_view), "{{view}}")],
        min_=0, legend_calcs=("mean", "max")), w=8, h=9)
    lay.add(timeseries(
        "DB time per request by view (average)",
        [q(average(REQUEST_DB_SECONDS, app, labels=by_view), "{{view}}")],
        unit="s", min_=0, legend_calcs=("mean", "max")), w=8, h=9)

    view_link = {"title": "Latency of this view",
                 "url": dashboard_url("endpoints") + "&var-view=${__value.raw}"}
    lay.add(table(
        "Views by queries per request (selected range)",
        [q(average(REQUEST_QUERIES, app, RANGE, by_view), ref="A", instant=True, table=True),
         q(quantile(P95, REQUEST_QUERIES, app, RANGE, by_view), ref="B", instant=True,
           table=True),
         q(average(REQUEST_DB_SECONDS, app, RANGE, by_view), ref="C", instant=True,
           table=True),
         q(summed("increase", f"{REQUEST_QUERIES}_count", app, RANGE, by_view), ref="D",
           instant=True, table=True)],
        transformations=[
            {"id": "merge", "options": {}},
            hide_columns_transform("Time", rename={
                "Value #A": "Queries/request (avg)", "Value #B": "Queries/request (P95)",
                "Value #C": "DB time/request (avg)", "Value #D": "Requests", "view": "View"}),
        ],
        overrides=[column_override("Queries/request (avg)", unit="short"),
                   column_override("Queries/request (P95)", unit="short"),
                   column_override("DB time/request (avg)", unit="s"),
                   column_override("Requests", unit="short"),
                   column_override("View", links=[view_link])],
        sort_by="Queries/request (avg)",
        description="A view whose query count grows with the data it lists has an N+1."),
        w=24, h=9)

    lay.row("Connections and errors")
    lay.add(timeseries(
        "New database connections per second",
        [q(summed("rate", DB_NEW_CONNECTIONS, inst, RATE, ("alias", "vendor")),
           "{{alias}} ({{vendor}})")],
        unit="ops", min_=0,
        description=("django_db_new_connections_total. A steady high rate means connections "
                     "are not reused (CONN_MAX_AGE / pooling).")), w=12, h=8)
    lay.add(timeseries(
        "Database errors per minute by type",
        [q(f"{summed('rate', DB_ERRORS, inst, RATE, ('alias', 'type'))} * 60",
           "{{alias}}: {{type}}")],
        min_=0, bars=True, fill=80), w=12, h=8)

    return dashboard(
        "database",
        "Database: query rate, single-query duration percentiles against the DatabaseIssues "
        "threshold, slow-query count, queries and database time per request by view, new "
        "connections and errors.",
        lay,
        [datasource_var(), instance_var(), view_var()],
    )
