"""A round-robin reverse proxy in front of the bot's webhook workers, as nginx's `upstream` block
would be: each POST goes to the next worker; a worker that cannot be reached is skipped (nginx's
`proxy_next_upstream error`, for a worker that refuses the connection: a request a worker took
is never sent to another), so a dead worker costs no update. Every forwarded update is
recorded with the worker that took it."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Forwarded:
    update: dict  # type: ignore[type-arg]
    worker: int  # index into the proxy's backends
    status: int


class RoundRobinProxy:
    """Forwards POSTs to `backends` (ports on 127.0.0.1) in turn; `url` is where to send."""

    def __init__(self, backends: list[int], path: str = "/tg") -> None:
        self.backends = backends
        self.path = path
        self.forwarded: list[Forwarded] = []
        self.on_forward: Callable[[dict, int], None] | None = None  # type: ignore[type-arg]
        self._next = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                status = proxy.forward(self.path, body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """The status of the first worker that answers, in round-robin order (502: none)."""
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.backends)
        update = json.loads(body or b"{}")
        for step in range(len(self.backends)):
            worker = (start + step) % len(self.backends)
            if self.on_forward is not None:
                self.on_forward(update, worker)
            conn = http.client.HTTPConnection("127.0.0.1", self.backends[worker], timeout=30)
            try:
                conn.connect()
            except OSError:
                continue  # that worker is down: the next one (nothing was sent to it)
            try:
                conn.request("POST", path, body, headers)
                status = conn.getresponse().status
            except OSError:  # it took the request and broke: not sent twice (nginx's default)
                status = 502
            finally:
                conn.close()
            with self._lock:
                self.forwarded.append(Forwarded(update, worker, status))
            return status
        return 502

    def worker_of(self, key: str, value: object) -> int | None:
        """The worker that took the update whose `key` part (e.g. "callback_query") has this
        id or data (the last one when several)."""
        for f in reversed(self.forwarded):
            part = f.update.get(key)
            if isinstance(part, dict) and value in (part.get("id"), part.get("data")):
                return f.worker
        return None

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
