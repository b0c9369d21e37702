"""No password or token leaves the process for Sentry, in any encoding (issue 15, finding 1).

The real SDK sends to a local envelope sink (tests/fixtures/sentry_server.py) with traces at 1.0; requests go
through Django's real WSGIHandler (the one gunicorn calls and the SDK wraps).  The raw envelopes, decompressed,
are searched for every secret the requests carried: the whole password, each half of it (a form-encoded JSON
body is split at the "&" inside it), the wrong password, the API token and the session cookie.

Also the scrubbing functions themselves, on each encoding a secret arrives in.
"""
from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import quote_plus
from wsgiref.util import setup_testing_defaults

import pytest
import sentry_sdk
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from observability import scrubbing
from observability.logging import JsonFormatter
from observability.sentry import init_sentry, shutdown_sentry
from tests import factories
from tests.fixtures.sentry_server import exception_types

# Each half is a marker that must appear nowhere; the characters between them are the ones encodings
# treat specially (a form splits at & and =, JSON escapes ", URLs escape % and +).
PW_HEAD, PW_TAIL = "PwHeadQx71", "PwTailZk93"
PASSWORD = f'{PW_HEAD}&="%+ {PW_TAIL}'
WRONG_PASSWORD = "WrongPw-Mv5512"
COOKIE = "SessCookie-Yt3309"
CANARY = "canary-Lp4471"  # not a secret: it must arrive, or the search below proves nothing


# --- The functions, on each encoding -----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    f"password={quote_plus(PASSWORD)}&page=2",  # a query string or form body
    json.dumps({"username": "alice", "password": PASSWORD}),  # JSON text
    json.dumps({"a": [{"b": {"api_key": PASSWORD}}]}),  # nested
    repr(json.dumps({"username": "alice", "password": PASSWORD})),  # a frame local's repr of JSON text
    repr({"username": "alice", "password": PASSWORD}),  # a dict cut short by the serializer: its repr
    json.dumps({"username": "alice", "password": PASSWORD})[:-10],  # JSON text cut short
    quote_plus(json.dumps({"username": "alice", "password": PASSWORD})),  # percent-encoded JSON
    f"Authorization: Token {PW_HEAD}{PW_TAIL}",
])
def test_scrub_text_removes_the_secret_in_every_encoding(text):
    assert PW_HEAD in text or PW_HEAD in json.dumps(text)  # the case does carry it
    cleaned = scrubbing.scrub_text(text, keep_email=False)
    assert PW_TAIL not in cleaned and PW_HEAD not in cleaned, cleaned


def test_scrub_filters_keys_as_well_as_values():
    # What Django's form parser makes of a JSON sign-in sent without a JSON content type: one key, no value.
    form = {json.dumps({"username": "alice", "password": PASSWORD}): "", "page": "2"}
    cleaned = scrubbing.scrub(form, keep_email=False)
    assert PW_HEAD not in json.dumps(cleaned) and cleaned["page"] == "2"
    assert scrubbing.scrub({"x": {"Password": "p4ss-word"}}, keep_email=False) == {"x": {"Password": "[Filtered]"}}
    # Harmless names stay: "author=" is no "auth=".
    assert scrubbing.scrub_text("author=alice&page=2", keep_email=False) == "author=alice&page=2"


def test_exact_secrets_are_replaced_wherever_they_appear():
    secrets = scrubbing.request_secrets(FakeRequest(
        META={"HTTP_AUTHORIZATION": "Token tok-1234567890", "QUERY_STRING": "api_key=QsKey-0042&page=1",
              "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "60"},
        COOKIES={"sessionid": COOKIE, "theme": "dark"},
        body=json.dumps({"username": "alice", "password": PASSWORD}).encode()))
    event = {"exception": {"values": [{"stacktrace": {"frames": [{"vars": {
        "s": PASSWORD, "key": "tok-1234567890", "x": f"b'{COOKIE}'", "q": "QsKey-0042", "theme": "dark"}}]}}]}}
    cleaned = json.dumps(scrubbing.scrub(event, keep_email=False, secrets=secrets))
    for secret in (PW_HEAD, "tok-1234567890", COOKIE, "QsKey-0042"):
        assert secret not in cleaned, secret
    assert "dark" in cleaned


@dataclass
class FakeRequest:
    """The attributes request_secrets() reads, for the unit test above (the end-to-end test uses real ones)."""

    META: dict
    COOKIES: dict
    body: bytes


# --- End to end: the SDK, a local envelope sink, the raw envelopes ---------------------------------------------

@dataclass
class Response:
    status_code: int
    content: bytes

    def json(self):
        return json.loads(self.content)


def wsgi(method: str, path: str, body: bytes = b"", content_type: str | None = None, **headers) -> Response:
    """A request through Django's real WSGIHandler in this thread (it sees the test's transaction)."""
    path, _, query = path.partition("?")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": "localhost",
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    setup_testing_defaults(environ)
    environ.update(headers)
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"] = int(status.split()[0])

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return Response(seen["status"], content)


@pytest.fixture
def sentry(settings, sentry_server):
    settings.SENTRY_DSN = sentry_server.dsn
    settings.ENVIRONMENT = "staging"
    settings.SENTRY_TRACES_SAMPLE_RATE = 1.0
    settings.SENTRY_PROFILES_SAMPLE_RATE = 0.0
    settings.SENTRY_SEND_PII = False
    assert init_sentry(force=True)
    yield sentry_server
    shutdown_sentry(timeout=2)


def sign_in_json(username: str, password: str) -> Response:
    return wsgi("POST", "/api/v1/auth/token/", json.dumps({"username": username, "password": password}).encode(),
                "application/json")


def test_no_password_or_token_reaches_sentry_in_any_envelope(sentry, db):
    server = sentry
    factories.user("alice", password=PASSWORD)
    broken = factories.user("bob", password=PASSWORD)
    # A stored hash that cannot be decoded: checking a password against it raises, a real server error
    # in the middle of a sign-in, with the password in the frames.
    type(broken).objects.filter(pk=broken.pk).update(password="md5$cannot-be-decoded")
    sign_in_body = json.dumps({"username": "alice", "password": PASSWORD}).encode()

    ok = sign_in_json("alice", PASSWORD)  # as JSON
    assert ok.status_code == 200, ok.content
    token = ok.json()["token"]
    # As the README's example used to: the JSON text form-encoded (curl -d without a content type).
    as_form = wsgi("POST", "/api/v1/auth/token/", sign_in_body, "application/x-www-form-urlencoded")
    assert as_form.status_code == 415 and as_form.json()["error"]["status"] == 415
    assert sign_in_json("alice", WRONG_PASSWORD).status_code == 401  # a failed sign-in
    assert sign_in_json("bob", PASSWORD).status_code == 500  # a server error while signing in
    secrets_everywhere = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_COOKIE": f"sessionid={COOKIE}"}
    # Server errors elsewhere, carrying the secrets in every encoding: the form-encoded JSON sign-in body,
    # a JSON body, a multipart form, the query string, the Authorization header, the session cookie.
    query = f"?token={token}&password={quote_plus(PASSWORD)}&page={CANARY}"
    for body, content_type in (
            (sign_in_body, "application/x-www-form-urlencoded"),
            (sign_in_body, "application/json"),
            (multipart({"password": PASSWORD, "note": f"password={PASSWORD} token {token}"}), MULTIPART)):
        assert wsgi("POST", "/_drill/error/" + query, body, content_type, **secrets_everywhere).status_code == 500
    assert wsgi("GET", "/api/v1/me/", **secrets_everywhere).status_code == 200  # a transaction with the token

    sign_in_error, _ = server.wait_for_event(lambda e: e.get("transaction") == "/api/v1/auth/token/")
    drill_errors = [server.wait_for_event(lambda e, ct=ct: "DrillError" in exception_types(e)
                                          and ct in json.dumps(e["request"].get("headers", {})))[0]
                    for ct in ("x-www-form-urlencoded", "application/json", "multipart/form-data")]
    server.wait_for("transaction", lambda t: t["transaction"] == "/api/v1/me/")
    sentry_sdk.flush(timeout=5)

    # The authentication endpoint's events carry no body and no frame locals.
    assert "ValueError" in exception_types(sign_in_error)
    assert "data" not in sign_in_error["request"]
    frames = [f for v in sign_in_error["exception"]["values"] for f in v["stacktrace"]["frames"]]
    assert frames and not any("vars" in f for f in frames)
    sign_in_transactions = [t for t in server.payloads("transaction") if t["transaction"] == "/api/v1/auth/token/"]
    assert len(sign_in_transactions) == 4 and not any("data" in t.get("request", {}) for t in sign_in_transactions)
    # Elsewhere: JSON sent as a form is not sent at all; the other bodies arrive with their secrets filtered.
    assert drill_errors[0]["request"]["data"] == "[Filtered]"
    assert drill_errors[1]["request"]["data"] == {"username": "alice", "password": "[Filtered]"}
    assert drill_errors[2]["request"]["data"]["password"] == "[Filtered]"

    raw = b"\n".join(envelope.raw for envelope in server.envelopes)
    assert CANARY.encode() in raw  # what is no secret does arrive
    for secret in (PW_HEAD, PW_TAIL, quote_plus(PASSWORD), WRONG_PASSWORD, token, COOKIE):
        assert secret.encode() not in raw, f"{secret!r} reached Sentry"


MULTIPART = "multipart/form-data; boundary=studio-boundary"


def multipart(fields: dict[str, str]) -> bytes:
    parts = [f'--studio-boundary\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    return ("".join(parts) + "--studio-boundary--\r\n").encode()


def test_json_log_lines_carry_no_secret_in_message_or_extra():
    record = logging.LogRecord("apps.api", logging.WARNING, __file__, 1,
                               "sign-in body %s", (json.dumps({"username": "a", "password": PASSWORD}),), None)
    record.note = f"password={quote_plus(PASSWORD)}"
    record.api_token = "tok-0987654321"
    line = JsonFormatter().format(record)
    assert PW_HEAD not in line and PW_TAIL not in line and "tok-0987654321" not in line, line
    assert json.loads(line)["logger"] == "apps.api"


@pytest.mark.parametrize("text", [
    "'" + "\\'" * 32_000 + ":",  # a quoted key that never closes, retried at every quote
    ("'" + "\\'" * 20 + "password") * 1_200 + ":",
    '"x\\"password' * 5_000 + '":',
    "a" * 60_000 + " =",  # a name that never gets its "="
    "a" * 60_000 + " @b.cc",
    "a=&" * 20_000,
    '"password": "' + "\\" * 60_000 + "x",
])
def test_scrubbing_costs_in_proportion_to_the_text_not_its_square(text):
    """Strings in events are chosen by whoever sends the request.  These took 1 to 70 s each while a pattern
    could fail after a long scan and be retried at every later position; linear, they take milliseconds.
    The bound is a hundred times that: a guard against the blow-up, not a speed target."""
    started = time.process_time()
    scrubbing.scrub_text(text, keep_email=False)
    assert time.process_time() - started < 2.0
