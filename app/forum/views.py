from __future__ import annotations

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.api import ApiError, api_view, page_params, text_param
from courses.views import _check_csrf_for_session
from forum import selectors, services
from observability import context as obs


@api_view("GET")
def topic_list(request):
    obs.set_feature("forum_topics")
    page, size = page_params(request)
    category = text_param(request, "category", 120)
    return JsonResponse(selectors.list_topics(category=category, page=page, page_size=size))


@csrf_exempt  # checked in the view: token clients need none, sessions do
@api_view("POST")
def post_create(request, topic_id: int):
    obs.set_feature("forum_post")
    if not request.user.is_authenticated:
        raise ApiError(401, "authentication required (session or 'Authorization: Token <key>')")
    _check_csrf_for_session(request)
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body must be JSON: {\"body\": \"...\"}") from None
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        raise ApiError(400, "body must be JSON: {\"body\": \"...\"}")
    if topic_id > 2**63 - 1:
        raise ApiError(404, f"topic {topic_id} not found")
    post = services.add_post(request.user, topic_id, data["body"])
    return JsonResponse({"id": post.pk, "topic": topic_id, "author": selectors.author(request.user),
                         "created_at": post.created_at.isoformat()}, status=201)
