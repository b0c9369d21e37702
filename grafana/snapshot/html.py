"""index.html: the pictures of one snapshot, its time range, the Prometheus asked, and what had no data."""
from __future__ import annotations

import html
from pathlib import Path

from grafana.snapshot.model import Snapshot
from grafana.snapshot.timerange import iso


def write(snapshot: Snapshot, path: Path) -> Path:
    e = html.escape
    items = []
    for d in snapshot.dashboards:
        empty = [f"{e(p.title)} ({', '.join(p.refs_without_data)})" for p in d.panels if p.refs_without_data]
        items.append(
            f'<section><h2><a href="{e(d.png.name)}">{e(d.title)}</a></h2>'
            f"<p>{iso(d.start)} to {iso(d.end)}; uid <code>{e(d.uid)}</code>; {len(d.panels)} panels; "
            f"drawn in {d.seconds:.1f} s</p>"
            + (f"<p>No data: {'; '.join(empty)}</p>" if empty else "<p>Every panel had data.</p>")
            + f'<a href="{e(d.png.name)}"><img src="{e(d.png.name)}" alt="{e(d.title)}" width="100%"></a></section>')
    ranges = sorted({(d.start, d.end) for d in snapshot.dashboards})
    when = "; ".join(f"{iso(a)} to {iso(b)}" for a, b in ranges)
    path.write_text(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Dashboard snapshot</title>"
        "<style>body{background:#111217;color:#ccccdc;font-family:sans-serif;margin:2em}a{color:#6e9fff}"
        "img{border:1px solid #2c3235;max-width:1800px}</style></head><body>\n"
        f"<h1>Dashboard snapshot</h1>\n<p>Time range: {e(when)}. Prometheus: "
        f'<a href="{e(snapshot.prometheus_url)}">{e(snapshot.prometheus_url)}</a>.</p>\n<ul>'
        + "".join(f'<li><a href="{e(d.png.name)}">{e(d.title)}</a></li>' for d in snapshot.dashboards)
        + "</ul>\n" + "\n".join(items) + "\n</body></html>\n")
    return path
