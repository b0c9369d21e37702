"""python -m stack.review [--since 7d | --from T [--to T]] [--prometheus URL] [--out DIR]

The guide's post-launch checklist as a report: error trend week over week and the top error types, each
endpoint's average and P95 against the target table, the slowest views, slow queries, the cache hit ratio, the
SLO budget left and the alerts that fired, from Prometheus over the period, written to
var/reviews/<date>/review.md with PNG charts beside it.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from monitoring_spec.promql import duration_seconds
from stack.review.data import Client, QueryFailed, Review, Unreachable
from stack.review.report import render

ROOT = Path(__file__).resolve().parents[2]
REVIEWS_DIR = ROOT / "var" / "reviews"
DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"


def since(text: str) -> int:
    try:
        seconds = duration_seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration like 7d or 36h: {text!r}") from None
    if not 3600 <= seconds <= 90 * 86400:
        raise argparse.ArgumentTypeError("the period must be between 1h and 90d")
    return seconds


def moment(text: str) -> float:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time (2026-11-30, 2026-11-30T12:00:00Z or epoch s): {text!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def url(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack.review", description=__doc__.split("\n\n")[1])
    parser.add_argument("--since", type=since, help="the period, ending at --to (default 7d)")
    parser.add_argument("--from", dest="start", type=moment, help="start of the period (instead of --since)")
    parser.add_argument("--to", dest="end", type=moment, help="end of the period (default: the last midnight UTC, "
                                                             "so that the period is whole days)")
    parser.add_argument("--prometheus", type=url, default=DEFAULT_PROMETHEUS, help=f"default {DEFAULT_PROMETHEUS}")
    parser.add_argument("--out", type=Path, help="directory for review.md and the charts (default var/reviews/<date>)")
    args = parser.parse_args(argv)
    if args.since and args.start is not None:
        parser.error("give --since or --from, not both")
    args.end = args.end if args.end is not None else time.time() // 86400 * 86400
    if args.start is None:
        args.start = args.end - (args.since or 7 * 86400)
    if args.end - args.start < 3600:
        parser.error("--from must be at least an hour before --to")
    if args.end > time.time() + 300:
        parser.error("--to is in the future")
    if args.end <= args.start:
        parser.error("--to must be after --from")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    client = Client(args.prometheus)
    try:
        client.ready()
        sections = Review(client, args.start, args.end).sections()
    except Unreachable as exc:
        print(f"error: Prometheus at {args.prometheus} does not answer: {exc}", file=sys.stderr)
        return 1
    except QueryFailed as exc:
        print(f"error: Prometheus at {args.prometheus} refused a query: {exc}", file=sys.stderr)
        return 1
    out = args.out or REVIEWS_DIR / datetime.fromtimestamp(args.end, UTC).strftime("%Y-%m-%d")
    out.mkdir(parents=True, exist_ok=True)
    (out / "review.md").write_text(render(sections, args.start, args.end, args.prometheus, out))
    print(f"wrote {out / 'review.md'}")
    empty = [s.title for s in sections if s.empty]
    print("sections with no data: " + (", ".join(empty) if empty else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
