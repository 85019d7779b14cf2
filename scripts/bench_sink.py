"""A stand-in OTLP/HTTP trace collector for `make bench`: accepts every export and discards it.

Runs as its own process so that its CPU is counted apart from the stack's. Prints the port it
listens on (loopback, chosen by the system), then serves until terminated. GET /stats answers
how many exports and bytes it received.

    python scripts/bench_sink.py
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    exports = 0
    received_bytes = 0

    def do_POST(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with Sink.lock:
            Sink.exports += 1
            Sink.received_bytes += length
        # An empty body is a valid ExportTraceServiceResponse: everything was accepted.
        self._answer(200 if self.path == "/v1/traces" else 404, b"", "application/x-protobuf")

    def do_GET(self) -> None:  # noqa: N802
        with Sink.lock:
            stats = {"exports": Sink.exports, "bytes": Sink.received_bytes}
        self._answer(200, json.dumps(stats).encode(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Quiet: one line per export would cost more than the export."""


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
