"""Capacity at target: a step load that stops when some endpoint leaves its target.

Selected with ``LOAD_SHAPE=step`` (locustfile.py then exposes the class; with ``--class-picker`` the
web UI offers it too).  Every ``--step-seconds`` the user count rises by ``--step-users``.  At the
end of each step every endpoint of the target table is judged on a sliding window: the requests of
its last ``--step-window`` seconds, from snapshots of the runner's statistics taken every tick (on a
distributed run these are the master's aggregated statistics, so the shape works there too).  An
endpoint stays "at target" while its window average is under ``target_ms`` (grade excellent or
target) and no more than 1 % of its requests failed.  The highest step at which every judged
endpoint was at target is the capacity: users and requests per second.
"""
from __future__ import annotations

import logging
from collections import deque

from locust import LoadTestShape

from core import grading

logger = logging.getLogger("loadtests")


def _snapshot(stats) -> dict:
    return {name: (e.num_requests, e.num_failures, e.total_response_time, dict(e.response_times))
            for (name, _method), e in stats.entries.items()}


def window_results(old: dict, new: dict) -> list[grading.EndpointResult]:
    """Per name, what happened between two snapshots."""
    rows = []
    for name, (n, failed, total_ms, times) in new.items():
        n0, failed0, total0, times0 = old.get(name, (0, 0, 0.0, {}))
        requests = n - n0
        if requests <= 0:
            continue
        delta = {ms: c - times0.get(ms, 0) for ms, c in times.items() if c - times0.get(ms, 0) > 0}
        rows.append(grading.EndpointResult(name=name, requests=requests, failures=failed - failed0,
                                           avg_ms=(total_ms - total0) / requests,
                                           p95_ms=_percentile(delta, 0.95)))
    return rows


def _percentile(histogram: dict, q: float) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    seen, rank = 0, q * total
    for ms in sorted(histogram):
        seen += histogram[ms]
        if seen >= rank:
            return float(ms)
    return None


class StepLoadShape(LoadTestShape):
    """Raise the user count step by step until an endpoint leaves its target; report the last good step."""

    use_common_options = False

    def __init__(self):
        super().__init__()
        self._reset()

    def reset_time(self):
        super().reset_time()
        self._reset()

    def _reset(self) -> None:
        self.snapshots: deque = deque()
        self.step = 0
        self.done = False
        self.result: dict | None = None
        self.steps: list[dict] = []
        self.best: dict | None = None

    def _option(self, name: str, default):
        options = self.runner.environment.parsed_options if self.runner is not None else None
        return getattr(options, name, default) if options is not None else default

    def tick(self):
        if self.done:
            return None
        step_users = max(1, int(self._option("step_users", 10)))
        step_seconds = max(2.0, float(self._option("step_seconds", 30.0)))
        window = min(max(1.0, float(self._option("step_window", 20.0))), step_seconds)
        max_users = max(step_users, int(self._option("step_max_users", 300)))
        min_requests = max(1, int(self._option("step_min_requests", 5)))

        now = self.get_run_time()
        self.snapshots.append((now, _snapshot(self.runner.stats)))
        while len(self.snapshots) > 2 and self.snapshots[1][0] <= now - window:
            self.snapshots.popleft()
        users = min(max_users, (self.step + 1) * step_users)
        if now >= (self.step + 1) * step_seconds:
            self._judge(users, now, min_requests)
            if self.done:
                return None
            if users >= max_users:
                self._finish(f"reached --step-max-users {max_users} with every endpoint at target")
                return None
            self.step += 1
            users = min(max_users, (self.step + 1) * step_users)
        return users, float(self._option("spawn_rate", None) or step_users)

    def _judge(self, users: int, now: float, min_requests: int) -> None:
        start, old = self.snapshots[0]
        rows = window_results(old, self.snapshots[-1][1])
        seconds = max(now - start, 1e-6)
        rps = sum(r.requests for r in rows) / seconds
        judged, missed = {}, []
        for r in rows:
            if r.target is None:
                continue
            ok = r.meets_target and r.failure_ratio <= grading.MAX_FAILURE_RATIO
            enough = r.requests >= min_requests
            judged[r.name] = {"requests": r.requests, "avg_ms": round(r.avg_ms, 1), "p95_ms": r.p95_ms,
                              "failures": r.failures, "grade": r.grade, "judged": enough, "at_target": ok}
            if enough and not ok:
                why = (f"{r.failures}/{r.requests} failed" if r.failure_ratio > grading.MAX_FAILURE_RATIO
                       else f"average {r.avg_ms:.0f} ms >= target {r.target.target_ms} ms")
                missed.append(f"{r.name} ({why})")
        step = {"step": self.step + 1, "users": users, "window_s": round(seconds, 1), "rps": round(rps, 2),
                "endpoints": judged, "at_target": not missed}
        self.steps.append(step)
        logger.info("step %d: %d users, %.1f req/s over %.0fs: %s", step["step"], users, rps, seconds,
                    "every endpoint at target" if not missed else "left target: " + "; ".join(missed))
        if missed:
            self._finish(f"at {users} users {'; '.join(missed)}")
        else:
            self.best = step

    def conclude(self, reason: str) -> dict | None:
        """The result so far, when the test stops before the shape found a limit."""
        if not self.done and self.steps:
            self._finish(reason)
        return self.result

    def _finish(self, reason: str) -> None:
        self.done = True
        if self.best:
            at_least = "at least " if not reason.startswith("at ") else ""
            summary = (f"Capacity at target: {at_least}{self.best['users']} users, {self.best['rps']:.1f} req/s "
                       f"(every endpoint under its target over the last {self.best['window_s']:.0f}s of that step); "
                       f"stopped: {reason}")
        else:
            summary = f"Capacity at target: none found (the first step already missed); stopped: {reason}"
        self.result = {"capacity_users": self.best["users"] if self.best else None,
                       "capacity_rps": self.best["rps"] if self.best else None,
                       "stopped_because": reason, "summary": summary, "steps": self.steps}
        logger.info(summary)
