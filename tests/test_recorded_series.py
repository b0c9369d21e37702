"""One definition per quantity (issue 14): every recorded series is read by an alert or a dashboard panel
(directly or through another recording rule), every one has a direct promtool test, and the hand-written
suites stay hand-written."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from monitoring_spec import artifacts

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "prometheus" / "rules"
TESTS = ROOT / "prometheus" / "tests"
HAND_WRITTEN = ("oracle.yml", "recorded.yml", "recorded_slo.yml", "ha.yml")
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def recording_rules() -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    for group in yaml.safe_load((RULES / "recording.yml").read_text())["groups"]:
        for rule in group["rules"]:
            rules.setdefault(rule["record"], []).append(rule["expr"])
    return rules


def names_in(text: str) -> set[str]:
    return set(NAME.findall(text))


def test_every_recorded_series_is_read_by_an_alert_or_a_panel():
    rules = recording_rules()
    alerts = [r["expr"] for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    panels = [json.loads(e) for path in (ROOT / "grafana" / "dashboards").glob("*.json")
              for e in re.findall(r'"expr": ("(?:[^"\\]|\\.)*")', path.read_text())]
    read = set()
    pending = [e for e in alerts + panels]
    while pending:
        for name in names_in(pending.pop()) & rules.keys() - read:
            read.add(name)
            pending += rules[name]
    assert set(rules) - read == set(), "read by no alert and no panel: remove them, or show them on a dashboard"


def test_every_recorded_series_has_a_direct_test():
    rules = recording_rules()
    queried = set()
    for path in TESTS.glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("promql_expr_test", []):
                queried |= names_in(check["expr"])
    assert set(rules) - queried == set(), "every recorded series needs a promql_expr_test of its own"


def test_the_hand_written_suites_are_not_generated():
    for name in HAND_WRITTEN:
        assert (TESTS / name).exists(), name
        assert not artifacts.is_generated(TESTS / name), f"{name} is the independent oracle: keep it hand-written"
        text = (TESTS / name).read_text()
        assert "Hand-written, not generated" in text.splitlines()[0]
