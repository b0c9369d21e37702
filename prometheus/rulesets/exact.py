"""Exact event counts from counters, robust to restarts, failed scrapes, targets that come and go, and new series.

`increase()` extrapolates (9 errors read as 10.9 on a young or vanishing series), and "value now minus value a
window ago" breaks on the bad days: a restart just outside the window reads as a huge negative count, and a
scrape gap makes an old series look new, so its whole lifetime total is counted again.  Instead, every
evaluation records how much each target's counter grew since the previous evaluation, and a window's count is
the sum of those increments.  Per target (job, instance), in one rule group, in this order:

  instance:process_start_time_seconds:held   the process start time, held across failed scrapes
  instance:<q>:sum         sum by (job, instance, ...) of the counter's series: the target's total now
                           (absent while its scrapes fail)
  instance:<q>:held        that total's last value, held across failed scrapes for COUNTER_HOLD
  instance:<q>:increments  how much it grew since the previous evaluation (`[hold] offset 1ms` reads the
                           previous evaluation's recorded value: rules of a group run in order, each sees the
                           ones before):
      - the start time did not change and the total did not fall: now minus before (a scrape gap adds nothing:
        the held total bridges it; the events during the gap count when the target answers again);
      - the start time changed: the process restarted and its counters began at zero: all of now;
      - the total fell (a restart the start time does not show): all of now;
      - nothing before (a new series, or the target is new to Prometheus): all of now, when Prometheus was
        already scraping the target (a new label set, born at its first event) or the process started
        inside the alert window (its events before the first scrape are this window's); otherwise nothing
        (an old process seen for the first time: its total is history, not news).

Limits, which nothing in the data can settle: events between a process' last scrape and its crash are lost;
the events of a scrape gap or a Prometheus outage longer than COUNTER_HOLD count as history (shorter ones
count when Prometheus sees the target again, at once); an event counts at the first evaluation that sees it
(at most one evaluation late); a label set that a restarted process recreates with more events in one scrape
than its old total had is undercounted by that old total.  The rule evaluation interval must be shorter than
COUNTER_HOLD.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from monitoring_spec.contract import PROCESS_START
from monitoring_spec.promql import duration_seconds
from prometheus.rulesets.model import Record

TARGET = ("job", "instance")
START_HELD = f"instance:{PROCESS_START}:held"


@dataclass(frozen=True)
class Quantity:
    """A count the alerts or the SLOs judge: the series of one counter (a selector), summed per target."""

    name: str  # the middle part of the recorded names: instance:<name>:sum, ...
    selector: str
    by: tuple[str, ...] = ()  # labels kept besides job and instance
    labels: dict[str, str] = field(default_factory=dict)  # static labels (one Quantity per endpoint)

    @property
    def total(self) -> str:
        return f"instance:{self.name}:sum"

    @property
    def held(self) -> str:
        return f"instance:{self.name}:held"

    @property
    def increments(self) -> str:
        return f"instance:{self.name}:increments"


def just_under(window: str) -> str:
    """A range one millisecond shorter than `window`: (t - window, t], not [t - window, t]."""
    ms = duration_seconds(window) * 1000 - 1
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def start_time_rule(t: ModuleType) -> Record:
    return Record(START_HELD, f"last_over_time({PROCESS_START}[{t.COUNTER_HOLD}])")


def rules(q: Quantity, t: ModuleType, *, with_shared: bool = True) -> list[Record]:
    """The sum rule(s) of `q` and, unless another Quantity of the same name writes them, its held and
    increments rules (one Quantity per endpoint shares the names: with_shared on the last one only)."""
    by = ", ".join((*TARGET, *q.by))
    out = [Record(q.total, f"sum by ({by}) ({q.selector})", dict(q.labels))]
    if not with_shared:
        return out
    hold = t.COUNTER_HOLD
    start_before = previous(START_HELD, hold)
    restarted = f"({START_HELD} != {start_before})"
    before = previous(q.held, hold)
    window = duration_seconds(t.ALERT_WINDOW)
    on = f"on ({', '.join(TARGET)})"
    out.append(Record(q.held, f"last_over_time({q.total}[{hold}])"))
    out.append(Record(q.increments, (
        f"(\n  ({q.held} - {before}) >= 0\n  unless {on}\n  {restarted}\n)\n"
        f"or\n({q.total} and {on} {restarted})\n"
        f"or\n({q.total} < {before})\n"
        f"or\n(\n  ({q.total} unless {before})\n  and {on}\n"
        f"  (up offset 1ms == 1 or {START_HELD} > time() - {window})\n)")))
    return out


def previous(recorded: str, hold: str) -> str:
    """A recorded series' value at the previous evaluation (its last sample before this one), however long
    the evaluation interval is: `offset 1ms` alone would look back only Prometheus' 5-minute lookback."""
    return f"last_over_time({recorded}[{hold}] offset 1ms)"


def in_window(q: Quantity, window: str, by: tuple[str, ...] = ()) -> str:
    """The events of `q` in the last `window`, summed over targets [by labels]."""
    grouping = f" by ({', '.join(by)})" if by else ""
    return f"sum{grouping} (sum_over_time({q.increments}[{just_under(window)}]))"
