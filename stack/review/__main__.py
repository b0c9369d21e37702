"""python -m stack.review [--since 7d | --from T [--to T]] [--prometheus URL] [--long-term URL] [--out DIR]

The guide's post-launch checklist as a report: error trend week over week and the top error types, each
endpoint's average and P95 against the target table, the slowest views, slow queries, the cache hit ratio, the
SLO budget left and the alerts that fired, from Prometheus over the period, written to
var/reviews/<date>/review.md with PNG charts beside it.  With --long-term (or LONG_TERM_URL) it reads the long-term
store (VictoriaMetrics, fed by Prometheus' remote_write) when that answers and holds the period's start, Prometheus
otherwise; basic auth from LONG_TERM_USERNAME and LONG_TERM_PASSWORD_FILE.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

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
    parser.add_argument("--long-term", type=url, default=os.environ.get("LONG_TERM_URL") or None,
                        help="the long-term store's query URL, read first when it answers (default $LONG_TERM_URL)")
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


def long_term_auth() -> tuple[str, str] | None:
    path = os.environ.get("LONG_TERM_PASSWORD_FILE")
    if not path:
        return None
    return os.environ.get("LONG_TERM_USERNAME", "prometheus"), Path(path).expanduser().read_text().strip()


def written_to(prometheus: str) -> tuple[str, tuple[str, str] | None] | None:
    """The store the local stack's Prometheus remote_writes to (STACK_LONG_TERM=1), with its credentials, read
    from the config `make up` wrote; only when that Prometheus is the one asked for."""
    config_file = Path(os.environ.get("STACK_RUN_DIR", ROOT / "var" / "stack")) / "prometheus.yml"
    try:
        config = yaml.safe_load(config_file.read_text())
    except (OSError, yaml.YAMLError):
        return None
    jobs = {job["job_name"]: job for job in config.get("scrape_configs") or []}
    own = [t for c in jobs.get("prometheus", {}).get("static_configs", []) for t in c.get("targets", [])]
    if not config.get("remote_write") or prometheus.split("://", 1)[-1] not in own:
        return None
    endpoint = config["remote_write"][0]
    auth = endpoint.get("basic_auth")
    credentials = (auth["username"], Path(auth["password_file"]).read_text().strip()) if auth else None
    return endpoint["url"].removesuffix("/api/v1/write"), credentials


def source(args: argparse.Namespace) -> tuple[Client, str]:
    """The long-term store when it answers and has samples at the period's start (a store switched on last
    week cannot review a month), Prometheus otherwise.  Says which, and why."""
    prometheus = Client(args.prometheus), f"Prometheus at {args.prometheus}"
    if args.long_term:
        store = Client(args.long_term, auth=long_term_auth())
    elif found := written_to(args.prometheus):
        args.long_term = found[0]
        store = Client(found[0], auth=found[1])
    else:
        return prometheus
    try:
        covers = store.query("count(up)", args.start + 300)  # 5 min in: the first scrape after the start
    except (Unreachable, QueryFailed) as exc:
        print(f"long-term store at {args.long_term} does not answer ({exc}); reading Prometheus")
        return prometheus
    if not covers:
        print(f"long-term store at {args.long_term} holds nothing at the period's start; reading Prometheus")
        return prometheus
    return store, f"long-term store at {args.long_term}"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    client, name = source(args)
    print(f"source: {name}")
    try:
        if client.url == args.prometheus:
            client.ready()
        sections = Review(client, args.start, args.end).sections()
    except Unreachable as exc:
        print(f"error: {name} does not answer: {exc}", file=sys.stderr)
        return 1
    except QueryFailed as exc:
        print(f"error: {name} refused a query: {exc}", file=sys.stderr)
        return 1
    out = args.out or REVIEWS_DIR / datetime.fromtimestamp(args.end, UTC).strftime("%Y-%m-%d")
    out.mkdir(parents=True, exist_ok=True)
    (out / "review.md").write_text(render(sections, args.start, args.end, name, out))
    print(f"wrote {out / 'review.md'}")
    empty = [s.title for s in sections if s.empty]
    print("sections with no data: " + (", ".join(empty) if empty else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
