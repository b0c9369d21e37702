"""Mutation check: every alert, changed the smallest way that matters, must fail some promtool test.

    .venv/bin/python -m prometheus.promtest.mutate [--alert NAME ...] [--jobs 2]

For each alerting rule: every number in its expression one step either way (one unit of its last
decimal), every comparison flipped (`>` to `>=`, `<` to `<=`, and back), its `for:` one minute either way,
and the window of every recorded series it reads one minute either way (a third of a long `for:`, a sixth of
a long window).  Each mutant is written beside
copies of every suite in prometheus/tests/ (generated and hand-written) and `promtool test rules` runs
them, fastest first, until one fails: the mutant is killed.  A mutant no test notices is a rule change no
test would catch; the command lists them and exits 1.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from monitoring_spec.promql import duration_seconds
from prometheus.rulesets.exact import just_under

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "prometheus" / "rules"
TESTS = ROOT / "prometheus" / "tests"
# Numbers outside quoted label values, durations in brackets and metric names.
NUMBER = re.compile(r'(?<![\w.:"\[])(\d+(?:\.\d+)?)(?![\w.\]"])')
COMPARISON = re.compile(r"(?<![=!<>])(>=|<=|>|<)(?!=)")
RANGE = re.compile(r"\[([0-9a-z]+)\]")
FLIP = {">": ">=", ">=": ">", "<": "<=", "<=": "<"}


@dataclass(frozen=True)
class Mutant:
    alert: str
    change: str
    files: tuple[tuple[str, str], ...]  # (rule file name, its mutated text)


def _load() -> tuple[dict, dict]:
    return (yaml.safe_load((RULES / "alerts.yml").read_text()),
            yaml.safe_load((RULES / "recording.yml").read_text()))


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=4096)


def _outside_quotes(expr: str, pattern: re.Pattern) -> list[re.Match]:
    quoted = [m.span() for m in re.finditer(r'"[^"]*"', expr)]
    return [m for m in pattern.finditer(expr) if not any(a <= m.start() < b for a, b in quoted)]


def _step(text: str) -> list[str]:
    number = Decimal(text)
    unit = Decimal(1).scaleb(number.as_tuple().exponent)
    return [str(v) for v in (number - unit, number + unit) if v >= 0]


def _window_step(window: str) -> list[str]:
    """A window a minute (or a sixth of a long one) either way; an exact-count window (t - w, t] keeps its
    missing millisecond."""
    exact = window.endswith("999ms")
    whole = duration_seconds(re.sub(r"\d+ms$", "", window) or "0s") + 1 if exact else duration_seconds(window)
    step = max(60, whole // 6)
    return [just_under(f"{whole + d}s") if exact else f"{whole + d}s" for d in (-step, step) if whole + d > 0]


def _recorded_ranges(expr: str, recording: dict, hold: str) -> list[tuple[int, int, str]]:
    """(group index, rule index, range) of every windowed range of the recording rules `expr` reads, transitively."""
    found, pending, seen = [], [expr], set()
    index = {}
    for gi, group in enumerate(recording["groups"]):
        for ri, rule in enumerate(group["rules"]):
            index.setdefault(rule["record"], []).append((gi, ri))
    while pending:
        for name in set(re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", pending.pop())) - seen:
            seen.add(name)
            for gi, ri in index.get(name, []):
                rule_expr = recording["groups"][gi]["rules"][ri]["expr"]
                pending.append(rule_expr)
                found += [(gi, ri, w) for w in set(RANGE.findall(rule_expr)) if w != hold]
    return found


def mutants(only: set[str] | None = None) -> list[Mutant]:
    import monitoring_spec as spec

    alerts, recording = _load()
    out: list[Mutant] = []
    seen_texts: set[tuple] = set()

    def add(alert: str, change: str, alerts_doc: dict | None = None, recording_doc: dict | None = None) -> None:
        files = (("alerts.yml", _dump(alerts_doc or alerts)), ("recording.yml", _dump(recording_doc or recording)))
        if files not in seen_texts:
            seen_texts.add(files)
            out.append(Mutant(alert, change, files))

    for gi, group in enumerate(alerts["groups"]):
        for ri, rule in enumerate(group["rules"]):
            name, expr = rule["alert"], rule["expr"]
            if only and name not in only:
                continue
            which = rule["labels"].get("endpoint") or rule["labels"].get("long")
            label = f"{name}{{{which}}}" if which else name

            def with_expr(new: str, gi: int = gi, ri: int = ri) -> dict:
                doc = yaml.safe_load(_dump(alerts))
                doc["groups"][gi]["rules"][ri]["expr"] = new
                return doc

            for m in _outside_quotes(expr, NUMBER):
                for value in _step(m.group(1)):
                    add(label, f"{m.group(1)} -> {value}", with_expr(expr[:m.start()] + value + expr[m.end():]))
            for m in _outside_quotes(expr, COMPARISON):
                flipped = FLIP[m.group(1)]
                add(label, f"'{m.group(1)}' -> '{flipped}'", with_expr(expr[:m.start()] + flipped + expr[m.end():]))
            current = duration_seconds(rule.get("for", "0s"))
            step = max(60, current // 3)  # a minute, or a third of a long `for:`
            for new in (current - step, current + step):
                if new >= 0:
                    doc = yaml.safe_load(_dump(alerts))
                    doc["groups"][gi]["rules"][ri]["for"] = f"{new}s"
                    add(label, f"for: {rule.get('for', '0m')} -> {new}s", doc)
            for rgi, rri, window in _recorded_ranges(expr, recording, spec.COUNTER_HOLD):
                for new in _window_step(window):
                    doc = yaml.safe_load(_dump(recording))
                    target = doc["groups"][rgi]["rules"][rri]
                    target["expr"] = target["expr"].replace(f"[{window}]", f"[{new}]")
                    add(label, f"window of {target['record']}: [{window}] -> [{new}]", recording_doc=doc)
    return out


def _run(promtool: str, suite: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, "test", "rules", suite], cwd=cwd, capture_output=True, text=True, timeout=600)


def baseline(promtool: str) -> list[Path]:
    """Every suite passes on the committed rules (else no mutant means anything), quickest first: a mutant
    is usually killed by the first suite that tests its alert, and a quick one tries first."""
    timed = []
    for suite in TESTS.glob("*.yml"):
        started = time.monotonic()
        done = _run(promtool, suite.name, TESTS)
        if done.returncode != 0:
            raise SystemExit(f"{suite.name} fails on the committed rules:\n{done.stdout[-3000:]}")
        timed.append((time.monotonic() - started, suite))
    return [suite for _, suite in sorted(timed)]


def kill(mutant: Mutant, promtool: str, suites: list[Path]) -> str | None:
    """The suite that killed the mutant, or None when every suite passed.  The suites that name the
    mutated alert (or the recorded series whose window changed) go first, quickest first."""
    name = mutant.alert.split("{")[0]
    record = re.search(r"window of (\S+):", mutant.change)
    needle = record.group(1) if record else name
    suites = sorted(suites, key=lambda s: needle not in s.read_text())  # stable: keeps the quickest first
    work = Path(tempfile.mkdtemp(prefix="mutant-"))
    try:
        (work / "rules").mkdir()
        (work / "tests").mkdir()
        for name, text in mutant.files:
            (work / "rules" / name).write_text(text)
        for suite in suites:
            shutil.copy(suite, work / "tests" / suite.name)
        for suite in suites:
            if _run(promtool, suite.name, work / "tests").returncode != 0:
                return suite.name
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alert", action="append", help="only this alert (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    args = parser.parse_args(argv)
    from stack import tools

    promtool = tools.require("promtool")
    suites = baseline(promtool)
    todo = mutants(set(args.alert) if args.alert else None)
    print(f"{len(todo)} mutants of {len({m.alert for m in todo})} alerts; suites: {', '.join(s.name for s in suites)}",
          flush=True)
    started = time.monotonic()

    def one(m: Mutant) -> tuple[Mutant, str | None]:
        killer = kill(m, promtool, suites)
        if killer is None:
            print(f"  survived: {m.alert}: {m.change}", flush=True)
        return m, killer

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, todo))
    survivors = [m for m, killer in results if killer is None]
    by_alert: dict[str, list[int]] = {}
    for m, killer in results:
        by_alert.setdefault(m.alert, [0, 0])[killer is None] += 1
    for alert, (killed, survived) in sorted(by_alert.items()):
        print(f"  {alert:<44} {killed:>3} killed" + (f", {survived} SURVIVED" if survived else ""))
    for m in survivors:
        print(f"SURVIVED  {m.alert}: {m.change}")
    print(f"{len(results) - len(survivors)} of {len(results)} mutants killed in {time.monotonic() - started:.0f}s")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
