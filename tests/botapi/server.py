"""The HTTP side: a threading server on 127.0.0.1 that routes ``/bot<token>/<method>`` to the
stand-in's methods and ``/file/bot<token>/<path>`` to its files, answering like the Bot API
(``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``;
an unknown method is a 404 "Not Found: method not found")."""

from __future__ import annotations

import contextlib
import copy
import email.utils
import json
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tests.botapi.calls import ApiError, Call
from tests.botapi.entities import JSONDict
from tests.botapi.params import normalize, raw_params
from tests.botapi.state import Method

if TYPE_CHECKING:
    from tests.botapi.stub import BotApiStub

_DESCRIPTIONS = {"setWebhook": "Webhook was set", "deleteWebhook": "Webhook was deleted"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, stub: BotApiStub, port: int = 0) -> None:
        self.stub = stub
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # Without this every response stalls ~40 ms (Nagle + delayed ACK on keep-alive).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BotApiStub/1.0"
    sys_version = ""
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        _serve(self.server.stub, self)

    def do_POST(self) -> None:
        _serve(self.server.stub, self)


# ================================================================ reading and writing


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "application/json",
) -> None:
    """One write for head + body (plus TCP_NODELAY): no Nagle stalls on keep-alive."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    keep_alive = not handler.close_connection
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"Server: {handler.server_version}\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        "\r\n"
    )
    try:
        handler.wfile.write(head.encode("latin-1") + body)
    except OSError:  # the client went away (e.g. a cancelled long poll)
        handler.close_connection = True


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: JSONDict) -> None:
    _send(handler, status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _reply_error(handler: BaseHTTPRequestHandler, err: ApiError) -> None:
    payload: JSONDict = {"ok": False, "error_code": err.status, "description": err.description}
    if err.parameters:
        payload["parameters"] = err.parameters
    _send_json(handler, err.status, payload)


# ================================================================ routing


def _serve(stub: BotApiStub, handler: _Handler) -> None:
    arrived = time.monotonic()
    try:
        body = _read_body(handler)
    except (OSError, ValueError):
        handler.close_connection = True
        return
    url = urlsplit(handler.path)
    if url.path.startswith("/file/bot"):
        _serve_file(stub, handler, url.path, arrived)
        return
    m = re.fullmatch(r"/bot([^/]*)/([^/]*)", url.path)
    if not m:
        _reply_error(handler, ApiError(404, "Not Found"))
        return
    exchange = _Exchange(stub, handler, m.group(2), arrived)
    exchange.run(unquote(m.group(1)), url.query, body)


def _serve_file(stub: BotApiStub, handler: _Handler, path: str, arrived: float) -> None:
    rest = unquote(path[len("/file/bot") :])  # PTB percent-encodes the path (":" too)
    token, _, file_path = rest.partition("/")
    stored = stub._file_at(token, file_path)
    status = 200 if stored else (401 if token != stub.token else 404)
    call = Call(
        "file", {"file_path": file_path}, arrived, status=status, http_method=handler.command
    )
    stub._record(call)
    if stored is None:
        _reply_error(handler, ApiError(status, "Unauthorized" if status == 401 else "Not Found"))
        return
    _send(handler, 200, stored.content, stored.mime_type or "application/octet-stream")


class _Dropped(Exception):
    """A queued fault: close the connection without an answer."""


class _Exchange:
    """One Bot API request: parse, check, fault or call, record, answer."""

    def __init__(self, stub: BotApiStub, handler: _Handler, requested: str, arrived: float):
        self.stub = stub
        self.handler = handler
        self.arrived = arrived
        known = stub._methods.get(requested.lower())
        self.canonical = known[0] if known else requested
        self.method: Method | None = known[1] if known else None
        self.content_type = handler.headers.get("Content-Type", "")
        self.params: JSONDict = {}

    def run(self, token: str, query: str, body: bytes) -> None:
        try:
            raw = raw_params(query, self.content_type, body)
            self.params = raw  # recorded as sent if they don't normalize
            self.params = normalize(raw)
            result = self._call(token)
        except _Dropped:
            self._record(0, description="connection dropped")
            self.handler.close_connection = True
            return
        except ApiError as err:
            self._record(err.status, description=err.description)
            _reply_error(self.handler, err)
            return
        except Exception as exc:  # a bug in the stub: say so loudly, like a 500 would
            self._record(500, description=f"stub error: {exc!r}")
            _reply_error(self.handler, ApiError(500, f"Internal Server Error: stub error: {exc!r}"))
            raise
        payload: JSONDict = {"ok": True, "result": result}
        if self.canonical in _DESCRIPTIONS:
            payload["description"] = _DESCRIPTIONS[self.canonical]
        self._record(200, result=copy.deepcopy(result))
        _send_json(self.handler, 200, payload)

    def _call(self, token: str) -> Any:
        if token != self.stub.token:
            if re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                raise ApiError(401, "Unauthorized")
            raise ApiError(404, "Not Found")
        if self.method is None:
            raise ApiError(404, "Not Found: method not found")
        fault = self.stub._take_fault(self.canonical)
        if fault is not None and fault.kind == "drop":
            raise _Dropped
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        elif fault is not None:
            parameters = {"retry_after": fault.retry_after} if fault.retry_after else None
            raise ApiError(fault.status, fault.description, parameters)
        with self.stub._lock:
            return self.method(self.params)

    def _record(self, status: int, result: Any = None, description: str | None = None) -> None:
        self.stub._record(
            Call(
                self.canonical,
                self.params,
                self.arrived,
                status=status,
                result=result,
                description=description,
                http_method=self.handler.command,
                content_type=self.content_type.split(";")[0].strip(),
            )
        )
