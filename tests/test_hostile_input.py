"""The bad-input sweep of issue 15: every endpoint of the URLconf × every method × hostile bodies, query
strings, headers and paths.  Zero 5xx; every error (and every API answer) JSON naming its status; HEAD
answers as GET does, without a body.

In process through Django's test client (every endpoint, every case), and once against the app under real
gunicorn with production settings (config/gunicorn.py, PostgreSQL, Redis, Sentry pointed at a local envelope
sink with traces at 1.0, whose raw envelopes must not contain the password the sweep signed in with).
"""
from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.test import Client

from tests import factories as f
from tests.endpoints import BODY_METHODS, METHODS, Endpoint, assert_sane, endpoints, one_per_view, paths
from tests.test_settings import STRONG_KEY

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SECRET = "HostilePw-Rq8812"  # the password signed in with: it must reach no Sentry envelope

# A body whose every field our views read is hostile the same way.
def _all_fields(value) -> dict:
    return {"username": value, "password": value, "body": value}


BODIES: dict[str, tuple[bytes, str]] = {
    "nul": (json.dumps(_all_fields("a\u0000b")).encode(), JSON),
    "lone-surrogate": (b'{"username": "\\ud800", "password": "x\\udfff", "body": "\\ud800"}', JSON),
    "deep-array": (b"[" * 5000 + b"]" * 5000, JSON),
    "deep-object": (b'{"body":' * 5000 + b'"x"' + b"}" * 5000, JSON),
    # A string that never closes, quote after escaped quote: minutes for a pattern retried at every quote.
    "quote-backslash": (b'"\\' * 120_000, JSON),
    "invalid-utf8": (b'{"username": "\xff\xfe", "password": "\xc3\x28", "body": "\xed\xa0\x80"}', JSON),
    "raw-nul": (b'{"username": "a\x00", "password": "b", "body": "\x00"}', JSON),
    "wrong-types": (b'{"username": 1, "password": ["x"], "body": {"a": null}}', JSON),
    "booleans": (b'{"username": true, "password": false, "body": true}', JSON),
    "not-an-object": (b'[1, "two", null]', JSON),
    "nan": (b'{"username": NaN, "password": Infinity, "body": -Infinity}', JSON),
    "huge-number": (b'{"username": ' + b"9" * 5000 + b', "body": 1e999}', JSON),
    "long-strings": (json.dumps(_all_fields("x" * 30_000)).encode(), JSON),
    "over-api-limit": (json.dumps({"body": "y" * 300_000}).encode(), JSON),
    "over-upload-limit": (b'{"body": "' + b"z" * 3_000_000 + b'"}', JSON),
    "empty-json": (b"", JSON),
    "bom": (b'\xef\xbb\xbf{"username": "a", "password": "b"}', JSON),
    "valid-sign-in": (json.dumps({"username": "hostile", "password": SECRET, "body": "hello"}).encode(), JSON),
    # The README's old sign-in: JSON text, form-encoded (curl -d without a content type).
    "form-encoded-json": (json.dumps({"username": "hostile", "password": SECRET}).encode(), FORM),
    "form-nul": (b"username=a%00b&password=%00&body=%00&csrfmiddlewaretoken=%00", FORM),
    "too-many-fields": ("&".join(f"f{i}=1" for i in range(2000)).encode(), FORM),
    "multipart-broken": (b"--xyz\r\nnot a part at all", "multipart/form-data; boundary=xyz"),
    "multipart-no-boundary": (b"abc", "multipart/form-data"),
    "text": (b"hello", "text/plain"),
    "charset-latin1": ('{"body": "caf\u00e9"}'.encode("latin-1"), "application/json; charset=latin-1"),
}
QUERIES = [
    "?page=%00&page_size=%00&q=%00&category=%00&level=%00&ordering=%00",
    "?q=%ED%A0%80&category=%ff%fe",  # an encoded surrogate, invalid UTF-8
    # Under gunicorn's limit of 4094 bytes per request line (it answers longer ones itself, before the app).
    "?page=" + "9" * 3000,
    "?" + "&".join(["a="] * 1001),  # more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS
    '?q={"password": "x"}&page=1e3',
]
HEADERS = [
    {"HTTP_AUTHORIZATION": "Token \x00\x01"},
    {"HTTP_AUTHORIZATION": "Token " + "a" * 5000},
    {"HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg=="},
    {"HTTP_COOKIE": 'sessionid="\\000garbage-key"; csrftoken=\x00'},  # "\000": an octal escape, a NUL once parsed
    {"HTTP_COOKIE": "sessionid=" + "k" * 5000},
    {"HTTP_X_REQUEST_ID": "\x00" * 300},
    {"HTTP_HOST": "evil.example"},
    {"HTTP_HOST": "127.0.0.1:99999"},
]
UNKNOWN_PATHS = ["/api/v1/nothing-here/", "/api/v2/", "/api/v1/courses", "/api/v1/courses/%ff%fe/",
                 "/api/v1/%00/", "/api/v1/users/-1/profile/", "/api/v1/forum/topics/1/posts/x/", "/no/such/page",
                 "/api/v1/courses/..%2f..%2fetc%2fpasswd/"]


@dataclass
class Data:
    values: dict[str, list[str]]
    sweeper: object  # whose token the requests carry
    revoker: object  # whose tokens a DELETE of /api/v1/auth/token/ revokes (one each)
    token: str = ""

    def auth(self, method: str, path: str) -> dict:
        if method == "DELETE" and path.startswith("/api/v1/auth/"):
            return {"HTTP_AUTHORIZATION": f"Token {f.token_for(self.revoker)}"}
        return {"HTTP_AUTHORIZATION": f"Token {self.token}"}


@pytest.fixture
def data(db) -> Data:
    f.user("hostile", password=SECRET)  # whom the sweep's sign-ins name
    sweeper, revoker = f.user("sweeper"), f.user("revoker")
    course = f.course()
    topic = f.topic()
    return Data(sweeper=sweeper, revoker=revoker, token=f.token_for(sweeper), values={
        "int": [str(sweeper.pk), "0", str(2**63), "9" * 30],
        "slug": [course.slug, "no-such-course", "a" * 300],
        "topic_id": [str(topic.pk), "0", str(2**63)],
        "user_id": [str(sweeper.pk), "0", str(2**63), "9" * 30],
        "path": ["1", "x/y"],
        "str": ["x"],
    })


def all_paths(data: Data) -> list[tuple[Endpoint, str]]:
    return [(endpoint, path) for endpoint in endpoints() for path in paths(endpoint, data.values)]


def test_the_sweep_covers_every_endpoint_of_the_urlconf(data):
    names = {e.name for e in endpoints()}
    for name in ("courses:course-list", "courses:course-detail", "courses:course-enroll", "accounts:token",
                 "accounts:me", "accounts:user-profile", "forum:topic-list", "forum:post-create", "healthz",
                 "readyz", "api-not-found", "admin:index", "prometheus-django-metrics"):
        assert name in names, name
    assert not any(name.startswith("drill:") for name in names)  # failing on purpose: excluded
    assert paths(Endpoint("x", "api/v1/users/<int:user_id>/profile/", "v"), {"user_id": ["7", "8"]}) == \
        ["/api/v1/users/7/profile/", "/api/v1/users/8/profile/"]


def test_every_endpoint_and_method_without_a_body(data):
    client = Client()
    for _, path in all_paths(data):
        for authenticated in (False, True):
            for method in METHODS:
                auth = data.auth(method, path) if authenticated else {}
                assert_sane(method, path, client.generic(method, path, **auth), f"authenticated={authenticated}")
            auth = data.auth("GET", path) if authenticated else {}
            get, head = client.get(path, **auth), client.head(path, **auth)
            assert head.status_code == get.status_code, (path, head.status_code, get.status_code)


def test_every_view_and_body_method_with_hostile_bodies(data):
    client = Client()
    for endpoint in one_per_view(endpoints()):
        path = paths(endpoint, data.values)[0]  # its real object; other ids are covered without bodies
        # Every view of the admin parses bodies the same way (CSRF check, forms): POST is enough there.
        methods = BODY_METHODS if endpoint.is_api else ("POST",)
        for method in methods:
            for case, (body, content_type) in BODIES.items():
                resp = client.generic(method, path, body, content_type=content_type, **data.auth(method, path))
                assert_sane(method, path, resp, case)


def test_body_errors_name_the_field_and_content_type_and_size_are_clear(data):
    client = Client()
    token = data.auth("POST", "/")
    topic_posts = f"/api/v1/forum/topics/{data.values['topic_id'][0]}/posts/"

    def post(path, body, content_type=JSON):
        return client.post(path, body, content_type=content_type, **token)

    for path, fields in (("/api/v1/auth/token/", ("username", "password")), (topic_posts, ("body",))):
        for case in ("nul", "lone-surrogate", "wrong-types", "booleans"):
            resp = post(path, BODIES[case][0])
            assert resp.status_code == 400 and resp.json()["error"]["field"] in fields, (path, case, resp.content)
        for case in ("deep-array", "deep-object", "invalid-utf8", "raw-nul", "not-an-object", "nan", "bom"):
            assert post(path, BODIES[case][0]).status_code == 400, (path, case)
        assert post(path, BODIES["form-encoded-json"][0], FORM).status_code == 415
        assert post(path, b"hello", "text/plain").status_code == 415
        assert post(path, BODIES["over-api-limit"][0]).status_code == 413
        assert post(path, BODIES["over-upload-limit"][0]).status_code == 413
    resp = post("/api/v1/auth/token/", json.dumps({"username": "hostile"}).encode())
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "password"
    resp = post(topic_posts, json.dumps({"body": "x" * 20_001}).encode())
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "body"
    # What passes the checks still works.
    assert post("/api/v1/auth/token/", json.dumps({"username": "hostile", "password": SECRET}).encode(),
                "application/json; charset=utf-8").status_code == 200
    assert post(topic_posts, json.dumps({"body": "caf\u00e9 \U0001f40d", "extra": [1]}).encode()).status_code == 201


def test_hostile_query_strings_headers_and_unknown_paths(data):
    client = Client()
    for _, path in all_paths(data):
        for query in QUERIES:
            assert_sane("GET", path + query, client.get(path + query, **data.auth("GET", path)))
        for headers in HEADERS:
            assert_sane("GET", path, client.get(path, **headers), str(headers)[:60])
            assert_sane("POST", path, client.post(path, b"{}", content_type=JSON, **headers), str(headers)[:60])
    for path in UNKNOWN_PATHS:
        for method in METHODS:
            resp = client.generic(method, path, b'{"a": 1}', content_type=JSON)
            assert_sane(method, path, resp)
            if method != "HEAD":
                assert resp.status_code == 404, (method, path, resp.status_code)


def test_the_issues_cases_answer_json_with_the_right_status(data):
    client = Client()
    assert client.delete("/api/v1/courses/").status_code == 405  # was the CSRF page (403, HTML)
    assert client.delete("/api/v1/courses/")["Allow"] == "GET, HEAD"
    assert client.post("/api/v1/nothing-here/", b"{}", content_type=JSON).status_code == 404  # was CSRF HTML
    head = client.head("/api/v1/courses/")
    assert head.status_code == 200 and head.content == b"" and head["Content-Type"] == JSON  # was 405
    # A session without the CSRF token: Django's CSRF failure, as JSON.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(data.sweeper)
    resp = browser.post("/admin/logout/")
    assert resp.status_code == 403 and resp.json()["error"]["message"] == "CSRF check failed"
    # Django's own 405 (the admin's logout takes POST only): JSON, its Allow header kept.
    staff = Client()
    staff.force_login(f.user(is_staff=True))
    resp = staff.get("/admin/logout/")
    assert resp.status_code == 405 and resp["Allow"] == "POST, OPTIONS" and resp.json()["error"]["status"] == 405


# --- Against gunicorn with production settings ----------------------------------------------------------------

def production_env(tmp_path, **env) -> dict:
    return {"DJANGO_SETTINGS_MODULE": "config.settings.production", "ENVIRONMENT": "production",
            "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_FILE": str(tmp_path / "studio.log"),
            **env}


def raw_request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        # Behind a TLS-terminating proxy, as in production (SECURE_PROXY_SSL_HEADER; no redirect to https).
        sent = {"Host": "127.0.0.1", "X-Forwarded-Proto": "https", "Content-Length": str(len(body)), **(headers or {})}
        for name, value in sent.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it was read (413): the answer is still there to read
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@dataclass
class Answer:
    status_code: int
    headers: dict
    content: bytes

    def get(self, name, default=None):
        return self.headers.get(name.lower(), default)


@pytest.mark.slow
def test_sweep_under_gunicorn_with_production_settings(gunicorn_factory, redis_server, sentry_server, tmp_path,
                                                       data):
    server = gunicorn_factory(workers=2, **production_env(
        tmp_path, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url, CELERY_BROKER_URL=redis_server.url,
        SENTRY_DSN=sentry_server.dsn, SENTRY_TRACES_SAMPLE_RATE="1.0", SENTRY_PROFILES_SAMPLE_RATE="0"))
    token = data.token
    jobs: list[tuple[str, str, bytes, dict]] = []
    revocations: list[tuple[str, str, bytes, dict]] = []  # one token each, issued just before: run last
    representatives = set(one_per_view(endpoints()))
    for endpoint, path in all_paths(data):
        first = path == paths(endpoint, data.values)[0] and endpoint in representatives
        if endpoint.name.startswith("admin:") and not first:
            continue
        for method in METHODS:
            jobs.append((method, path, b"", {}))
        if first:
            for method in (BODY_METHODS if endpoint.is_api else ("POST",)):
                for body, content_type in BODIES.values():
                    job = (method, path, body, {"Content-Type": content_type, "Authorization": f"Token {token}"})
                    (revocations if method == "DELETE" and path.startswith("/api/v1/auth/") else jobs).append(job)
        for query in QUERIES:
            jobs.append(("GET", path + query.replace('"', "%22").replace(" ", "+"), b"", {}))
    for path in UNKNOWN_PATHS:
        for method in METHODS:
            jobs.append((method, path, b'{"a": 1}', {"Content-Type": JSON}))
    for host in ("evil.example", "127.0.0.1:99999"):
        jobs.append(("GET", "/api/v1/courses/", b"", {"Host": host}))

    def run(job):
        method, path, body, headers = job
        return job, raw_request(server.port, method, path, body, headers)

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(run, jobs))
    for method, path, body, headers in revocations:
        answers.append(run((method, path, body, {**headers, "Authorization": f"Token {f.token_for(data.revoker)}"})))
    for (method, path, _, headers), answer in answers:
        assert_sane(method, path, answer, headers.get("Content-Type", ""))
    statuses = Counter(answer.status_code for _, answer in answers)
    assert {200, 400, 404, 405, 413, 415} <= set(statuses), statuses  # the sweep reached every kind of answer
    print(f"\n[hostile sweep, gunicorn, production settings] {len(answers)} requests in "
          f"{time.monotonic() - started:.1f} s: {dict(sorted(statuses.items()))}")

    # The sweep signed in with SECRET (as JSON and form-encoded) and sent its token everywhere: neither is in
    # any envelope the workers sent.
    sentry_server.wait_for("transaction", lambda t: t["transaction"] == "/api/v1/auth/token/")
    raw = b"\n".join(envelope.raw for envelope in sentry_server.envelopes)
    assert SECRET.encode() not in raw and token.encode() not in raw
