"""Several servers as one: which host a request goes to, and what happens when it fails.

With one host, requests go there (`routing.route`). With several, each request is given an
order of hosts (`order`):

- the hosts that may serve the model: their `models` allow it and they have not answered
  404 for it lately (when every one has, they are all tried, so the 404 is told);
- up before down: a host that refused, timed out or failed is skipped until its cooldown
  ends (2 s, doubled with each failure in a row, at most 60 s), shared through the record
  of `hostbook`, so the next run does not wait on a dead server; when every host is down,
  they are tried anyway, the soonest back first;
- among the up hosts, the least loaded first: requests in flight (exact within a process,
  shared across processes) for the host's weight; a host without the model loaded counts
  two more requests (a load takes a while), so the model stays where it is loaded until
  those hosts are busier, and then spreads. Ties go to a host with the model loaded, then
  to the host furthest below its weight's share of the last 100 requests, then to chance
  weighted by weight: an idle pool still gives each host its weight's share, a busy one
  balances requests in flight to the weights. The order is read and the request counted
  at its first
  host in one step (a sqlite IMMEDIATE transaction), so requests that start together,
  from threads or from processes, see each other and spread out rather than all pick the
  host that looked least loaded at that moment. (Two random choices would also avoid that
  herd, without exact counts; with exact counts, the least loaded host is simply best.)

A request that fails before its first token (refused, reset, 5xx, 503, 429, a stall) is
sent to the next host in the order, once per host, while its deadline allows. With
`routing.hedge`, a host slow to its first token (past its recent p95, at least 250 ms) is
raced by the next one: the first to answer is used, the other's stream is closed so it
stops generating.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from . import wire
from .backend import Backend, connect
from .errors import (
    AccessDenied,
    Cancelled,
    HostUnreachable,
    ModelNotFound,
    RejectedReply,
    RewriteError,
    ServerError,
)
from .hostbook import HostBook, HostView, NullBook

TYPE_CHECKING = False
if TYPE_CHECKING:
    import queue
    import random
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Protocol

    from .backend import Chat, ChatStream
    from .cache import Cache
    from .hosts import Host
    from .settings import Settings

    class Closable(Protocol):
        def close(self) -> None: ...


SHORTEST_HEDGE_MS = 250.0
COLD_PENALTY = 2  # a host without the model loaded counts as this many more requests in flight
WATCH_SECONDS = 10.0  # how often long-running doors ask each host what it has loaded
PROBE_TIMEOUT = 2.0
BUSY_STATUSES = (429, 503)


def order(
    hosts: Sequence[Host],
    views: Mapping[str, HostView],
    model: str,
    rng: random.Random | None = None,
    now: float | None = None,
) -> list[Host]:
    """The hosts to try for `model`, best first (see the module's docstring)."""
    now = time.time() if now is None else now
    name = model.lower()
    serving = [host for host in hosts if host.serves(model)] or list(hosts)
    allowed = [host for host in serving if name not in views[host.url].missing] or serving
    up = [host for host in allowed if not views[host.url].is_down(now)]
    down = sorted(
        (host for host in allowed if views[host.url].is_down(now)),
        key=lambda host: views[host.url].down_until,
    )
    # A tie goes to a host with the model loaded, then to the one furthest below its share
    # of the recent requests, then to chance weighted by weight (the largest of
    # u ** (1 / weight) is drawn with a probability proportional to the weight).
    if len(up) > 1 and rng is None:
        import random  # only here: 1.5 ms of a single host's start-up

        rng = random.Random()
    ties = {host.url: -(rng.random() ** (1 / host.weight)) if rng else 0.0 for host in up}
    up.sort(
        key=lambda host: (
            load(host, views, name),
            name not in views[host.url].loaded,
            views[host.url].recent / host.weight,
            ties[host.url],
        )
    )
    return [*up, *down]


def load(host: Host, views: Mapping[str, HostView], model: str) -> float:
    """Requests in flight for the host's weight; a host without the model loaded counts
    COLD_PENALTY more (loading it takes a while)."""
    view = views[host.url]
    cold = 0 if model.lower() in view.loaded else COLD_PENALTY
    return (view.in_flight + cold) / host.weight


def is_host_failure(error: BaseException) -> bool:
    """Whether `error` says the host is down (rather than busy, or the request at fault)."""
    if isinstance(error, RejectedReply | AccessDenied):
        return False
    if isinstance(error, HostUnreachable):
        return True
    if isinstance(error, ServerError):
        return not error.status or (error.status >= 500 and error.status != 503)  # 0: no answer
    return False


def may_try_elsewhere(error: BaseException) -> bool:
    """Whether another host may succeed where this one failed."""
    if isinstance(error, RejectedReply):
        return False  # the model answered; another copy of it would answer alike
    return isinstance(error, HostUnreachable | ServerError | ModelNotFound)


class Attempt:
    """One request on one host, its stream read up to the first piece of text."""

    def __init__(self, router: Router, server: Backend, stream: ChatStream, flight: int) -> None:
        self.router = router
        self.server = server
        self.stream = stream
        self.flight = flight
        self.first: str | None = None  # the first piece; None when the reply had no text
        self.first_token_ms: float | None = None
        self.pieces: Iterator[str] = iter(stream)
        self._ended = False

    @property
    def host(self) -> Host:
        return self.server.host

    def read_first(self, started: float) -> None:
        self.first = next(self.pieces, None)
        self.first_token_ms = round((time.perf_counter() - started) * 1000, 3)

    def rest(self) -> Iterator[str]:
        """Every piece of the reply, the first included."""
        if self.first is not None:
            yield self.first
            yield from self.pieces

    def close(self) -> None:
        self.stream.close()

    def succeeded(self, model: str) -> None:
        if not self._ended:
            self._ended = True
            self.router.book.end(self.flight)
            self.router.book.answered(self.host.url, model, self.first_token_ms)

    def failed(self, error: BaseException) -> None:
        self.close()
        if not self._ended:
            self._ended = True
            self.router.book.end(self.flight)
            self.router.note_failure(self.host, error)


class Opening:
    """What a request has open (two replies while hedging, or a connection still waiting
    for its answer): closing it closes them all, so the servers stop generating."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Closable] = []
        self.cancelled = False

    def add(self, item: Closable) -> bool:
        """Keep `item`, or close it at once if the request was cancelled meanwhile."""
        with self._lock:
            if not self.cancelled:
                self._open.append(item)
                return True
        item.close()
        return False

    def discard(self, item: Closable) -> bool:
        """Let go of `item`; False when it was no longer held (closed by a cancel)."""
        with self._lock:
            if item in self._open:
                self._open.remove(item)
                return True
            return False

    def keep_only(self, item: Closable) -> None:
        """Close everything but `item` (the hosts that lost a race stop generating)."""
        with self._lock:
            others = [other for other in self._open if other is not item]
            self._open = [item]
        for other in others:
            other.close()

    def close(self) -> None:
        with self._lock:
            self.cancelled = True
            items, self._open = self._open, []
        for item in items:
            item.close()


class _Connection:
    """A connection waiting for its response head; closing it wakes the waiting thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class Router:
    """Requests over several hosts for one engine; safe from any thread."""

    def __init__(
        self,
        settings: Settings,
        memo: Cache | None,
        book: HostBook,
        *,
        warn: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.memo = memo
        self.book = book
        self.warn = warn
        self.rng = rng
        self.several = len(settings.hosts) > 1

    def order(self, model: str, tried: Sequence[Host] = ()) -> list[Host]:
        hosts = [host for host in self.settings.hosts if host not in tried]
        views = self.book.views([host.url for host in hosts])
        return order(hosts, views, model, self.rng)

    def placed(self, model: str, tried: Sequence[Host]) -> tuple[list[Host], int]:
        """The order for `model`, and a request already counted at its first host: read and
        counted in one step, so that requests starting together spread out."""
        hosts = [host for host in self.settings.hosts if host not in tried]
        by_url = {host.url: host for host in hosts}

        def choose(views: dict[str, HostView]) -> list[str]:
            return [host.url for host in order(hosts, views, model, self.rng)]

        urls, flight = self.book.place(list(by_url), choose)
        return [by_url[url] for url in urls], flight

    def server(self, host: Host) -> Backend:
        # With another host to go to, a busy answer goes there at once rather than wait.
        timeout, memo = self.settings.timeout, self.memo
        return connect(host, timeout=timeout, memo=memo, retry_busy=not self.several)

    def note_failure(self, host: Host, error: BaseException) -> None:
        if isinstance(error, ModelNotFound):
            self.book.lacks(host.url, error.model)
        elif is_host_failure(error):
            self.book.failed(host.url, str(error))

    def open(self, chat: Chat, deadline: float, opening: Opening, tried: list[Host]) -> Attempt:
        """The first host in the order that starts answering `chat`; each host tried is
        added to `tried`. Raises the most telling error when none does."""
        hosts, flight = self.placed(chat.model, tried)
        errors: list[BaseException] = []
        if self.settings.routing.hedge and len(hosts) > 1:
            attempt = _Race(self, chat, deadline, opening).run(hosts, tried, errors, flight)
        else:
            attempt = None
            for place, host in enumerate(hosts):
                if time.monotonic() >= deadline or opening.cancelled:
                    self.book.end(flight if place == 0 else 0)
                    break
                tried.append(host)
                try:
                    attempt = self.attempt(
                        host, chat, deadline, opening, flight if place == 0 else None
                    )
                    break
                except Cancelled:
                    raise
                except RewriteError as error:
                    errors.append(error)
                    if not may_try_elsewhere(error):
                        raise
        if attempt is not None:
            return attempt
        if opening.cancelled:
            raise Cancelled("the rewrite was cancelled")
        if errors and all(_refused(error) for error in errors) and not tried_autostart(tried):
            started = self._start_local_server()
            if started is not None:
                tried.append(started)
                return self.attempt(started, chat, deadline, opening)
        raise self.telling(chat.model, errors)

    def _start_local_server(self) -> Host | None:
        from .routing import start_local_server

        return start_local_server(self.settings, self.warn)

    def attempt(
        self, host: Host, chat: Chat, deadline: float, opening: Opening, flight: int | None = None
    ) -> Attempt:
        """Send `chat` to `host` and read its first piece; a failure is noted and raised.
        `flight`: the request as already counted at `host`, if it was."""
        started = time.perf_counter()
        server = self.server(host)
        flight = self.book.begin(host.url) if flight is None else flight
        connections: list[_Connection] = []

        def opened(sock: socket.socket) -> None:
            connections.append(_Connection(sock))
            opening.add(connections[-1])

        told = wire.ON_CONNECT.set(opened)
        try:
            stream = server.chat(chat, deadline=deadline)
        except BaseException as error:
            self.book.end(flight)
            if not all([opening.discard(c) for c in connections]):  # closed by us
                raise Cancelled("the rewrite was cancelled") from None
            self.note_failure(host, error)
            raise
        finally:
            wire.ON_CONNECT.reset(told)
        if not all([opening.discard(c) for c in connections]):  # closed by us meanwhile
            stream.close()
            self.book.end(flight)
            raise Cancelled("the rewrite was cancelled")
        attempt = Attempt(self, server, stream, flight)
        if not opening.add(stream):
            attempt.failed(Cancelled("the rewrite was cancelled"))
            raise Cancelled("the rewrite was cancelled")
        try:
            attempt.read_first(started)
        except BaseException as error:
            if not opening.discard(stream):  # closed by us: a cancel, or a lost race
                attempt.failed(Cancelled("the rewrite was cancelled"))
                raise Cancelled("the rewrite was cancelled") from None
            attempt.failed(error)
            raise
        return attempt

    def hedge_after(self, host: Host) -> float:
        """Seconds to wait for `host`'s first token before asking another host too."""
        fixed = self.settings.routing.hedge_after_ms
        if fixed is not None:
            return fixed / 1000
        recent = self.book.views([host.url])[host.url].first_token_ms(0.95)
        return max(SHORTEST_HEDGE_MS, recent or 0.0) / 1000

    def telling(self, model: str, errors: list[BaseException]) -> BaseException:
        """The error that says most: a missing model, then a server's answer, then a
        refused connection."""
        from .routing import missing_model, unreachable_message

        missing = [error for error in errors if isinstance(error, ModelNotFound)]
        if missing and len(missing) == len(errors):
            return missing_model(model, missing)
        answered = [e for e in errors if isinstance(e, ServerError | AccessDenied | ModelNotFound)]
        if answered:
            return answered[-1]
        unreachable = [error for error in errors if isinstance(error, HostUnreachable)]
        if unreachable:
            hosts = tuple(host for error in unreachable for host in error.hosts)
            return HostUnreachable(unreachable_message(unreachable), hosts=hosts)
        return ServerError("no host could take the request before its deadline")


class _Race:
    """Hedging: the first host, then after a wait the next one too; the first to answer
    wins and the others' streams are closed."""

    def __init__(self, router: Router, chat: Chat, deadline: float, opening: Opening) -> None:
        self.router = router
        self.chat = chat
        self.deadline = deadline
        self.opening = opening
        import queue

        self.results: queue.Queue[tuple[Attempt | None, BaseException | None]] = queue.Queue()
        self.lock = threading.Lock()
        self.won = False

    def run(
        self, hosts: list[Host], tried: list[Host], errors: list[BaseException], flight: int
    ) -> Attempt | None:
        """Race the hosts as told above; `flight` counts the request at the first one."""
        pending, running, hedge_at = list(hosts), 0, None
        self.first_flight: int | None = flight
        while True:
            if running == 0:  # the start, or every host asked so far failed: the next one
                if not pending or time.monotonic() >= self.deadline or self.opening.cancelled:
                    self.router.book.end(self.first_flight or 0)
                    return None
                host = pending.pop(0)
                self._start(host, tried)
                running = 1
                hedge_at = time.monotonic() + self.router.hedge_after(host) if pending else None
            until = hedge_at if hedge_at is not None else self.deadline
            got = self._next(max(0.0, until - time.monotonic()))
            if got is None:
                if hedge_at is None:
                    return None  # the deadline passed
                self._start(pending.pop(0), tried)  # slow to its first token: ask the next
                running, hedge_at = running + 1, None
                continue
            running -= 1
            if (winner := self._settle(got, errors)) is not None:
                return winner

    def _start(self, host: Host, tried: list[Host]) -> None:
        tried.append(host)
        flight, self.first_flight = self.first_flight, None
        args = (host, flight)
        threading.Thread(target=self._try, args=args, name="rewrite-hedge", daemon=True).start()

    def _try(self, host: Host, flight: int | None) -> None:
        try:
            attempt = self.router.attempt(host, self.chat, self.deadline, self.opening, flight)
        except BaseException as error:
            self.results.put((None, error))
            return
        with self.lock:
            late = self.won
            self.won = True
        if late:  # another host answered first: this one stops generating
            self.opening.discard(attempt.stream)
            attempt.failed(Cancelled("another host answered first"))
            return
        self.results.put((attempt, None))

    def _next(self, seconds: float) -> tuple[Attempt | None, BaseException | None] | None:
        import queue

        try:
            return self.results.get(timeout=seconds)
        except queue.Empty:
            return None

    def _settle(
        self, got: tuple[Attempt | None, BaseException | None], errors: list[BaseException]
    ) -> Attempt | None:
        attempt, error = got
        if attempt is not None:
            self.opening.keep_only(attempt.stream)
            return attempt
        assert error is not None
        if isinstance(error, Cancelled) and self.opening.cancelled:
            raise error
        if not isinstance(error, Cancelled):
            errors.append(error)
            if not may_try_elsewhere(error):
                raise error
        return None


def probe(router: Router, host: Host) -> None:
    """Ask `host` what it has loaded (Ollama's /api/ps), or whether it answers at all (an
    OpenAI-compatible server's model list), and note it: up, down, or its models."""
    from .hosts import OLLAMA

    server = connect(host, timeout=PROBE_TIMEOUT, retry_busy=False)
    try:
        if host.api == OLLAMA:
            listing = server.get_json("/api/ps")
            entries = listing.get("models") if isinstance(listing, dict) else None
            entries = entries if isinstance(entries, list) else []
            names = [
                entry["name"]
                for entry in entries
                if isinstance(entry, dict) and isinstance(entry.get("name"), str)
            ]
            router.book.has_loaded(host.url, names)
        else:
            server.models()
    except RewriteError as error:
        router.note_failure(host, error)
        return
    router.book.recovered(host.url)


def watch(router: Router, stop: threading.Event) -> None:
    """Probe every host every WATCH_SECONDS until `stop` is set (long-running doors)."""
    from .threads import each_at_once

    while not stop.is_set():
        each_at_once(lambda host: probe(router, host), router.settings.hosts)
        stop.wait(WATCH_SECONDS)


def _refused(error: BaseException) -> bool:
    return isinstance(error, HostUnreachable) and not isinstance(error, AccessDenied)


def tried_autostart(tried: Sequence[Host]) -> bool:
    """Whether a started server is among those tried (it is tried once, last)."""
    return len(tried) > len({host.url for host in tried})


def make_router(
    settings: Settings, memo: Cache | None, warn: Callable[[str], None] | None = None
) -> Router:
    """The router for `settings`: with several hosts, one sharing the record of hosts."""
    if len(settings.hosts) < 2:
        return Router(settings, memo, NullBook(), warn=warn)
    import random

    from . import paths

    return Router(settings, memo, HostBook(paths.cache_dir()), warn=warn, rng=random.Random())
