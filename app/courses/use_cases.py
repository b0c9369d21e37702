"""Use cases that span a write and the background work it starts: the layer above services and tasks.

services.py writes and never enqueues (tasks.py imports services, so services importing tasks would
be a cycle); tasks.py runs services in the worker; a use case here does the one, then schedules the
other.  Views call these where a write has follow-up work, services directly where it has none.
"""
from __future__ import annotations

from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from courses import services, tasks
from observability import outages


def enroll(user, slug: str):
    """Enrol `user` in the published course `slug` (services.enroll); a new enrolment, once committed,
    gets its confirmation e-mail and its course's statistics recomputed in the background."""
    enrollment, created = services.enroll(user, slug)
    if created:
        transaction.on_commit(lambda: enqueue(tasks.send_enrollment_confirmation, enrollment.pk))
        transaction.on_commit(lambda: enqueue(tasks.recompute_course_stats, enrollment.course_id))
    return enrollment, created


def enqueue(task, *args) -> bool:
    """Publish a task; a broker outage is reported to the broker's outage, not a 500: an ERROR line when it
    starts (so counted and alerted on), a summary a minute by task while it lasts, a line when a publish
    works again (observability.outages).

    The enrolment is saved either way: the periodic send_pending_confirmations sends confirmations
    that were never enqueued, and the periodic statistics recomputation catches up on the rest."""
    try:
        task.delay(*args)
    except KombuOperationalError as exc:
        outages.BROKER.failure(exc, f"publishing {task.name}")
        return False
    outages.BROKER.success()
    return True
