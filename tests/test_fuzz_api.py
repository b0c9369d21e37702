"""Property-based (Hypothesis): arbitrary JSON, strings and bytes at every endpoint and method find no 5xx,
and every error is JSON naming its status (issue 15, build item 2).

Endpoints come from the URL resolver (tests/endpoints.py), so a new one is fuzzed without a change here.
Bounded: a fixed number of examples per test, no deadline per example, no example database written.
Requests come from a TEST-NET address: the sign-in throttle's counters for 127.0.0.1 stay untouched.
"""
from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests import factories as f
from tests.endpoints import METHODS, Endpoint, assert_sane, endpoints, paths

pytestmark = pytest.mark.django_db

FUZZ = hypothesis_settings(max_examples=600, deadline=None, database=None, derandomize=False,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                  HealthCheck.data_too_large])
CLIENT_ADDRESS = "203.0.113.15"
# Every character, lone surrogates and NUL included; and text around one of the characters that broke
# something once (NUL, lone surrogates), which the generator alone draws too seldom.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
HOSTILE_TEXT = st.builds("{}{}{}".format, ANY_TEXT, st.sampled_from("\x00\ud800\udfff\ufeff\"\\"), ANY_TEXT)
FIELD_NAMES = ("username", "password", "body", "page", "q")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT | st.sampled_from(FIELD_NAMES),
                                                                     children, max_size=4),
    max_leaves=25)
# Objects with the members the views read, each a string (most often) or any JSON value.
OBJECTS = st.fixed_dictionaries({}, optional={name: ANY_TEXT | HOSTILE_TEXT | JSON_VALUES for name in FIELD_NAMES})
CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=fuzz", "text/plain", "", "application/merge-patch+json"])


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")  # a lone surrogate becomes invalid UTF-8, as sent


def nested(depth: int) -> bytes:
    return b'{"body":' * depth + b"1" + b"}" * depth


BODIES = st.one_of(
    st.tuples(OBJECTS, st.booleans()).map(lambda v: encode(json.dumps(v[0], ensure_ascii=v[1]))),
    st.tuples(JSON_VALUES, st.booleans()).map(lambda v: encode(json.dumps(v[0], ensure_ascii=v[1]))),
    ANY_TEXT.map(encode),
    st.binary(max_size=300),
    st.integers(1, 6000).map(nested),
)
PARAMETER_VALUES = st.one_of(st.integers(0, 2**70).map(str), st.from_regex(r"[-a-zA-Z0-9_]{1,300}", fullmatch=True),
                             ANY_TEXT.filter(bool).map(lambda t: quote(encode(t), safe="")))
QUERIES = st.dictionaries(st.sampled_from(["page", "page_size", "q", "category", "level", "ordering", "x"]),
                          ANY_TEXT, max_size=4).map(lambda q: urlencode(q, errors="surrogatepass"))


@pytest.fixture
def world(db):
    user, revoker = f.user("fuzzer"), f.user("fuzz-revoker")
    f.user("hostile", password="fuzz-pass-1234")
    course, topic = f.course(), f.topic()
    return {"token": f.token_for(user), "revoker": revoker, "endpoints": endpoints(), "values": {
        "int": [str(user.pk)], "user_id": [str(user.pk)], "topic_id": [str(topic.pk)], "slug": [course.slug],
        "path": ["1"], "str": ["x"]}}


def request(world, endpoint: Endpoint, method: str, path: str, body: bytes, content_type: str, query: str,
            with_token: bool):
    headers = {"REMOTE_ADDR": CLIENT_ADDRESS}
    if with_token:
        token = f.token_for(world["revoker"]) if method == "DELETE" and path.startswith("/api/v1/auth/") \
            else world["token"]  # a DELETE of the token endpoint revokes the token it carries
        headers["HTTP_AUTHORIZATION"] = f"Token {token}"
    target = f"{path}?{query}" if query else path
    if content_type:
        resp = Client().generic(method, target, body, content_type=content_type, **headers)
    else:
        resp = Client().generic(method, target, body, **headers)
    assert_sane(method, target, resp, f"{content_type} {body[:80]!r}")


@FUZZ
@given(data=st.data(), body=BODIES, content_type=CONTENT_TYPES, query=QUERIES, with_token=st.booleans())
def test_any_body_at_any_endpoint_and_method_is_no_5xx(world, data, body, content_type, query, with_token):
    api = [e for e in world["endpoints"] if e.is_api]  # half the draws: the admin's many pages are one view
    endpoint = data.draw(st.sampled_from(api) | st.sampled_from(world["endpoints"]), label="endpoint")
    method = data.draw(st.sampled_from(METHODS), label="method")
    path = paths(endpoint, world["values"])[0]
    request(world, endpoint, method, path, body, content_type, query, with_token)


@FUZZ
@given(data=st.data(), body=BODIES, content_type=CONTENT_TYPES, with_token=st.booleans())
def test_any_path_parameter_at_any_endpoint_is_no_5xx(world, data, body, content_type, with_token):
    endpoint = data.draw(st.sampled_from([e for e in world["endpoints"] if "<" in e.route]), label="endpoint")
    method = data.draw(st.sampled_from(METHODS), label="method")
    value = data.draw(PARAMETER_VALUES, label="parameter")
    path = paths(endpoint, {"int": [value], "slug": [value], "path": [value], "str": [value]})[0]
    request(world, endpoint, method, path, body, content_type, "", with_token)


@FUZZ
@given(body=st.one_of(OBJECTS.map(lambda o: encode(json.dumps(o, ensure_ascii=False))), BODIES),
       endpoint=st.sampled_from(["/api/v1/auth/token/", "forum", "enroll"]))
def test_the_views_that_read_a_body_answer_400_or_better_to_any_json(world, body, endpoint):
    """The endpoints that read a body, hit with JSON bodies only: each answer a 2xx or a JSON 4xx."""
    path = {"forum": f"/api/v1/forum/topics/{world['values']['topic_id'][0]}/posts/",
            "enroll": f"/api/v1/courses/{world['values']['slug'][0]}/enroll/"}.get(endpoint, endpoint)
    request(world, Endpoint(endpoint, path, ""), "POST", path, body, "application/json", "", True)
