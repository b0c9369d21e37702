"""Render the Studio dashboards (grafanalib sources in grafana/studio_dashboards/) to JSON.

    .venv/bin/python grafana/generate.py           # write grafana/dashboards/*.json
    .venv/bin/python grafana/generate.py --check   # exit 1 if the committed JSON has drifted

Output is deterministic: sorted keys, 2-space indent, trailing newline.  Grafana loads the files
through grafana/provisioning/dashboards/studio.yml.  Thresholds come from app/thresholds.py.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "app"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from grafanalib._gen import DashboardEncoder

from grafana.studio_dashboards import common

OUT_DIR = ROOT / "grafana" / "dashboards"
MODULES = ("overview", "endpoints", "errors", "database", "cache_celery")


def build_all() -> dict[str, str]:
    """file name -> JSON text, for every dashboard.  Reads app/thresholds.py at call time."""
    out = {}
    for key in MODULES:
        module = importlib.import_module(f"grafana.studio_dashboards.{key}")
        dash = module.build()
        plain = json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder))
        data = common.finalize(plain)
        uid, _, filename = common.DASHBOARDS[key]
        if data["uid"] != uid:
            raise AssertionError(f"{key}: uid {data['uid']} != {uid}")
        out[filename] = json.dumps(data, sort_keys=True, indent=2) + "\n"
    return out


def _generated_files(directory: Path) -> set[str]:
    """JSON files in ``directory`` that this generator wrote (they carry the marker)."""
    names = set()
    for path in directory.glob("*.json"):
        try:
            if json.loads(path.read_text()).get("__generated"):
                names.add(path.name)
        except (ValueError, AttributeError):
            continue
    return names


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def drift(out_dir: Path | None = None) -> list[str]:
    """Problems between what the sources generate and what is on disk (empty: in sync)."""
    out_dir = out_dir or OUT_DIR
    wanted = build_all()
    problems = []
    for name, text in wanted.items():
        path = out_dir / name
        if not path.exists():
            problems.append(f"missing: {_rel(path)}")
        elif path.read_text() != text:
            problems.append(f"out of date: {_rel(path)}")
    for name in sorted(_generated_files(out_dir) - set(wanted)) if out_dir.exists() else ():
        problems.append(f"stale (no longer generated): {_rel(out_dir / name)}")
    return problems


def write(out_dir: Path | None = None) -> list[Path]:
    out_dir = out_dir or OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = build_all()
    written = []
    for name, text in wanted.items():
        path = out_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    for name in _generated_files(out_dir) - set(wanted):
        (out_dir / name).unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the JSON on disk differs")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR,
                        help="where the JSON goes (default: grafana/dashboards)")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift(args.out_dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("dashboards drifted: run `.venv/bin/python grafana/generate.py`",
                  file=sys.stderr)
            return 1
        print(f"dashboards up to date ({len(MODULES)} files)")
        return 0
    written = write(args.out_dir)
    for path in written:
        print(f"wrote {_rel(path)}")
    if not written:
        print(f"dashboards already up to date ({len(MODULES)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
