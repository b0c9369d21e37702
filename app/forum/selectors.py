from __future__ import annotations

from core.api import ApiError, paginate
from forum.models import Category, Topic


def _iso(value):
    return value.isoformat() if value else None


def author(user) -> dict:
    """Who wrote a topic or post: the id addresses their profile (/api/v1/users/<id>/profile/)."""
    return {"id": user.pk, "username": user.username}


def list_topics(*, category: str | None, page: int, page_size: int) -> dict:
    qs = Topic.objects.select_related("category", "author", "last_post__author")
    if category:
        # By id, not category__slug: with the id known when the query is planned, the (category,
        # -last_activity_at) index reads the page in order; a join on the slug scanned every category's topics.
        category_id = Category.objects.filter(slug=category).values_list("pk", flat=True).first()
        if category_id is None:
            raise ApiError(400, f"unknown forum category '{category}'", parameter="category")
        qs = qs.filter(category_id=category_id)
    topics, meta = paginate(qs.order_by("-last_activity_at", "-pk"), page, page_size)
    results = []
    for t in topics:
        last = t.last_post
        results.append({
            "id": t.pk,
            "slug": t.slug,
            "title": t.title,
            "category": {"slug": t.category.slug, "name": t.category.name},
            "author": author(t.author),
            "created_at": _iso(t.created_at),
            "reply_count": t.reply_count,
            "last_post": None if last is None else {
                "id": last.pk, "author": author(last.author), "created_at": _iso(last.created_at),
                "excerpt": last.body[:140],
            },
        })
    return {"results": results, **meta}
