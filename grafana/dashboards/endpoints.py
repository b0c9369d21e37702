"""Endpoints vs targets: the guide's benchmark table, live, per endpoint."""

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
    buckets = t.REQUEST_LATENCY_BUCKETS
    slo = t.SLO_LATENCY_OBJECTIVE

    def views(target):
        return (pq.INSTANCE, f'view=~"{pq.views_regex(target)}"')

    lay = ui.Layout()
    lay.add(
        ui.bargauge(
            "Share of GET requests within target (selected range)",
            [
                ui.q(
                    pq.share_within(metric.REQ_LATENCY, target.target_ms / 1000, buckets, (*views(target), pq.GET), pq.RANGE),
                    target.name,
                    ref=chr(ord("A") + i),
                    instant=True,
                    datasource=ui.SLO_DS,
                )
                for i, target in enumerate(t.TARGETS)
            ],
            unit="percentunit",
            min_=0,
            max_=1,
            steps_=ui.steps("red", (slo, "green")),
            datasource=ui.SLO_DS,  # over an SLO period (30 days) only the long-term store has every sample
            description=(
                "Per endpoint: share of GET requests that finished within the endpoint's "
                "Target latency (exact: every target is a histogram bucket edge). Green "
                f"from {pq.percent_text(slo)}, the latency SLO objective. "
                + " ".join(f"{x.name}: {x.target_ms} ms." for x in t.TARGETS)
                + " Read from the SLO data source: the long-term store (a 30-day range outlives Prometheus' "
                "retention), which is Prometheus itself when no store runs."
            ),
        ),
        w=12,
        h=8,
    )
    lay.add(
        ui.bargauge(
            "Share of requests within Excellent (selected range)",
            [
                ui.q(
                    pq.share_within(metric.REQ_LATENCY, target.excellent_ms / 1000, buckets, views(target), pq.RANGE),
                    target.name,
                    ref=chr(ord("A") + i),
                    instant=True,
                )
                for i, target in enumerate(t.TARGETS)
            ],
            unit="percentunit",
            min_=0,
            max_=1,
            color_mode="continuous-RdYlGr",
            description=(
                "Per endpoint: share of requests faster than the Excellent mark. "
                + " ".join(f"{x.name}: {x.excellent_ms} ms." for x in t.TARGETS)
            ),
        ),
        w=12,
        h=8,
    )

    for target in t.TARGETS:
        m = views(target)
        bands = ui.target_bands(target)
        desc = ui.target_description(target)
        lay.row(
            f"{target.name} - Excellent < {target.excellent_ms} ms, Target < "
            f"{target.target_ms} ms, Needs work > {target.needs_work_ms} ms"
        )
        lay.add(
            ui.stat(
                "Average (selected range)",
                [ui.q(pq.average(metric.REQ_LATENCY, m, pq.RANGE), instant=True)],
                unit="s",
                steps_=bands,
                color_mode="background",
                graph=False,
                description=desc,
            ),
            w=4,
            h=7,
        )
        lay.add(
            ui.stat(
                "P95 (selected range)",
                [ui.q(pq.quantile(pq.P95, metric.REQ_LATENCY, m, pq.RANGE), instant=True)],
                unit="s",
                steps_=bands,
                color_mode="background",
                graph=False,
                description=desc + " The bands are for averages; P95 is shown against the same bands as a tail indicator.",
            ),
            w=4,
            h=7,
        )
        lay.add(
            ui.stat(
                "GET requests within target (selected range)",
                [
                    ui.q(
                        pq.share_within(metric.REQ_LATENCY, target.target_ms / 1000, buckets, (*m, pq.GET), pq.RANGE),
                        instant=True,
                    )
                ],
                unit="percentunit",
                decimals=1,
                graph=False,
                color_mode="background",
                steps_=ui.steps("red", (slo, "green")),
                description=(
                    f"Share of GET requests at or below {target.target_ms} ms. "
                    f"Green from {pq.percent_text(slo)}: the latency SLO "
                    f"objective."
                ),
            ),
            w=4,
            h=7,
        )
        lay.add(
            ui.timeseries(
                "Average and P95 over time",
                [
                    # the EndpointLatency* tickets' number: the GET average over the alert window, all instances
                    ui.q(f'{rec.endpoint_latency_avg}{{endpoint="{target.key}"}}', f"average ({win}, GET)", ref="A"),
                    ui.q(pq.quantile(pq.P95, metric.REQ_LATENCY, m), "P95", ref="B"),
                    ui.q(pq.summed("rate", metric.REQUESTS, m, pq.RATE), "requests/s", ref="C"),
                ],
                unit="s",
                steps_=bands,
                threshold_style="dashed+area",
                min_=0,
                description=desc,
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "requests/s"},
                        "properties": [
                            {"id": "unit", "value": "reqps"},
                            {"id": "custom.axisPlacement", "value": "right"},
                            {"id": "custom.drawStyle", "value": "bars"},
                            {"id": "custom.fillOpacity", "value": 25},
                        ],
                    }
                ],
            ),
            w=12,
            h=7,
        )

    view_link = {"title": "Show this view", "url": ui.dashboard_url("endpoints") + "&var-view=${__value.raw}"}
    lay.row("All views (filter with the View variable)")
    lay.add(
        ui.timeseries(
            "Average latency by view",
            [ui.q(pq.average(metric.REQ_LATENCY, (pq.INSTANCE, pq.VIEW), labels=("view",)), "{{view}}")],
            unit="s",
            min_=0,
            legend_calcs=("mean", "max"),
        ),
        w=12,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "P95 latency by view",
            [ui.q(pq.quantile(pq.P95, metric.REQ_LATENCY, (pq.INSTANCE, pq.VIEW), labels=("view",)), "{{view}}")],
            unit="s",
            min_=0,
            legend_calcs=("mean", "max"),
        ),
        w=12,
        h=9,
    )
    lay.add(
        ui.table(
            f"Slowest views by P95 (selected range, top {pq.TOP_N})",
            [
                ui.q(
                    f"topk({pq.TOP_N}, {pq.quantile(pq.P95, metric.REQ_LATENCY, (pq.INSTANCE, pq.VIEW), pq.RANGE, ('view',))})",
                    ref="A",
                    instant=True,
                    table=True,
                ),
                ui.q(
                    pq.average(metric.REQ_LATENCY, (pq.INSTANCE, pq.VIEW), pq.RANGE, ("view",)), ref="B", instant=True, table=True
                ),
                ui.q(
                    pq.summed("increase", metric.REQUESTS, (pq.INSTANCE, pq.VIEW), pq.RANGE, ("view",)),
                    ref="C",
                    instant=True,
                    table=True,
                ),
            ],
            transformations=ui.merged_rows({"Value #A": "P95", "Value #B": "Average", "Value #C": "Requests", "view": "View"}),
            overrides=[
                ui.column_override("P95", unit="s"),
                ui.column_override("Average", unit="s"),
                ui.column_override("Requests", unit="short"),
                ui.column_override("View", links=[view_link]),
            ],
            sort_by="P95",
            description="Views ranked by P95 latency; the endpoints above have their own rows.",
        ),
        w=24,
        h=9,
    )

    return ui.dashboard(
        "endpoints",
        "Per-endpoint average and P95 latency against the guide's benchmark table "
        "(Excellent / Target / Needs work bands read from app/thresholds.py), and the share "
        "of requests within target.",
        lay,
        [ui.datasource_var(), ui.slo_source_var(), ui.instance_var(), ui.view_var()],
    )
