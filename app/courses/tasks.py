"""Celery tasks stay thin: they call services and let Celery retry transient failures."""
from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import OperationalError

from courses import services

TRANSIENT = (smtplib.SMTPException, ConnectionError, TimeoutError, OSError)


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=300,
             retry_jitter=True, max_retries=6, acks_late=True)
def send_enrollment_confirmation(self, enrollment_id: int) -> bool:
    return services.send_enrollment_confirmation(enrollment_id)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def recompute_course_stats(course_id: int):
    return services.recompute_course_stats(course_id)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def recompute_all_course_stats() -> int:
    return services.recompute_all_course_stats()


@shared_task
def send_pending_confirmations() -> int:
    """Periodic: enqueue the confirmations that were never sent (e.g. the broker was down at enrolment)."""
    ids = services.pending_confirmations()
    for enrollment_id in ids:
        send_enrollment_confirmation.delay(enrollment_id)
    return len(ids)
