"""Malformed input never gives a 500: 400 (malformed) or 404 (unknown), always JSON with a message."""
from __future__ import annotations

import json

import pytest

from tests import factories as f

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = ["/api/v1/courses/", "/api/v1/forum/topics/"]
BAD_PAGES = ["abc", "-1", "0", str(10**30), "1.5", "", "%00", "9" * 5000, "1e3", " 2", "+2", "\u00b2", "\u0663"]


def assert_json_error(resp, status: int):
    assert resp.status_code == status, (resp.status_code, resp.content[:300])
    assert resp["Content-Type"] == "application/json"
    body = json.loads(resp.content)
    assert body["error"]["status"] == status and body["error"]["message"]


@pytest.fixture
def data():
    u = f.user()
    c = f.course()
    f.topic()
    return {"user": u, "course": c, "token": f.token_for(u)}


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("value", BAD_PAGES)
def test_bad_page_numbers(client, data, endpoint, value):
    resp = client.get(endpoint, {"page": value})
    if value == "":
        assert resp.status_code == 200  # empty means default
    else:
        assert_json_error(resp, 400)


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("value", ["0", "-5", "101", "x", str(10**30)])
def test_bad_page_sizes(client, data, endpoint, value):
    assert_json_error(client.get(endpoint, {"page_size": value}), 400)


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_page_past_the_end_is_404(client, data, endpoint):
    assert_json_error(client.get(endpoint, {"page": "999"}), 404)


@pytest.mark.parametrize("param,value", [
    ("category", "cooking"), ("level", "expert"), ("ordering", "price"), ("ordering", "-created_at; drop"),
    ("q", "x" * 201), ("q", "a\x00b"),
])
def test_bad_course_filters(client, data, param, value):
    assert_json_error(client.get("/api/v1/courses/", {param: value}), 400)


def test_bad_forum_category(client, data):
    assert_json_error(client.get("/api/v1/forum/topics/", {"category": "nope"}), 400)
    assert_json_error(client.get("/api/v1/forum/topics/", {"category": "c" * 500}), 400)


@pytest.mark.parametrize("path", [
    "/api/v1/courses/no-such-course/",
    "/api/v1/courses/" + "a" * 300 + "/",
    "/api/v1/users/999999999/profile/",
    "/api/v1/users/" + "9" * 40 + "/profile/",
    "/api/v1/users/abc/profile/",
    "/api/v1/courses/no-such-course/enroll/",
    "/api/v1/nothing-here/",
    "/api/v1/forum/topics/abc/posts/",
])
def test_unknown_ids_and_paths_are_404_json(client, data, path):
    assert_json_error(client.get(path), 404 if not path.endswith("enroll/") else 405)


def test_enroll_unknown_course_and_wrong_method(client, data):
    auth = {"HTTP_AUTHORIZATION": f"Token {data['token']}"}
    assert_json_error(client.post("/api/v1/courses/no-such-course/enroll/", **auth), 404)
    assert_json_error(client.post("/api/v1/courses/" + "a" * 300 + "/enroll/", **auth), 404)
    assert_json_error(client.get(f"/api/v1/courses/{data['course'].slug}/enroll/", **auth), 405)
    assert_json_error(client.post("/api/v1/courses/", **auth), 405)
    assert_json_error(client.post(f"/api/v1/courses/{data['course'].slug}/enroll/",
                                  HTTP_AUTHORIZATION="Token not-a-real-token"), 401)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"body": 5}', b'{"body": ""}', b'{"body": "' + b"x" * 20001 + b'"}',
                                  b"\xff\xfe"])
def test_bad_forum_post_bodies(client, data, body):
    t = f.topic()
    resp = client.post(f"/api/v1/forum/topics/{t.pk}/posts/", data=body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Token {data['token']}")
    assert_json_error(resp, 400)


def test_post_to_unknown_topic(client, data):
    for topic_id in ("999999999", "9" * 30):
        resp = client.post(f"/api/v1/forum/topics/{topic_id}/posts/", data=b'{"body": "hi"}',
                           content_type="application/json", HTTP_AUTHORIZATION=f"Token {data['token']}")
        assert_json_error(resp, 404)


@pytest.mark.parametrize("body", [b"", b"nope", b'{"username": 1}', b'{"username": "a"}'])
def test_bad_token_requests(client, body):
    assert_json_error(client.post("/api/v1/auth/token/", data=body, content_type="application/json"), 400)
