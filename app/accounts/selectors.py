"""Reads for the user-profile endpoints.

Who sees what: the owner and staff see the whole profile (enrolments, progress, completion dates, the
learning stats); anyone else, signed in or not, sees the public fields only, unless the owner made the
profile public (Profile.public_profile, off by default).  The cache holds the whole payload per user;
visible_profile() cuts it down per viewer, so one cached entry serves every viewer."""
from __future__ import annotations

from django.contrib.auth import get_user_model

from accounts import cache as profile_cache
from accounts.models import Profile
from core.api import ApiError
from courses.models import Enrollment


def _iso(value):
    return value.isoformat() if value else None


def build_profile(user_id: int) -> dict:
    """Three queries whatever the number of enrolments: user+profile, enrolments+courses."""
    User = get_user_model()
    user = User.objects.select_related("profile").filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ApiError(404, f"user {user_id} not found")
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        profile = Profile(user=user)
    enrollments = (
        Enrollment.objects.filter(user_id=user.pk)
        .select_related("course")
        .order_by("-enrolled_at", "-pk")
    )
    items = [
        {
            "course": {"slug": e.course.slug, "title": e.course.title, "level": e.course.level},
            "progress": float(e.progress),
            "enrolled_at": _iso(e.enrolled_at),
            "completed_at": _iso(e.completed_at),
        }
        for e in enrollments
    ]
    completed = sum(1 for i in items if i["completed_at"])
    return {
        "id": user.pk,
        "username": user.username,
        "date_joined": _iso(user.date_joined),
        "public_profile": profile.public_profile,
        "profile": {
            "bio": profile.bio,
            "avatar_url": profile.avatar_url,
            "stats": {
                "lessons_completed": profile.lessons_completed,
                "courses_completed": profile.courses_completed,
                "minutes_learned": profile.minutes_learned,
                "streak_days": profile.streak_days,
            },
        },
        "enrollments": items,
        "progress": {
            "enrolled": len(items),
            "completed": completed,
            "average_progress": round(sum(i["progress"] for i in items) / len(items), 1) if items else 0.0,
        },
    }


def get_profile(user_id: int) -> dict:
    payload = profile_cache.get(user_id)
    if payload is None:
        payload = build_profile(user_id)
        profile_cache.set(user_id, payload)
    return payload


# What anyone may see of anyone: who they are, never what they learn or how much.
PUBLIC_FIELDS = ("id", "username", "date_joined", "public_profile")
PUBLIC_PROFILE_FIELDS = ("bio", "avatar_url")


def can_see_details(viewer, user_id: int, payload: dict) -> bool:
    if payload.get("public_profile"):
        return True
    if viewer is None or not viewer.is_authenticated:
        return False
    return viewer.pk == user_id or viewer.is_staff


def public_part(payload: dict) -> dict:
    public = {name: payload[name] for name in PUBLIC_FIELDS}
    public["profile"] = {name: payload["profile"][name] for name in PUBLIC_PROFILE_FIELDS}
    return public


def visible_profile(user_id: int, viewer) -> dict:
    """The profile of `user_id` as `viewer` (a user, or AnonymousUser) may see it; ApiError(404) when there is
    no such active user."""
    payload = get_profile(user_id)
    return payload if can_see_details(viewer, user_id, payload) else public_part(payload)
