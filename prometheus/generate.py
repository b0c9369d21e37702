"""Write the Prometheus recording and alerting rules and their generated promtool tests from the spec.

    .venv/bin/python -m prometheus.generate           # write prometheus/rules/*.yml and prometheus/tests/*.yml
    .venv/bin/python -m prometheus.generate --check   # exit 1 (with a diff) when a committed file drifted

Every number an alert compares against comes from monitoring_spec; the generated tests put their "just
over" and "just under" inputs on either side of the same numbers, so a rule that drifts from its
threshold fails `promtool test rules`.  Hand-written tests beside them (no "generated" header) are kept.
"""
from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import yaml

import monitoring_spec
from monitoring_spec import artifacts
from prometheus.promtest.suites import test_files
from prometheus.rulesets import alert_groups, recording_groups

RULES_HEADER = "# generated, do not edit: source prometheus/rulesets/ and monitoring_spec/ (python -m prometheus.generate)\n"
TESTS_HEADER = ("# generated, do not edit: source prometheus/promtest/suites/ and monitoring_spec/ "
                "(python -m prometheus.generate)\n")
RULES_DIR = Path("prometheus/rules")
TESTS_DIR = Path("prometheus/tests")


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:  # spell every repeated expectation out: no &id001 anchors
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str):
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)


def dump(document: dict, header: str, comment: str = "") -> str:
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True)
    return header + (f"# {comment}\n" if comment else "") + text


def render_all(t: ModuleType = monitoring_spec, rules_spec: ModuleType | None = None) -> dict[Path, str]:
    """Every generated file, path (relative to the repository) -> text.

    `rules_spec` renders the rules from other numbers than the tests (to prove the tests catch it).
    """
    rt = rules_spec or t
    recording, alerting = recording_groups(rt), alert_groups(rt)
    out = {
        RULES_DIR / "recording.yml": dump(
            {"groups": [{"name": g.name, "rules": [r.to_yaml() for r in g.rules]} for g in recording]},
            RULES_HEADER, "Recording rules: every expression the alerts and the dashboards share."),
        RULES_DIR / "alerts.yml": dump(
            {"groups": [{"name": g.name, "rules": [r.to_yaml() for r in g.rules]} for g in alerting]},
            RULES_HEADER,
            "Alerting rules.  Labels: severity (page|warning|ticket|none), channels (Alertmanager routes on it)."),
    }
    groups = recording_groups(t) + alert_groups(t)
    for tf in test_files(t):
        out[TESTS_DIR / tf.name] = dump(tf.document(groups), TESTS_HEADER, tf.comment)
    return out


def main(argv: list[str] | None = None) -> int:
    return artifacts.main(render_all, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
