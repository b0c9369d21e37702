"""Asking Prometheus what a panel's targets ask, over HTTP (POST, as the provisioned data source does)."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import yaml

from grafana.snapshot.timerange import parse_duration

TIMEOUT = 30.0
DEFAULT_SCRAPE_SECONDS = 15.0  # Grafana's default for a data source that names none


class PrometheusUnreachable(RuntimeError):
    """Prometheus does not answer at all (as opposed to answering a query with an error)."""


class QueryError(RuntimeError):
    """Prometheus answered a query with an error (a bad expression, a timeout)."""


class Prometheus:
    def __init__(self, url: str, timeout: float = TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, path: str, params: dict | None = None) -> dict:
        data = urllib.parse.urlencode(params).encode() if params is not None else None
        request = urllib.request.Request(self.url + path, data=data)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                raise QueryError(f"HTTP {exc.code} from {self.url}{path}") from None
            raise QueryError(body.get("error") or f"HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusUnreachable(f"Prometheus at {self.url} does not answer: {reason}") from None
        if body.get("status") != "success":
            raise QueryError(body.get("error") or str(body)[:300])
        return body["data"]

    def check(self) -> None:
        """Raise PrometheusUnreachable unless something answering like Prometheus is there."""
        try:
            self._call("/api/v1/status/buildinfo")
        except QueryError as exc:
            raise PrometheusUnreachable(f"{self.url} is not a Prometheus API: {exc}") from None

    def scrape_seconds(self) -> float:
        """The global scrape interval of the running configuration: what `$__rate_interval` is built on."""
        try:
            config = yaml.safe_load(self._call("/api/v1/status/config")["yaml"]) or {}
            return parse_duration(str(config.get("global", {}).get("scrape_interval", "15s")))
        except (QueryError, ValueError, KeyError, yaml.YAMLError):
            return DEFAULT_SCRAPE_SECONDS

    def instant(self, expr: str, at: float) -> list[dict]:
        data = self._call("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if data.get("resultType") == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self._call("/api/v1/query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                  "step": f"{step:g}"})["result"]
