"""Query and draw whole dashboards: one PNG each, and index.html beside them."""
from __future__ import annotations

import json
import time
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from grafana.snapshot import colors, draw, layout, tables, timeseries, values
from grafana.snapshot import html as index_page
from grafana.snapshot.data import PanelData, annotation_events, fetch
from grafana.snapshot.model import DashboardShot, PanelShot, Snapshot
from grafana.snapshot.query import Prometheus
from grafana.snapshot.timerange import iso, parse_time
from monitoring_spec.contract import DASHBOARDS

DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "dashboards"
DRAWN_TYPES = ("timeseries", "stat", "gauge", "bargauge", "table", "geomap")


def load_dashboards(selection: list[str] | None = None) -> list[dict]:
    """The generated dashboards (contract order), or those named by uid, key or file name; KeyError if unknown."""
    boards = {b.uid: json.loads((DASHBOARD_DIR / b.file).read_text()) for b in DASHBOARDS.values()}
    if not selection:
        return list(boards.values())
    aliases = {alias: b.uid for b in DASHBOARDS.values() for alias in (b.uid, b.key, b.file, b.file[:-5])}
    unknown = [s for s in selection if s not in aliases]
    if unknown:
        raise KeyError(f"unknown dashboard(s): {', '.join(unknown)} (known: {', '.join(boards)})")
    return [boards[uid] for uid in dict.fromkeys(aliases[s] for s in selection)]


def png_name(dash: dict) -> str:
    by_uid = {b.uid: b.file for b in DASHBOARDS.values()}
    return by_uid.get(dash["uid"], dash["uid"] + ".json")[:-5] + ".png"


def own_range(dash: dict, now: float) -> tuple[float, float]:
    """The dashboard's own time range (e.g. now-1h to now)."""
    t = dash.get("time") or {"from": "now-1h", "to": "now"}
    return parse_time(t["from"], now), parse_time(t["to"], now)


def render_dashboard(prom: Prometheus, dash: dict, start: float, end: float, png: Path, scrape: float) -> DashboardShot:
    started = time.monotonic()
    width, height = layout.size(dash)
    fig = Figure(figsize=(width / layout.DPI, height / layout.DPI), dpi=layout.DPI, facecolor=colors.BACKGROUND)
    FigureCanvasAgg(fig)
    c = draw.Canvas(fig, height)
    c.text(layout.PAD, 28, dash.get("title", dash["uid"]), 20, colors.TEXT, va="center", fontweight="bold")
    c.text(width - layout.PAD, 22, f"{iso(start)} to {iso(end)}", 13, colors.TEXT, ha="right", va="center")
    c.text(width - layout.PAD, 40, f"Prometheus {prom.url}; variables: All", 11, colors.TEXT_WEAK, ha="right",
           va="center")
    annotations = annotation_events(prom, dash, start, end, scrape)
    shots = []
    for panel in layout.visible_panels(dash):
        r = layout.rect(panel["gridPos"])
        kind = panel.get("type")
        if kind == "row":
            draw.row(c, r, panel)
            continue
        inner = draw.frame(c, r, panel.get("title", ""))
        data = fetch(prom, panel, start, end, r.w, scrape) if kind in DRAWN_TYPES else PanelData()
        if kind == "timeseries":
            steps, style = timeseries.timeseries(c, inner, panel, data, start, end, annotations)
        elif kind == "stat":
            steps, style = values.stat(c, inner, panel, data)
        elif kind == "gauge":
            steps, style = values.gauge(c, inner, panel, data)
        elif kind == "bargauge":
            steps, style = values.bargauge(c, inner, panel, data)
        elif kind in ("table", "geomap"):
            steps, style = tables.table(c, inner, panel, data, as_geomap=kind == "geomap")
        else:
            draw.no_data(c, inner, f"panel type {kind!r} is not drawn")
            steps, style = [], ""
        shots.append(PanelShot(dash["uid"], panel.get("id", 0), panel.get("title", ""), kind,
                               data.with_data, data.without_data, data.errors, steps, style,
                               len([s for s in data.series if s.numbers()]) + sum(len(t.rows) for t in data.tables)))
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=layout.DPI, facecolor=colors.BACKGROUND)
    return DashboardShot(dash["uid"], dash.get("title", dash["uid"]), png, start, end,
                         time.monotonic() - started, (width, height), shots, annotations)


def render(prom_url: str, dashboards: list[dict] | None, start: float | None, end: float | None, out_dir: Path,
           *, index: bool = True) -> Snapshot:
    """Every dashboard queried over [start, end] (each its own range when None) and drawn to out_dir/<name>.png,
    with out_dir/index.html.  Raises query.PrometheusUnreachable when nothing answers at prom_url."""
    if (start is None) != (end is None) or (start is not None and end <= start):
        raise ValueError(f"not a time range: {start} to {end}")
    prom = Prometheus(prom_url)
    prom.check()
    scrape = prom.scrape_seconds()
    now = time.time()
    out_dir = Path(out_dir)
    snapshot = Snapshot(prom.url, out_dir, None)
    for dash in dashboards if dashboards is not None else load_dashboards():
        a, b = (start, end) if start is not None and end is not None else own_range(dash, now)
        snapshot.dashboards.append(render_dashboard(prom, dash, a, b, out_dir / png_name(dash), scrape))
    if index:
        snapshot.index = index_page.write(snapshot, out_dir / "index.html")
    return snapshot
