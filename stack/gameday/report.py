"""The game day's report: one line per fault while it runs, a table at the end, Markdown and JSON files."""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

from stack.gameday.snapshots import MARGIN_SECONDS


def _seconds(values: dict[str, float]) -> str:
    return ", ".join(f"{name} {s:.0f}s" for name, s in sorted(values.items())) or "none"


def _expected(r) -> str:
    text = ", ".join(r.expected) or "none"
    return text + (f" (may: {', '.join(r.allowed)})" if getattr(r, "allowed", None) else "")


def fault_line(r) -> str:
    if r.skipped:
        return f"  SKIPPED: {r.skipped}"
    verdict = "PASS" if r.passed else "FAIL"
    failed = [what for what, ok in r.checks if not ok]
    prom = "?" if r.counted_by_prometheus is None else f"{r.counted_by_prometheus:.0f}"
    return (f"  {verdict}: paged {_seconds(r.paged)} (expected {_expected(r)}); "
            f"fired {_seconds(r.fired)}; resolved "
            f"{'?' if r.resolved_after_recovery is None else f'{r.resolved_after_recovery:.0f}s'} after recovery; "
            f"{r.failed_requests} failed requests; counted {r.counted_by_locust} (Locust) / {prom} (Prometheus)"
            + (f"; failed: {'; '.join(failed)}" if failed else ""))


HEADER = ("| Fault | Expected | Paged (s after fault) | Fired (s) | Resolved (s after recovery) | Failed requests "
          "| Locust / Prometheus | Result |\n|---|---|---|---|---|---|---|---|\n")


def table(results) -> str:
    rows = []
    for r in results:
        prom = "?" if r.counted_by_prometheus is None else f"{r.counted_by_prometheus:.0f}"
        resolved = "-" if r.resolved_after_recovery is None else f"{r.resolved_after_recovery:.0f}"
        verdict = f"skipped: {r.skipped}" if r.skipped else ("PASS" if r.passed else
                                                            "FAIL: " + "; ".join(w for w, ok in r.checks if not ok))
        rows.append(f"| {r.name} | {_expected(r)} | {_seconds(r.paged)} | {_seconds(r.fired)} "
                    f"| {resolved} | {r.failed_requests} | {r.counted_by_locust} / {prom} | {verdict} |")
    return HEADER + "\n".join(rows) + "\n"


def _picture(out: Path, r) -> str:
    """The Overview drawn around the fault (stack/gameday/snapshots.py), when it was drawn."""
    path = getattr(r, "snapshot", "")
    if not path or not (out / path).is_file():
        return ""
    minutes = f"{MARGIN_SECONDS / 60:g} minutes"
    return f" Overview from {minutes} before the fault to {minutes} after recovery: [{path}]({path})."


def write(out: Path, results, started: float, args, status_same: bool, run_alerts: list[str] = ()) -> None:
    out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.node()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    duration = (time.time() - started) / 60
    notes = "".join(f"- **{r.name}**: {r.fault or r.summary}. Recovery: {r.recovery or '-'}."
                    + "".join(f" {n}." for n in r.notes) + _picture(out, r) + "\n" for r in results)
    (out / "report.md").write_text(
        f"# Game day, {when}\n\n{machine}; {duration:.0f} minutes; {args.users} Locust users; margin "
        f"{args.margin:.0f} s; `make status` before and after: {'identical' if status_same else 'DIFFERENT'}.\n\n"
        f"{table(results)}\n{notes}\nError-budget alerts over hours that fired during the run (they average every "
        f"fault's failures): {', '.join(run_alerts) or 'none'}.\n")
    (out / "report.json").write_text(json.dumps({
        "started": started, "machine": machine, "users": args.users, "margin": args.margin,
        "status_identical": status_same, "run_alerts": list(run_alerts), "results": [asdict(r) for r in results]},
        indent=2, sort_keys=True))
