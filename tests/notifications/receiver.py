"""A webhook receiver on 127.0.0.1 that checks signatures as a customer's would."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from connectors.webhook import verify_signature


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    valid: bool

    @property
    def event(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class Receiver:
    url: str
    secret: str
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200

    def events(self) -> list[dict[str, Any]]:
        return [d.event for d in self.deliveries if d.valid]


@contextmanager
def webhook_receiver(secret: str) -> Iterator[Receiver]:
    lock = threading.Lock()
    receiver = Receiver("", secret)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            with lock:
                receiver.deliveries.append(Delivery(headers, body, verify_signature(secret, headers, body)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/fax"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
