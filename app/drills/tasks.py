"""The fire drill's failing Celery task."""
from __future__ import annotations

from celery import shared_task


class DrillTaskError(RuntimeError):
    """Raised on purpose: a task failure Sentry must report."""


# The name predates the drills app and is kept: the task's metric label, the worker tests and any
# producer sending it by name know it as observability.drill_fail.
@shared_task(name="drills.noop", ignore_result=True)
def noop() -> None:
    """Work that succeeds: the game day queues it while the worker is down (CeleryQueueBacklog)."""


@shared_task(name="observability.drill_fail", ignore_result=True)
def drill_fail(message: str = "fire drill: task failure") -> None:
    raise DrillTaskError(message)
