"""The OpenAI-compatible endpoints (/v1/models, /v1/chat/completions), as Ollama serves them
and with the server-sent events llama.cpp's server writes.

A stream is `data: {chunk}\\n\\n` events: the role, one event per token, the finish reason,
the usage when asked for (`stream_options.include_usage`), then `data: [DONE]`. Every error
body is {"error": {"message", "type", "param": null, "code": null}}.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

from .formats import (
    RUNNER_STOPPED,
    SERVER_BUSY,
    ApiError,
    FieldTypes,
    check_field_types,
    check_options,
    decode_json_body,
    go_json,
    is_number,
    json_kind,
    openai_error,
    openai_error_type,
    status_phrase,
    type_error,
)
from .generation import FindModel, GenRequest
from .http import Dialect, Endpoint, Framing, Handler, route_of
from .tokens import Generation

EVENT_STREAM_TYPE = "text/event-stream"
FINGERPRINT = "fp_ollama"
DONE_EVENT = b"data: [DONE]\n\n"
MALFORMED_EVENT = b"data: {not json\n\n"
INVALID_KEY = "Invalid API key"
STRUCT = "ChatCompletionRequest"
_NUMBER = ("number", "float64")
_INT = ("number", "int")
_FIELD_TYPES: FieldTypes = {
    "model": ("string", "string"),
    "messages": ("array", "[]openai.Message"),
    "stream": ("bool", "bool"),
    "stream_options": ("object", "openai.StreamOptions"),
    "max_tokens": _INT,
    "max_completion_tokens": _INT,
    "seed": _INT,
    "top_k": _INT,
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "min_p": _NUMBER,
    "frequency_penalty": _NUMBER,
    "presence_penalty": _NUMBER,
    "repeat_penalty": _NUMBER,
}
_SAMPLING_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repeat_penalty",
)


def event(value: Any) -> bytes:
    """One server-sent event carrying `value` as JSON."""
    return b"data: " + go_json(value) + b"\n\n"


def _error(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    return openai_error(message, error_type or openai_error_type(status))


def _default_message(status: int, model: str) -> str:
    defaults = {
        404: f'model "{model}" not found, try pulling it first',
        500: RUNNER_STOPPED,
        503: SERVER_BUSY,
    }
    return defaults.get(status) or status_phrase(status)


EVENTS = Framing(
    content_type=EVENT_STREAM_TYPE,
    encode=event,
    malformed=MALFORMED_EVENT,
    error=lambda message: event(openai_error(message, "server_error")),
    error_event=lambda message: b"event: error\n" + event(openai_error(message, "server_error")),
    filler=DONE_EVENT,
    trailer=DONE_EVENT,
)
OPENAI = Dialect(
    error_body=_error,
    default_message=_default_message,
    malformed_body=MALFORMED_EVENT.removeprefix(b"data: ").rstrip(b"\n"),
    unauthorized=openai_error(INVALID_KEY, "invalid_request_error"),
    framing=EVENTS,
)


# --- the request ---------------------------------------------------------------------------


def parse_chat_completion(raw: bytes, find_model: FindModel) -> GenRequest:
    """Decode and check a /v1/chat/completions body, translated into Ollama's terms."""
    body = decode_json_body(raw, STRUCT, package="openai", empty="EOF")
    check_field_types(body, STRUCT, _FIELD_TYPES)
    messages = _messages(body.get("messages"))
    options = _options(body)
    name = body.get("model") or ""
    if not name:
        raise ApiError(400, "model is required")
    spec = find_model(name)
    if spec is None:
        raise ApiError(404, f'model "{name}" not found, try pulling it first', "api_error")
    return GenRequest(
        api="openai",
        body=body,
        model=name,
        spec=spec,
        messages=messages,
        stream=body.get("stream") is True,  # OpenAI's default is one JSON object
        think=False,  # no reasoning on /v1 here: the reply is content only
        keep_alive=None,
        options=options,
    )


def _messages(value: Any) -> list[dict[str, str]]:
    if not value:
        raise ApiError(400, "messages must be a non-empty array")
    messages = []
    for message in value:
        if not isinstance(message, dict):
            raise type_error(json_kind(message), f"{STRUCT}.messages", "openai.Message")
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise ApiError(400, "invalid message format: role must be a string")
        messages.append({"role": role, "content": _content_text(message.get("content"))})
    return messages


def _content_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return "".join(
            str(part.get("text") or "") for part in content if part.get("type") == "text"
        )
    raise ApiError(400, f"invalid message content type: {json_kind(content)}")


def _options(body: dict[str, Any]) -> dict[str, Any]:
    """The request's sampling fields as Ollama's options (max_tokens is num_predict)."""
    options = {field: body[field] for field in _SAMPLING_FIELDS if body.get(field) is not None}
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    if limit is not None:
        if not is_number(limit) or limit < 1 or int(limit) != limit:
            raise ApiError(400, "max_tokens must be a positive integer")
        options["num_predict"] = int(limit)
    stop = body.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        options["stop"] = stop
    elif stop is not None:
        raise ApiError(400, "stop must be a string or an array of strings")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options.get("include_usage", False), bool):
        raise type_error(
            json_kind(stream_options["include_usage"]),
            f"{STRUCT}.stream_options.include_usage",
            "bool",
        )
    check_options(options)
    return options


# --- the response --------------------------------------------------------------------------


class CompletionReply:
    """The chunks (or the single object) answering one /v1/chat/completions request."""

    def __init__(
        self, req: GenRequest, generation: Generation, completion_id: str, timings: bool
    ) -> None:
        self.req = req
        self.generation = generation
        self.completion_id = completion_id
        self.with_timings = timings
        self.created = int(time.time())

    @property
    def include_usage(self) -> bool:
        stream_options = self.req.body.get("stream_options") or {}
        return stream_options.get("include_usage") is True

    def events(self, pause: Callable[[], None]) -> Generator[list[dict[str, Any]], None, None]:
        """Batches of chunks to write together: the role first, then the tokens; a last
        token known in advance travels with the finish chunk."""
        yield [self._chunk({"role": "assistant"})]
        for piece, is_last in self.generation.pieces(pause):
            content = self._chunk({"content": piece.text})
            if is_last:
                yield [content, *self._ending()]
                return
            yield [content]
        yield self._ending()

    def whole(self, pause: Callable[[], None]) -> dict[str, Any]:
        """The chat.completion object of a non-streamed reply."""
        text = "".join(piece.text for piece, _ in self.generation.pieces(pause))
        self.generation.finish()
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": self.generation.done_reason,
        }
        reply = {**self._head("chat.completion"), "choices": [choice], "usage": self._usage()}
        if self.with_timings:
            reply["timings"] = self._timings()
        return reply

    def _ending(self) -> list[dict[str, Any]]:
        self.generation.finish()
        finish = self._chunk({}, self.generation.done_reason)
        if self.with_timings:
            finish["timings"] = self._timings()
        if not self.include_usage:
            return [finish]
        usage = {**self._head("chat.completion.chunk"), "choices": [], "usage": self._usage()}
        return [finish, usage]

    def _head(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": kind,
            "created": self.created,
            "model": self.req.model,
            "system_fingerprint": FINGERPRINT,
        }

    def _chunk(self, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return {**self._head("chat.completion.chunk"), "choices": [choice]}

    def _usage(self) -> dict[str, int]:
        prompt = self.generation.source.prompt_tokens
        completion = self.generation.eval_count
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _timings(self) -> dict[str, float | int]:
        """llama.cpp's timings: prompt_n counts the evaluated prompt tokens, cache_n the
        reused ones; the milliseconds are measured."""
        durations = self.generation.durations_ns()
        source = self.generation.source
        return {
            "prompt_n": source.prompt_tokens - source.cached_tokens,
            "prompt_ms": durations["prompt_eval_duration"] / 1e6,
            "predicted_n": self.generation.eval_count,
            "predicted_ms": durations["eval_duration"] / 1e6,
            "cache_n": source.cached_tokens,
        }


# --- the endpoints -------------------------------------------------------------------------


def list_models(handler: Handler) -> None:
    models = [
        {"id": spec.name, "object": "model", "created": modified // 10**9, "owned_by": "library"}
        for spec, modified in handler.standin._catalog.newest_first()
    ]
    handler.send_json(200, {"object": "list", "data": models})


def chat_completions(handler: Handler) -> None:
    standin = handler.standin
    req = parse_chat_completion(handler.log.raw_body, standin._catalog.find)
    path = route_of(handler.path)
    with standin._generating(req, path, handler, handler.started_ns) as generation:
        reply = CompletionReply(
            req, generation, standin._next_completion_id(), standin.openai_timings
        )
        if req.stream:
            handler.stream(reply.events(handler.token_pause), EVENTS)
        else:
            handler.send_json(200, reply.whole(handler.token_pause))


ROUTES: dict[str, dict[str, Endpoint]] = {
    "/v1/models": {"GET": list_models},
    "/v1/chat/completions": {"POST": chat_completions},
}
