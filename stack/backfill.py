"""Load a week (or more) of realistic history (stack/history.py) into a Prometheus data directory, with the
recording rules and the alerts evaluated over it, so that the dashboards' day- and week-over-week panels and
the weekly review (stack/review/) have something to show.

    python -m stack.backfill --days 8 [--data-dir var/stack/prometheus-data] [--end 2026-11-30T12:00:00Z]
                                      [--prometheus http://127.0.0.1:9090]

1. The history is written as OpenMetrics and turned into blocks by `promtool tsdb create-blocks-from
   openmetrics`, in a staging directory.
2. A private Prometheus (free port) serves the staging directory, and the committed recording rules are
   evaluated over the history against it.  Rules that read other recorded series (the exact counts read the
   sums, the held values, the increments...) go in layers, each after the one it reads is loaded (the private
   Prometheus is restarted to pick a layer's blocks up).  By default each rule is one range query per 10,000
   steps, at the raw samples' timestamps, written as OpenMetrics and loaded like the history (8 days: ~15 s);
   --promtool-rules uses `promtool tsdb create-blocks-from rules` instead, which asks one range query per rule
   per 2-hour block and took ~250 s for the same 8 days.  (promtool evaluates a group at an offset hashed from
   its file and name, so every layer is written to the same file under the same group name: the exact counts
   need every layer at the same instants, as the rules of one group are in Prometheus.)
3. promtool ignores alerting rules, so the alerts are evaluated here the way Prometheus does: each rule's
   expression over the history (range queries at the rules' evaluation step), active series held for the
   rule's `for:`, then `ALERTS{alertstate="pending"|"firing"}` written as blocks too.
4. The blocks are copied into the data directory.  A running Prometheus picks them up within a minute
   (overlapping blocks are allowed by default since 2.39); with --prometheus, the command waits until it has.

The history ends where the target Prometheus' own data begins (--prometheus), so backfilled and scraped samples
of the same series never interleave; without it, at --end or now.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from monitoring_spec.promql import duration_seconds
from stack import history as hist

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "prometheus" / "rules"
STACK_DATA_DIR = ROOT / "var" / "stack" / "prometheus-data"
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
MAX_POINTS = 10_000  # Prometheus refuses range queries of more than 11,000 points per series


class BackfillError(RuntimeError):
    pass


def log(message: str) -> None:
    print(message, flush=True)


# --- rules ---------------------------------------------------------------------------------------------


@dataclass
class Rule:
    group: str
    body: dict  # as in the rule file

    @property
    def record(self) -> str | None:
        return self.body.get("record")

    @property
    def alert(self) -> str | None:
        return self.body.get("alert")

    def reads(self) -> set[str]:
        return set(METRIC_NAME.findall(re.sub(r'"(?:[^"\\]|\\.)*"', '""', self.body["expr"])))


def load_rules(rules_dir: Path = RULES_DIR) -> list[Rule]:
    rules = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text()).get("groups") or []:
            rules += [Rule(group["name"], r) for r in group.get("rules") or []]
    return rules


def recording_layers(rules: list[Rule]) -> list[list[Rule]]:
    """The recording rules in layers: each recorded name in the first layer after every recorded name it reads
    (a name several rules record, one per endpoint, counts once all of them are)."""
    by_name: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.record:
            by_name.setdefault(rule.record, []).append(rule)
    level: dict[str, int] = {}
    while len(level) < len(by_name):
        progressed = False
        for name, same in by_name.items():
            deps = set().union(*(r.reads() for r in same)) & by_name.keys() - {name}
            if name not in level and deps <= level.keys():
                level[name] = 1 + max((level[d] for d in deps), default=-1)
                progressed = True
        if not progressed:
            raise BackfillError(f"recording rules read each other in a cycle: {sorted(by_name.keys() - level.keys())}")
    layers: list[list[Rule]] = [[] for _ in range(1 + max(level.values(), default=-1))]
    for name, same in by_name.items():
        layers[level[name]] += same
    return layers


# --- a private Prometheus over the staging directory -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePrometheus:
    """A Prometheus with no targets and no rules, serving a data directory; restart() reloads its blocks."""

    def __init__(self, data_dir: Path, workdir: Path):
        self.data_dir, self.workdir = data_dir, workdir
        self.port = free_port()
        self.config = workdir / "prometheus.yml"
        self.config.write_text("global:\n  evaluation_interval: 1m\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrivatePrometheus:
        from stack import tools

        log_file = (self.workdir / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            [tools.require("prometheus"), f"--config.file={self.config}", f"--storage.tsdb.path={self.data_dir}",
             "--storage.tsdb.retention.time=3650d", f"--web.listen-address=127.0.0.1:{self.port}",
             "--query.lookback-delta=5m"],
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BackfillError(f"private Prometheus exited: {(self.workdir / 'prometheus.log').read_text()[-800:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise BackfillError("private Prometheus did not get ready within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def api(url: str, path: str, params: dict | None = None, timeout: float = 120) -> dict:
    full = f"{url}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(full, timeout=timeout) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:
        raise BackfillError(f"{path}: {exc.read().decode(errors='replace')[:300]}") from None
    if body.get("status") != "success":
        raise BackfillError(f"{path}: {body}")
    return body["data"]


def query_range(url: str, expr: str, start: int, end: int, step: int) -> dict[tuple, dict[int, float]]:
    """labels -> {timestamp: value} over [start, end], in chunks Prometheus accepts."""
    out: dict[tuple, dict[int, float]] = {}
    chunk = step * MAX_POINTS
    t = start
    while t <= end:
        stop = min(end, t + chunk - step)
        data = api(url, "/api/v1/query_range", {"query": expr, "start": t, "end": stop, "step": step})
        for series in data["result"]:
            key = tuple(sorted(series["metric"].items()))
            out.setdefault(key, {}).update({int(float(ts)): float(v) for ts, v in series["values"]})
        t = stop + step
    return out


# --- alerts over the past -------------------------------------------------------------------------------


@dataclass
class AlertSeries:
    labels: dict[str, str]
    pending: list[int] = field(default_factory=list)
    firing: list[int] = field(default_factory=list)


def evaluate_alerts(url: str, rules: list[Rule], start: int, end: int, step: int) -> list[AlertSeries]:
    """What Prometheus would have recorded as ALERTS: each active series pending until it has been active for
    the rule's `for:`, then firing, until its expression stops returning it."""
    out = []
    for rule in rules:
        hold = duration_seconds(rule.body.get("for") or "0s")
        for key, values in query_range(url, rule.body["expr"], start, end, step).items():
            labels = {k: v for k, v in key if k != "__name__"}
            labels.update({k: str(v) for k, v in (rule.body.get("labels") or {}).items()})
            labels["alertname"] = rule.alert
            series = AlertSeries(labels)
            active_since = None
            for ts in range(start, end + 1, step):
                if ts in values and not math.isnan(values[ts]):
                    if active_since is None:
                        active_since = ts
                    (series.firing if ts - active_since >= hold else series.pending).append(ts)
                else:
                    active_since = None
            out.append(series)
    return out


def alerts_openmetrics(alerts: list[AlertSeries]) -> str:
    lines = ["# TYPE ALERTS gauge\n"]
    for series in alerts:
        for state, stamps in (("pending", series.pending), ("firing", series.firing)):
            if not stamps:
                continue
            labels = {**series.labels, "alertstate": state}
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            lines += [f"ALERTS{{{inner}}} 1 {ts}\n" for ts in stamps]
    lines.append("# EOF\n")
    return "".join(lines)


# --- the flow --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    series: int = 0
    samples: int = 0
    openmetrics_bytes: int = 0
    generate_s: float = 0.0
    promtool_openmetrics_s: float = 0.0
    rules_s: float = 0.0
    rule_layers: int = 0
    recording_rules: int = 0
    alerts_s: float = 0.0
    alert_series: int = 0

    def summary(self) -> str:
        return (f"{self.series} series x {self.samples // max(1, self.series)} steps = {self.samples:,} samples "
                f"({self.openmetrics_bytes / 1e6:.0f} MB of OpenMetrics) generated in {self.generate_s:.1f} s; "
                f"promtool create-blocks-from openmetrics {self.promtool_openmetrics_s:.1f} s; "
                f"create-blocks-from rules ({self.recording_rules} recording rules in {self.rule_layers} layers) "
                f"{self.rules_s:.1f} s; alerts ({self.alert_series} alert series) {self.alerts_s:.1f} s")


def promtool(*args: str) -> None:
    from stack import tools

    out = subprocess.run([tools.require("promtool"), *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise BackfillError(f"promtool {args[:3]}: {(out.stderr or out.stdout)[-800:]}")


def openmetrics_to_blocks(write: Callable, data_dir: Path, workdir: Path, name: str) -> int:
    """Write OpenMetrics text through `write(file)` and turn it into blocks in data_dir; its size in bytes."""
    path = workdir / f"{name}.om"
    with path.open("w") as f:
        write(f)
    size = path.stat().st_size
    # Long blocks: promtool parses the whole input once per block, so 2-hour blocks would parse it ~100 times.
    promtool("tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=240h", str(path), str(data_dir))
    path.unlink()
    return size


def build(plan: hist.Plan, out_dir: Path, *, rules_dir: Path = RULES_DIR, with_rules: bool = True,
          with_promtool_rules: bool = False, now: float | None = None) -> tuple[hist.History, Timing]:
    """The history's blocks (raw, recorded, ALERTS) in out_dir (created), and how long each step took."""
    timing = Timing()
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="backfill-"))
    try:
        started = time.monotonic()
        history = hist.History(plan, now=now)
        timing.series = hist.series_count(history)
        timing.samples = sum(int((~_nan(s.values)).sum()) for f in history.families() for s in f.series)

        def write_raw(f) -> None:
            for chunk in hist.openmetrics(history):
                f.write(chunk)

        om = work / "raw.om"
        with om.open("w") as f:
            write_raw(f)
        timing.openmetrics_bytes = om.stat().st_size
        timing.generate_s = time.monotonic() - started
        path_started = time.monotonic()
        promtool("tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=240h", str(om), str(out_dir))
        om.unlink()
        timing.promtool_openmetrics_s = time.monotonic() - path_started
        log(f"raw history: {timing.series} series, {timing.samples:,} samples, "
            f"generated in {timing.generate_s:.1f} s, promtool {timing.promtool_openmetrics_s:.1f} s")
        if with_rules:
            rules = load_rules(rules_dir)
            evaluate_rules(history, rules, out_dir, work, timing, with_promtool=with_promtool_rules)
        return history, timing
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _nan(values):
    import numpy as np

    return np.isnan(values)


def recorded_openmetrics(url: str, layer: list[Rule], start: int, end: int, step: int) -> str:
    """A layer of recording rules evaluated over [start, end] as Prometheus would at each step (range queries),
    as OpenMetrics: the rule's name, the result's labels, the rule's labels over them."""
    # Results that differ only by __name__ (an `or` of a recorded series and an arithmetic result) are one
    # series once the rule names them.
    series: dict[str, dict[tuple, dict[int, float]]] = {}
    for rule in layer:
        for key, values in query_range(url, rule.body["expr"], start, end, step).items():
            labels = {k: v for k, v in key if k != "__name__"}
            labels.update({k: str(v) for k, v in (rule.body.get("labels") or {}).items()})
            series.setdefault(rule.record, {}).setdefault(tuple(sorted(labels.items())), {}).update(values)
    lines = []
    for name, by_labels in series.items():
        for labels, values in by_labels.items():
            prefix = f"{name}{{{','.join(f'{k}={chr(34)}{v}{chr(34)}' for k, v in labels)}}} "
            lines.append("".join(f"{prefix}{fmt(v)} {ts}\n" for ts, v in sorted(values.items())))
    return "".join(lines) + "# EOF\n"


def fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(value) if not value.is_integer() else str(int(value))


def evaluate_rules(history: hist.History, rules: list[Rule], data_dir: Path, work: Path, timing: Timing, *,
                   with_promtool: bool = False) -> None:
    step = hist.STEP
    start, end = int(history.times[0]), int(history.times[-1])
    prom = PrivatePrometheus(data_dir, work).start()
    try:
        layers = recording_layers(rules)
        timing.rule_layers, timing.recording_rules = len(layers), sum(map(len, layers))
        began = time.monotonic()
        for i, layer in enumerate(layers):
            layer_began = time.monotonic()
            if with_promtool:
                # One file and one group name for every layer: promtool evaluates a group at its own offset in
                # the interval (a hash of file and name), and the exact counts need every layer at the same
                # instants, as the rules of one group are in Prometheus.
                rule_file = work / "rules" / "backfill.yml"
                rule_file.parent.mkdir(exist_ok=True)
                rule_file.write_text(yaml.safe_dump({"groups": [{"name": "backfill", "rules": [
                    r.body for r in layer]}]}, sort_keys=False))
                out = work / f"layer{i}-blocks"
                promtool("tsdb", "create-blocks-from", "rules", f"--start={start}", f"--end={end}", f"--url={prom.url}",
                         f"--eval-interval={step}s", f"--output-dir={out}", str(rule_file))
                move_blocks(out, data_dir)
            else:
                text = recorded_openmetrics(prom.url, layer, start, end, step)
                openmetrics_to_blocks(lambda f, text=text: f.write(text), data_dir, work, f"layer{i}")
            prom.restart()
            log(f"  rules layer {i + 1}/{len(layers)}: {len(layer)} rules, {time.monotonic() - layer_began:.1f} s")
        timing.rules_s = time.monotonic() - began
        began = time.monotonic()
        alerts = evaluate_alerts(prom.url, [r for r in rules if r.alert], start, end, step)
        timing.alert_series = len(alerts)
        prom.stop()
        text = alerts_openmetrics(alerts)
        if text.count("\n") > 2:
            openmetrics_to_blocks(lambda f: f.write(text), data_dir, work, "alerts")
        timing.alerts_s = time.monotonic() - began
        log(f"  alerts: {len(alerts)} series evaluated in {timing.alerts_s:.1f} s")
    finally:
        prom.stop()


def block_dirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / "meta.json").exists()) if path.exists() else []


def move_blocks(src: Path, dst: Path) -> int:
    dst.mkdir(parents=True, exist_ok=True)
    moved = 0
    for block in block_dirs(src):
        shutil.move(str(block), str(dst / block.name))
        moved += 1
    return moved


def copy_blocks(src: Path, dst: Path) -> int:
    dst.mkdir(parents=True, exist_ok=True)
    for block in block_dirs(src):
        shutil.copytree(block, dst / block.name, dirs_exist_ok=True)
    return len(block_dirs(src))


# --- the command -----------------------------------------------------------------------------------------


def earliest_sample(prometheus: str, days: int) -> int | None:
    """When the target Prometheus' own data for the app begins (epoch s), or None when it has none."""
    expr = f'min(min_over_time(timestamp(up{{job="studio-app"}})[{days + 7}d:5m]))'
    result = api(prometheus, "/api/v1/query", {"query": expr}, timeout=60)["result"]
    if not result:
        return None
    # The subquery's points are 5 minutes apart: each reads the last scrape before it, so the first point can
    # be up to 5 minutes after the first scrape.  The raw samples of the 6 minutes up to it give the first one.
    found = float(result[0]["value"][1])
    raw = api(prometheus, "/api/v1/query", {"query": 'up{job="studio-app"}[6m]', "time": f"{found:.3f}"},
              timeout=60)["result"]
    stamps = [float(t) for series in raw for t, _ in series["values"]]
    return int(min(stamps, default=found))


def stack_targets() -> hist.Targets:
    """The (job, instance) labels the local stack's Prometheus gives its targets (stack/services.py)."""
    from stack import services as svc

    cfg = svc.load_config()
    return hist.Targets(app=tuple(f"{cfg.host}:{p}" for p in cfg.app_ports),
                        worker=tuple(f"{cfg.host}:{p}" for p in cfg.worker_metrics_ports),
                        redis=f"{cfg.host}:{cfg.redis_exporter_port}", labels=(("deployment", "local"),))


def parse_time(text: str) -> int:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text))
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).replace(
            tzinfo=datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo or UTC).timestamp())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time (RFC 3339 or epoch seconds): {text!r}") from None


def positive_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 1 <= days <= 60:
        raise argparse.ArgumentTypeError("days must be between 1 and 60")
    return days


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=positive_days, default=8, help="days of history (default 8: `offset 7d` has data)")
    parser.add_argument("--data-dir", type=Path, default=STACK_DATA_DIR, help="the Prometheus data directory to load")
    parser.add_argument("--prometheus", help="the Prometheus serving --data-dir: end the history where its data "
                                             "begins, and wait until it has loaded the blocks")
    parser.add_argument("--end", type=parse_time, help="end of the history (RFC 3339 or epoch s; default now)")
    parser.add_argument("--seed", type=int, default=hist.SEED)
    parser.add_argument("--no-rules", action="store_true", help="raw history only (no recorded series, no ALERTS)")
    parser.add_argument("--promtool-rules", action="store_true",
                        help="evaluate the recording rules with promtool tsdb create-blocks-from rules (slower)")
    parser.add_argument("--stack-targets", action="store_true",
                        help="label the history with the local stack's targets (make backfill)")
    args = parser.parse_args(argv)

    end = args.end or int(time.time())
    if args.prometheus:
        try:
            first = earliest_sample(args.prometheus, args.days)
        except (OSError, BackfillError) as exc:
            print(f"error: Prometheus at {args.prometheus} does not answer: {exc}", file=sys.stderr)
            return 1
        if first is not None and first < end:
            end = first - hist.STEP
            log(f"{args.prometheus} has data from {iso(first)}: the history ends just before")
    end = end // hist.STEP * hist.STEP
    targets = stack_targets() if args.stack_targets else hist.Targets()
    plan = hist.Plan(days=args.days, end=end, seed=args.seed, targets=targets)
    log(f"backfilling {args.days} days, {iso(end - args.days * 86400)} .. {iso(end)}, into {args.data_dir}")
    staging = Path(tempfile.mkdtemp(prefix="backfill-blocks-"))
    try:
        _, timing = build(plan, staging, with_rules=not args.no_rules, with_promtool_rules=args.promtool_rules)
        copied = copy_blocks(staging, args.data_dir)
    except BackfillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"{copied} blocks copied into {args.data_dir}")
    log(timing.summary())
    if args.prometheus:
        expr = f'count(up{{job="studio-app"}} offset {int(time.time()) - end + 3600}s)'
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            try:
                if api(args.prometheus, "/api/v1/query", {"query": expr}, timeout=30)["result"]:
                    log(f"{args.prometheus} serves the history")
                    return 0
            except (OSError, BackfillError):
                pass
            time.sleep(5)
        print(f"error: {args.prometheus} has not loaded the blocks after 150 s (its log says why)", file=sys.stderr)
        return 1
    return 0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
