"""SESSION_ENGINE: Django's database sessions, with the session cookie checked before it reaches the ORM.

Django accepts any cookie value of eight characters or more as a key to look up, and its cookie parser
turns an octal escape ("\\000") into a NUL, which PostgreSQL refuses with a DataError: an anonymous 500 from
one cookie.  The keys Django makes are 32 characters of [a-z0-9] (VALID_KEY_CHARS); anything else is no
session at all, as an unknown key is.
"""
from __future__ import annotations

import re

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

_KEY = re.compile(r"[a-z0-9]{8,64}")


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key):
        return bool(key) and isinstance(key, str) and _KEY.fullmatch(key) is not None
