"""Celery tasks of the observability app: the fire drill's failing task."""
from __future__ import annotations

from celery import shared_task


class DrillTaskError(RuntimeError):
    """Raised on purpose: a task failure Sentry must report."""


@shared_task(name="observability.drill_fail", ignore_result=True)
def drill_fail(message: str = "fire drill: task failure") -> None:
    raise DrillTaskError(message)
