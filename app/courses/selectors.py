"""Reads for the course endpoints.  Each function's query count is fixed, whatever the data size."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from core.api import ApiError, paginate
from courses import cache as course_cache
from courses.models import Course

ORDERINGS = {
    "newest": ("-created_at", "-pk"),
    "oldest": ("created_at", "pk"),
    "title": ("title", "pk"),
    "-title": ("-title", "-pk"),
    "rating": ("rating", "pk"),
    "-rating": ("-rating", "-pk"),
    "popular": ("-enrollment_count", "-pk"),
}


def course_summary(course: Course) -> dict:
    return {
        "slug": course.slug,
        "title": course.title,
        "category": course.category,
        "level": course.level,
        "rating": float(course.rating),
        "enrollment_count": course.enrollment_count,
        "instructor": course.instructor.username,
        "created_at": course.created_at.isoformat(),
    }


def list_courses(*, category=None, level=None, q=None, ordering="newest", page=1, page_size=20) -> dict:
    params = {"category": category, "level": level, "q": q, "ordering": ordering, "page": page, "size": page_size}
    key = course_cache.list_key(params)
    payload = cache.get(key)
    if payload is not None:
        return payload
    qs = Course.objects.filter(published=True).select_related("instructor")
    if category:
        qs = qs.filter(category=category)
    if level:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(description__icontains=q))
    qs = qs.order_by(*ORDERINGS[ordering])
    courses, meta = paginate(qs, page, page_size)
    payload = {"results": [course_summary(c) for c in courses], **meta}
    cache.set(key, payload, settings.CACHE_TTL_SECONDS)
    return payload


def course_detail(slug: str) -> dict:
    key = course_cache.detail_key(slug)
    payload = cache.get(key)
    if payload is not None:
        return payload
    course = (
        Course.objects.filter(slug=slug, published=True)
        .select_related("instructor")
        .prefetch_related("lessons")
        .first()
    )
    if course is None:
        raise ApiError(404, f"course '{slug}' not found")
    lessons = [
        {"slug": lesson.slug, "title": lesson.title, "order": lesson.order, "duration_minutes": lesson.duration_minutes}
        for lesson in course.lessons.all()
    ]
    payload = {
        **course_summary(course),
        "description": course.description,
        # Live count (one query), not the periodic statistic: an enrolment shows at once.
        "enrollment_count": course.enrollments.count(),
        "completion_rate": float(course.completion_rate),
        "lessons": lessons,
        "lesson_count": len(lessons),
        "duration_minutes": sum(lesson["duration_minutes"] for lesson in lessons),
    }
    cache.set(key, payload, settings.CACHE_TTL_SECONDS)
    return payload
