"""How many requests generate at once, as Ollama's OLLAMA_NUM_PARALLEL and OLLAMA_MAX_QUEUE
limit it: slots handed out in FIFO order, a bounded queue answered 503 beyond its limit, and
the counts tests and benchmarks watch.

Every change happens under the StandIn's condition and wakes StandIn.wait_for. A waiting
request sleeps on its own socket pair, so the same wait also notices its client hanging up
and the server stopping (waiting.wait).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from .formats import SERVER_BUSY, ApiError

WaitSignal = Callable[[socket.socket], None]  # returns once readable; raises to give up


def check_limits(limit: int | None, max_queue: int | None) -> None:
    if limit is not None and limit < 1:
        raise ValueError("slots must be at least 1, or None for no limit")
    if max_queue is not None and max_queue < 0:
        raise ValueError("max_queue must be at least 0, or None for no limit")


class Ticket:
    """One request's claim: a place in the queue, then a slot."""

    def __init__(self, generates: bool) -> None:
        self.generates = generates  # a generation (counts in `served`), not a warm-up's load
        self.granted = False  # the slot is its own
        self.holding = False  # it saw the grant and went on with the slot
        self.done = False  # the slot (or the place in the queue) is given back
        self.signal: tuple[socket.socket, socket.socket] | None = None  # while it must wait


class Slots:
    """At most `limit` requests hold a slot at once (None: any number); the others wait in
    FIFO order, at most `max_queue` of them (None: any number)."""

    def __init__(self, cond: threading.Condition, limit: int | None, max_queue: int | None) -> None:
        check_limits(limit, max_queue)
        self._cond = cond
        self.limit = limit
        self.max_queue = max_queue
        self._queue: deque[Ticket] = deque()
        self.active = 0  # requests holding a slot now
        self.max_active = 0  # the most that ever held one at once
        self.served = 0  # generations that held a slot and gave it back
        self.busy_rejections = 0  # requests answered 503 because the queue was full

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)

    def count(self, name: str) -> int:
        """One of the counts, read under the lock."""
        with self._cond:
            return int(getattr(self, name))

    def set_limits(self, limit: int | None, max_queue: int | None) -> None:
        """New limits; a higher `limit` lets waiting requests in at once. Requests already
        holding a slot or waiting keep it when the limits drop."""
        check_limits(limit, max_queue)
        with self._cond:
            self.limit, self.max_queue = limit, max_queue
            self._grant_waiting()
            self._cond.notify_all()

    @contextlib.contextmanager
    def held(self, wait_signal: WaitSignal, *, generates: bool) -> Iterator[Callable[[], None]]:
        """Hold a slot for the body of the `with`, waiting for it in turn with `wait_signal`.

        Yields a function that gives the slot back early (at the end of a reply, before the
        client sees the end). Raises ApiError 503 when the queue is full. When `wait_signal`
        raises (the client hung up, the server stops), the request leaves the queue, or gives
        back a slot granted at that moment without counting as served.
        """
        ticket = self._enter(generates)
        try:
            if ticket.signal is not None:
                wait_signal(ticket.signal[0])
            with self._cond:
                ticket.holding = ticket.granted
            yield lambda: self._leave(ticket)
        finally:
            self._leave(ticket)

    def _enter(self, generates: bool) -> Ticket:
        ticket = Ticket(generates)
        with self._cond:
            if not self._queue and self._has_room():
                self._grant(ticket)
            elif self.max_queue is not None and len(self._queue) >= self.max_queue:
                self.busy_rejections += 1
                self._cond.notify_all()
                raise ApiError(503, SERVER_BUSY)
            else:
                ticket.signal = socket.socketpair()
                self._queue.append(ticket)
            self._cond.notify_all()
        return ticket

    def _leave(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.done:
                return
            ticket.done = True
            if ticket.granted:
                self.active -= 1
                if ticket.generates and ticket.holding:
                    self.served += 1
                self._grant_waiting()
            else:
                self._queue.remove(ticket)
            self._cond.notify_all()
        if ticket.signal is not None:  # out of the queue: nothing sends to it any more
            for end in ticket.signal:
                end.close()

    def _has_room(self) -> bool:
        return self.limit is None or self.active < self.limit

    def _grant_waiting(self) -> None:
        while self._queue and self._has_room():
            self._grant(self._queue.popleft())

    def _grant(self, ticket: Ticket) -> None:
        ticket.granted = True
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        if ticket.signal is not None:
            ticket.signal[1].send(b"!")


class SlotCount:
    """A read-only count of a StandIn's Slots, as an attribute of the StandIn."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, standin: Any, owner: type | None = None) -> int:
        return int(standin._slots.count(self.name))

    def __set__(self, standin: Any, value: int) -> None:
        raise AttributeError(f"{self.name} is counted by the stand-in")
