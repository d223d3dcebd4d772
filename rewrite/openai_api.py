"""OpenAI-compatible servers: llama.cpp, vLLM, LM Studio, LiteLLM, Ollama's own /v1.

`POST {base}/chat/completions` with `stream: true` answers server-sent events: `data:` lines
holding chunks whose `choices[0].delta.content` carry the text, then `data: [DONE]`. A stream
that ends without `[DONE]`, an `error` event or a `data:` line that is not a JSON object is
a failed reply. Keeping the model loaded is the server's business here: keep_alive, think,
pull and autostart are Ollama's and are not sent.
"""

from __future__ import annotations

import re

from .backend import Backend, Chat, ChatStream
from .errors import ModelNotFound, RewriteError, ServerError
from .hosts import OPENAI
from .results import Timings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

# Ollama's option names and the OpenAI request fields they become; the rest (num_ctx, top_k,
# ...) set up the server's own model and are not the client's to send here.
_OPTION_FIELDS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "num_predict": "max_tokens",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
_UNKNOWN_MODEL = re.compile(
    r"model\b.*\b(not found|does not exist|doesn't exist|not exist|unknown|not available"
    r"|no such|not supported|invalid)|\b(unknown|invalid|no such) model",
    re.IGNORECASE | re.DOTALL,
)
WARM_MAX_TOKENS = 1


def request_body(chat: Chat) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": chat.model,
        "messages": chat.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    for option, field in _OPTION_FIELDS.items():
        if option in chat.options:
            body[field] = chat.options[option]
    if chat.format is not None:  # llama.cpp's form of structured output
        body["response_format"] = {"type": "json_object", "schema": dict(chat.format)}
    return body


class EventStream(ChatStream):
    """A streamed chat completion, as server-sent events."""

    def __iter__(self) -> Iterator[str]:
        with self._response as response:
            if response.headers.get("content-type", "").startswith("application/json"):
                yield from self._whole(response.json())  # a server that does not stream
                return
            usage: dict[str, Any] = {}
            for event, data in response.iter_events():
                if data.strip() == "[DONE]":
                    self.stats = timings_from(usage)
                    return
                chunk = self._chunk(event, data)
                usage.update({k: chunk[k] for k in ("usage", "timings") if chunk.get(k)})
                yield from self._contents(chunk)
            if not response.closed_by_us:
                raise self._failed("ended the reply without [DONE]")

    def _chunk(self, event: str, data: str) -> dict[str, Any]:
        from .wire import loads

        try:
            chunk = loads(data)
        except ValueError:
            raise self._failed(f"sent an event that is not JSON: {data[:80]!r}") from None
        if event == "error" or not isinstance(chunk, dict) or _is_error(chunk):
            from .wire import message_in

            raise self._failed(f"failed mid-reply: {message_in(chunk) or data[:200]}")
        return chunk

    def _contents(self, chunk: dict[str, Any]) -> Iterator[str]:
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            if "usage" in chunk or "timings" in chunk:
                return  # the usage chunk has no choices
            raise self._failed(f"sent a chunk without choices: {str(chunk)[:80]}")
        for choice in choices[:1]:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            content = delta.get("content") if isinstance(delta, dict) else None
            if content is not None and not isinstance(content, str):
                raise self._failed(f"sent content that is not text: {content!r:.80}")
            if content:
                yield content

    def _whole(self, reply: Any) -> Iterator[str]:
        if not isinstance(reply, dict) or _is_error(reply):
            raise self._failed(f"answered {str(reply)[:200]}")
        choices = reply.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else {}
        message = first.get("message") if isinstance(first, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise self._failed(f"sent a reply without text: {str(reply)[:80]}")
        self.stats = timings_from(reply)
        if content:
            yield content


def _is_error(chunk: dict[str, Any]) -> bool:
    return "error" in chunk or chunk.get("object") == "error"


def timings_from(found: dict[str, Any]) -> Timings:
    """Token counts from `usage`; times from llama.cpp's `timings`, where it sends them."""
    usage = _table(found, "usage")
    timings = _table(found, "timings")
    cached = _number(_table(usage, "prompt_tokens_details"), "cached_tokens")
    if cached is None:
        cached = _number(timings, "cache_n")
    prompt_ms = _number(timings, "prompt_ms") or 0.0
    eval_ms = _number(timings, "predicted_ms") or 0.0
    output = _number(usage, "completion_tokens") or _number(timings, "predicted_n") or 0
    return Timings(
        prompt_eval_ms=round(prompt_ms, 3),
        eval_ms=round(eval_ms, 3),
        total_ms=round(prompt_ms + eval_ms, 3),
        prompt_tokens=int(_number(usage, "prompt_tokens") or 0),
        output_tokens=int(output),
        cached_tokens=None if cached is None else int(cached),
    )


def _table(found: dict[str, Any], key: str) -> dict[str, Any]:
    value = found.get(key)
    return value if isinstance(value, dict) else {}


def _number(table: dict[str, Any], key: str) -> float | None:
    value = table.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


class OpenAI(Backend):
    """A server speaking the OpenAI-compatible chat completions API."""

    api = OPENAI

    def chat(
        self, chat: Chat, *, patient: bool = False, deadline: float | None = None
    ) -> ChatStream:
        body = request_body(chat)
        return EventStream(self.post("/chat/completions", body, patient=patient, deadline=deadline))

    def warm(self, chat: Chat) -> None:
        """One tiny request: the server loads what it loads, and caches the prompt's fixed
        part, so the next rewrite evaluates little more than the user's text."""
        options = {**chat.options, "num_predict": WARM_MAX_TOKENS}
        for _ in self.chat(chat.replace(options=options), patient=True):
            pass

    def models(self) -> list[str]:
        listing = self.get_json("/models")
        entries = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(entries, list):
            raise ServerError(
                f"the server at {self.host} answered /models with {str(listing)[:80]}",
                host=self.host.url,
            )
        return [
            str(entry["id"])
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        ]

    def is_missing_model(self, status: int, message: str, model: str) -> bool:
        return status in (400, 404, 422) and bool(_UNKNOWN_MODEL.search(message))

    def status_hint(self, status: int) -> str:
        if status in (404, 405):
            return f" (is {self.host} the API's base URL? It usually ends in /v1)"
        return ""

    def missing_model(self, model: str, message: str) -> ModelNotFound:
        try:
            served = self.models()
        except RewriteError:
            served = []
        has = f"it has {', '.join(served)}" if served else "it lists no models"
        return ModelNotFound(
            model,
            host=self.host.url,
            message=f"model '{model}' is not served at {self.host} ({message}); {has}: "
            "choose one with --model or `model:` in the config",
            pullable=False,
        )
