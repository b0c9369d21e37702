"""`make game-day`: faults the stack must detect, one at a time, against the running local stack under steady
Locust load; each measured end to end (fault -> firing -> page at the sinks -> recovery -> resolved), and a
healthy soak that must page no one.

    python -m stack game-day [--list] [--only NAME ...] [--soak MINUTES] [--users N]

The report (a table here, Markdown and JSON under var/game-day/<time>/) says, for each fault: the alerts the
spec expects and those that fired and paged, seconds from the fault to each, seconds from recovery to
resolved, user requests that failed meanwhile (Locust), and requests counted by Locust and by Prometheus.
A fault passes when exactly the expected alerts page, within their window + `for:` + the margin, no other
alert pages, the counts agree (within the requests in flight and the failures), and its own checks hold.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

import monitoring_spec
from monitoring_spec.promql import duration_seconds
from monitoring_spec.recorded import Names
from monitoring_spec.routing import SEVERITY_CHANNELS
from stack import services as svc
from stack.gameday import report, snapshots
from stack.gameday.faults import FAULTS, Fault
from stack.gameday.observe import (
    RESOLVED_RESEND_SECONDS,
    LocustTotals,
    Processes,
    Prometheus,
    last_notified,
    pages,
    spans_the_run,
    spike_traffic,
    split_pages,
    unresolved,
)

RULES = svc.ROOT / "prometheus" / "rules" / "alerts.yml"
GROUP_INTERVAL_SECONDS = duration_seconds(
    yaml.safe_load((svc.ROOT / "alertmanager" / "alertmanager.yml").read_text())["route"]["group_interval"])
PROBES = ("/healthz", "/readyz")


@dataclass
class Result:
    name: str
    summary: str
    expected: list[str]
    allowed: list[str] = field(default_factory=list)  # may page too (Fault.allowed)
    fault: str = ""
    recovery: str = ""
    fired: dict[str, float] = field(default_factory=dict)  # alert -> seconds from the fault to firing
    paged: dict[str, float] = field(default_factory=dict)  # alert -> seconds from the fault to its first page
    run_paged: dict[str, float] = field(default_factory=dict)  # pages of the run's budget alerts (split_pages)
    pages: int = 0  # firing pages (every receiver) after the fault
    resolved_after_recovery: float | None = None
    failed_requests: int = 0
    counted_by_locust: int = 0
    counted_by_prometheus: float | None = None
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: bool = False
    skipped: str = ""
    started_at: float = 0.0  # the fault (epoch s)
    ended_at: float = 0.0  # its alerts resolved, or the wait for them ended
    snapshot: str = ""  # the Overview around it, relative to the run's directory (stack/gameday/snapshots.py)


class GameDay:
    def __init__(self, out: Path, users: int, margin: float, settle: float, only: list[str] | None):
        self.out, self.users, self.margin, self.settle = out, users, margin, settle
        state = json.loads((svc.RUN_DIR / "state.json").read_text())
        self.services = {s["name"]: s for s in state["services"]}
        self.prometheus = Prometheus(state["prometheus_url"])
        self.processes = Processes(svc.RUN_DIR)
        self.app_url = self.services["app"]["url"].split("/api/", 1)[0]
        self.spec = monitoring_spec
        self.names = Names(monitoring_spec)
        self.rules = {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
        self.scrape_seconds = float(duration_seconds(svc.load_config().scrape_interval))
        self.window_seconds = float(monitoring_spec.ALERT_WINDOW_SECONDS)
        self.only = only
        self.locust: subprocess.Popen | None = None
        self.totals = LocustTotals(out / "locust_stats_history.csv")
        self.own_requests: list[float] = []  # when each of our own (non-probe) requests was answered
        self.result: Result | None = None
        self.run_alerts: set[str] = set()  # budget alerts over hours that fired during the run (spans_the_run)
        self.run_level_now: set[str] = set()  # the names of those firing during the current fault
        self.t_fault = self.t_recovered = 0.0

    # --- what the faults use ------------------------------------------------------------------------------

    def for_of(self, alert: str) -> str:
        return self.rules[alert].get("for", "0s")

    def request(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.app_url + path, timeout=30) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            return 0
        if not path.startswith(PROBES):  # probes are not user traffic: the rules leave them out
            self.own_requests.append(time.time())
        return status

    def errors(self, n: int) -> int:
        """n requests that fail with an unhandled exception (each one error); returns how many answered 500."""
        answered = sum(self.request("/_drill/error/") == 500 for _ in range(n))
        if answered < n:
            self.note(f"{n - answered} of {n} error requests got no 500 (not served)")
        return answered

    @property
    def spike_errors(self) -> int:
        """The errors of a fault's spike: enough for ErrorSpike, with two to spare."""
        return self.spec.ERROR_SPIKE_MIN_ERRORS + 2

    def error_spike(self) -> int:
        return self.errors(self.spike_errors)

    def wait_app_ready(self) -> bool:
        return self.processes.wait_for(lambda: self.request("/healthz") == 200, 60)

    def redis_answers(self) -> bool:
        return svc.redis_answers(svc.load_config().redis_url)

    def database_answers(self) -> bool:
        return svc.port_answers("127.0.0.1", self.services["postgres"]["port"]) if "postgres" in self.services else True

    def alertmanager_ready(self) -> bool:
        return self.service_ready("alertmanager")

    def service_ready(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(self.services[name]["health_url"], timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def cluster_sizes(self) -> list[int]:
        """The number of cluster members each Alertmanager of the stack sees (0: it does not answer)."""
        sizes = []
        for name in ("alertmanager", "alertmanager2"):
            base = self.services[name]["health_url"].rsplit("/-/", 1)[0]
            try:
                with urllib.request.urlopen(f"{base}/api/v2/status", timeout=2) as resp:
                    sizes.append(len(json.load(resp)["cluster"].get("peers") or []))
            except (OSError, ValueError, KeyError):
                sizes.append(0)
        return sizes

    def paged_since(self, alert: str) -> bool:
        return any(alert in p.alerts for p in pages(self.store, self.t_fault))

    def tasks_succeeded(self, task: str) -> float:
        return self.prometheus.value(f'sum(studio_celery_tasks_succeeded_total{{task="{task}"}})') or 0.0

    def error_burst_that_resolves(self) -> None:
        """An ErrorSpike that pages and resolves, before the fault (its page is not the fault's)."""
        self.error_spike()
        started = time.time()
        self.processes.wait_for(lambda: any("ErrorSpike" in p.alerts for p in pages(self.store, started)), 90)
        self.wait_quiet(self.window_seconds + 120)
        self.note("an error burst paged and resolved before the fault")

    def wait_paged(self, alerts: set[str], timeout: float) -> bool:
        return self.processes.wait_for(
            lambda: alerts <= {a for p in pages(self.store, self.t_fault) for a in p.alerts}, timeout, every=2)

    def wait_quiet(self, timeout: float) -> bool:
        return self.processes.wait_for(lambda: not self.prometheus.firing(), timeout, every=2)

    def mark_fault(self, text: str) -> None:
        self.t_fault = time.time()
        self.result.fault = text
        print(f"  fault: {text}", flush=True)

    def mark_recovered(self, text: str) -> None:
        self.t_recovered = time.time()
        self.result.recovery = text
        print(f"  recovered ({self.t_recovered - self.t_fault:.0f}s after the fault): {text}", flush=True)

    def note(self, text: str) -> None:
        self.result.notes.append(text)

    def passed_if(self, ok: bool, what: str) -> None:
        self.result.checks.append((what, ok))

    @property
    def store(self) -> Path:
        return svc.RUN_DIR / "pages.jsonl"

    # --- the run -------------------------------------------------------------------------------------------

    def start_load(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.locust = subprocess.Popen(
            [str(svc.BIN / "locust"), "-f", str(svc.ROOT / "loadtests"), "--headless", "-u", str(self.users),
             "-r", str(self.users), "-H", self.app_url, "-t", "12h", "--csv", str(self.out / "locust"),
             "--csv-full-history", "--only-summary", "--reports-dir", str(self.out / "locust-report")],
            cwd=svc.ROOT, stdout=(self.out / "locust.log").open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.processes.wait_for(lambda: self.totals.at(time.time())[0] > self.users, 120)

    def stop_load(self) -> None:
        if self.locust is not None and self.locust.poll() is None:
            self.locust.send_signal(signal.SIGINT)
            try:
                self.locust.wait(60)
            except subprocess.TimeoutExpired:
                self.locust.kill()

    def unavailable(self, fault: Fault) -> str:
        if fault.needs == "own_postgres" and "postgres" not in self.services:
            return "the stack uses a shared database: run `STACK_POSTGRES=1 make up` (its own PostgreSQL)"
        if fault.needs == "own_redis" and not self.services.get("redis", {}).get("command"):
            return "the stack reuses a shared Redis: run `STACK_REDIS=1 make up` (its own Redis)"
        if fault.needs == "ha" and not self.services.get("prometheus2", {}).get("command"):
            return "the stack runs one Prometheus and one Alertmanager: run `STACK_HA=1 make up`"
        return ""

    def run_fault(self, fault: Fault) -> Result:
        self.result = result = Result(fault.name, fault.summary, sorted(fault.expect(self.spec)),
                                      sorted(fault.allowed))
        print(f"\n{fault.name}: {fault.summary}", flush=True)
        if why := self.unavailable(fault):
            result.skipped = why
            print(f"  skipped: {why}")
            return result
        if not self.wait_quiet(self.window_seconds + 180):
            result.notes.append(f"alerts still firing before the fault: {sorted(self.prometheus.firing())}")
        # Resolved in Prometheus is not yet resolved at the receivers: the resolution goes out at the group's next
        # tick.  An alert firing again before then would never page (seen: alertmanager-member-down right after
        # prometheus-replica-down, no ErrorSpike page in 390 s).
        if not self.processes.wait_for(lambda: not unresolved(self.store), GROUP_INTERVAL_SECONDS + 60, every=2):
            result.notes.append(f"resolutions not sent before the fault: {sorted(unresolved(self.store))}")
        allowed = set(fault.allowed) | (self.traffic_for_a_spike() if fault.spike else set())
        result.allowed = sorted(allowed)
        for alert in sorted(fault.expect(self.spec)):
            last = last_notified(self.store, alert, time.time())
            if last is not None and time.time() - last < RESOLVED_RESEND_SECONDS:
                result.notes.append(
                    f"{alert} was notified {time.time() - last:.0f}s before this fault: Alertmanager may still hold "
                    "its group, and a new firing in it waits for the group's next group_interval tick (5m)")
        fault.act(self)
        expected = set(result.expected)
        start = self.t_recovered if fault.page_from_recovery else self.t_fault
        bound = max([self.window_seconds + duration_seconds(self.for_of(a)) + self.margin for a in expected],
                    default=0)
        self.processes.wait_for(lambda: expected <= {a for p in pages(self.store, self.t_fault) for a in p.alerts},
                                bound, every=2)
        resolved = self._resolution(self.window_seconds + self.margin + 120)
        t_end = time.time()
        result.started_at, result.ended_at = self.t_fault, t_end
        self._firing_times()
        result.resolved_after_recovery = resolved if result.fired else None  # nothing fired, nothing resolved
        fired_pages = pages(self.store, self.t_fault)
        result.pages = len(fired_pages)
        for page in fired_pages:
            for alert in page.alerts:
                result.paged.setdefault(alert, round(page.at - self.t_fault, 1))
        result.paged, result.run_paged = split_pages(result.paged, result.fired, self.run_level_now)
        if result.run_paged:
            result.notes.append(f"paged for the run's spent budget, not this fault: {sorted(result.run_paged)}")
        in_flight = self.count(self.t_fault, t_end)
        counts_agree = result.counted_by_prometheus is not None and \
            abs(result.counted_by_prometheus - result.counted_by_locust) <= in_flight
        late = {a: s for a, s in result.paged.items()
                if a in expected and s - (start - self.t_fault) > bound}
        result.checks += [
            (f"exactly the expected alerts page ({', '.join(sorted(expected)) or 'none'}"
             + (f"; {', '.join(sorted(allowed))} may" if allowed else "") + ")",
             expected <= set(result.paged) <= expected | allowed),
            (f"within window + for: + {self.margin:.0f}s", not late),
            # Stricter than the pages: Alertmanager sends nothing for an alert that fires again in a group
            # it has not yet told resolved, so a false alert can hide behind an earlier true one.
            ("no other alert fires", set(result.fired) <= expected | allowed),
            (f"counts agree within the requests in flight and failed ({in_flight})", counts_agree),
        ]
        for alert in sorted(fault.once):
            receivers = SEVERITY_CHANNELS[self.rules[alert]["labels"]["severity"]]
            got = [p.receiver for p in fired_pages if alert in p.alerts]
            result.checks.append((f"{alert} pages once per receiver ({', '.join(receivers)})",
                                  sorted(got) == sorted(receivers)))
        result.passed = all(ok for _, ok in result.checks)
        print(report.fault_line(result), flush=True)
        return result

    def traffic_for_a_spike(self) -> set[str]:
        """Waits (at most one alert window) until the window holds enough user traffic that a fault's error spike
        (spike_errors) is under half HighErrorRate's ratio: on a young stack, or one --only fault
        in, a spike into a near-empty window is also a high error rate, truly, and pages as one.  Returns
        {"HighErrorRate"} when the traffic never got there (too few --users): it may then page too."""
        spike = self.spike_errors
        needed = spike_traffic(spike, self.spec.HIGH_ERROR_RATE_RATIO)
        lag = 5.0  # Locust writes its history through a buffer, seconds behind

        def in_window() -> float:
            now = time.time() - lag
            return self.totals.at(now)[0] - self.totals.at(now - self.window_seconds)[0]

        waited = time.monotonic()
        if self.processes.wait_for(lambda: in_window() >= needed, self.window_seconds, every=2):
            if (seconds := time.monotonic() - waited) > 5:
                self.note(f"waited {seconds:.0f}s for {needed:.0f} requests in the window before the fault "
                          f"(a spike of {spike} errors then stays under half of HighErrorRate's ratio)")
            return set()
        self.note(f"only {in_window():.0f} requests in the window (wanted {needed:.0f}; more --users): a spike "
                  f"of {spike} errors may be a high error rate too")
        return {"HighErrorRate"}

    def count(self, since: float, until: float) -> float:
        """Fill in the requests failed, counted by the clients and counted by Prometheus between the scrapes
        the rules read at `since` and at `until`; returns the tolerance: requests in flight at either end
        (one per Locust user) plus those that failed (a refused connection reaches no counter)."""
        result = self.result
        measured = self.prometheus.user_responses(since, until)
        s0, s1 = (measured[1], measured[2]) if measured else (since, until)
        # Read at s1 before Locust's buffered file reached it, the total is the last row's: short by the
        # seconds of traffic still in the buffer (found as Prometheus counting ~20 more than Locust).
        self.processes.wait_for(lambda: self.totals.covers(s1), 30, every=1)
        requests_then, failures_then = self.totals.at(s0)
        requests_now, failures_now = self.totals.at(s1)
        own = sum(1 for t in self.own_requests if s0 < t <= s1)
        result.failed_requests = round(failures_now - failures_then)
        result.counted_by_locust = round(requests_now - requests_then) + own
        result.counted_by_prometheus = measured[0] if measured else None
        return self.users + result.failed_requests

    def _resolution(self, timeout: float) -> float | None:
        if self.wait_quiet(timeout):
            return round(time.time() - self.t_recovered, 1)
        return None

    def _firing_times(self) -> None:
        """First firing of each alert after the fault, from ALERTS in Prometheus (one-second resolution)."""
        span = int(time.time() - self.t_fault) + 1
        self.run_level_now = set()
        for series in self.prometheus.query(f'ALERTS{{alertstate="firing"}}[{span}s]'):
            name = series["metric"]["alertname"]
            if spans_the_run(series["metric"]):
                self.run_alerts.add(f"{name} ({series['metric'].get('severity')}, {series['metric']['long']})")
                self.run_level_now.add(name)
            elif name != "Watchdog" and series["values"]:
                first = float(series["values"][0][0]) - self.t_fault
                self.result.fired[name] = round(min(first, self.result.fired.get(name, first)), 1)

    def soak(self, minutes: float) -> Result:
        self.result = result = Result("soak", f"{minutes:g} minutes of load alone", [])
        print(f"\nsoak: {minutes:g} minutes of load, no fault", flush=True)
        self.mark_fault("none: load alone")
        time.sleep(minutes * 60)
        self.mark_recovered("end of the soak")
        result.started_at, result.ended_at = self.t_fault, self.t_recovered
        for page in pages(self.store, self.t_fault):
            for alert in page.alerts:
                result.paged.setdefault(alert, round(page.at - self.t_fault, 1))
        self._firing_times()  # a soak after faults: their spent budget may page; the run's, as in a fault
        result.paged, result.run_paged = split_pages(result.paged, result.fired, self.run_level_now)
        if result.run_paged:
            result.notes.append(f"paged for the run's spent budget, not the soak: {sorted(result.run_paged)}")
        in_flight = self.count(self.t_fault, time.time())
        counted = result.counted_by_prometheus
        counts_agree = counted is not None and abs(counted - result.counted_by_locust) <= in_flight
        result.checks = [("no page but the Watchdog's heartbeat", not result.paged),
                         (f"counts agree within the requests in flight and failed ({in_flight:.0f})", counts_agree)]
        result.passed = all(ok for _, ok in result.checks)
        print(report.fault_line(result), flush=True)
        return result


def status_snapshot() -> list[str]:
    out = subprocess.run([str(svc.BIN / "python"), "-m", "stack", "status"], capture_output=True, text=True,
                         cwd=svc.ROOT)
    return [" ".join(line.split()[:2]) for line in out.stdout.splitlines() if line.startswith("  ")]


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through main's finally: the load stops, nothing stays held down


def main(args) -> int:
    # A background job starts with SIGINT ignored and SIGTERM would kill at once: either way a held service
    # would stay down.  Both end the run through the same clean-up as Ctrl-C.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    if args.list:
        for fault in FAULTS.values():
            print(f"  {fault.name:<25} {fault.summary}" + (f"  (needs {fault.needs})" if fault.needs else ""))
        return 0
    if not (svc.RUN_DIR / "state.json").exists():
        print("the stack is not running: `make up` first (STACK_POSTGRES=1 STACK_REDIS=1 for every fault)")
        return 2
    mode = json.loads((svc.RUN_DIR / "state.json").read_text()).get("mode", "development")
    if mode != "development":
        print(f"the stack runs {mode} settings (STACK_ENV={mode}): the game day drives the drill endpoints "
              "(/_drill/...), which those settings do not have; run it on the development stack: "
              "`make down && make up`")
        return 2
    unknown = set(args.only or ()) - set(FAULTS)
    if unknown:
        print(f"unknown fault(s): {', '.join(sorted(unknown))}; `make game-day GAME_DAY_ARGS=--list` lists them")
        return 2
    out = Path(args.out or svc.ROOT / "var" / "game-day") / time.strftime("%Y%m%d-%H%M%S")
    gd = GameDay(out, args.users, args.margin, args.settle, args.only)
    before = status_snapshot()
    results: list[Result] = []
    started = time.time()
    gd.start_load()
    try:
        faults = args.only or ([] if args.soak else list(FAULTS))  # --soak alone: load alone
        for name in faults:
            results.append(gd.run_fault(FAULTS[name]))
        if args.soak:
            if faults:
                gd.wait_quiet(gd.window_seconds + 180)
            results.append(gd.soak(args.soak))
    finally:
        gd.stop_load()
        # nothing stays held down
        for name in ("redis", "postgres", "worker", "alertmanager", "alertmanager2", "prometheus2", "app"):
            gd.processes.release(name)
    time.sleep(5)
    after = status_snapshot()
    same = before == after
    snapshots.attach(results, gd.prometheus.url, out)
    report.write(out, results, started, args, same, sorted(gd.run_alerts))
    print(f"\nmake status before and after: {'identical' if same else 'DIFFERENT'}\n{report.table(results)}\n"
          f"error-budget alerts over hours during the run (its faults spend budget): "
          f"{', '.join(sorted(gd.run_alerts)) or 'none'}\nreport: {out / 'report.md'}")
    return 0 if same and all(r.passed or r.skipped for r in results) else 1


def dumps(results: list[Result]) -> str:
    return json.dumps([asdict(r) for r in results], indent=2, sort_keys=True)
