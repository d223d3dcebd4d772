"""The StandIn: the state of one stand-in server (models, memory, replies, faults, the request
log) and its life cycle. The HTTP side (http.py) calls the underscored methods."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from . import ollama, openai
from .faults import Fault
from .generation import GenRequest, TextGenerator
from .http import HttpServer, Router, route_of, shutdown_quietly
from .models import DEFAULT_MODEL, LoadedModel, ModelCatalog, ModelMemory, ModelSpec
from .slots import SlotCount, Slots
from .tokens import Generation, GenerationRecord, ScriptedTokens, TokenSource, echo_text
from .waiting import Waits

Reply = str | Callable[[dict[str, Any]], str] | None
Pause = Callable[[float], None]
_ROUTER = Router({**ollama.ROUTES, **openai.ROUTES}, {"/": ollama.OLLAMA, "/v1/": openai.OPENAI})


@dataclass
class LoggedRequest:
    """One request as the stand-in received it, and what became of the response."""

    method: str
    path: str
    body: Any  # parsed JSON; None when there is no body or it is not JSON
    raw_body: bytes
    headers: dict[str, str]  # names in lower case
    status: int | None = None  # status sent
    completed: bool = False  # the response was fully written (terminating chunk sent)
    disconnected: bool = False  # the client went away before the response was complete
    chunks_sent: int = 0  # NDJSON lines or server-sent events written


class StandIn:
    """A controllable Ollama (and OpenAI-compatible) server for tests. See the package
    docstring."""

    def __init__(
        self,
        *,
        models: list[ModelSpec] | None = None,
        reply: Reply = None,
        token_delay: float = 0.0,
        load_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        required_headers: dict[str, str] | None = None,
        openai_timings: bool = False,
        generator: TextGenerator | None = None,
        slots: int | None = None,
        max_queue: int | None = None,
        first_token_delay: float = 0.0,
    ) -> None:
        self.reply = reply
        self.token_delay = token_delay
        self.load_delay = load_delay
        self.first_token_delay = first_token_delay  # after the slot and the load
        self.host, self.port = host, port
        self.required_headers = dict(required_headers or {})  # all must match, or 401
        self.openai_timings = openai_timings  # llama.cpp's "timings" in /v1 replies
        self.generator = generator  # a real model answers instead of the scripted replies
        self.pullable: dict[str, ModelSpec] = {}
        self.listener: Callable[[LoggedRequest], None] | None = None  # called after each request
        self.requests: list[LoggedRequest] = []
        self.generations: list[GenerationRecord] = []
        self._cond = threading.Condition(threading.RLock())
        self._slots = Slots(self._cond, slots, max_queue)
        self._catalog = ModelCatalog(self._cond)
        self._memory = ModelMemory(self._cond)
        self._replies: deque[str] = deque()
        self._faults: list[Fault] = []
        self._completion_ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None
        day_ago = time.time_ns() - 86_400 * 10**9
        for index, spec in enumerate(models if models is not None else [ModelSpec(DEFAULT_MODEL)]):
            self._catalog.add(spec, day_ago - index * 10**9)  # /api/tags keeps the given order

    # lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> StandIn:
        """Listen and serve in a background thread. After stop(), restarts on the same port."""
        if self._server is not None:
            return self
        server = HttpServer((self.host, self.port), self, _ROUTER)
        self.port = server.server_address[1]
        self._memory.unload()  # a fresh server has nothing in memory
        with self._cond:
            self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end stalled and in-flight responses, and close every connection."""
        with self._cond:
            server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.wake_writer.send(b"!")  # wakes every pause: stalls and loads end now
        server.shutdown()
        server.server_close()
        with self._cond:
            for connection in list(self._connections):
                shutdown_quietly(connection)
            self._cond.wait_for(lambda: not self._connections, timeout=5.0)
        server.wake_reader.close()
        server.wake_writer.close()
        if self._thread is not None:
            self._thread.join()
        if self.generator is not None:
            self.generator.unload()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # models

    def add_model(self, spec: ModelSpec) -> None:
        """Make a model available now (as if just pulled): first in /api/tags."""
        self._catalog.add(spec, time.time_ns())

    def remove_model(self, name: str) -> None:
        """Delete a model (as `ollama rm` would); it also leaves memory."""
        spec = self._catalog.find(name)
        self._catalog.remove(name)
        self._memory.unload(spec.name if spec else name)

    @property
    def loaded(self) -> dict[str, LoadedModel]:
        """Models in memory by name (expired ones dropped); mutable, for tests."""
        return self._memory.live()

    @property
    def load_count(self) -> int:
        """How many times a model was loaded (cold loads only)."""
        return self._memory.load_count

    def expire(self, name: str | None = None) -> None:
        """End a model's keep-alive now (all models when name is None)."""
        spec = None if name is None else self._catalog.find(name)
        self._memory.unload(spec.name if spec else name)

    # slots: how many requests generate at once

    @property
    def slots(self) -> int | None:
        """At most this many requests generate at once (None: any number); settable."""
        return self._slots.limit

    @slots.setter
    def slots(self, value: int | None) -> None:
        self._slots.set_limits(value, self._slots.max_queue)

    @property
    def max_queue(self) -> int | None:
        """At most this many wait for a slot; one more is answered 503 (None: any number)."""
        return self._slots.max_queue

    @max_queue.setter
    def max_queue(self, value: int | None) -> None:
        self._slots.set_limits(self._slots.limit, value)

    served = SlotCount()  # generations that held a slot and are over, finished or cut short
    max_active = SlotCount()  # the most requests that held a slot at once
    active = SlotCount()  # requests holding a slot now
    waiting = SlotCount()  # requests waiting for a slot now
    busy_rejections = SlotCount()  # requests answered 503 because the queue was full

    # replies and faults

    def queue_replies(self, *texts: str) -> None:
        """One-shot replies, consumed in order by requests that generate text."""
        with self._cond:
            self._replies.extend(texts)

    def fault(
        self,
        kind: str,
        *,
        status: int | None = None,
        message: str | None = None,
        after_chunks: int = 1,
        path: str = "/api/chat",
        times: int = 1,
        seconds: float = 30.0,
        retry_after: int | None = None,
        raw: Callable[[], Iterable[bytes]] | None = None,
    ) -> None:
        """Misbehave on the next `times` requests to `path` (-1: until clear_faults()).

        "raw" writes what `raw()` yields as the whole response, status line and all, verbatim
        (an endless generator writes until the client hangs up)."""
        planned = Fault(kind, status, message, after_chunks, path, times, seconds, retry_after, raw)
        with self._cond:
            self._faults.append(planned)

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    # the request log

    def chat_requests(self) -> list[LoggedRequest]:
        """The POST /api/chat requests, in order."""
        return self._posts_to("/api/chat")

    def openai_requests(self) -> list[LoggedRequest]:
        """The POST /v1/chat/completions requests, in order."""
        return self._posts_to("/v1/chat/completions")

    def _posts_to(self, path: str) -> list[LoggedRequest]:
        with self._cond:
            return [r for r in self.requests if r.method == "POST" and route_of(r.path) == path]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until predicate() holds, re-checking whenever a request or the state changes.

        An IndexError or KeyError in the predicate counts as "not yet".
        """

        def holds() -> bool:
            try:
                return bool(predicate())
            except LookupError:
                return False

        with self._cond:
            return self._cond.wait_for(holds, timeout)

    # used by the request handler: connections and the log

    def _track(self, server: HttpServer, connection: socket.socket) -> bool:
        with self._cond:
            if server is not self._server:
                return False
            self._connections.add(connection)
            return True

    def _untrack(self, connection: socket.socket) -> None:
        with self._cond:
            self._connections.discard(connection)
            self._cond.notify_all()

    def _log_request(
        self, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> LoggedRequest:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry = LoggedRequest(method, path, body, raw, headers)
        with self._cond:
            self.requests.append(entry)
            self._cond.notify_all()
        return entry

    def _update(self, entry: LoggedRequest, **changes: Any) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(entry, name, value)
            self._cond.notify_all()

    def _request_done(self, entry: LoggedRequest) -> None:
        if self.listener is not None:
            self.listener(entry)

    def _authorized(self, headers: dict[str, str]) -> bool:
        """Whether the request carries every required header (names case-insensitive)."""
        return all(
            headers.get(name.lower()) == value for name, value in self.required_headers.items()
        )

    def _take_fault(self, path: str) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.path == path:
                    if fault.times > 0:
                        fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # used by the request handler: generating text

    def _running(self) -> list[dict[str, Any]]:
        with self._cond:
            return self._catalog.running(self._memory.live())

    def _next_completion_id(self) -> str:
        return f"chatcmpl-{next(self._completion_ids)}"

    def _load(self, req: GenRequest, pause: Pause) -> Callable[[], None]:
        """What a cold load of `req`'s model does: wait load_delay, then load it for real."""

        def load() -> None:
            pause(self.load_delay)  # a client hanging up here aborts the load
            if self.generator is not None:
                self.generator.load(req.load_options)

        return load

    def _warm_up(self, req: GenRequest, waits: Waits) -> None:
        """A request without text: load the model if needed (holding a slot meanwhile), and
        start its keep-alive."""
        name, options = req.spec.name, req.load_options
        if not self._memory.use_warm(name, options, req.keep_alive):
            with self._slots.held(waits.wait_signal, generates=False):
                self._memory.acquire(name, options, req.keep_alive, self._load(req, waits.pause))
        self._memory.release(name)

    @contextlib.contextmanager
    def _generating(
        self, req: GenRequest, path: str, waits: Waits, started_ns: int
    ) -> Iterator[Generation]:
        """A slot and the model in use for one reply: the slot waited for in turn, the model
        loaded first if cold, then first_token_delay; both released when the reply ends (or
        when the Generation finishes, a moment before the client sees the end)."""
        name = req.spec.name
        with self._slots.held(waits.wait_signal, generates=True) as free_slot:
            slot_ns = time.perf_counter_ns()
            self._memory.acquire(
                name, req.load_options, req.keep_alive, self._load(req, waits.pause)
            )
            times_ns = (started_ns, slot_ns, time.perf_counter_ns())
            released = threading.Event()

            def release() -> None:
                if not released.is_set():
                    released.set()
                    self._memory.release(name)
                    free_slot()

            try:
                if self.first_token_delay > 0:  # a slow prompt evaluation, before the headers
                    waits.pause(self.first_token_delay)
                generation = Generation(self._token_source(req), times_ns, release)
                try:
                    yield generation
                finally:
                    generation.close()
                    with self._cond:
                        self.generations.append(generation.record(path, req.model))
                        self._cond.notify_all()
            finally:
                release()

    def _token_source(self, req: GenRequest) -> TokenSource:
        if self.generator is not None:
            return self.generator.tokens(req)
        return ScriptedTokens.of(
            self._next_reply(req),
            thinks=req.thinks,
            limit=req.num_predict,
            prompt_tokens=req.estimated_prompt_tokens,
        )

    def _next_reply(self, req: GenRequest) -> str:
        with self._cond:
            if self._replies:
                return self._replies.popleft()
            reply = self.reply
        if callable(reply):
            return str(reply(req.body))
        return reply if reply is not None else echo_text(req.source_text)
