"""Database: query rate, duration percentiles, slow queries, queries per request, connections."""

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
    inst = (pq.INSTANCE,)
    app = (pq.INSTANCE, pq.VIEW)
    slow = t.DB_SLOW_QUERY_SECONDS
    by_view = ("view",)

    lay = ui.Layout()
    lay.fill(
        [
            ui.stat(
                "Queries per second",
                [ui.q(pq.summed("rate", metric.DB_EXECUTE, inst, win))],
                unit="ops",
                description=f"django_db_execute_total, over the last {win}.",
            ),
            ui.stat(
                f"P95 query time ({win})",
                [ui.q(pq.quantile(pq.P95, metric.DB_DURATION, inst, win))],
                unit="s",
                steps_=ui.above(slow),
                description=f"Red above {pq.ms_text(slow)}: the DatabaseIssues threshold.",
            ),
            ui.stat(
                f"Queries over {pq.ms_text(slow)} (last {win})",
                [ui.q(f"sum({rec.db_slow}) or vector(0)")],
                decimals=0,
                steps_=ui.above(pq.ANY),
                description=(
                    f"Queries slower than {pq.ms_text(slow)} (exact: it is a bucket edge): {ui.ALERT_NUMBER}. "
                    f"Any is red: the DatabaseIssues alert fires on a single one."
                ),
            ),
            ui.stat(
                f"Database errors (last {win})",
                [ui.q(f"sum(increase({metric.DB_ERRORS}{{{pq.INSTANCE}}}[{win}])) or vector(0)")],
                decimals=0,
                steps_=ui.above(pq.ANY),
            ),
            ui.stat(
                f"Queries per request ({win})",
                [ui.q(pq.average(metric.REQUEST_QUERIES, app, win))],
                decimals=1,
                description="Average number of SQL queries a request runs.",
            ),
            ui.stat(
                f"DB time per request ({win})",
                [ui.q(pq.average(metric.REQUEST_DB_SECONDS, app, win))],
                unit="s",
                description="Average time a request spends waiting for the database.",
            ),
        ],
        h=4,
    )

    lay.row("Queries")
    lay.add(
        ui.timeseries(
            "Query rate",
            [ui.q(pq.summed("rate", metric.DB_EXECUTE, inst, pq.RATE, ("alias", "vendor")), "{{alias}} ({{vendor}})")],
            unit="ops",
            min_=0,
            fill=25,
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Query duration percentiles",
            ui.percentile_targets(metric.DB_DURATION, inst, with_average=True),
            unit="s",
            min_=0,
            steps_=ui.above(slow),
            threshold_style="dashed",
            description=(
                f"Single-query duration (django_db_query_duration_seconds). Dashed line: "
                f"the DatabaseIssues threshold ({pq.ms_text(slow)}). Percentiles are "
                f"interpolated within buckets; the slow-query count is exact."
            ),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            f"Queries over {pq.ms_text(slow)} (per {win})",
            [ui.q(rec.db_slow, "{{alias}} ({{vendor}})")],
            bars=True,
            fill=80,
            min_=0,
            steps_=ui.above(pq.ANY),
            threshold_style="dashed",
            description=f"Queries slower than {pq.ms_text(slow)} in a sliding {win} window, by database: {ui.ALERT_NUMBER}.",
        ),
        w=8,
        h=9,
    )

    lay.row("Per request (N+1 detection)")
    lay.add(
        ui.timeseries(
            "Queries per request by view (average)",
            [ui.q(pq.average(metric.REQUEST_QUERIES, app, labels=by_view), "{{view}}")],
            min_=0,
            legend_calcs=("mean", "max"),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Queries per request by view (P95)",
            [ui.q(pq.quantile(pq.P95, metric.REQUEST_QUERIES, app, labels=by_view), "{{view}}")],
            min_=0,
            legend_calcs=("mean", "max"),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "DB time per request by view (average)",
            [ui.q(pq.average(metric.REQUEST_DB_SECONDS, app, labels=by_view), "{{view}}")],
            unit="s",
            min_=0,
            legend_calcs=("mean", "max"),
        ),
        w=8,
        h=9,
    )

    view_link = {"title": "Latency of this view", "url": ui.dashboard_url("endpoints") + "&var-view=${__value.raw}"}
    lay.add(
        ui.table(
            "Views by queries per request (selected range)",
            [
                ui.q(pq.average(metric.REQUEST_QUERIES, app, pq.RANGE, by_view), ref="A", instant=True, table=True),
                ui.q(pq.quantile(pq.P95, metric.REQUEST_QUERIES, app, pq.RANGE, by_view), ref="B", instant=True, table=True),
                ui.q(pq.average(metric.REQUEST_DB_SECONDS, app, pq.RANGE, by_view), ref="C", instant=True, table=True),
                ui.q(
                    pq.summed("increase", f"{metric.REQUEST_QUERIES}_count", app, pq.RANGE, by_view),
                    ref="D",
                    instant=True,
                    table=True,
                ),
            ],
            transformations=[
                {"id": "merge", "options": {}},
                ui.hide_columns_transform(
                    "Time",
                    rename={
                        "Value #A": "Queries/request (avg)",
                        "Value #B": "Queries/request (P95)",
                        "Value #C": "DB time/request (avg)",
                        "Value #D": "Requests",
                        "view": "View",
                    },
                ),
            ],
            overrides=[
                ui.column_override("Queries/request (avg)", unit="short"),
                ui.column_override("Queries/request (P95)", unit="short"),
                ui.column_override("DB time/request (avg)", unit="s"),
                ui.column_override("Requests", unit="short"),
                ui.column_override("View", links=[view_link]),
            ],
            sort_by="Queries/request (avg)",
            description="A view whose query count grows with the data it lists has an N+1.",
        ),
        w=24,
        h=9,
    )

    lay.row("Connections and errors")
    lay.add(
        ui.timeseries(
            "New database connections per second",
            [ui.q(pq.summed("rate", metric.DB_NEW_CONNECTIONS, inst, pq.RATE, ("alias", "vendor")), "{{alias}} ({{vendor}})")],
            unit="ops",
            min_=0,
            description=(
                "django_db_new_connections_total. A steady high rate means connections are not reused (CONN_MAX_AGE / pooling)."
            ),
        ),
        w=12,
        h=8,
    )
    lay.add(
        ui.timeseries(
            "Database errors per minute by type",
            [ui.q(f"{pq.summed('rate', metric.DB_ERRORS, inst, pq.RATE, ('alias', 'type'))} * 60", "{{alias}}: {{type}}")],
            min_=0,
            bars=True,
            fill=80,
        ),
        w=12,
        h=8,
    )

    return ui.dashboard(
        "database",
        "Database: query rate, single-query duration percentiles against the DatabaseIssues "
        "threshold, slow-query count, queries and database time per request by view, new "
        "connections and errors.",
        lay,
        [ui.datasource_var(), ui.instance_var(), ui.view_var()],
    )
