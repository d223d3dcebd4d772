"""Talking to a stand-in over real sockets, for the stand-in's own tests: http.client for
whole replies, a raw socket to see every HTTP chunk as it was sent."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any

from .server import StandIn


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.data.splitlines() if line]


@dataclass
class RawReply:
    head: bytes
    chunks: list[bytes]
    terminated: bool  # the zero-size last chunk arrived

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def address(standin: StandIn) -> tuple[str, int]:
    host, port = standin.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def connect(standin: StandIn, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(*address(standin), timeout=timeout)


def encode(body: Any) -> bytes | None:
    return body if body is None or isinstance(body, bytes) else json.dumps(body).encode()


def call(
    standin: StandIn,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Reply:
    """One request on a fresh connection; the whole reply."""
    conn = connect(standin, timeout)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=encode(body), headers=sent)
        response = conn.getresponse()
        received = {name.lower(): value for name, value in response.getheaders()}
        return Reply(response.status, received, response.read())
    finally:
        conn.close()


def decode_chunked(data: bytes) -> tuple[list[bytes], bool]:
    """A tiny HTTP/1.1 chunked-body decoder that keeps every chunk as sent."""
    chunks: list[bytes] = []
    position = 0
    while (line_end := data.find(b"\r\n", position)) >= 0:
        size = int(data[position:line_end], 16)
        if size == 0:
            return chunks, True
        start = line_end + 2
        chunks.append(data[start : start + size])
        assert data[start + size : start + size + 2] == b"\r\n", "chunk not followed by CRLF"
        position = start + size + 2
    return chunks, False


def raw_post(
    standin: StandIn, path: str, body: Any, headers: dict[str, str] | None = None
) -> RawReply:
    """POST over a raw socket with Connection: close and read everything until EOF."""
    payload = encode(body) or b""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + payload
    received = bytearray()
    with socket.create_connection(address(standin), timeout=5) as sock:
        sock.sendall(request)
        while data := sock.recv(65536):
            received += data
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    chunks, terminated = decode_chunked(rest)
    return RawReply(head, chunks, terminated)


def events_of(body: bytes) -> list[bytes]:
    """The server-sent events of a body, each without its closing blank line; a body that
    does not end with a blank line keeps its unfinished tail as the last element."""
    *events, tail = body.split(b"\n\n")
    return [*events, tail] if tail else events


def data_of(events: list[bytes]) -> list[Any]:
    """The JSON of each `data:` event, "[DONE]" for the end marker."""
    values: list[Any] = []
    for event in events:
        assert event.startswith(b"data: "), event
        text = event.removeprefix(b"data: ")
        values.append("[DONE]" if text == b"[DONE]" else json.loads(text))
    return values
