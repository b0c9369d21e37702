from __future__ import annotations

from django.conf import settings
from django.db import models
from django_prometheus.models import ExportModelOperationsMixin


class Course(ExportModelOperationsMixin("course"), models.Model):
    class Category(models.TextChoices):
        PYTHON_BASICS = "python-basics", "Python basics"
        WEB = "web", "Web development"
        DATA = "data-science", "Data science"
        TESTING = "testing", "Testing"
        DEVOPS = "devops", "DevOps"
        ALGORITHMS = "algorithms", "Algorithms"

    class Level(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        ADVANCED = "advanced", "Advanced"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    category = models.CharField(max_length=32, choices=Category.choices, db_index=True)
    level = models.CharField(max_length=16, choices=Level.choices, db_index=True)
    description = models.TextField()
    published = models.BooleanField(default=False, db_index=True)
    rating = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    instructor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="courses_taught")
    # Statistics recomputed by the Celery task recompute_course_stats.
    enrollment_count = models.PositiveIntegerField(default=0)
    completion_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    stats_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The course list's orderings (courses.selectors.ORDERINGS): each one read in index order, so a page is
        # LIMIT rows of the index rather than a sort of every published course (docs/database-indexes.md).
        # "newest"/"oldest" use created_at's own index.
        indexes = [
            models.Index(fields=["published", "category", "level"]),
            models.Index(fields=["title", "id"], name="course_title_idx"),
            models.Index(fields=["rating", "id"], name="course_rating_idx"),
            models.Index(fields=["enrollment_count", "id"], name="course_popular_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Lesson(ExportModelOperationsMixin("lesson"), models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    order = models.PositiveIntegerField()
    duration_minutes = models.PositiveIntegerField(default=10)
    content = models.TextField(blank=True)

    class Meta:
        ordering = ["course", "order"]
        constraints = [models.UniqueConstraint(fields=["course", "order"], name="lesson_order_unique")]

    def __str__(self) -> str:
        return self.title


class Enrollment(ExportModelOperationsMixin("enrollment"), models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    progress = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "course"], name="enrollment_unique")]
        indexes = [models.Index(fields=["user", "-enrolled_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.course_id}"
