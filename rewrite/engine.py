"""The one entry point every door calls: text and action in, a guarded rewrite out.

    engine = Engine(load_settings())
    result = engine.rewrite(RewriteRequest("their going too the store\\n", "fix"))
    stream = engine.stream(request)     # cleaned text piece by piece, then stream.result
    stream.close()                      # from any thread: cancels, closing the HTTP stream

The engine is synchronous and thread-safe per call; `rewrite.aio` wraps it for asyncio
doors (the shell, the language server) without a second implementation.
"""

from __future__ import annotations

import time

from .actions import Action, Message, build_messages, custom_action
from .backend import ChatStream, Ollama, Timings
from .errors import (
    Cancelled,
    HostUnreachable,
    InputError,
    ModelNotFound,
    RejectedReply,
    ServerError,
    UsageError,
)
from .record import Record
from .text import Frame, StreamCleaner, clean_reply, guard_reply, restore_frame, split_frame

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from .config import Settings


class RewriteRequest(Record):
    """What a door asks for: `instruction`, when given, is an ad-hoc action that wins
    over `action`."""

    __slots__ = ("action", "instruction", "model", "params", "text")

    def __init__(
        self,
        text: str,
        action: str = "fix",
        instruction: str | None = None,
        params: Mapping[str, str] | None = None,
        model: str | None = None,
    ) -> None:
        self.text = text
        self.action = action
        self.instruction = instruction
        self.params: Mapping[str, str] = params or {}
        self.model = model


class RewriteResult(Record):
    __slots__ = ("action", "cached", "host", "model", "text", "timings")

    def __init__(
        self,
        text: str,
        model: str,
        action: str,
        host: str | None = None,
        cached: bool = False,
        timings: Timings | None = None,
    ) -> None:
        self.text = text
        self.model = model
        self.action = action
        self.host = host
        self.cached = cached
        self.timings = timings or Timings()

    def to_json(self) -> dict[str, Any]:
        return self.as_dict()


class _Plan(Record):
    """A validated request, ready to send."""

    __slots__ = ("action", "frame", "messages", "model", "options", "request")

    def __init__(
        self,
        request: RewriteRequest,
        action: Action,
        frame: Frame,
        model: str,
        messages: list[Message],
        options: dict[str, Any],
    ) -> None:
        self.request = request
        self.action = action
        self.frame = frame
        self.model = model
        self.messages = messages
        self.options = options


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

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
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def stream(self, request: RewriteRequest) -> RewriteStream:
        """Validate the request (raising at once for bad input) and return a stream to iterate."""
        return RewriteStream(self, self._plan(request))

    def _plan(self, request: RewriteRequest) -> _Plan:
        action = self.action(request)
        if len(request.text) > self.settings.max_input_chars:
            raise InputError(
                f"the text has {len(request.text):,} characters; the limit is "
                f"{self.settings.max_input_chars:,} (max_input_chars in the config)"
            )
        frame = split_frame(request.text)
        model = request.model or action.model or self.settings.model
        messages = build_messages(action, frame.body, request.params) if frame.body else []
        options = {**self.settings.options, **action.options}
        if frame.body:
            options["num_predict"] = self._reply_budget(messages, frame.body, options)
        return _Plan(request, action, frame, model, messages, options)

    def _reply_budget(self, messages: list[Message], body: str, options: Mapping[str, Any]) -> int:
        """Bound the reply, and refuse a prompt Ollama would silently cut from the front
        (which drops the instructions first)."""
        context = int(options.get("num_ctx") or 2048)
        prompt = sum(estimate_tokens(m["content"]) + 4 for m in messages)
        text = estimate_tokens(body)
        room = context - prompt
        if room < text + 16:
            raise InputError(
                f"the text is too long for the model's context: about {prompt + text:,} tokens "
                f"with the prompt and the reply, num_ctx is {context:,}; raise options.num_ctx "
                "in the config or rewrite less text at once"
            )
        return min(room, text * 3 // 2 + 48)

    def _open(self, plan: _Plan) -> tuple[Ollama, ChatStream]:
        """The first host that is up and has the model."""
        unreachable: list[HostUnreachable] = []
        missing: list[str] = []
        for host in self.settings.hosts:
            server = Ollama(host, timeout=self.settings.timeout)
            try:
                capabilities = server.capabilities(plan.model)
                return server, server.chat(self._chat_body(plan, capabilities))
            except HostUnreachable as error:
                unreachable.append(error)
            except ModelNotFound:
                server.forget(plan.model)
                missing.append(host.url)
        if missing:
            raise ModelNotFound(plan.model, host=", ".join(missing))
        hosts = tuple(host for error in unreachable for host in error.hosts)
        raise HostUnreachable(unreachable_message(unreachable), hosts=hosts)

    def _chat_body(self, plan: _Plan, capabilities: tuple[str, ...]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": plan.model,
            "messages": plan.messages,
            "stream": True,
            "keep_alive": self.settings.keep_alive,
            "options": plan.options,
        }
        if "thinking" in capabilities:
            body["think"] = False
        return body


class RewriteStream:
    """Iterate for the cleaned rewrite as it arrives; `result` is set once iteration ends.

    The pieces are the model's text after clean-up, before the input's whitespace frame is
    put back; `result.text` is the final, framed, guarded text.
    """

    def __init__(self, engine: Engine, plan: _Plan) -> None:
        self._engine = engine
        self._plan = plan
        self._chat: ChatStream | None = None
        self._cancelled = False
        self.result: RewriteResult | None = None

    def close(self) -> None:
        """Cancel: close the HTTP stream so the server stops generating. Safe from any thread."""
        self._cancelled = True
        if self._chat is not None:
            self._chat.close()

    def __iter__(self) -> Iterator[str]:
        plan = self._plan
        started = time.perf_counter()
        if not plan.frame.body:  # nothing but whitespace: nothing to ask the model
            self.result = RewriteResult(plan.request.text, plan.model, plan.action.name)
            return
        server, self._chat = self._engine._open(plan)
        if self._cancelled:
            self._chat.close()
            raise Cancelled("the rewrite was cancelled")
        cleaner = StreamCleaner(plan.frame.body)
        reply: list[str] = []
        first_token: float | None = None
        try:
            for piece in self._chat:
                first_token = first_token or time.perf_counter()
                reply.append(piece)
                if cleaned := cleaner.feed(piece):
                    yield cleaned
            if rest := cleaner.finish():
                yield rest
        except ServerError:
            if self._cancelled:
                raise Cancelled("the rewrite was cancelled") from None
            raise
        finally:
            self._chat.close()
        if self._cancelled:
            raise Cancelled("the rewrite was cancelled")
        text = self._guarded("".join(reply))
        self.result = RewriteResult(
            restore_frame(plan.frame, text),
            plan.model,
            plan.action.name,
            server.host.url,
            timings=(self._chat.stats or Timings()).replace(
                wall_ms=round((time.perf_counter() - started) * 1000, 3),
                first_token_ms=round((first_token - started) * 1000, 3) if first_token else None,
            ),
        )

    def _guarded(self, reply: str) -> str:
        cleaned = clean_reply(reply, self._plan.frame.body)
        reason = guard_reply(
            cleaned, self._plan.frame.body, translating=self._plan.action.translating
        )
        if reason is not None:
            raise RejectedReply(reason, reply=reply)
        return cleaned


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate: about 3 UTF-8 bytes a token (English runs nearer 4)."""
    return len(text.encode("utf-8")) // 3 + 1


def unreachable_message(errors: list[HostUnreachable]) -> str:
    """What went wrong at each host, and what to do about it."""
    import shutil

    hosts = [host for error in errors for host in error.hosts]
    if shutil.which("ollama") is None and any(h.startswith(_LOCAL_PREFIXES) for h in hosts):
        fix = (
            "Ollama is not installed here: get it from https://ollama.com/download, "
            "then run `ollama serve`"
        )
    else:
        fix = "start it with `ollama serve`, or point OLLAMA_HOST or --host at a running server"
    return "; ".join([*(str(error) for error in errors), fix])


_LOCAL_PREFIXES = ("http://127.", "http://localhost", "http://[::1]")
