"""Helpers the metrics tests share (HTTP with the standard library, scrape parsing, promtool),
and the tests that keep those helpers honest."""
from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.servers import system_tool


def http(url: str, method: str = "GET", body: bytes | dict | None = None, headers: dict | None = None,
         timeout: float = 15) -> tuple[int, dict, bytes]:
    """(status, headers, body) for any status; a dict body is sent as JSON."""
    headers = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def http_many(urls: list[str], threads: int = 6, **kwargs) -> list[int]:
    """GET every URL, `threads` at a time; the statuses in order."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda u: http(u, **kwargs)[0], urls))


class Scrape:
    """One /metrics exposition, parsed."""

    def __init__(self, text: str):
        self.text = text
        self.samples: dict[tuple[str, frozenset], float] = {}
        self.types: dict[str, str] = {}
        self.help: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            self.help[family.name] = family.documentation
            for s in family.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name: str, **labels) -> float:
        """The sample with exactly these labels, 0.0 when absent."""
        return self.samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)

    def sum(self, name: str, **labels) -> float:
        """Sum of the samples of `name` whose labels include these."""
        want = {(k, str(v)) for k, v in labels.items()}
        return sum(v for (n, lbls), v in self.samples.items() if n == name and want <= lbls)

    def has(self, name: str, **labels) -> bool:
        want = {(k, str(v)) for k, v in labels.items()}
        return any(n == name and want <= lbls for (n, lbls) in self.samples)

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(lbls)[label] for (n, lbls) in self.samples if n == name and label in dict(lbls)}

    def edges(self, histogram: str) -> set[float]:
        """The finite `le` edges of a histogram, as numbers."""
        return {float(le) for le in self.label_values(f"{histogram}_bucket", "le") if le != "+Inf"}

    @property
    def series(self) -> int:
        return len(self.samples)

    def family_names(self) -> set[str]:
        return set(self.types)


def scrape(url: str, token: str | None = None) -> Scrape:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, _, body = http(url, headers=headers)
    assert status == 200, (status, body[:500])
    return Scrape(body.decode())


def delta(before: Scrape, after: Scrape, name: str, **labels) -> float:
    return after.sum(name, **labels) - before.sum(name, **labels)


def missing_edges(required: set[float], edges: set[float]) -> set[float]:
    """Required thresholds that are not bucket edges (compared with a float tolerance)."""
    return {r for r in required if not any(abs(r - e) < 1e-9 for e in edges)}


def promtool_check(text: str) -> tuple[int, str]:
    binary = system_tool("promtool")
    proc = subprocess.run([binary, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).decode()


# --- The helpers' own tests (no servers) -------------------------------------------------------

SAMPLE = """# HELP demo_total A counter.
# TYPE demo_total counter
demo_total{view="a",method="GET"} 2.0
demo_total{view="b",method="GET"} 3.0
# HELP lat_seconds A histogram.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 1.0
lat_seconds_bucket{le="0.5"} 2.0
lat_seconds_bucket{le="+Inf"} 2.0
lat_seconds_sum 0.3
lat_seconds_count 2.0
"""


def test_scrape_parsing_sums_and_edges():
    s = Scrape(SAMPLE)
    assert s.value("demo_total", view="a", method="GET") == 2.0
    assert s.value("demo_total", view="a") == 0.0  # exact label match only
    assert s.sum("demo_total", method="GET") == 5.0
    assert s.edges("lat_seconds") == {0.1, 0.5}
    assert s.types == {"demo": "counter", "lat_seconds": "histogram"}
    assert s.series == 7


def test_missing_edges_reports_a_threshold_that_is_not_an_edge():
    assert missing_edges({0.1, 0.25}, {0.1, 0.5}) == {0.25}
    assert missing_edges({0.1}, {0.1000000000001}) == set()


def test_promtool_flags_a_bad_exposition():
    rc, out = promtool_check("# HELP x_total c\n# TYPE x_total counter\nx_total 1\n")
    assert rc == 0 and out.strip() == ""
    rc, out = promtool_check("# HELP bad_milliseconds a gauge in the wrong unit\n# TYPE bad_milliseconds gauge\n"
                             "bad_milliseconds 1\n")
    assert rc != 0 and "milliseconds" in out
