"""A web server on 127.0.0.1 with one document, for faxes sent by URL.

``/doc.txt`` is a small text document, ``/moved`` redirects to it (302), anything else
is 404.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.servers.ports import HOST

DOCUMENT = b"Fetched document\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/doc.txt")
            self.end_headers()
            return
        if self.path != "/doc.txt":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(DOCUMENT)))
        self.end_headers()
        self.wfile.write(DOCUMENT)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def document_server() -> Iterator[str]:
    """The server running; yields its base URL (``http://127.0.0.1:<port>``)."""
    server = http.server.ThreadingHTTPServer((HOST, 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
