"""`make snapshot`: draw the dashboards from the running Prometheus to var/snapshots/<UTC time>/.

    python -m grafana.snapshot                                   # each dashboard's own range (the last hour)
    python -m grafana.snapshot --from now-3h --to now-2h
    python -m grafana.snapshot --around 2026-11-30T14:05:00Z --window 20m --dashboard studio-overview
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from grafana.snapshot.query import PrometheusUnreachable
from grafana.snapshot.render import load_dashboards, render
from grafana.snapshot.timerange import parse_duration, parse_time, stamp

ROOT = Path(__file__).resolve().parents[2]
FALLBACK_PROMETHEUS = "http://127.0.0.1:9090"


def default_prometheus() -> str:
    """The local stack's Prometheus (PROMETHEUS_PORT in the environment or .env)."""
    try:
        from stack.services import load_config

        return load_config().prometheus_url
    except Exception:  # no Django project config importable: the stack's default port
        return FALLBACK_PROMETHEUS


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"the window must be longer than 0: {text!r}")
    return seconds


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m grafana.snapshot", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Times: RFC 3339 (2026-11-30T14:05:00Z), unix seconds, now, now-1h.")
    p.add_argument("--prometheus", metavar="URL", help="Prometheus to ask (default: the stack's, "
                   f"PROMETHEUS_PORT; {FALLBACK_PROMETHEUS})")
    p.add_argument("--from", dest="start", type=_time, metavar="T", help="start of the range")
    p.add_argument("--to", dest="end", type=_time, metavar="T", help="end of the range (default now)")
    p.add_argument("--around", type=_time, metavar="T", help="an incident's moment: the window centred on it")
    p.add_argument("--window", type=_duration, metavar="D", default=None, help="with --around (default 30m)")
    p.add_argument("--dashboard", nargs="+", action="extend", metavar="UID",
                   help="only these dashboards (uid, e.g. studio-overview, or file name, e.g. overview)")
    p.add_argument("--out", type=Path, metavar="DIR", help="output directory (default var/snapshots/<UTC time>/)")
    return p


def time_range(p: argparse.ArgumentParser, args) -> tuple[float | None, float | None]:
    if args.around is not None:
        if args.start is not None or args.end is not None:
            p.error("--around excludes --from and --to")
        half = (args.window or 1800.0) / 2
        start, end = args.around - half, min(args.around + half, time.time())
        if end <= start:
            p.error("--around is in the future: Prometheus has nothing there yet")
        return start, end
    if args.window is not None:
        p.error("--window goes with --around")
    if args.start is None:
        if args.end is not None:
            p.error("--to needs --from")
        return None, None
    end = time.time() if args.end is None else args.end
    if end <= args.start:
        p.error("--from must be before --to (and before now when --to is left out)")
    return args.start, end


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    start, end = time_range(p, args)
    try:
        dashboards = load_dashboards(args.dashboard)
    except KeyError as exc:
        p.error(exc.args[0])
    out = args.out or ROOT / "var" / "snapshots" / stamp(time.time())
    url = args.prometheus or default_prometheus()
    try:
        snapshot = render(url, dashboards, start, end, out)
    except PrometheusUnreachable as exc:
        print(f"snapshot: {exc}", file=sys.stderr)
        return 1
    for d in snapshot.dashboards:
        print(f"{d.uid}: {d.png} ({d.size[0]}x{d.size[1]}, {len(d.panels)} panels, {d.seconds:.1f} s)")
    empty = snapshot.no_data()
    if empty:
        print(f"No data ({len(empty)} queries):")
        for uid, title, ref in empty:
            print(f"  {uid} / {title} / {ref}")
    else:
        print("No data: none")
    print(f"index: {snapshot.index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
