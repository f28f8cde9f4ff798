"""A subscriber's webhook for the tests: a real HTTP server in a thread that verifies each delivery's
Standard Webhooks signature on its own (not with popreg's code) and keeps what it accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The recipe of docs/events.md: HMAC-SHA256 over ``id.timestamp.body`` with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, candidate) for candidate in headers["webhook-signature"].split())


@dataclass
class Receiver:
    """``status`` is what it answers (200, 503, 410...); ``hold`` makes it wait before answering."""

    secret: str = ""
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    refused_signatures: int = 0
    requests: int = 0
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.lock:
                    receiver.requests += 1
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                status = receiver.status
                if status == 200:
                    with receiver.lock:
                        if receiver.secret and verify(receiver.secret, headers, body):
                            event = json.loads(body)
                            assert event["id"] == headers["webhook-id"]
                            receiver.received.append(event)
                        else:
                            receiver.refused_signatures += 1
                            status = 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def events_of(self, pin: str) -> list[dict[str, Any]]:
        with self.lock:
            return [event for event in self.received if event["pin"] == pin]
