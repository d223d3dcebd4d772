"""The HTTP side: a threading HTTP/1.1 server, routing, bodies, chunked streams cut inside
lines, the faults as they show on the wire, and waits that notice a client hanging up.

Each API family is a Dialect: its error bodies, its 401 body, and its stream Framing
(Ollama's NDJSON lines, or the OpenAI-compatible server-sent events).
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .faults import Fault
from .formats import RUNNER_STOPPED, ApiError, go_json
from .waiting import Abort, ClientGone, wait

if TYPE_CHECKING:
    from .server import LoggedRequest, StandIn

STAND_IN_HEADER = "X-Rewrite-Stand-In"
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
Batches = Generator[list[Any], None, None]  # items to write together, batch after batch


@dataclass(frozen=True)
class Framing:
    """How a streamed body is made of items (lines, events), and what stream faults write."""

    content_type: str
    encode: Callable[[Any], bytes]  # one item
    malformed: bytes  # the broken item "malformed" inserts
    error: Callable[[str], bytes]  # the item "error_midstream" ends the stream with
    error_event: Callable[[str], bytes]  # the item "error_event" ends the stream with
    filler: bytes  # what "truncate" cuts in half when no item is left
    trailer: bytes = b""  # written after the last item (an item too)


@dataclass(frozen=True)
class Dialect:
    """How one API family answers errors and streams."""

    error_body: Callable[[int, str, str | None], Any]  # status, message, error type
    default_message: Callable[[int, str], str]  # status, the model the request named
    malformed_body: bytes  # a non-streamed body broken by "malformed"
    unauthorized: Any  # the body of a 401
    framing: Framing


Endpoint = Callable[["Handler"], None]


class Router:
    """Endpoints by path and method, and the dialect of each path prefix."""

    def __init__(
        self, routes: dict[str, dict[str, Endpoint]], dialects: dict[str, Dialect]
    ) -> None:
        self.routes = routes
        self._dialects = sorted(dialects.items(), key=lambda item: len(item[0]), reverse=True)

    def dialect(self, path: str) -> Dialect:
        return next(dialect for prefix, dialect in self._dialects if path.startswith(prefix))


def route_of(path: str) -> str:
    """The path without its query."""
    return path.split("?", 1)[0]


def shutdown_quietly(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class ResponseEnded(Exception):
    """The response was finished early (a fault ended the stream cleanly)."""


class HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], standin: StandIn, router: Router) -> None:
        super().__init__(address, Handler)
        self.standin = standin
        self.router = router
        self.stopping = threading.Event()
        self.wake_reader, self.wake_writer = socket.socketpair()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a vanished client is not news
            super().handle_error(request, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HttpServer
    log: LoggedRequest  # the request being answered
    dialect: Dialect  # how its path answers
    fault: Fault | None  # a fault still to apply to this response
    started_ns: int  # perf_counter_ns when the request arrived

    @property
    def standin(self) -> StandIn:
        return self.server.standin

    def setup(self) -> None:
        super().setup()
        # Go sets TCP_NODELAY too; without it small chunks would wait on delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.standin._track(self.server, self.connection):
            shutdown_quietly(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.standin._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log replaces http.server's stderr lines."""

    def send_response(self, code: int, message: str | None = None) -> None:
        """Like the base class, without a Server header (Ollama sends none), and with one
        header no real server sends, so a test for a real Ollama can tell them apart."""
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
        self.send_header(STAND_IN_HEADER, "1")

    # one request

    def _dispatch(self) -> None:
        self.started_ns = time.perf_counter_ns()
        raw = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.log = self.standin._log_request(self.command, self.path, raw, headers)
        self.dialect = self.server.router.dialect(route_of(self.path))
        self.fault = None
        try:
            self._respond()
        except ResponseEnded:
            pass
        except ClientGone:
            self.close_connection = True
            if not self.server.stopping.is_set():
                self.standin._update(self.log, disconnected=True)
        except Abort:
            self.close_connection = True
            shutdown_quietly(self.connection)
        finally:
            self.standin._request_done(self.log)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(parts)
        length = self.headers.get("Content-Length", "0")
        return self.rfile.read(int(length)) if length.isdigit() and int(length) > 0 else b""

    def _respond(self) -> None:
        if not self.standin._authorized(self.log.headers):
            self.send_json(401, self.dialect.unauthorized)
            return
        self.fault = self.standin._take_fault(route_of(self.path))
        if self.fault is not None and self.fault.kind in ("status", "stall_headers", "raw"):
            fault, self.fault = self.fault, None
            self._early_fault(fault)
            return
        methods = self.server.router.routes.get(route_of(self.path))
        if methods is None:
            self.send_body(404, "text/plain", b"404 page not found")
        elif self.command not in methods:
            self.send_body(405, "text/plain", b"405 method not allowed")
        else:
            try:
                methods[self.command](self)
            except ApiError as exc:
                self.send_error_body(exc.status, exc.message, exc.error_type)

    def _early_fault(self, fault: Fault) -> None:
        if fault.kind == "stall_headers":
            self.pause(fault.seconds)
            raise Abort
        if fault.raw is not None:  # until it ends or the client hangs up
            for data in fault.raw():
                self._send(data)
            raise Abort
        status = fault.status or 500
        model = self.log.body.get("model", "") if isinstance(self.log.body, dict) else ""
        message = fault.message or self.dialect.default_message(status, str(model))
        retry = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        self.send_error_body(status, message, None, retry)

    # writing whole bodies

    def send_error_body(
        self,
        status: int,
        message: str,
        error_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_json(status, self.dialect.error_body(status, message, error_type), headers)

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, JSON_TYPE, go_json(value), headers)

    def send_body(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        """A response with Content-Length; a pending fault bends it (see StandIn.fault)."""
        fault, self.fault = self.fault, None
        kind = fault.kind if fault else ""
        if kind == "die":
            raise Abort
        if kind in ("error_midstream", "error_event"):
            message = (fault and fault.message) or RUNNER_STOPPED
            status, body = 500, go_json(self.dialect.error_body(500, message, None))
        if kind == "malformed":
            body = self.dialect.malformed_body
        extra = headers or {}
        self._send_headers(
            status, {"Content-Type": content_type, "Content-Length": str(len(body)), **extra}
        )
        if kind == "stall":
            self.pause(fault.seconds if fault else 0.0)
            raise Abort
        if kind == "truncate":
            self._send(body[: len(body) // 2])
            raise Abort
        self._send_last(body if self.command != "HEAD" else b"")

    def _send(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:  # broken pipe, reset, or a socket shut down by stop()
            raise ClientGone from exc

    def _send_headers(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        try:
            self.end_headers()
        except OSError as exc:
            raise ClientGone from exc
        self.standin._update(self.log, status=status)

    def _send_last(self, data: bytes) -> None:
        """The last bytes of a response; the log says "completed" before the client sees them."""
        self.standin._update(self.log, completed=True)
        try:
            if data:
                self._send(data)
        except ClientGone:
            self.standin._update(self.log, completed=False)
            raise

    # writing streams

    def stream(self, batches: Batches, framing: Framing) -> None:
        """A chunked body of items; a pending fault strikes after `after_chunks` items."""
        fault, self.fault = self.fault, None
        with contextlib.closing(batches):
            self._send_headers(
                200, {"Content-Type": framing.content_type, "Transfer-Encoding": "chunked"}
            )
            for batch in batches:
                ready: list[bytes] = []
                for value in batch:
                    item = framing.encode(value)
                    if (
                        fault is not None
                        and self.log.chunks_sent + len(ready) == fault.after_chunks
                    ):
                        self._write_items(ready)
                        ready = []
                        self._stream_fault(fault, item, framing, batches)
                        fault = None
                    ready.append(item)
                self._write_items(ready)
            if fault is not None:
                self._stream_fault(fault, framing.filler, framing, batches)
            self._write_items([framing.trailer] if framing.trailer else [])
            self._end_stream()

    def _stream_fault(
        self, fault: Fault, next_item: bytes, framing: Framing, batches: Batches
    ) -> None:
        """Misbehave mid-stream; returns only for "malformed" (the stream then goes on)."""
        if fault.kind == "malformed":
            self._write_chunk(framing.malformed)
            return
        batches.close()  # whatever produced the items stops now (a real model included)
        if fault.kind == "stall":
            self.pause(fault.seconds)
            raise Abort
        if fault.kind == "die":
            raise Abort
        message = fault.message or RUNNER_STOPPED
        if fault.kind == "error_midstream":
            self._write_items([framing.error(message)])
        elif fault.kind == "error_event":
            self._write_items([framing.error_event(message)])
        else:  # truncate: half an item, no end of line, then a proper end of the body
            self._write_chunk(next_item[: len(next_item) // 2])
        self._end_stream()
        raise ResponseEnded

    def _write_items(self, items: list[bytes]) -> None:
        """Write items as HTTP chunks cut inside every item (even inside a UTF-8 sequence).

        Consecutive items share a chunk: the end of one and the start of the next.
        """
        if not items:
            return
        data = b"".join(items)
        cuts, offset = [0], 0
        for item in items:
            cuts.append(offset + max(1, len(item) // 2))
            offset += len(item)
        cuts.append(len(data))
        for start, end in itertools.pairwise(cuts):
            self._write_chunk(data[start:end])
        self.standin._update(self.log, chunks_sent=self.log.chunks_sent + len(items))

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self._send(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self._send_last(b"0\r\n\r\n")

    # waiting

    def token_pause(self) -> None:
        """The time one token takes (StandIn.token_delay); notices a client hanging up."""
        self.pause(self.standin.token_delay)

    def pause(self, seconds: float) -> None:
        """Wait, giving up at once when the client hangs up or the server stops."""
        wait(self.connection, self.server.wake_reader, seconds)

    def wait_signal(self, signal: socket.socket) -> None:
        """Wait until `signal` is readable (a slot is free), giving up likewise."""
        wait(self.connection, self.server.wake_reader, None, signal)


def unused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (for connection-refused tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
