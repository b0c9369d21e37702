from __future__ import annotations

from django.conf import settings
from django.db import models
from django_prometheus.models import ExportModelOperationsMixin


class Category(ExportModelOperationsMixin("forum_category"), models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Topic(ExportModelOperationsMixin("forum_topic"), models.Model):
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="topics")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="topics")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Kept current by forum.services.add_post so that the list needs no aggregate per row.
    reply_count = models.PositiveIntegerField(default=0)
    last_post = models.ForeignKey("Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_activity_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_activity_at", "-pk"]
        indexes = [models.Index(fields=["category", "-last_activity_at"])]

    def __str__(self) -> str:
        return self.title


class Post(ExportModelOperationsMixin("forum_post"), models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_posts")
    body = models.TextField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["topic", "created_at"])]

    def __str__(self) -> str:
        return f"post {self.pk} in {self.topic_id}"
