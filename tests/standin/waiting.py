"""Waiting inside a request: a pause (a load, a token, a stall) or a wait for a signal (a free
slot), either one ending at once when the client hangs up or the server stops."""

from __future__ import annotations

import selectors
import socket
import time
from typing import Protocol


class ClientGone(Exception):
    """The client closed the connection before the response was complete."""


class Abort(Exception):
    """Drop the connection now, without finishing the response."""


class Waits(Protocol):
    """How a request waits (http.Handler does it on its connection)."""

    def pause(self, seconds: float) -> None:
        """Wait `seconds`."""

    def wait_signal(self, signal: socket.socket) -> None:
        """Wait until `signal` is readable."""


def wait(
    connection: socket.socket,
    stop: socket.socket,
    seconds: float | None,
    signal: socket.socket | None = None,
) -> None:
    """Wait `seconds`, or until `signal` is readable when seconds is None.

    Raises Abort when `stop` is readable (the server stops), else ClientGone when the client
    hangs up, before a ready `signal` counts. Bytes the client sends meanwhile (a pipelined
    request) are left unread, and hang-ups are no longer watched for then.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(stop, selectors.EVENT_READ, "stop")
        selector.register(connection, selectors.EVENT_READ, "client")
        if signal is not None:
            selector.register(signal, selectors.EVENT_READ, "signal")
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            timeout = None if remaining is None else max(remaining, 0.0)
            ready = {key.data for key, _ in selector.select(timeout)}
            if "stop" in ready:
                raise Abort
            if "client" in ready:
                if client_hung_up(connection):
                    raise ClientGone
                selector.unregister(connection)  # pipelined bytes, not a hang-up
            if "signal" in ready:
                return
            if remaining is not None and remaining <= 0:
                return


def client_hung_up(connection: socket.socket) -> bool:
    try:
        return bool(connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"")
    except BlockingIOError:
        return False
    except OSError:
        return True
