"""`make test`: pytest, with a throwaway redis-server when none answers on REDIS_URL.

Redis is read by the settings at import (cache, broker, metrics store), so it has to be in place before pytest
starts; PostgreSQL is only needed once a test asks for the database, so conftest.py starts that one on demand.

    python -m tests.run [pytest arguments]
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest

from stack import tools


def throwaway_redis() -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([tools.require("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", tempfile.gettempdir()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while not tools.port_answers("127.0.0.1", port, timeout=0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"redis-server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    return proc, port


def main(argv: list[str]) -> int:
    url = os.environ.get("REDIS_URL", "")
    parts = urllib.parse.urlsplit(url)
    if not url.startswith("redis://") or tools.port_answers(parts.hostname or "127.0.0.1", parts.port or 6379):
        return pytest.main(argv)
    proc, port = throwaway_redis()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}{parts.path or '/0'}"
    print(f"no Redis answering on {url}: started a throwaway redis-server at {os.environ['REDIS_URL']}")
    try:
        return pytest.main(argv)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
