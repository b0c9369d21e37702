from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.api import ApiError
from forum.models import Post, Topic
from observability import metrics

forum_logger = logging.getLogger("apps.forum_integration")

MAX_BODY = 20_000


def add_post(user, topic_id: int, body: str) -> Post:
    body = (body or "").strip()
    if not body:
        raise ApiError(400, "'body' must not be empty", parameter="body")
    if len(body) > MAX_BODY:
        raise ApiError(400, f"'body' is longer than {MAX_BODY} characters", parameter="body")
    with transaction.atomic():
        topic = Topic.objects.select_for_update().filter(pk=topic_id).first()
        if topic is None:
            raise ApiError(404, f"topic {topic_id} not found")
        now = timezone.now()
        post = Post.objects.create(topic=topic, author=user, body=body, created_at=now)
        Topic.objects.filter(pk=topic.pk).update(
            reply_count=F("reply_count") + 1, last_post=post, last_activity_at=now)
    metrics.FORUM_POSTS.inc()
    forum_logger.info("Forum post", extra={"user_id": user.pk, "topic_id": topic_id})
    return post
