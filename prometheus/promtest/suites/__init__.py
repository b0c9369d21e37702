"""The generated promtool suites, one per rule set; each a function of the spec."""
from __future__ import annotations

from types import ModuleType

from prometheus.promtest.dsl import TestFile
from prometheus.promtest.suites import guide, platform, slo


def test_files(t: ModuleType) -> list[TestFile]:
    return [guide.suite(t), platform.suite(t), *slo.suites(t)]
