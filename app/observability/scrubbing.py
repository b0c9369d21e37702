"""What counts as a secret or personal data, in one place: Sentry's before_send and the JSON log formatter use it.

Plain Python (no Django, no Sentry import): the settings import the logging module, which imports this.
"""
from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"
EMAIL_MASK = "[email]"

# Keys whose value is a secret wherever they appear: request headers, cookies, POST data, frame
# locals, extra, contexts, breadcrumb data.  Matched anywhere in the key, case-insensitively.
SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|private[-_]?key|authorization|^auth$|"
    r"cookie|csrf|sessionid|session[-_]?(id|key)|credential|signature|routing[-_]?key|dsn|"
    r"credit[-_]?card|card[-_]?number|cvv|iban",
    re.IGNORECASE)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# `password=...` / `token=...` inside query strings, URLs, messages.
SECRET_ASSIGNMENT = re.compile(
    r"((?:pass(?:word|wd)?|pwd|secret|token|api[-_]?key|access[-_]?key|auth|sessionid|csrftoken)=)[^&\s'\",;)]+",
    re.IGNORECASE)
# `"password": "..."` inside JSON text (a request body Sentry could not parse).
SECRET_JSON_MEMBER = re.compile(
    r'("[^"]*(?:pass(?:word|wd)?|secret|token|api[-_]?key|sessionid)[^"]*"\s*:\s*)"[^"]*"', re.IGNORECASE)
# `Authorization: Token abc` / `Bearer abc` inside free text.
AUTH_SCHEME = re.compile(r"\b(Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def is_sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and SENSITIVE_KEY.search(key) is not None


def scrub_text(text: str, *, keep_email: bool) -> str:
    if "=" in text:
        text = SECRET_ASSIGNMENT.sub(r"\1" + FILTERED, text)
    if '":' in text or '" :' in text:
        text = SECRET_JSON_MEMBER.sub(r'\1"' + FILTERED + '"', text)
    if " " in text:
        text = AUTH_SCHEME.sub(r"\1 " + FILTERED, text)
    if not keep_email and "@" in text:
        text = EMAIL.sub(EMAIL_MASK, text)
    return text


def scrub(value: Any, *, keep_email: bool, _depth: int = 0) -> Any:
    """A copy-free, in-place scrub of dicts and lists; strings are returned scrubbed."""
    if _depth > 20:
        return value
    if isinstance(value, str):
        return scrub_text(value, keep_email=keep_email)
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None or item == "":
                continue
            if is_sensitive_key(key):
                value[key] = FILTERED
            elif isinstance(item, (str, dict, list)):
                value[key] = scrub(item, keep_email=keep_email, _depth=_depth + 1)
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, list) and len(item) == 2 and is_sensitive_key(item[0]):
                item[1] = FILTERED  # [name, value] pairs: Sentry's header and query lists
            elif isinstance(item, (str, dict, list)):
                value[index] = scrub(item, keep_email=keep_email, _depth=_depth + 1)
        return value
    return value
