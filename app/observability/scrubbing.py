"""What counts as a secret or personal data, in one place: Sentry's before_send and the JSON log formatter use it.

Secrets arrive in many encodings, and a key can carry one as well as a value: a JSON sign-in sent as a form
(curl -d without a JSON content type) is parsed by Django into one form *key* -- the whole JSON text, password
included -- with an empty value.  So keys and values are scrubbed alike, and a string is looked at as what it
may be: JSON text, a query string, percent-encoded text, a Python repr (Sentry's frame locals and anything its
serializer cut short), free text.  On top of the patterns, the exact secrets of the request an event belongs to
(its Authorization credential, cookies, password fields: `request_secrets`) are replaced wherever they appear.

Plain Python (no Django, no Sentry import): the settings import the logging module, which imports this.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus

FILTERED = "[Filtered]"
EMAIL_MASK = "[email]"
# The key under which a request's exact secrets travel in the hint from its event processor to before_send.
SECRETS_HINT = "studio_request_secrets"

# Keys whose value is a secret wherever they appear: request headers, cookies, POST data, frame
# locals, extra, contexts, breadcrumb data.  Matched anywhere in the key, case-insensitively.
SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|private[-_]?key|authorization|^auth$|"
    r"cookie|csrf|sessionid|session[-_]?(id|key)|credential|signature|routing[-_]?key|dsn|"
    r"credit[-_]?card|card[-_]?number|cvv|iban",
    re.IGNORECASE)
# Names of secrets inside texts (narrower than SENSITIVE_KEY's: "author=" is no `auth=`).
_SECRET_NAME = r"pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|access[-_]?key|sessionid|csrf|credentials?|authorization"
# Every pattern is tried only where a match can begin (the lookbehinds) and none can fail after a long scan:
# their cost grows with the text, never with its square (an attacker chooses the text).
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# `password=...` / `new_password=...` / `auth=...` inside query strings, form bodies, URLs, messages: every
# `name=value` is found in one linear pass, and the name is then judged (a pattern with the names inside
# would backtrack at every position of every SQL statement in a transaction).
ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]+=)([^&\s'\",;)]+)")
SECRET_NAME = re.compile(rf"(?:{_SECRET_NAME})|^auth$", re.IGNORECASE)
_NAMED_SECRET = re.compile(_SECRET_NAME, re.IGNORECASE)
# `"password": "..."` inside JSON text or a Python repr (`'password': '...'`): a quoted key naming a secret, at
# most 64 characters each side of the name (a key scanned to the end of the text would be retried at every
# later quote), then its value -- a quoted string (escapes honoured, a run of backslashes too: a repr of JSON
# text doubles them; unterminated when the text was cut short) or a scalar.
SECRET_MEMBER = re.compile(
    rf"""(?P<key>(?P<kq>["'])(?:(?!(?P=kq))[^\\]|\\.){{0,64}}?(?:{_SECRET_NAME})(?:(?!(?P=kq))[^\\]|\\.){{0,64}}(?P=kq)\s*:\s*)"""
    r"""(?:(?P<vq>["'])(?:(?!(?P=vq))[^\\]|\\+.)*(?:(?P=vq)|$)|[^\s,}\]'"]+)""",
    re.IGNORECASE | re.DOTALL)
# `Authorization: Token abc` / `Bearer abc` inside free text.
AUTH_SCHEME = re.compile(r"\b(Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_WHITESPACE = re.compile(r"\s")
_PLAIN = re.compile(r"[\w./-]*")
# Longer texts are not parsed as JSON (the patterns still apply); deeper structures are replaced whole.
_MAX_PARSED_TEXT = 100_000
_MAX_SCRUBBED_TEXT = 64 * 1024  # Sentry itself keeps far less of any one value
_MAX_DEPTH = 40
# An exact secret shorter than this is not searched for (replacing every "ab" would wreck the event).
_MIN_SECRET_LENGTH = 4
_MAX_SECRET_BODY = 64 * 1024


def is_sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and SENSITIVE_KEY.search(key) is not None


def _assignment_sub(match: re.Match) -> str:
    name = match.group(1)
    return name + FILTERED if SECRET_NAME.search(name[:-1]) else match.group(0)


def _member_sub(match: re.Match) -> str:
    quote_char = match.group("vq") or '"'
    return f"{match.group('key')}{quote_char}{FILTERED}{quote_char}"


def _scrub_json_text(text: str, keep_email: bool, secrets: tuple[str, ...], depth: int) -> str | None:
    """`text` scrubbed as JSON, or None when it is no JSON (or nothing in it needed scrubbing)."""
    try:
        parsed = json.loads(text)
        before = json.dumps(parsed, ensure_ascii=False)
    except (ValueError, RecursionError):
        return None
    parsed = scrub(parsed, keep_email=keep_email, secrets=secrets, _depth=depth + 1)
    after = json.dumps(parsed, ensure_ascii=False)
    return after if after != before else None


def _scrub_query_string(text: str, keep_email: bool, secrets: tuple[str, ...], depth: int) -> str | None:
    """`text` scrubbed as a query string or form body -- split at "&" before anything is decoded, since a
    secret may hold an encoded "&" -- or None when nothing in it needed scrubbing."""
    out, changed = [], False
    for pair in text.split("&"):
        key, sep, value = pair.partition("=")
        name = unquote_plus(key)
        if sep and value and is_sensitive_key(name):
            out.append(f"{key}={FILTERED}")
            changed = True
            continue
        plain = unquote_plus(value)
        clean_name = scrub_text(name, keep_email=keep_email, secrets=secrets, _depth=depth + 1)
        clean_value = scrub_text(plain, keep_email=keep_email, secrets=secrets, _depth=depth + 1)
        if clean_name != name or clean_value != plain:
            out.append(f"{clean_name}{sep}{clean_value}")  # decoded: what was scrubbed reads as it was sent
            changed = True
        else:
            out.append(pair)
    return "&".join(out) if changed else None


def scrub_text(text: str, *, keep_email: bool, secrets: Iterable[str] = (), _depth: int = 0) -> str:
    secrets = tuple(secrets)
    if not text:
        return text
    if len(text) > _MAX_SCRUBBED_TEXT:  # what cannot be looked at cheaply is not sent
        return f"{FILTERED} ({len(text)} characters)"
    for secret in secrets:  # first: a pattern below could cut a known secret in two and leave a piece
        if secret in text:
            text = text.replace(secret, FILTERED)
    if _PLAIN.fullmatch(text):  # most keys and values: nothing any pattern below could match
        return text
    if _depth < 4 and "=" in text and not _WHITESPACE.search(text):
        query = _scrub_query_string(text, keep_email, secrets, _depth)
        if query is not None:
            text = query
    if _depth < 4 and "%" in text and _PERCENT_ESCAPE.search(text):
        # Percent-encoded (a query string, a form body, a URL): a secret that shows only once decoded is
        # written out decoded and scrubbed; anything else keeps its encoding.
        decoded = unquote_plus(text)
        cleaned = scrub_text(decoded, keep_email=keep_email, secrets=secrets, _depth=_depth + 1)
        if cleaned != decoded:
            text = cleaned
    stripped = text.strip()
    if _depth < 4 and stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]") and len(stripped) <= _MAX_PARSED_TEXT:
        parsed = _scrub_json_text(stripped, keep_email, secrets, _depth)
        if parsed is not None:
            text = parsed
    if "=" in text:
        text = ASSIGNMENT.sub(_assignment_sub, text)
    if ":" in text and ('"' in text or "'" in text) and _NAMED_SECRET.search(text):
        text = SECRET_MEMBER.sub(_member_sub, text)
    if " " in text:
        text = AUTH_SCHEME.sub(r"\1 " + FILTERED, text)
    if not keep_email and "@" in text:
        text = EMAIL.sub(EMAIL_MASK, text)
    return text


def scrub(value: Any, *, keep_email: bool, secrets: Iterable[str] = (), _depth: int = 0) -> Any:
    """Dicts and lists scrubbed in place (keys and values); strings are returned scrubbed.  Deeper than
    _MAX_DEPTH the structure is replaced: what cannot be looked at is not sent."""
    secrets = tuple(secrets)
    if _depth > _MAX_DEPTH:
        return FILTERED if isinstance(value, (str, dict, list)) else value
    if isinstance(value, str):
        return scrub_text(value, keep_email=keep_email, secrets=secrets, _depth=0)
    if isinstance(value, dict):
        renamed = []
        for key, item in value.items():
            if is_sensitive_key(key):
                if item is not None and item != "":  # an empty value says "not given": keep it visible
                    value[key] = FILTERED
            elif isinstance(item, (str, dict, list)):
                value[key] = scrub(item, keep_email=keep_email, secrets=secrets, _depth=_depth + 1)
            if isinstance(key, str):
                clean = scrub_text(key, keep_email=keep_email, secrets=secrets)
                if clean != key:
                    renamed.append((key, clean))
        for old, new in renamed:
            item = value.pop(old)
            while new in value:
                new += "'"
            value[new] = item
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, list) and len(item) == 2 and is_sensitive_key(item[0]):
                item[1] = FILTERED  # [name, value] pairs: Sentry's header and query lists
                item[0] = scrub_text(item[0], keep_email=keep_email, secrets=secrets)
            elif isinstance(item, (str, dict, list)):
                value[index] = scrub(item, keep_email=keep_email, secrets=secrets, _depth=_depth + 1)
        return value
    return value


# --- The exact secrets of one request --------------------------------------------------------------------

def _encodings(secret: str) -> set[str]:
    """`secret` as it may be written in an event: as is, JSON- and repr-escaped, percent-encoded."""
    in_json = json.dumps(secret)[1:-1]
    forms = {secret, in_json, json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1], repr(in_json)[1:-1],
             quote_plus(secret), quote(secret, safe="")}
    return {form for form in forms if len(form) >= _MIN_SECRET_LENGTH and form != FILTERED}


def _sensitive_values(data: Any, found: set[str], depth: int = 0) -> None:
    """Collect the values of sensitive keys (and of keys that are themselves JSON or form texts) in `data`."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(data, dict):
        for key, item in data.items():
            if is_sensitive_key(key) and isinstance(item, (str, int, float)) and not isinstance(item, bool):
                found.add(str(item))
            elif isinstance(item, (dict, list)):
                _sensitive_values(item, found, depth + 1)
            if isinstance(key, str) and is_sensitive_key(key):
                _sensitive_text(key, found, depth + 1)
    elif isinstance(data, list):
        for item in data:
            _sensitive_values(item, found, depth + 1)


def _sensitive_text(text: str, found: set[str], depth: int = 0) -> None:
    """Secrets inside a text that is JSON or a query string (a request body, a form key)."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and len(stripped) <= _MAX_SECRET_BODY:
        try:
            _sensitive_values(json.loads(stripped), found, depth + 1)
            return
        except (ValueError, RecursionError):
            pass
    if "=" in text:
        _sensitive_values({key: value for key, value in parse_qsl(text, keep_blank_values=True)}, found, depth + 1)


def request_secrets(request: Any) -> tuple[str, ...]:
    """The secrets one Django request carries, each in the encodings an event may show it in: the Authorization
    credential, the values of sensitive cookies, query parameters and body fields (JSON, form or multipart,
    whatever the content type says).  Read only when an event is about to be sent; never raises."""
    found: set[str] = set()
    try:
        meta = request.META
        header = str(meta.get("HTTP_AUTHORIZATION") or "")
        if header:
            found.add(header)
            found.update(part for part in header.split() if len(part) >= 8)
        found.update(str(value) for name, value in request.COOKIES.items() if is_sensitive_key(name))
        query = meta.get("QUERY_STRING") or ""
        if query:
            _sensitive_text(query, found)
        body = _readable_body(request)
        if body:
            _sensitive_text(body, found)
        posted = getattr(request, "_post", None)  # a multipart form already parsed by the view
        if posted is not None:
            _sensitive_values(dict(posted.items()), found)
    except Exception:  # best effort: the patterns still apply
        pass
    secrets: set[str] = set()
    for secret in found:
        if len(secret) >= _MIN_SECRET_LENGTH:
            secrets.update(_encodings(secret))
    return tuple(sorted(secrets, key=len, reverse=True))  # longest first: no partial replacement of a longer one


def _readable_body(request: Any) -> str | None:
    """The request body as text when it was read already or is small and not a stream of files."""
    content_type = str(request.META.get("CONTENT_TYPE") or "")
    if content_type.startswith("multipart/"):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= _MAX_SECRET_BODY:
        return None
    try:
        raw = request.body
    except Exception:  # the stream was consumed another way, or too big: nothing to read
        return None
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
