"""Is each service of the stack healthy, and is it scraped: the one table `make up` and `make status` print."""
from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass

from stack import services as svc


@dataclass
class Row:
    name: str
    state: str  # running, reused, DOWN, not started
    detail: str  # its URL, or why it is not running and what to do
    scrape: str = ""  # its Prometheus target's health, when it has one
    ok: bool = True  # False when the README promises this service and it is not healthy

    def line(self) -> str:
        scrape = f"  [{self.scrape}]" if self.scrape else ""
        return f"  {self.name:<16} {self.state:<12} {self.detail}{scrape}"


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status < 500
    except Exception:
        return False


def ready(s: svc.Service) -> bool:
    if s.health_url:
        return http_ok(s.health_url)
    if s.port:
        return svc.port_answers("127.0.0.1", s.port)
    return True


def prometheus_targets(prometheus_url: str) -> dict[tuple[str, str], str] | None:
    """(job, instance) -> "up", or "down: <last scrape error>"; None when Prometheus does not answer."""
    try:
        with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets?state=active", timeout=3) as resp:
            active = json.load(resp)["data"]["activeTargets"]
    except Exception:
        return None
    return {(t["labels"]["job"], t["labels"]["instance"]):
            "up" if t["health"] == "up" else f"{t['health']}: {t.get('lastError') or 'not scraped yet'}"
            for t in active}


def expected_targets(services: list[svc.Service]) -> set[tuple[str, str]]:
    return {tuple(s.target) for s in services if s.target and s.started}


def check(services: list[svc.Service], prometheus_url: str, *, running: bool = True) -> list[Row]:
    targets = prometheus_targets(prometheus_url) if running else None
    rows = []
    for s in services:
        if not s.started:
            healthy = s.reused and ready(s)
            rows.append(Row(s.name, ("reused" if healthy else "DOWN") if s.reused else "not started",
                            f"{s.url or ''} ({s.note})" if s.reused else s.note, ok=healthy or not s.promised))
            continue
        healthy = running and ready(s)
        scrape = ""
        if s.target and targets is not None:
            scrape = "scraped: " + targets.get(tuple(s.target), "not discovered by Prometheus yet")
        elif s.target and running:
            scrape = "scraped: Prometheus does not answer"
        ok = (healthy and (not s.target or scrape == "scraped: up")) or not s.promised
        rows.append(Row(s.name, "running" if healthy else "DOWN", s.url or s.health_url or "", scrape, ok))
    return rows


def render(rows: list[Row]) -> str:
    return "\n".join(r.line() for r in rows)


def wait_until_ready(services: list[svc.Service], deadline: float, alive=lambda: True) -> list[svc.Service]:
    """Wait for every started service to answer; the ones that did not by the deadline."""
    pending = [s for s in services if s.started]
    while pending and alive() and time.monotonic() < deadline:
        pending = [s for s in pending if not ready(s)]
        if pending:
            time.sleep(0.3)
    return pending


def wait_until_scraped(services: list[svc.Service], prometheus_url: str, deadline: float,
                       alive=lambda: True) -> set[tuple[str, str]]:
    """Wait until Prometheus reports every target of ours up; the (job, instance) pairs that are not."""
    expected = expected_targets(services)
    while alive():
        targets = prometheus_targets(prometheus_url) or {}
        pending = {t for t in expected if targets.get(t) != "up"}
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.5)
    return expected


def _get(url: str):
    with urllib.request.urlopen(url, timeout=3) as resp:
        return json.load(resp)


def prometheus_replica(url: str) -> tuple[bool, str]:
    """One Prometheus replica: ready, the Alertmanagers it discovered, its rule evaluation (failing groups)."""
    if not http_ok(f"{url}/-/ready"):
        return False, "not ready"
    try:
        alertmanagers = len(_get(f"{url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"])
        groups = _get(f"{url}/api/v1/rules")["data"]["groups"]
    except Exception as exc:
        return False, f"ready, API error: {exc}"
    rules = [r for g in groups for r in g["rules"]]
    failing = sorted({g["name"] for g in groups for r in g["rules"] if r.get("health") not in ("ok", "unknown")})
    last = max((g.get("lastEvaluation", "") for g in groups), default="")
    detail = (f"ready, {alertmanagers} Alertmanagers discovered, {len(rules)} rules in {len(groups)} groups "
              f"({'failing: ' + ', '.join(failing) if failing else 'evaluating'}"
              f"{', last ' + last[11:19] + ' UTC' if last else ''})")
    return not failing and alertmanagers > 0, detail


def alertmanager_member(url: str, members: int) -> tuple[bool, str]:
    """One Alertmanager of the cluster: its cluster status (ready once gossip settled) and the members it sees."""
    try:
        cluster = _get(f"{url}/api/v2/status")["cluster"]
    except Exception as exc:
        return False, f"does not answer ({exc.__class__.__name__})"
    peers = sorted(p.get("address", "?") for p in cluster.get("peers") or [])
    # "settling": gossip has not settled yet (~10 s after a start); its notifications wait, nothing is wrong.
    ok = cluster.get("status") in ("ready", "settling") and len(peers) == members
    return ok, f"cluster {cluster.get('status')}, {len(peers)}/{members} members: {', '.join(peers)}"


def ha_rows(prometheus_urls: list[str], alertmanager_urls: list[str]) -> list[Row]:
    """STACK_HA: each Prometheus replica and each Alertmanager cluster member, for `make status`."""
    rows = []
    for i, url in enumerate(prometheus_urls):
        ok, detail = prometheus_replica(url)
        rows.append(Row(f"replica {'ab'[i] if i < 2 else i}", "healthy" if ok else "UNHEALTHY", f"{url}: {detail}",
                        ok=ok))
    for i, url in enumerate(alertmanager_urls):
        ok, detail = alertmanager_member(url, len(alertmanager_urls))
        rows.append(Row(f"am{i + 1}", "healthy" if ok else "UNHEALTHY", f"{url}: {detail}", ok=ok))
    return rows
