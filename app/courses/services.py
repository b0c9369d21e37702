"""Writes for courses: enrolment, confirmation e-mail, statistics.

Nothing here enqueues a task (tasks.py imports this module): the work an enrolment starts in the
background is scheduled by courses.use_cases.enroll.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.api import ApiError
from courses.models import Course, Enrollment
from observability import metrics

api_logger = logging.getLogger("apps.api")


def enroll(user, slug: str) -> tuple[Enrollment, bool]:
    """Enrol `user` in the published course `slug`; returns (enrolment, created).  The confirmation
    and the statistics are the caller's to schedule (courses.use_cases.enroll)."""
    course = Course.objects.filter(slug=slug, published=True).only("pk", "slug", "title").first()
    if course is None:
        raise ApiError(404, f"course '{slug}' not found")
    try:
        with transaction.atomic():
            enrollment, created = Enrollment.objects.get_or_create(user=user, course=course)
    except IntegrityError:  # a concurrent request enrolled the same user first
        enrollment, created = Enrollment.objects.get(user=user, course=course), False
    if created:
        metrics.ENROLLMENTS.inc()
        api_logger.info("Course enrollment", extra={"user_id": user.pk, "course_id": course.pk})
    return enrollment, created


CONFIRMATION_RETRY_AFTER = timedelta(minutes=15)  # longer than the task's own retries take
CONFIRMATION_RETRY_FOR = timedelta(days=1)
CONFIRMATION_SWEEP_LIMIT = 500


def pending_confirmations(now=None, older_than=CONFIRMATION_RETRY_AFTER) -> list[int]:
    """Enrolments of the last day whose confirmation was never sent (never enqueued, or given up on)."""
    now = now or timezone.now()
    return list(Enrollment.objects.filter(
        confirmation_sent_at__isnull=True, enrolled_at__lte=now - older_than,
        enrolled_at__gte=now - CONFIRMATION_RETRY_FOR, user__is_active=True,
    ).exclude(user__email="").order_by("enrolled_at", "pk").values_list("pk", flat=True)[:CONFIRMATION_SWEEP_LIMIT])


def send_enrollment_confirmation(enrollment_id: int) -> bool:
    """E-mail the student; returns False when there is nothing (more) to send."""
    enrollment = Enrollment.objects.select_related("user", "course").filter(pk=enrollment_id).first()
    if enrollment is None or enrollment.confirmation_sent_at is not None:
        return False
    user, course = enrollment.user, enrollment.course
    if not user.email:
        return False
    send_mail(
        subject=f"You are enrolled in {course.title}",
        message=(
            f"Hello {user.username},\n\nYou are now enrolled in \"{course.title}\".\n"
            f"Start learning: /api/v1/courses/{course.slug}/\n\nPython Learning Studio"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(confirmation_sent_at=timezone.now())
    return True


def recompute_course_stats(course_id: int) -> dict | None:
    agg = Enrollment.objects.filter(course_id=course_id).aggregate(
        total=Count("pk"), completed=Count("pk", filter=Q(completed_at__isnull=False)))
    total, completed = agg["total"], agg["completed"]
    rate = (Decimal(completed) * 100 / total).quantize(Decimal("0.01")) if total else Decimal(0)
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        return None
    course.enrollment_count, course.completion_rate = total, rate
    course.stats_updated_at = timezone.now()
    course.save(update_fields=["enrollment_count", "completion_rate", "stats_updated_at", "updated_at"])
    return {"course_id": course_id, "enrollments": total, "completion_rate": float(rate)}


def recompute_all_course_stats() -> int:
    """Recompute every published course's statistics in two queries plus one UPDATE per change."""
    counts = {
        row["course_id"]: row
        for row in Enrollment.objects.values("course_id").annotate(
            total=Count("pk"), completed=Count("pk", filter=Q(completed_at__isnull=False)))
    }
    now, changed = timezone.now(), []
    for course in Course.objects.only("pk", "enrollment_count", "completion_rate"):
        row = counts.get(course.pk, {"total": 0, "completed": 0})
        rate = (Decimal(row["completed"]) * 100 / row["total"]).quantize(Decimal("0.01")) if row["total"] else Decimal(0)
        if course.enrollment_count != row["total"] or course.completion_rate != rate:
            course.enrollment_count, course.completion_rate, course.stats_updated_at = row["total"], rate, now
            changed.append(course)
    if changed:
        Course.objects.bulk_update(changed, ["enrollment_count", "completion_rate", "stats_updated_at"], batch_size=500)
        from courses import cache as course_cache

        course_cache.invalidate_all()  # bulk_update sends no signals
    return len(changed)
