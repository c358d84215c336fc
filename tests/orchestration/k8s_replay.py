"""A local HTTP server that answers Kubernetes API requests from recorded responses.

The real ``kubernetes`` client talks to it over HTTP, so URL building, request bodies, JSON
decoding and ApiException handling are the client's own; only the API server is replaced.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "trainjob"


def fixture(name: str, status: int | None = None) -> tuple[int, str, bytes]:
    """(HTTP status, content type, body) of a recorded response file: a ``Status`` object's own
    code, else 200 (or ``status``: 201 for a create)."""
    body = (FIXTURES / name).read_bytes()
    if name.endswith(".txt"):
        return status or 200, "text/plain", body
    return status or json.loads(body).get("code", 200), "application/json", body


class Replay:
    """``replay.add("GET", path, response, ...)`` queues responses; the last one repeats."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], deque] = defaultdict(deque)
        self.requests: list[tuple[str, str, bytes]] = []  # (method, path?query, body)
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                replay.requests.append((self.command, self.path, body))
                queue = replay.routes.get((self.command, urlsplit(self.path).path))
                if not queue:
                    self.send_response(599, "no recorded response")
                    self.end_headers()
                    return
                code, ctype, payload = queue[0] if len(queue) == 1 else queue.popleft()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, method: str, path: str, *responses: tuple[int, str, bytes]) -> None:
        self.routes[(method, path)].extend(responses)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def api_client(self):
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.url
        return client.ApiClient(cfg)

    def __enter__(self) -> Replay:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
