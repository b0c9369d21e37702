"""Dashboard snapshots without Grafana: every panel's queries asked of a running Prometheus over a time range and
drawn as Grafana lays the dashboard out (grid, titles, units, thresholds, legends), one PNG per dashboard.

    python -m grafana.snapshot [--prometheus URL] [--from T --to T | --around T [--window 30m]]
                               [--dashboard UID ...] [--out DIR]

From Python (tests, the game day): `render(prom_url, dashboards, start, end, out_dir) -> Snapshot`, which says
per panel which refIds had data and which threshold steps were drawn.
"""
from __future__ import annotations

from grafana.snapshot.model import DashboardShot, PanelShot, Snapshot, ThresholdStep
from grafana.snapshot.query import PrometheusUnreachable
from grafana.snapshot.render import load_dashboards, render

__all__ = ["DashboardShot", "PanelShot", "PrometheusUnreachable", "Snapshot", "ThresholdStep", "load_dashboards",
           "render"]
