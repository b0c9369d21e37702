"""The Overview dashboard around each fault, drawn from Prometheus (grafana/snapshot/) into the run's directory
and linked from the report.  Drawn once the load has stopped, so the drawing never competes with a fault's
measurements; a picture that cannot be drawn is a line in the output, never a failed game day."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

MARGIN_SECONDS = 120  # before the fault and after its recovery ended
DASHBOARD = "studio-overview"


def attach(results, prometheus_url: str, out: Path, log: Callable[[str], None] = print) -> int:
    """Draw the Overview over [fault - 2 min, recovery end + 2 min] for every fault that ran; set each result's
    `snapshot` to the PNG's path relative to `out`.  Returns how many were drawn."""
    try:
        from grafana.snapshot import PrometheusUnreachable, load_dashboards, render

        overview = load_dashboards([DASHBOARD])
    except Exception as exc:  # matplotlib missing, dashboards not generated: the report goes without pictures
        log(f"snapshots: none drawn, the snapshot package is not usable here ({type(exc).__name__}: {exc})")
        return 0
    drawn = 0
    for r in results:
        if r.skipped or not r.started_at:
            continue
        start, end = r.started_at - MARGIN_SECONDS, min(r.ended_at + MARGIN_SECONDS, time.time())
        try:
            shot = render(prometheus_url, overview, start, end, out / "snapshots" / r.name, index=False)
        except PrometheusUnreachable as exc:
            log(f"snapshots: none drawn: {exc}")
            return drawn
        except Exception as exc:
            log(f"snapshots: {r.name}: not drawn ({type(exc).__name__}: {exc})")
            continue
        r.snapshot = str(shot.dashboards[0].png.relative_to(out))
        drawn += 1
    return drawn
