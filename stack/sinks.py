"""Local page receivers: an SMTP catcher and a webhook receiver standing in for Slack and PagerDuty.

Alertmanager pages land here when no real receivers are configured, so "receive Alertmanager pages"
works out of the box.  Every page is appended as one JSON line to a store file and listed by
`GET /pages` (and `make pages`).  Tests use the same class in-process.  In production mode
(STACK_ENV=production) it also stands in for Sentry's ingestion endpoint: envelopes are counted
(`GET /sentry`), not stored.

    python -m stack.sinks --http-port 9099 --smtp-port 1025 --store var/stack/pages.jsonl
"""
from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

MAX_BODY = 1_000_000


SENTRY_ENVELOPE = re.compile(r"^/api/\d+/envelope/")


class PageStore:
    def __init__(self, path: Path | None = None):
        self.path = path
        self.lock = threading.Lock()
        self.pages: list[dict] = []
        self.sentry = {"envelopes": 0, "bytes": 0}  # STACK_ENV=production: the app's Sentry SDK sends here

    def add(self, page: dict) -> None:
        page = {"received_at": time.time(), **page}
        with self.lock:
            self.pages.append(page)
            if self.path is not None:
                with self.path.open("a") as fh:
                    fh.write(json.dumps(page, sort_keys=True) + "\n")

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.pages)


FIRING = re.compile(r"\[FIRING:\d+\] (\w+)")
RESOLVED = re.compile(r"\[RESOLVED\] (\w+)")


def read_store(path: Path) -> list[dict]:
    """The pages a sinks process wrote to its --store file (one JSON object a line), oldest first; none without
    the file."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def firing_alerts(page: dict) -> set[str]:
    """The alerts a page announces as firing (a resolution announces none): every receiver's text carries
    the templates' "[FIRING:n] AlertName" title (alertmanager/templates/studio.tmpl)."""
    return set(FIRING.findall(json.dumps(page)))


def resolved_alerts(page: dict) -> set[str]:
    """The alerts a page announces resolved (the templates' "[RESOLVED] AlertName" title)."""
    return set(RESOLVED.findall(json.dumps(page)))


def receiver_for(path: str) -> str:
    """/slack/... -> slack, /pagerduty/... -> pagerduty, anything else -> its first segment or webhook."""
    first = path.strip("/").split("/", 1)[0].split("?", 1)[0]
    return first or "webhook"


def sender_of(path: str, body) -> str | None:
    """Which Alertmanager sent a webhook: its ?alertmanager= name (a cluster member's heartbeat URL, see
    alertmanager/render_config.py peer_name), else the externalURL of its payload; None when neither says."""
    named = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("alertmanager")
    if named:
        return named[0]
    if isinstance(body, dict) and isinstance(body.get("externalURL"), str):
        return body["externalURL"]
    return None


def make_http_handler(store: PageStore):
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict | list) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.startswith("/pages"):
                self._reply(200, store.snapshot())
            elif self.path.startswith("/sentry"):
                with store.lock:
                    self._reply(200, dict(store.sentry))
            elif self.path.startswith("/healthz"):
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, {"error": "too large"})
                return
            raw = self.rfile.read(length)
            if SENTRY_ENVELOPE.match(self.path):
                # Sentry's ingestion endpoint, for the SDK's real cost (compression, the transport thread):
                # counted, not stored, and no page.
                with store.lock:
                    store.sentry["envelopes"] += 1
                    store.sentry["bytes"] += len(raw)
                self._reply(200, {})
                return
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = raw.decode("utf8", errors="replace")
            page = {"receiver": receiver_for(self.path), "path": self.path, "body": body}
            if sender := sender_of(self.path, body):
                page["alertmanager"] = sender  # the dead-man's switch must hear from each member of a cluster
            store.add(page)
            # Slack answers "ok"; PagerDuty's Events API answers 202 with a status.
            self._reply(202 if "pagerduty" in self.path else 200, {"status": "success", "message": "ok"})

        def log_message(self, *args):  # quiet: pages are recorded in the store
            pass

    return Handler


class SmtpHandler:
    def __init__(self, store: PageStore):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain", "html"))
        self.store.add({
            "receiver": "email",
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message.get("Subject", "")),
            "body": part.get_content() if part is not None else "",
        })
        return "250 OK"


class PageSinks:
    def __init__(self, http_port: int, smtp_port: int, host: str = "127.0.0.1", store: Path | None = None):
        self.store = PageStore(store)
        self.http = ThreadingHTTPServer((host, http_port), make_http_handler(self.store))
        self.smtp = Controller(SmtpHandler(self.store), hostname=host, port=smtp_port)
        self.http_thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def pages(self) -> list[dict]:
        return self.store.snapshot()

    def start(self) -> PageSinks:
        self.smtp.start()
        self.http_thread.start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.smtp.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.sinks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=9099)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--store", type=Path, default=None, help="append every page here as JSON lines")
    args = parser.parse_args(argv)
    sinks = PageSinks(args.http_port, args.smtp_port, args.host, args.store).start()
    print(f"page sinks: webhooks on http://{args.host}:{args.http_port}/<receiver>, "
          f"SMTP on {args.host}:{args.smtp_port}, pages at http://{args.host}:{args.http_port}/pages", flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    sinks.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
