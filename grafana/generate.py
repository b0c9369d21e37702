"""Render the dashboards (grafanalib sources in grafana/dashboards/*.py) to the JSON beside each source.

    .venv/bin/python -m grafana.generate           # write grafana/dashboards/*.json
    .venv/bin/python -m grafana.generate --check   # exit 1 if the committed JSON has drifted

Output is deterministic: sorted keys, 2-space indent, trailing newline.  Grafana loads the files through
grafana/provisioning/dashboards/studio.yml.  Thresholds come from the spec (monitoring_spec) at build time.
"""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from grafanalib._gen import DashboardEncoder

from grafana.finalize import finalize
from monitoring_spec import artifacts
from monitoring_spec.contract import DASHBOARDS

OUT_DIR = Path("grafana/dashboards")


def build_all() -> dict[Path, str]:
    """Path (relative to the repository) -> JSON text, for every dashboard of the contract."""
    out = {}
    for key, board in DASHBOARDS.items():
        dash = importlib.import_module(f"grafana.dashboards.{key}").build()
        data = finalize(json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder)))
        if data["uid"] != board.uid:
            raise AssertionError(f"{key}: uid {data['uid']} != {board.uid}")
        out[OUT_DIR / board.file] = json.dumps(data, sort_keys=True, indent=2) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    return artifacts.main(build_all, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
