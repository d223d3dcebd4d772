"""A lean HTTP/1.1 client for the few calls a rewrite makes.

Why not the official `ollama` client here: importing it (httpx, pydantic) costs about
0.2 s, and asyncio another 50 ms, against a start-up budget of 60 ms for the whole CLI
(bench/README.md has the figures). This client is blocking, one connection per request,
and can be closed from another thread: that is how a rewrite is cancelled, and closing
the connection is what makes Ollama stop generating.

All socket and HTTP failures become RewriteError subclasses here, and only here.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
import socket
import threading
import time

from .errors import HostUnreachable, ServerError
from .hosts import Host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from io import BufferedReader
    from typing import Any

USER_AGENT = "rewrite/0.1"
ACCEPT = {
    "ollama": "application/x-ndjson, application/json",
    "openai": "text/event-stream, application/json",
}
_MAX_LINE = 1 << 20  # bytes: one NDJSON line or event line; a reply is far shorter
_MAX_HEADER_LINE = 8192
_MAX_HEADERS = 100
_MAX_BODY = 16 << 20  # bytes: a plain JSON answer (listings, errors) or one chunk
_MORE_THAN_ACCEPTED = f"more than the {_MAX_BODY >> 20} MB rewrite accepts"


class Response:
    """An open HTTP response; use as a context manager so the connection always closes."""

    def __init__(
        self,
        host: Host,
        sock: socket.socket,
        reader: BufferedReader,
        timeout: float | None,
        deadline: float | None = None,
    ) -> None:
        self.host = host
        self._sock = sock
        self._reader = reader
        self._timeout = timeout
        self._deadline = deadline  # time.monotonic() by which the whole reply must be in
        self._closed = threading.Event()
        self.status = 0  # until the status line has arrived
        self.status, self.headers = self._read_head()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed_by_us(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Close the connection; safe from any thread, and more than once."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def read_all(self) -> bytes:
        return b"".join(self._body())

    def json(self) -> Any:
        body = self.read_all()
        try:
            return loads(body)
        except ValueError:
            raise self._error(f"sent a reply that is not JSON: {body[:80]!r}") from None

    def iter_json_lines(self) -> Iterator[dict[str, Any]]:
        """Each NDJSON object as it arrives; chunk boundaries may fall anywhere."""
        for line in self._lines():
            if line.strip():
                yield self._parse_line(line)

    def _lines(self) -> Iterator[bytes]:
        """The body's lines (without their newline), in time linear in the body, none longer
        than _MAX_LINE; the last one must end with its newline."""
        pending = bytearray()
        for data in self._body():
            searched = len(pending)
            pending += data
            start = 0
            while (end := pending.find(b"\n", max(start, searched))) >= 0:
                yield bytes(pending[start:end])
                start = end + 1
            del pending[:start]
            if len(pending) > _MAX_LINE:
                raise self._error(f"sent a line longer than {_MAX_LINE >> 20} MB")
        if bytes(pending).strip():
            raise self._error("ended the reply in the middle of a line")

    def iter_events(self) -> Iterator[tuple[str, str]]:
        """Server-sent events as (event type, data), each once its blank line has arrived;
        chunk boundaries may fall anywhere."""
        event, data = "", list[str]()
        for raw in self._lines():
            line = self._decode(raw.rstrip(b"\r"))
            if not line:
                if data:
                    yield event or "message", "\n".join(data)
                event, data = "", []
            elif not line.startswith(":"):  # a comment line keeps a proxy's idle timer
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    data.append(value)
                    if sum(len(part) for part in data) > _MAX_LINE:
                        raise self._error(f"sent an event longer than {_MAX_LINE >> 20} MB")
                elif field == "event":
                    event = value
        if data:  # the last event without its blank line
            yield event or "message", "\n".join(data)

    def _decode(self, line: bytes) -> str:
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise self._error(f"sent a line that is not UTF-8: {line[:80]!r}") from None

    def _parse_line(self, line: bytes) -> dict[str, Any]:
        try:
            value = loads(line)
        except ValueError:
            raise self._error(f"sent a malformed line: {line[:80]!r}") from None
        if not isinstance(value, dict):
            raise self._error(f"sent a malformed line: {line[:80]!r}")
        return value

    def _error(self, what: str) -> ServerError:
        return ServerError(
            f"the server at {self.host} {what}", host=self.host.url, status=self.status
        )

    def _read_head(self) -> tuple[int, dict[str, str]]:
        status_line = self._readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ServerError(
                f"{self.host} did not answer like an Ollama server", host=self.host.url
            )
        headers: dict[str, str] = {}
        for count in range(_MAX_HEADERS + 1):
            if not (line := self._readline(_MAX_HEADER_LINE).strip()):
                break
            if count == _MAX_HEADERS:
                raise self._error(f"sent more than {_MAX_HEADERS} header lines")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def _readline(self, limit: int = _MAX_HEADER_LINE) -> bytes:
        line = self._io(lambda: self._reader.readline(limit + 1))
        if not line:
            raise self._closed_early()
        if len(line) > limit:
            raise self._error(f"sent a line of more than {limit} bytes where a short one belongs")
        return line

    def _body(self) -> Iterator[bytes]:
        """The body's bytes as they arrive; it ends quietly once we closed the connection."""
        try:
            if "chunked" in self.headers.get("transfer-encoding", "").lower():
                yield from self._chunked_body()
            elif "content-length" in self.headers:
                yield self._read_exactly(self._length(self.headers["content-length"]))
            else:
                while data := self._io(lambda: self._reader.read1(65536)):
                    yield data
        except ServerError:
            if not self.closed_by_us:
                raise

    def _chunked_body(self) -> Iterator[bytes]:
        while True:
            size_text = self._readline().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise self._error("sent a broken chunked body") from None
            if not 0 <= size <= _MAX_BODY:
                raise self._error(f"sent a chunk of {size:,} bytes, {_MORE_THAN_ACCEPTED}")
            if size == 0:
                while self._readline().strip():  # trailers
                    pass
                return
            data = self._read_exactly(size)
            self._readline()
            yield data

    def _length(self, text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,20}", text.strip()):
            raise self._error(f"sent a Content-Length that is not a number: {text[:20]!r}")
        if int(text) > _MAX_BODY:
            raise self._error(f"announced a body of {int(text):,} bytes, {_MORE_THAN_ACCEPTED}")
        return int(text)

    def _read_exactly(self, size: int) -> bytes:
        data = self._io(lambda: self._reader.read(size))
        if len(data) < size:
            raise self._closed_early()
        return data

    def _io(self, operation: Callable[[], bytes]) -> bytes:
        late = self._deadline is not None and not self.closed_by_us and self._wait_left() <= 0
        if late:
            raise self._error("took longer than the deadline for a whole reply")
        try:
            return operation()
        except TimeoutError:
            if self._deadline is not None and self._wait_left() <= 0:
                raise self._error("took longer than the deadline for a whole reply") from None
            raise self._error(f"sent nothing for {self._timeout:g} s (timeout)") from None
        except (OSError, ValueError) as exc:  # ValueError: the file was closed under us
            if self.closed_by_us:
                return b""
            raise self._error(f"broke the connection: {exc}") from None

    def _wait_left(self) -> float:
        """Seconds until the deadline; the socket waits no longer than that for a read."""
        assert self._deadline is not None
        left = self._deadline - time.monotonic()
        if self._timeout is not None and left > self._timeout:
            return left  # the socket's own timeout comes first: it is set already
        with contextlib.suppress(OSError):
            self._sock.settimeout(max(0.001, left))
        return left

    def _closed_early(self) -> ServerError:
        return self._error("closed the connection before the reply was complete")


# Told of each connection a request opens on this thread or task, so that a caller who
# gives up (a lost hedging race) can close it while it still waits for the response head.
ON_CONNECT: contextvars.ContextVar[Callable[[socket.socket], None] | None] = contextvars.ContextVar(
    "rewrite_on_connect", default=None
)


def request(
    host: Host,
    method: str,
    path: str,
    body: Any = None,
    *,
    timeout: float | None,
    connect_timeout: float = 5.0,
    deadline: float | None = None,
) -> Response:
    """Send one request and return once the response head has arrived.

    `timeout` bounds each wait for the server; None waits as long as it takes (a model
    load must never be cut short: closing the connection aborts it). `deadline`, a
    time.monotonic() value, bounds the whole reply, however steadily it streams."""
    payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    head = _head(host, method, path, len(payload))
    sock = _connect(host, connect_timeout if timeout is None else min(connect_timeout, timeout))
    if (told := ON_CONNECT.get()) is not None:
        told(sock)
    sock.settimeout(timeout)
    try:
        sock.sendall(head + payload)
        return Response(host, sock, sock.makefile("rb"), timeout, deadline)
    except OSError as exc:
        sock.close()
        if isinstance(exc, (TimeoutError, socket.timeout)):
            raise ServerError(
                f"the server at {host} sent nothing for {timeout:g} s (timeout)", host=host.url
            ) from None
        raise ServerError(
            f"the server at {host} broke the connection: {exc}", host=host.url
        ) from None
    except BaseException:
        sock.close()
        raise


def _head(host: Host, method: str, path: str, length: int) -> bytes:
    """The request head: the host's own headers (auth, read from the environment now) may
    replace any of the defaults."""
    name = f"[{host.host}]" if ":" in host.host else host.host
    headers = {
        "Host": f"{name}:{host.port}",
        "User-Agent": USER_AGENT,
        "Accept": ACCEPT[host.api],
        "Content-Type": "application/json",
    }
    for key, value in host.request_headers().items():
        headers = {k: v for k, v in headers.items() if k.lower() != key.lower()}
        headers[key] = value.replace("\r", "").replace("\n", "")
    lines = [f"{method} {host.path}{path} HTTP/1.1"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    lines += [f"Content-Length: {length}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("utf-8")


def _connect(host: Host, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((host.host, host.port), timeout=timeout)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise HostUnreachable(
            f"no {host.kind} answers at {host} ({reason})", hosts=(host.url,), api=host.api
        ) from None
    if host.scheme == "https":
        import ssl

        try:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host.host)
        except OSError as exc:
            sock.close()
            raise HostUnreachable(
                f"TLS to {host} failed: {exc}", hosts=(host.url,), api=host.api
            ) from None
    return sock


def loads(data: bytes | str) -> Any:
    """json.loads, where nesting too deep for Python's stack is a ValueError like the rest."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def error_message(response: Response) -> str:
    """What an error body says: Ollama's `{"error": "..."}`, OpenAI's
    `{"error": {"message": "..."}}`, FastAPI's `{"detail": ...}`, or the body itself."""
    body = response.read_all()
    text = body.decode("utf-8", "replace").strip()
    try:
        value = loads(body)
    except ValueError:
        return text or f"HTTP {response.status}"
    return message_in(value) or text


def message_in(value: Any) -> str | None:
    """The message of a decoded error object, in any of the shapes servers send."""
    if not isinstance(value, dict):
        return None
    for key in ("error", "detail", "message"):
        found = value.get(key)
        if isinstance(found, str) and found.strip():
            return found.strip()
        if isinstance(found, dict):
            return message_in(found)
        if isinstance(found, list) and found:  # FastAPI's validation errors
            return "; ".join(str(message_in(item) or item) for item in found[:3])
    return None


def retry_after(headers: dict[str, str], default: float) -> float:
    """Seconds the server asks us to wait (Retry-After: seconds or an HTTP date)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        import time

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return default
