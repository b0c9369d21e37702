"""What the game day reads: Prometheus (alerts, counts), the page sinks, Locust's running totals, and the
stack's processes (supervisor pid files, hold files)."""
from __future__ import annotations

import csv
import functools
import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from monitoring_spec.promql import duration_seconds
from monitoring_spec.recorded import Names
from stack import services as svc
from stack.sinks import firing_alerts, read_store, resolved_alerts

HEARTBEAT = "Watchdog"
RUN_WINDOW_SECONDS = 6 * 3600


def spans_the_run(labels: dict) -> bool:
    """An error-budget alert whose long window is hours to days (6h, 1d, 3d): it averages every fault of the run,
    whose outages spend real budget, so it belongs to the game day as a whole, not to the fault that is on when
    it crosses its threshold.  The fast burn (1h and 5m) is a fault's."""
    long = labels.get("long")
    return bool(labels.get("slo")) and long is not None and duration_seconds(long) >= RUN_WINDOW_SECONDS


def split_pages(paged: dict[str, float], fired: dict[str, float], run_level: set[str]) -> tuple[dict, dict]:
    """(the fault's pages, the run's): an alert that paged while only its budget series over hours fired (a page
    sent when an earlier fault's spent budget crossed a 6h threshold) is the run's; one that also fired as the
    fault's own (a fast burn, any other alert) is judged with the fault."""
    run = {a: s for a, s in paged.items() if a in run_level and a not in fired}
    return {a: s for a, s in paged.items() if a not in run}, run


@functools.cache  # the rule file does not change during a run; asked twice per fault
def recorded_expr(record: str) -> str:
    """The expression a recording rule of prometheus/rules/recording.yml records under `record`."""
    import yaml

    groups = yaml.safe_load((svc.ROOT / "prometheus" / "rules" / "recording.yml").read_text())["groups"]
    return next(r["expr"] for g in groups for r in g["rules"] if r.get("record") == record)


def get_json(url: str, timeout: float = 10.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


class Prometheus:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        try:
            return get_json(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}")["data"]["result"]
        except (OSError, ValueError, KeyError):
            return []

    def value(self, expr: str, at: float | None = None) -> float | None:
        result = self.query(expr, at)
        return float(result[0]["value"][1]) if result else None

    def scrape_read(self, recorded: str, at: float) -> float | None:
        """The time of the app's scrape the rules read at evaluation `at`.  Not always the newest scrape stamped
        before `at`: a scrape is stamped when it starts and committed when it ends, so one that was still being
        read while the rules ran (slow under load) is newer than what they saw, and comparing the clients'
        count from it was off by a scrape interval of traffic (21 requests in the game day's redis-down).  The
        scrape read is the one whose total is the total the rule recorded."""
        total = self.value(f"sum({recorded})", at=at)
        newest = self.value('max(timestamp(up{job="studio-app"}))', at=at)
        if total is None or newest is None:
            return newest
        candidates = [newest, self.value('max(timestamp(up{job="studio-app"}))', at=newest - 0.001)]
        raw = recorded_expr(recorded)
        return next((s for s in candidates if s is not None and self.value(f"sum({raw})", at=s) == total), newest)

    def firing(self) -> set[str]:
        """Alerts firing now, the heartbeat and the run's budget alerts aside."""
        return {r["metric"]["alertname"] for r in self.query('ALERTS{alertstate="firing"}')
                if not spans_the_run(r["metric"])} - {HEARTBEAT}

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def user_responses(self, since: float, until: float) -> tuple[float, float, float] | None:
        """User responses the app counted between the scrapes the rules last read at `since` and at `until`,
        exactly as the alerts count them (the sum of the rules' per-evaluation increments), and the times of
        those two scrapes: (count, scrape0, scrape1), to compare with what the clients saw at the same times.
        """
        import monitoring_spec

        increments = Names(monitoring_spec).responses.replace("studio:", "instance:").replace(":increase5m", ":increments")
        e0 = self.value(f"max(timestamp({increments}))", at=since)
        e1 = self.value(f"max(timestamp({increments}))", at=until)
        total = increments.replace(":increments", ":sum")
        s0 = self.scrape_read(total, e0) if e0 else None
        s1 = self.scrape_read(total, e1) if e1 else None
        if None in (e0, e1, s0, s1) or e1 <= e0:
            return None
        # Prometheus 2 ranges are closed at both ends: one millisecond less leaves e0's increment out.
        span = round((e1 - e0) * 1000) - 1
        count = self.value(f"sum(sum_over_time({increments}[{span}ms]))", at=e1)
        return None if count is None else (count, s0, s1)


@dataclass
class Page:
    at: float
    receiver: str
    alerts: frozenset[str]  # announced as firing


def pages(store: Path, since: float) -> list[Page]:
    """Firing pages the local sinks received since `since`, the dead-man's switch aside."""
    out = []
    for page in read_store(store):
        if page["received_at"] >= since and page["receiver"] != "deadmansswitch":
            alerts = frozenset(firing_alerts(page))
            if alerts:
                out.append(Page(page["received_at"], page["receiver"], alerts))
    return out


# Prometheus re-sends a resolved alert for 15 minutes; until those stop, Alertmanager keeps the alert's group.
RESOLVED_RESEND_SECONDS = 15 * 60


def last_notified(store: Path, alert: str, before: float) -> float | None:
    """When the sinks last got a notification about `alert` (firing or resolved) before `before`.  While its
    Alertmanager group lives on, the alert firing again joins that group and is sent at the group's next
    group_interval tick (5m), not after group_wait (30s)."""
    return max((page["received_at"] for page in read_store(store)
                if page["received_at"] < before and alert in firing_alerts(page) | resolved_alerts(page)),
               default=None)


def unresolved(store: Path) -> set[tuple[str, str]]:
    """(receiver, alert) pairs whose last notification announced it firing: their resolution is not sent yet.
    An alert that fires again before its group has sent the resolution is, to Alertmanager, the same alert still
    firing (its notification log holds it as sent): no page for the second incident until repeat_interval."""
    out: set[tuple[str, str]] = set()
    for page in read_store(store):
        if page["receiver"] != "deadmansswitch":
            out -= {(page["receiver"], alert) for alert in resolved_alerts(page)}
            out |= {(page["receiver"], alert) for alert in firing_alerts(page)}
    return out


def spike_traffic(spike_errors: int, high_error_ratio: float) -> float:
    """User requests the alert window must hold for a spike of `spike_errors` to stay under half of
    HighErrorRate's ratio: an ErrorSpike, not also a high error rate."""
    return spike_errors / (high_error_ratio / 2)


class LocustTotals:
    """Locust's running totals (requests, failures) from its --csv-full-history file."""

    def __init__(self, history: Path):
        self.history = history

    def rows(self) -> list[tuple[float, int, int]]:
        if not self.history.exists():
            return []
        out = []
        with self.history.open() as fh:
            for row in csv.DictReader(fh):
                if row.get("Name") == "Aggregated":
                    out.append((float(row["Timestamp"]), int(float(row["Total Request Count"])),
                                int(float(row["Total Failure Count"]))))
        return out

    def covers(self, when: float) -> bool:
        """A row after `when` is on disk: Locust writes the file through a buffer, seconds behind."""
        rows = self.rows()
        return bool(rows) and rows[-1][0] > when

    def at(self, when: float) -> tuple[float, float]:
        """(requests, failures) as of `when`, interpolated between the rows around it (one a second)."""
        before, after = (0.0, 0, 0), None
        for row in self.rows():
            if row[0] <= when:
                before = row
            else:
                after = row
                break
        if after is None or after[0] == before[0]:
            return float(before[1]), float(before[2])
        share = (when - before[0]) / (after[0] - before[0])
        return (before[1] + share * (after[1] - before[1]), before[2] + share * (after[2] - before[2]))


class Processes:
    """The stack's supervised services: signal them, hold them down, find gunicorn's workers."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def group(self, service: str) -> int:
        return int((self.run_dir / "pids" / f"{service}.pid").read_text())

    def signal(self, service: str, sig: int) -> None:
        os.killpg(self.group(service), sig)

    def hold(self, service: str) -> None:
        """Stop the service and keep it down until release()."""
        (self.run_dir / "hold").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "hold" / service).touch()
        self.signal(service, signal.SIGTERM)

    def release(self, service: str) -> None:
        (self.run_dir / "hold" / service).unlink(missing_ok=True)

    def restart(self, service: str, timeout: float = 60) -> bool:
        """SIGTERM the service and wait until the supervisor has started a new one (the old one may answer
        for seconds while it shuts down gracefully: what answers then is not the restarted service)."""
        old = self.group(service)
        self.signal(service, signal.SIGTERM)

        def new_one() -> bool:
            try:
                return self.group(service) != old
            except (OSError, ValueError):
                return False

        return self.wait_for(new_one, timeout, every=0.2)

    def children(self, pid: int) -> list[int]:
        out = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                    out.append(int(entry.name))
        return sorted(out)

    def wait_for(self, check, timeout: float, every: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(every)
        return False
