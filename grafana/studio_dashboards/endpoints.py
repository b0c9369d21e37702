"""Endpoints vs targets: the guide's benchmark table, live, per endpoint."""
from __future__ import annotations

from .common import (
    GET,
    INSTANCE,
    P95,
    RANGE,
    RATE,
    REQ_LATENCY,
    REQUESTS,
    TOP_N,
    VIEW,
    Layout,
    average,
    bargauge,
    column_override,
    dashboard,
    dashboard_url,
    datasource_var,
    hide_columns_transform,
    instance_var,
    percent_text,
    q,
    quantile,
    share_within,
    stat,
    steps,
    summed,
    table,
    target_bands,
    target_description,
    thresholds,
    timeseries,
    view_var,
    views_regex,
)


def build():
    t = thresholds
    buckets = t.REQUEST_LATENCY_BUCKETS
    slo = t.SLO_LATENCY_OBJECTIVE

    def views(target):
        return (INSTANCE, f'view=~"{views_regex(target)}"')

    lay = Layout()
    lay.add(bargauge(
        "Share of GET requests within target (selected range)",
        [q(share_within(REQ_LATENCY, target.target_ms / 1000, buckets, (*views(target), GET),
                        RANGE),
           target.name, ref=chr(ord("A") + i), instant=True)
         for i, target in enumerate(t.TARGETS)],
        unit="percentunit", min_=0, max_=1, steps_=steps("red", (slo, "green")),
        description=("Per endpoint: share of GET requests that finished within the endpoint's "
                     "Target latency (exact: every target is a histogram bucket edge). Green "
                     f"from {percent_text(slo)}, the latency SLO objective. "
                     + " ".join(f"{x.name}: {x.target_ms} ms." for x in t.TARGETS))), w=12, h=8)
    lay.add(bargauge(
        "Share of requests within Excellent (selected range)",
        [q(share_within(REQ_LATENCY, target.excellent_ms / 1000, buckets, views(target), RANGE),
           target.name, ref=chr(ord("A") + i), instant=True)
         for i, target in enumerate(t.TARGETS)],
        unit="percentunit", min_=0, max_=1, color_mode="continuous-RdYlGr",
        description=("Per endpoint: share of requests faster than the Excellent mark. "
                     + " ".join(f"{x.name}: {x.excellent_ms} ms." for x in t.TARGETS))),
        w=12, h=8)

    for target in t.TARGETS:
        m = views(target)
        bands = target_bands(target)
        desc = target_description(target)
        lay.row(f"{target.name} - Excellent < {target.excellent_ms} ms, Target < "
                f"{target.target_ms} ms, Needs work > {target.needs_work_ms} ms")
        lay.add(stat("Average (selected range)", [q(average(REQ_LATENCY, m, RANGE), instant=True)],
                     unit="s", steps_=bands, color_mode="background", graph=False,
                     description=desc), w=4, h=7)
        lay.add(stat("P95 (selected range)", [q(quantile(P95, REQ_LATENCY, m, RANGE),
                                                 instant=True)],
                     unit="s", steps_=bands, color_mode="background", graph=False,
                     description=desc + " The bands are for averages; P95 is shown against "
                                        "the same bands as a tail indicator."), w=4, h=7)
        lay.add(stat("GET requests within target (selected range)",
                     [q(share_within(REQ_LATENCY, target.target_ms / 1000, buckets,
                                     (*m, GET), RANGE), instant=True)],
                     unit="percentunit", decimals=1, graph=False, color_mode="background",
                     steps_=steps("red", (slo, "green")),
                     description=(f"Share of GET requests at or below {target.target_ms} ms. "
                                  f"Green from {percent_text(slo)}: the latency SLO "
                                  f"objective.")),
                w=4, h=7)
        lay.add(timeseries(
            "Average and P95 over time",
            [q(average(REQ_LATENCY, m), "average", ref="A"),
             q(quantile(P95, REQ_LATENCY, m), "P95", ref="B"),
             q(summed("rate", REQUESTS, m, RATE), "requests/s", ref="C")],
            unit="s", steps_=bands, threshold_style="dashed+area", min_=0, description=desc,
            overrides=[{"matcher": {"id": "byName", "options": "requests/s"},
                        "properties": [{"id": "unit", "value": "reqps"},
                                       {"id": "custom.axisPlacement", "value": "right"},
                                       {"id": "custom.drawStyle", "value": "bars"},
                                       {"id": "custom.fillOpacity", "value": 25}]}]),
            w=12, h=7)

    view_link = {"title": "Show this view",
                 "url": dashboard_url("endpoints") + "&var-view=${__value.raw}"}
    lay.row("All views (filter with the View variable)")
    lay.add(timeseries(
        "Average latency by view", [q(average(REQ_LATENCY, (INSTANCE, VIEW), labels=("view",)),
                                      "{{view}}")],
        unit="s", min_=0, legend_calcs=("mean", "max")), w=12, h=9)
    lay.add(timeseries(
        "P95 latency by view", [q(quantile(P95, REQ_LATENCY, (INSTANCE, VIEW),
                                           labels=("view",)), "{{view}}")],
        unit="s", min_=0, legend_calcs=("mean", "max")), w=12, h=9)
    lay.add(table(
        f"Slowest views by P95 (selected range, top {TOP_N})",
        [q(f"topk({TOP_N}, {quantile(P95, REQ_LATENCY, (INSTANCE, VIEW), RANGE, ('view',))})",
           ref="A", instant=True, table=True),
         q(average(REQ_LATENCY, (INSTANCE, VIEW), RANGE, ("view",)), ref="B", instant=True,
           table=True),
         q(summed("increase", REQUESTS, (INSTANCE, VIEW), RANGE, ("view",)), ref="C",
           instant=True, table=True)],
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "filterByValue", "options": {
                "filters": [{"config": {"id": "isNull", "options": {}},
                             "fieldName": "Value #A"}],
                "match": "any", "type": "exclude"}},
            hide_columns_transform("Time", rename={"Value #A": "P95", "Value #B": "Average",
                                                   "Value #C": "Requests", "view": "View"}),
        ],
        overrides=[column_override("P95", unit="s"), column_override("Average", unit="s"),
                   column_override("Requests", unit="short"),
                   column_override("View", links=[view_link])],
        sort_by="P95",
        description="Views ranked by P95 latency; the endpoints above have their own rows."),
        w=24, h=9)

    return dashboard(
        "endpoints",
        "Per-endpoint average and P95 latency against the guide's benchmark table "
        "(Excellent / Target / Needs work bands read from app/thresholds.py), and the share "
        "of requests within target.",
        lay,
        [datasource_var(), instance_var(), view_var()],
    )
