"""The one entry point every door calls: text and action in, a guarded rewrite out.

    engine = Engine(load_settings())
    result = engine.rewrite(RewriteRequest("their going too the store\\n", "fix"))
    stream = engine.stream(request)     # cleaned text piece by piece, then stream.result
    stream.close()                      # from any thread: cancels, closing the HTTP stream

The engine is synchronous and thread-safe; `rewrite.aio` wraps it for asyncio doors (the
shell, the language server) without a second implementation. A cache hit imports nothing
of the network: the backend is loaded on the first request that needs a server.
"""

from __future__ import annotations

import threading
import time

from . import paths
from .actions import PROMPT_VERSION, Action, Message, build_messages, custom_action
from .cache import Cache
from .errors import (
    Cancelled,
    InputError,
    RejectedReply,
    RewriteError,
    ServerError,
    TooLongForContext,
    UsageError,
)
from .frame import Frame, split_frame
from .record import Record
from .results import RewriteRequest, RewriteResult, Timings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Mapping
    from typing import Any, TypeAlias

    from .backend import Backend, Chat
    from .config import Settings
    from .hosts import Host
    from .longtext import PartsStream
    from .pool import Attempt, Opening, Router
    from .variants import JsonText

    AnyStream: TypeAlias = "RewriteStream | PartsStream"

__all__ = ["Engine", "RewriteRequest", "RewriteResult", "RewriteStream", "Timings"]

CANDIDATE_TEMPERATURE = 0.7  # enough for another wording from a small model, not for nonsense


class _Plan(Record):
    """A validated request, ready to send."""

    __slots__ = ("action", "format", "frame", "messages", "model", "options", "request")

    def __init__(
        self,
        request: RewriteRequest,
        action: Action,
        frame: Frame,
        model: str,
        messages: list[Message],
        options: dict[str, Any],
        format: Mapping[str, Any] | None = None,
    ) -> None:
        self.request = request
        self.action = action
        self.frame = frame
        self.model = model
        self.messages = messages
        self.options = options
        self.format = format  # a JSON schema for the answer (a structured variant), or None


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        warn: Callable[[str], None] | None = None,
        cache: Cache | None = None,
    ) -> None:
        self.settings = settings
        self.warn = warn or (lambda message: None)
        self.cache = cache or Cache(
            paths.cache_dir(), max_entries=settings.cache.max_entries, warn=self.warn
        )
        self._flights = _Flights()
        self._router: Router | None = None
        self._router_lock = threading.Lock()

    def close(self) -> None:
        self.cache.close()
        if self._router is not None:
            self._router.book.close()

    @property
    def router(self) -> Router:
        """Where requests go (made on the first request that needs a server)."""
        with self._router_lock:
            if self._router is None:
                from .pool import make_router

                self._router = make_router(self.settings, self.cache, self.warn)
            return self._router

    def action(self, request: RewriteRequest) -> Action:
        if request.instruction is not None:
            if not request.instruction.strip():
                raise UsageError("the instruction is empty")
            return custom_action(request.instruction)
        try:
            return self.settings.actions[request.action]
        except KeyError:
            names = ", ".join(sorted(self.settings.actions))
            raise UsageError(f"unknown action '{request.action}' (actions: {names})") from None

    def rewrite(self, request: RewriteRequest) -> RewriteResult:
        stream = self.stream(request)
        stream.restartable = True  # nothing is shown before the end: a failure may start over
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def cached(self, request: RewriteRequest) -> RewriteResult | None:
        """The rewrite if the cache has it, without asking any server (None: it has not)."""
        from .frame import restore_frame

        try:
            plan = self._plan(request)
        except RewriteError:
            return None
        key = self._cache_key(plan) if plan.frame.body else None
        known = self.cache.get(key) if key else None
        if known is None:
            return None
        text = restore_frame(plan.frame, known)
        return RewriteResult(text, plan.model, plan.action.name, cached=True)

    def stream(self, request: RewriteRequest) -> AnyStream:
        """Validate the request (raising at once for bad input) and return a stream to iterate.
        A text too long for one request is rewritten paragraph by paragraph (`longtext`)."""
        try:
            return RewriteStream(self, self._plan(request))
        except TooLongForContext:
            from .longtext import PartsStream, split_for_requests

            parts = split_for_requests(request.text)
            if parts is None:
                raise
            return PartsStream(self, request, parts)

    def _plan(self, request: RewriteRequest) -> _Plan:
        action = self.action(request)
        if len(request.text) > self.settings.max_input_chars:
            raise InputError(
                f"the text has {len(request.text):,} characters; the limit is "
                f"{self.settings.max_input_chars:,} (max_input_chars in the config)"
            )
        frame = split_frame(request.text)
        model = request.model or action.model or self.settings.model
        messages, schema = self._messages(request, action, frame.body)
        options = {**self.settings.options, **action.options}
        if request.candidate:  # another answer: sampled, with a seed of its own
            temperature = float(options.get("temperature", 0))
            options.update(
                temperature=max(temperature, CANDIDATE_TEMPERATURE), seed=request.candidate
            )
        if frame.body:
            options["num_predict"] = self._reply_budget(messages, frame.body, options)
        return _Plan(request, action, frame, model, messages, options, schema)

    def _messages(
        self, request: RewriteRequest, action: Action, body: str
    ) -> tuple[list[Message], Mapping[str, Any] | None]:
        """The messages to send and the answer's JSON schema, for the request's variant."""
        if not body:
            return [], None
        if request.variant in (None, "plain"):
            return build_messages(action, body, request.params), None
        from .variants import VARIANTS

        variant = VARIANTS.get(str(request.variant))
        if variant is None:
            names = ", ".join(VARIANTS)
            raise UsageError(f"unknown variant '{request.variant}' (variants: {names})")
        return variant.messages(action, body, request.params), variant.format

    def _reply_budget(self, messages: list[Message], body: str, options: Mapping[str, Any]) -> int:
        """Bound the reply, and refuse a prompt Ollama would silently cut from the front
        (which drops the instructions first)."""
        context = int(options.get("num_ctx") or 2048)
        prompt = sum(estimate_tokens(m["content"]) + 4 for m in messages)
        text = estimate_tokens(body)
        room = context - prompt
        if room < text + 16:
            raise TooLongForContext(
                f"the text is too long for the model's context: about {prompt + text:,} tokens "
                f"with the prompt and the reply, num_ctx is {context:,}; raise options.num_ctx "
                "in the config or rewrite less text at once"
            )
        return min(room, text * 3 // 2 + 48)

    def _cache_key(self, plan: _Plan) -> str | None:
        """The key of everything that shapes the reply, or None when it must not be cached."""
        caching = self.settings.cache
        deterministic = float(plan.options.get("temperature", 0.8)) == 0
        if (
            not (caching.enabled and plan.request.use_cache)
            or plan.request.candidate
            or (caching.deterministic_only and not deterministic)
        ):
            return None
        try:  # hashlib's own built-in BLAKE2, without loading OpenSSL (about 3 ms)
            from _blake2 import blake2b
        except ImportError:  # pragma: no cover
            from hashlib import blake2b

        parts = [
            f"prompt v{PROMPT_VERSION}",
            plan.model,
            self._known_digest(plan.model),
            repr(sorted(plan.options.items())),
            repr(plan.format),
            *(f"{m['role']}\x1f{m['content']}" for m in plan.messages),
        ]
        return blake2b("\x1e".join(parts).encode("utf-8"), digest_size=32).hexdigest()

    def _known_digest(self, model: str) -> str:
        """The model's digest as last reported by a configured host ("" if none yet)."""
        for host in self.settings.hosts:
            info = self.cache.model_info(f"{host.url} {model}")
            if info is not None:
                return info.digest
        return ""

    def _chat(self, plan: _Plan) -> Chat:
        from .backend import Chat

        return Chat(plan.model, plan.messages, plan.options, self.settings.keep_alive, plan.format)


_RUNAWAY = "the reply ran on far past any rewrite of this text, and was cut off"
_JOIN_POLL_SECONDS = 0.05  # how often a waiting joiner looks whether it was cancelled


class _Flight:
    """One request in progress that identical requests wait for instead of sending."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.text = ""
        self.error: BaseException | None = None


class _Flights:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def join(self, key: str) -> tuple[_Flight, bool]:
        """The flight for `key`, and whether the caller leads it (must send the request)."""
        with self._lock:
            if key in self._flights:
                return self._flights[key], False
            flight = self._flights[key] = _Flight()
            return flight, True

    def leave(self, key: str, flight: _Flight) -> None:
        """Take a cancelled flight off the table at once: no one joins it any more."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def land(
        self, key: str, flight: _Flight, text: str = "", error: BaseException | None = None
    ) -> None:
        self.leave(key, flight)
        flight.text, flight.error = text, error
        flight.done.set()


class RewriteStream:
    """Iterate for the cleaned rewrite as it arrives; `result` is set once iteration ends.

    The pieces are the model's text after clean-up, before the input's whitespace frame is
    put back; `result.text` is the final, framed, guarded text.
    """

    def __init__(self, engine: Engine, plan: _Plan) -> None:
        self._engine = engine
        self._plan = plan
        self._opening: Opening | None = None  # the HTTP streams this rewrite has open
        self._cancelled = False
        self.restartable = False  # a failure after text arrived may start over on another host
        self.result: RewriteResult | None = None
        self.raw_reply: str | None = None  # the model's reply before the clean-up
        self.pieces = 0  # how many pieces of text the server streamed
        self._leading: tuple[str, _Flight] | None = None  # the flight this stream leads

    def close(self) -> None:
        """Cancel: close the HTTP stream so the server stops generating. Safe from any thread."""
        self._cancelled = True
        if self._leading is not None:
            self._engine._flights.leave(*self._leading)
        if self._opening is not None:
            self._opening.close()

    def __iter__(self) -> Iterator[str]:
        started = time.perf_counter()
        plan, engine = self._plan, self._engine
        if not plan.frame.body:  # nothing but whitespace: nothing to ask the model
            self.result = RewriteResult(plan.request.text, plan.model, plan.action.name)
            return
        key = engine._cache_key(plan)
        if key is None:
            yield from self._generate(started)
            return
        known, flight = self._known_or_lead(key)
        if flight is None:
            yield known
            self._finish(known, None, Timings(), started, cached=True)
            return
        try:
            text = yield from self._generate(started)
        except BaseException as error:
            engine._flights.land(key, flight, error=error)
            raise
        # Cached before the flight lands: a request arriving in between finds one or the other.
        engine.cache.put(engine._cache_key(plan) or key, text, plan.model)
        engine._flights.land(key, flight, text=text)

    def _known_or_lead(self, key: str) -> tuple[str, _Flight | None]:
        """The text from the cache or from an identical request in flight; or, with a
        flight to lead, the duty to ask the model. A flight whose leader was cancelled is
        not waited out: its joiners try again."""
        flights = self._engine._flights
        while True:
            known = self._engine.cache.get(key)
            if known is not None:
                return known, None
            flight, leading = flights.join(key)
            if leading:
                self._leading = (key, flight)
                return "", flight
            while not flight.done.wait(_JOIN_POLL_SECONDS):
                if self._cancelled:
                    raise Cancelled("the rewrite was cancelled")
            if flight.error is None:
                return flight.text, None
            if not isinstance(flight.error, Cancelled):
                raise flight.error

    def _generate(self, started: float) -> Generator[str, None, str]:
        """Ask the model, yielding cleaned pieces; return the guarded text. A host that fails
        before its first token is left for the next; after it, only a restartable stream
        (nothing shown yet) starts over elsewhere."""
        from .pool import Opening, may_try_elsewhere

        plan, engine = self._plan, self._engine
        deadline = time.monotonic() + engine.settings.deadline
        chat, router = engine._chat(plan), engine.router
        self._opening = opening = Opening()
        if self._cancelled:
            opening.close()
        tried: list[Host] = []
        while True:
            attempt = router.open(chat, deadline, opening, tried)
            try:
                text = yield from self._read(attempt, started)
            except BaseException as error:
                attempt.failed(error)
                if self._cancelled:
                    raise Cancelled("the rewrite was cancelled") from None
                left = len({h.url for h in engine.settings.hosts} - {h.url for h in tried})
                again = self.restartable and may_try_elsewhere(error) and left > 0
                if not (again and time.monotonic() < deadline):
                    raise
                continue
            attempt.succeeded(plan.model)
            return text

    def _read(self, attempt: Attempt, started: float) -> Generator[str, None, str]:
        """Clean and guard one host's reply as it streams."""
        from .fidelity import longest_reply
        from .text import StreamCleaner

        plan, server = self._plan, attempt.server
        cleaner = StreamCleaner(plan.frame.body, translating=plan.action.translating)
        structured = _structured(plan)
        longest, length = longest_reply(plan.frame.body, plan.action.profile), 0
        reply: list[str] = []
        first_token: float | None = None
        try:
            for piece in attempt.rest():
                first_token = first_token or time.perf_counter()
                _check_unicode(piece, server)
                reply.append(piece)
                self.pieces += 1
                length += len(piece)
                if length > longest:  # no rewrite of this text is that long: stop the server
                    raise RejectedReply(_RUNAWAY, reply="".join(reply))
                text = structured.feed(piece) if structured else piece
                # Cleaned piece by piece only when someone watches: the result is guarded
                # from the whole reply either way.
                if not self.restartable and (cleaned := cleaner.feed(text)):
                    yield cleaned
            if not self.restartable and (rest := cleaner.finish()):
                yield rest
        finally:
            attempt.close()
        if self._cancelled:
            raise Cancelled("the rewrite was cancelled")
        self.raw_reply = "".join(reply)
        answer = structured.text() if structured else None
        text = self._guarded(self.raw_reply if answer is None else answer)
        timings = (attempt.stream.stats or Timings()).replace(
            first_token_ms=round((first_token - started) * 1000, 3) if first_token else None
        )
        self._finish(text, server.host.url, timings, started, cached=False)
        return text

    def _finish(
        self, text: str, host: str | None, timings: Timings, started: float, *, cached: bool
    ) -> None:
        from .frame import restore_frame

        plan = self._plan
        wall_ms = round((time.perf_counter() - started) * 1000, 3)
        self.result = RewriteResult(
            restore_frame(plan.frame, text),
            plan.model,
            plan.action.name,
            host,
            cached=cached,
            timings=timings.replace(wall_ms=wall_ms),
        )

    def _guarded(self, reply: str) -> str:
        from .guard import review

        plan = self._plan
        instructions = plan.messages[0]["content"]
        return review(reply, plan.frame.body, plan.action, plan.request.params, instructions)


def _check_unicode(piece: str, server: Backend) -> None:
    """JSON's escapes can carry half a surrogate pair, which is no text at all."""
    try:
        piece.encode("utf-8")
    except UnicodeEncodeError:
        raise ServerError(
            f"the server at {server.host} sent text that is not valid Unicode",
            host=server.host.url,
        ) from None


def _structured(plan: _Plan) -> JsonText | None:
    """What reads the text out of a structured (JSON) answer, when one was asked for."""
    if plan.format is None:
        return None
    from .variants import JsonText

    return JsonText()


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate: about 3 UTF-8 bytes a token (English runs nearer 4)."""
    return len(text.encode("utf-8")) // 3 + 1
