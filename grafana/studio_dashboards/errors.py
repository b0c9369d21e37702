"""Errors and user impact: how many, what kind, from where, who is affected, which views."""
from __future__ import annotations

from .common import (
    ANY,
    CELERY_FAILED,
    DB_ERRORS,
    DS,
    ERROR_USERS,
    ERRORS,
    ERRORS_BY_COUNTRY,
    EXCEPTIONS,
    INSTANCE,
    RANGE,
    RATE,
    RESPONSES,
    STATUS_5XX,
    TOP_N,
    VIEW,
    Geomap,
    Layout,
    above,
    alert_window,
    bargauge,
    column_override,
    dashboard,
    dashboard_url,
    datasource_var,
    error_ratio,
    errors_in_window,
    hide_columns_transform,
    instance_var,
    percent_text,
    q,
    stat,
    steps,
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
    spike = t.ERROR_SPIKE_MIN_ERRORS
    ratio = t.HIGH_ERROR_RATE_RATIO
    in_window = errors_in_window(win)

    lay = Layout()
    lay.fill([
        stat(f"Errors in last {win}", [q(in_window)], decimals=0,
             steps_=above(spike),
             description=(f"All errors (requests, Celery tasks, error logs). Red at {spike} or "
                          f"more: the ErrorSpike alert.")),
        stat("Errors per minute", [q(f"sum(rate({ERRORS}{{{INSTANCE}}}[{win}])) * 60 "
                                     f"or vector(0)")],
             decimals=1, description=f"Average over the last {win}."),
        stat("Users affected (last 5 min)", [q(f"max({ERROR_USERS}{{{INSTANCE}}})")],
             decimals=0, steps_=above(ANY, bad="orange"),
             description=("Distinct users who hit an error in the last five minutes "
                          "(studio_error_users_5m, a HyperLogLog estimate).")),
        stat(f"5xx error rate ({win})", [q(error_ratio(app, win))], unit="percentunit",
             decimals=2, steps_=above(ratio),
             description=f"Red above {percent_text(ratio)}: the HighErrorRate alert."),
        stat(f"Failed tasks (last {win})",
             [q(f"sum(increase({CELERY_FAILED}{{{INSTANCE}}}[{win}])) or vector(0)")],
             decimals=0, steps_=above(ANY, bad="orange"),
             links=[{"title": "Open Studio / Cache and Celery",
                     "url": dashboard_url("cache_celery")}]),
        stat(f"Database errors (last {win})",
             [q(f"sum(increase({DB_ERRORS}{{{INSTANCE}}}[{win}])) or vector(0)")],
             decimals=0, steps_=above(ANY, bad="orange"),
             links=[{"title": "Open Studio / Database", "url": dashboard_url("database")}]),
    ], h=4)

    lay.row("Error sources and types")
    lay.add(timeseries(
        "Errors per minute by source",
        [q(f"{summed('rate', ERRORS, inst, RATE, ('source',))} * 60", "{{source}}")],
        stack=True, bars=True, fill=80, min_=0,
        description="source: request (unhandled exception in a view), task (Celery), log "
                    "(logger.error and above)."), w=8, h=9)
    lay.add(timeseries(
        f"Errors per minute by type (top {TOP_N})",
        [q(f"topk({TOP_N}, {summed('rate', ERRORS, inst, RATE, ('exception',))}) * 60",
           "{{exception}}")],
        stack=True, fill=30, min_=0), w=8, h=9)
    lay.add(bargauge(
        "Error type distribution (selected range)",
        [q(f"sort_desc(topk({TOP_N}, {summed('increase', ERRORS, inst, RANGE, ('exception',))}))",
           "{{exception}}", instant=True)],
        color_mode="continuous-YlRd",
        description="Errors per exception type over the dashboard's time range."), w=8, h=9)

    lay.row("Trend")
    lay.add(timeseries(
        f"Error trend (errors per {win})",
        [q(in_window, "now", ref="A"),
         q(f"sum(increase({ERRORS}{{{INSTANCE}}}[{win}] offset 1d))", "1 day earlier", ref="B"),
         q(f"sum(increase({ERRORS}{{{INSTANCE}}}[{win}] offset 7d))", "1 week earlier",
           ref="C")],
        steps_=above(spike), threshold_style="dashed", min_=0,
        overrides=[{"matcher": {"id": "byRegexp", "options": ".*earlier"},
                    "properties": [{"id": "custom.lineStyle",
                                    "value": {"dash": [4, 4], "fill": "dash"}}]}],
        description=(f"Dashed line: the ErrorSpike threshold ({spike} errors in {win}); "
                     f"the same window a day and a week earlier for comparison.")),
        w=12, h=9)
    lay.add(timeseries(
        "Unhandled Django exceptions by type",
        [q(f"{summed('rate', EXCEPTIONS, inst, RATE, ('type',))} * 60", "{{type}}")],
        stack=True, fill=30, min_=0,
        description="django_http_exceptions_total_by_type_total, per minute."), w=12, h=9)

    lay.row("User impact")
    lay.add(timeseries(
        "Users affected by errors (distinct, last 5 min)",
        [q(f"max({ERROR_USERS}{{{INSTANCE}}})", "users")],
        min_=0, fill=25, steps_=above(ANY, bad="orange")), w=8, h=9)
    lay.add(timeseries(
        f"5xx share by view (top {TOP_N})",
        [q(f"topk({TOP_N}, {error_ratio(app, RATE, ('view',))} > 0)", "{{view}}")],
        unit="percentunit", min_=0, steps_=above(ratio), threshold_style="dashed",
        description=f"Dashed line: the HighErrorRate threshold ({percent_text(ratio)})."),
        w=16, h=9)

    view_link = {"title": "Latency of this view",
                 "url": dashboard_url("endpoints") + "&var-view=${__value.raw}"}
    lay.add(table(
        f"Views with the highest error rates (selected range, top {TOP_N})",
        [q(f"topk({TOP_N}, {error_ratio(app, RANGE, ('view',))} > 0)",
           ref="A", instant=True, table=True),
         q(f"{summed('increase', RESPONSES, (*app, STATUS_5XX), RANGE, ('view',))} > 0",
           ref="B", instant=True, table=True),
         q(summed("increase", RESPONSES, app, RANGE, ("view",)), ref="C", instant=True,
           table=True)],
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "filterByValue", "options": {
                "filters": [{"config": {"id": "isNull", "options": {}},
                             "fieldName": "Value #A"}],
                "match": "any", "type": "exclude"}},
            hide_columns_transform("Time", rename={"Value #A": "5xx share",
                                                   "Value #B": "5xx responses",
                                                   "Value #C": "Responses", "view": "View"}),
        ],
        overrides=[column_override("5xx share", unit="percentunit", steps_=above(ratio),
                                   cell="color-background"),
                   column_override("5xx responses", unit="short"),
                   column_override("Responses", unit="short"),
                   column_override("View", links=[view_link])],
        sort_by="5xx share",
        description=("The guide's 'features with highest error rates': views ranked by 5xx "
                     "share. Cells turn red above the HighErrorRate threshold.")), w=24, h=9)

    by_country = summed("increase", ERRORS_BY_COUNTRY, inst, RANGE, ("country",))
    lay.row("Geography")
    lay.add(Geomap(
        title="Errors by country (selected range)",
        dataSource=DS,
        targets=[q(f"{by_country} > 0", ref="A", instant=True, table=True)],
        thresholds=steps("green"),
        description=("studio_errors_by_country_total located through Grafana's built-in "
                     "countries gazetteer (ISO 3166 alpha-2). 'unknown' is listed beside the "
                     "map only.")), w=16, h=11)
    lay.add(bargauge(
        f"Errors by country (top {TOP_N})",
        [q(f"sort_desc(topk({TOP_N}, {by_country}))", "{{country}}", instant=True)],
        color_mode="continuous-YlRd",
        description="Same data as the map, including the 'unknown' bucket."), w=8, h=11)

    return dashboard(
        "errors",
        "Errors and user impact: errors by source (request, task, log) and type, the trend "
        "against the ErrorSpike threshold, users affected, the views with the highest error "
        "rates and where the errors come from.",
        lay,
        [datasource_var(), instance_var(), view_var()],
    )
