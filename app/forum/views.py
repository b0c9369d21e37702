from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.api import ApiError, Field, api_view, json_body, page_params, text_param
from courses.views import _check_csrf_for_session
from forum import selectors, services
from observability import context as obs

POST_FIELDS = {"body": Field(str, max_length=services.MAX_BODY)}


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
    data = json_body(request, POST_FIELDS)
    if topic_id > 2**63 - 1:
        raise ApiError(404, f"topic {topic_id} not found")
    post = services.add_post(request.user, topic_id, data["body"])
    return JsonResponse({"id": post.pk, "topic": topic_id, "author": selectors.author(request.user),
                         "created_at": post.created_at.isoformat()}, status=201)
