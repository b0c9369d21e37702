"""What a snapshot reports, for people (the command's output, index.html) and for tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ThresholdStep:
    value: float | None  # None: the base step (everything below the first value)
    color: str  # as the dashboard writes it ("green", "rgba(...)")
    rgb: str  # as drawn


@dataclass
class PanelShot:
    uid: str
    panel_id: int
    title: str
    type: str
    refs_with_data: list[str] = field(default_factory=list)
    refs_without_data: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # refId -> Prometheus' error
    thresholds: list[ThresholdStep] = field(default_factory=list)  # the steps drawn or coloured by
    threshold_style: str = ""  # "dashed", "line+area", ... for time series; "color" where values take them
    series: int = 0

    @property
    def no_data(self) -> bool:
        return not self.refs_with_data


@dataclass
class DashboardShot:
    uid: str
    title: str
    png: Path
    start: float
    end: float
    seconds: float  # to query and draw it
    size: tuple[int, int]
    panels: list[PanelShot] = field(default_factory=list)
    annotations: list[tuple[float, str]] = field(default_factory=list)  # (time, text)


@dataclass
class Snapshot:
    prometheus_url: str
    out_dir: Path
    index: Path | None
    dashboards: list[DashboardShot] = field(default_factory=list)

    def panels(self) -> list[PanelShot]:
        return [p for d in self.dashboards for p in d.panels]

    def panel(self, uid: str, title: str, type: str | None = None) -> PanelShot:
        matches = [p for p in self.panels() if p.uid == uid and p.title == title and type in (None, p.type)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} panels titled {title!r} in {uid}")
        return matches[0]

    def no_data(self) -> list[tuple[str, str, str]]:
        """(dashboard uid, panel title, refId) of every query that returned nothing to draw."""
        return [(p.uid, p.title, ref) for p in self.panels() for ref in p.refs_without_data]
