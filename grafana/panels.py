"""House defaults for the dashboards: data source, variables, links, panels, thresholds as colours, layout.

grafanalib 0.7.1 targets old Grafana (schemaVersion 12, plain-string datasources, the pre-7 bar gauge
options, ``intervalFactor`` on every query).  The panels are built with grafanalib and
``grafana.finalize`` turns its output into what current Grafana writes itself.
"""
from __future__ import annotations

import attr
from grafanalib import core as g

import monitoring_spec as spec
from grafana import queries as pq
from grafana.queries import INSTANCE
from monitoring_spec.contract import APP_JOBS, BUILD_INFO, CELERY_SENT, DASHBOARDS, REQ_LATENCY
from monitoring_spec.promql import sel, user_traffic

DATASOURCE_UID = "prometheus"  # must match grafana/provisioning/datasources/prometheus.yml
DATASOURCE_NAME = "Prometheus"
DS = {"type": "prometheus", "uid": "${datasource}"}
# Panels over SLO periods (30 days: twice what Prometheus keeps) read the long-term store by default.  Its data
# source always answers: without a store its URL is Prometheus' own (LONG_TERM_URL, provisioning/long-term.yml).
LONG_TERM_UID = "long-term"  # must match grafana/provisioning/datasources/long-term.yml
LONG_TERM_NAME = "Long-term"
SLO_DS = {"type": "prometheus", "uid": "${slo_source}"}
TAG = "studio"
GENERATED_MARKER = ("generated, do not edit: source grafana/dashboards/*.py and monitoring_spec; change the "
                    "Python source and run `make generate` (python -m grafana.generate).")
GRID_COLUMNS = 24
# Said of every panel that shows what an alert judges: it reads the alert's recorded series.
ALERT_NUMBER = "the number the alert judges (recorded by the rules), for all instances and views"


def steps(base: str, *pairs: tuple[float, str]) -> list[dict]:
    values = [v for v, _ in pairs]
    if values != sorted(values):
        raise ValueError(f"threshold steps must increase: {values}")
    return [{"color": base, "value": None}] + [{"color": c, "value": v} for v, c in pairs]


def above(value: float, ok: str = "green", bad: str = "red") -> list[dict]:
    return steps(ok, (value, bad))


def target_bands(target: spec.EndpointTarget) -> list[dict]:
    """The guide's table as colour bands, in seconds.

    green below Excellent, yellow below Target (meets target), orange up to Needs work
    (over target), red above Needs work.
    """
    return steps(
        "green",
        (target.excellent_ms / 1000, "yellow"),
        (target.target_ms / 1000, "orange"),
        (target.needs_work_ms / 1000, "red"),
    )


def target_description(target: spec.EndpointTarget) -> str:
    return (
        f"Guide target for {target.name} (average): Excellent < {target.excellent_ms} ms, "
        f"Target < {target.target_ms} ms, Needs work > {target.needs_work_ms} ms. "
        f"Views: {', '.join(target.views)}. Bands: green Excellent, yellow meets Target, "
        f"orange over Target, red Needs work."
    )


# --------------------------------------------------------------------------------------------
# Queries, variables, links
# --------------------------------------------------------------------------------------------


def q(expr: str, legend: str = "", ref: str = "A", instant: bool = False,
      table: bool = False, datasource: dict = DS) -> g.Target:
    return g.Target(
        expr=expr,
        legendFormat=legend,
        refId=ref,
        instant=instant,
        format="table" if table else "time_series",
        datasource=datasource,
    )


def refs(*queries: tuple) -> list[g.Target]:
    """``refs((expr, legend), ...)`` -> targets A, B, C..."""
    return [q(expr, legend, ref=chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)]


def percentile_targets(histogram: str, matchers, *, with_average: bool = False) -> list[g.Target]:
    """P50, P75, P95 and P99 of a histogram (and its average), one query each, refs A, B, C..."""
    queries = [(pq.quantile(p, histogram, matchers), pq.quantile_name(p)) for p in pq.PERCENTILES]
    if with_average:
        queries.append((pq.average(histogram, matchers), "average"))
    return refs(*queries)


def datasource_var() -> g.Template:
    return g.Template(name="datasource", label="Data source", type="datasource",
                      query="prometheus", default=DATASOURCE_UID)


def slo_source_var() -> g.Template:
    return g.Template(name="slo_source", label="SLO data source", type="datasource",
                      query="prometheus", default=LONG_TERM_UID)


def query_var(name: str, label: str, query: str) -> g.Template:
    return g.Template(
        name=name, label=label, query=query, dataSource=DS, includeAll=True, multi=True,
        allValue=".*", refresh=g.REFRESH_ON_TIME_RANGE_CHANGE, sort=g.SORT_ALPHA_ASC,
    )


def instance_var() -> g.Template:
    jobs = "|".join(APP_JOBS)
    return query_var("instance", "Instance", f'label_values(up{{job=~"{jobs}"}}, instance)')


def view_var() -> g.Template:
    return query_var("view", "View",
                     f"label_values({REQ_LATENCY}_count{{{INSTANCE}, {user_traffic()}}}, view)")


def task_var() -> g.Template:
    return query_var("task", "Celery task", f"label_values({CELERY_SENT}, task)")


def dashboard_url(key: str, with_view: bool = False) -> str:
    uid = DASHBOARDS[key].uid
    params = ["${__url_time_range}", "${datasource:queryparam}", "${instance:queryparam}"]
    if with_view:
        params.append("${view:queryparam}")
    return f"/d/{uid}?{'&'.join(params)}"


def link_to(key: str, with_view: bool = False) -> dict:
    """A panel link to another dashboard.  @grafana/schema types a panel's links as DashboardLink, every field
    required; a plain link (type "link"): its URL carries the time range and the variables itself."""
    return {"asDropdown": False, "icon": "external link", "includeVars": False, "keepTime": False,
            "tags": [], "targetBlank": False, "title": f"Open {DASHBOARDS[key].title}", "tooltip": "",
            "type": "link", "url": dashboard_url(key, with_view)}


def build_info_annotation() -> dict:
    """A release marker: a release label that exists now and did not two minutes ago.

    Grafana's current Prometheus annotation model: the query is the annotation's ``target`` (``interval`` is
    its min step; Grafana migrates a top-level ``expr``/``step`` there), while the title, text and tags
    templates stay on the annotation, where the data source's event processing reads them.
    """
    current = f"max by (release, environment) ({sel(BUILD_INFO, INSTANCE)})"
    before = f"max by (release, environment) ({sel(BUILD_INFO, INSTANCE)} offset 2m)"
    return {
        "datasource": DS,
        "enable": True,
        "hide": False,
        "iconColor": "purple",
        "name": "Releases",
        "tagKeys": "release,environment",
        "target": {
            "editorMode": "code",
            "expr": f"{current} unless {before}",
            "instant": False,
            "interval": "1m",
            "range": True,
            "refId": "Anno",
        },
        "textFormat": "Deployed to {{environment}}",
        "titleFormat": "Release {{release}}",
        "useValueForTime": False,
    }


BUILTIN_ANNOTATION = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}

# --------------------------------------------------------------------------------------------
# Panels
# --------------------------------------------------------------------------------------------


def timeseries(title: str, targets: list, *, unit: str = "short", description: str = "",
               steps_: list[dict] | None = None, threshold_style: str = "off",
               stack: bool = False, bars: bool = False, fill: int = 12,
               min_: int | None = None, max_: int | None = None, links=(),
               legend_calcs=("mean", "max", "lastNotNull"), overrides=()) -> g.TimeSeries:
    return g.TimeSeries(
        title=title,
        description=description,
        dataSource=DS,
        targets=list(targets),
        unit=unit,
        thresholds=steps_ or steps("green"),
        thresholdsStyleMode=threshold_style,
        stacking={"group": "A", "mode": "normal"} if stack else {"group": "A", "mode": "none"},
        drawStyle="bars" if bars else "line",
        fillOpacity=fill,
        showPoints="never",
        legendDisplayMode="table" if legend_calcs else "list",
        legendCalcs=list(legend_calcs),
        tooltipMode="multi",
        tooltipSort="desc",
        valueMin=min_,
        valueMax=max_,
        links=list(links),
        overrides=list(overrides),
    )


def stat(title: str, targets: list, *, unit: str = "short", description: str = "",
         steps_: list[dict] | None = None, color_mode: str = "value", graph: bool = True,
         reduce: str = "lastNotNull", decimals: int | None = None, mappings=(),
         links=()) -> g.Stat:
    return g.Stat(
        title=title,
        description=description,
        dataSource=DS,
        targets=list(targets),
        format=unit,
        color={"mode": "thresholds"},
        thresholds=steps_ or steps("green"),
        colorMode=color_mode,
        graphMode="area" if graph else "none",
        reduceCalc=reduce,
        decimals=decimals,
        mappings=list(mappings),
        noValue=None,
        links=list(links),
    )


def bargauge(title: str, targets: list, *, unit: str = "short", description: str = "",
             steps_: list[dict] | None = None, color_mode: str = "thresholds",
             min_: float | None = None, max_: float | None = None,
             links=(), datasource: dict = DS) -> g.BarGauge:
    defaults: dict = {"unit": unit, "color": {"mode": color_mode}}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return g.BarGauge(
        title=title,
        description=description,
        dataSource=datasource,
        targets=list(targets),
        thresholds=steps_ or steps("green"),
        displayMode=g.GAUGE_DISPLAY_MODE_GRADIENT,
        orientation=g.ORIENTATION_HORIZONTAL,
        links=list(links),
        extraJson={
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {
                "namePlacement": "auto",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "showUnfilled": True,
                "sizing": "auto",
                "valueMode": "color",
            },
        },
    )


def table(title: str, targets: list, *, description: str = "", transformations=(),
          overrides=(), sort_by: str | None = None, unit: str = "") -> g.Table:
    return g.Table(
        title=title,
        description=description,
        dataSource=DS,
        targets=list(targets),
        transformations=list(transformations),
        overrides=list(overrides),
        unit=unit,
        sortBy=[g.TableSortByField(displayName=sort_by, desc=True)] if sort_by else [],
        extraJson={"fieldConfig": {"defaults": {"thresholds": {"mode": "absolute",
                                                               "steps": steps("green")}}}},
    )


@attr.s
class Geomap(g.Panel):
    """Grafana's geomap panel (grafanalib 0.7.1 has none): one marker layer located by an
    ISO 3166 alpha-2 country code through Grafana's built-in countries gazetteer."""

    lookup_field = attr.ib(default="country")
    value_field = attr.ib(default="Value")
    unit = attr.ib(default="short")

    def to_json_data(self):
        return self.panel_json({
            "fieldConfig": {
                "defaults": {"color": {"mode": "continuous-YlRd"}, "unit": self.unit},
                "overrides": [],
            },
            "options": {
                "basemap": {"name": "Basemap", "type": "default"},
                "controls": {"mouseWheelZoom": False, "showAttribution": True,
                             "showZoom": True},
                "layers": [{
                    "config": {
                        "showLegend": True,
                        "style": {
                            "color": {"field": self.value_field, "fixed": "dark-red"},
                            "opacity": 0.7,
                            "size": {"field": self.value_field, "fixed": 5, "max": 30, "min": 3},
                            "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                        },
                    },
                    "location": {"gazetteer": "public/gazetteer/countries.json",
                                 "lookup": self.lookup_field, "mode": "lookup"},
                    "name": "Errors",
                    "tooltip": True,
                    "type": "markers",
                }],
                "tooltip": {"mode": "details"},
                "view": {"id": "zero", "lat": 0, "lon": 0, "zoom": 1},
            },
            "type": "geomap",
        })


def hide_columns_transform(*names: str, rename: dict | None = None) -> dict:
    return {
        "id": "organize",
        "options": {
            "excludeByName": {n: True for n in names},
            "renameByName": rename or {},
        },
    }


def merged_rows(rename: dict) -> list[dict]:
    """Table transformations: instant queries A, B, C... merged into one row per label set, rows without a
    value for A dropped, the time column hidden and the value columns renamed."""
    return [
        {"id": "merge", "options": {}},
        {"id": "filterByValue", "options": {
            "filters": [{"config": {"id": "isNull", "options": {}}, "fieldName": "Value #A"}],
            "match": "any", "type": "exclude"}},
        hide_columns_transform("Time", rename=rename),
    ]


def column_override(column: str, *, unit: str | None = None, steps_: list[dict] | None = None,
                    cell: str | None = None, links=()) -> dict:
    props = []
    if unit:
        props.append({"id": "unit", "value": unit})
    if steps_:
        props.append({"id": "thresholds", "value": {"mode": "absolute", "steps": steps_}})
    if cell:
        props.append({"id": "custom.cellOptions", "value": {"type": cell}})
    if links:
        props.append({"id": "links", "value": list(links)})
    return {"matcher": {"id": "byName", "options": column}, "properties": props}


def series_override(regex: str, **props) -> dict:
    return {
        "matcher": {"id": "byRegexp", "options": regex},
        "properties": [{"id": k.replace("__", "."), "value": v} for k, v in props.items()],
    }


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


class Layout:
    """Places panels left to right on the 24-column grid, wrapping to a new line when full."""

    def __init__(self) -> None:
        self.panels: list = []
        self._x = self._y = self._h = 0

    def _newline(self) -> None:
        self._y += self._h
        self._x = self._h = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(g.RowPanel(title=title, collapsed=False,
                                      gridPos=g.GridPos(h=1, w=GRID_COLUMNS, x=0, y=self._y)))
        self._y += 1

    def add(self, panel, w: int, h: int) -> None:
        if w > GRID_COLUMNS:
            raise ValueError(f"panel {panel.title!r} is wider than the grid")
        if self._x + w > GRID_COLUMNS:
            self._newline()
        self.panels.append(attr.evolve(panel, gridPos=g.GridPos(h=h, w=w, x=self._x, y=self._y)))
        self._x += w
        self._h = max(self._h, h)

    def fill(self, panels: list, h: int) -> None:
        """Split one line evenly between ``panels``."""
        w = GRID_COLUMNS // len(panels)
        for panel in panels:
            self.add(panel, w, h)


def dashboard(key: str, description: str, layout: Layout, variables: list,
              annotations=()) -> g.Dashboard:
    uid, title = DASHBOARDS[key].uid, DASHBOARDS[key].title
    return g.Dashboard(
        title=title,
        uid=uid,
        description=f"{description} {GENERATED_MARKER}",
        tags=[TAG],
        editable=True,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        refresh="30s",
        time=g.Time("now-1h", "now"),
        timezone="browser",
        panels=layout.panels,
        templating=g.Templating(list=variables),
        annotations=g.Annotations(list=[BUILTIN_ANNOTATION, *annotations]),
        links=[g.DashboardLink(type="dashboards", tags=[TAG], asDropdown=True,
                               title="Studio dashboards", includeVars=True, keepTime=True)],
    ).auto_panel_ids()
