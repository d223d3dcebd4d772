"""Requests that generate text (/api/chat, /api/generate, and /v1/chat/completions once
translated), and the objects Ollama answers /api/chat and /api/generate with."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

from .formats import (
    ApiError,
    check_fields,
    decode_json_body,
    is_number,
    parse_keep_alive,
    parse_think,
    rfc3339,
)
from .models import LOAD_OPTIONS, ModelSpec
from .tokens import Generation, Piece, TokenSource

FindModel = Callable[[str], ModelSpec | None]


@dataclass
class GenRequest:
    """A validated request that generates text, in Ollama's terms."""

    api: str  # "chat", "generate" (Ollama's) or "openai" (/v1/chat/completions)
    body: dict[str, Any]  # as the client sent it
    model: str  # as the client spelled it; echoed in responses
    spec: ModelSpec
    messages: list[dict[str, str]]  # role and text of each message (none for generate)
    stream: bool
    think: bool | None
    keep_alive: float | None  # seconds; None when the request did not send one
    options: dict[str, Any]  # Ollama's option names (an OpenAI request's fields translated)

    @property
    def is_chat(self) -> bool:
        return self.api != "generate"

    @property
    def is_warmup(self) -> bool:
        """An Ollama request with nothing to answer: it only loads (or unloads) the model."""
        if self.api == "openai":
            return False
        return not (self.body.get("messages") if self.is_chat else self.body.get("prompt"))

    @property
    def thinks(self) -> bool:
        return "thinking" in self.spec.capabilities and self.think is not False

    @property
    def load_options(self) -> dict[str, Any]:
        chosen = {key: self.options[key] for key in LOAD_OPTIONS if key in self.options}
        if is_number(chosen.get("num_gpu")) and chosen["num_gpu"] < 0:
            del chosen["num_gpu"]  # a negative num_gpu means "decide for me": the default
        return chosen

    @property
    def num_predict(self) -> int | None:
        value = self.options.get("num_predict")
        return int(value) if is_number(value) and value > 0 else None

    @property
    def stop(self) -> list[str]:
        stop = self.options.get("stop")
        return [str(item) for item in stop] if isinstance(stop, list) else []

    @property
    def source_text(self) -> str:
        """The text an echo answers with: the last user message, or the prompt."""
        if not self.is_chat:
            return str(self.body.get("prompt") or "")
        users = [message for message in self.messages if message["role"] == "user"]
        return users[-1]["content"] if users else ""

    @property
    def estimated_prompt_tokens(self) -> int:
        """A prompt length in tokens for the scripted replies: about four characters each."""
        if self.is_chat:
            texts = [message["content"] for message in self.messages]
        else:
            texts = [str(self.body.get("prompt") or ""), str(self.body.get("system") or "")]
        return max(1, sum(len(text) for text in texts) // 4)

    def prompt_messages(self) -> list[dict[str, str]] | None:
        """The messages a chat template renders; None for a raw prompt used as it is."""
        if self.is_chat:
            return self.messages
        if self.body.get("raw"):
            return None
        system = str(self.body.get("system") or "")
        prompt = [{"role": "user", "content": str(self.body.get("prompt") or "")}]
        return [{"role": "system", "content": system}, *prompt] if system else prompt

    def check_thinking(self) -> None:
        if self.think and "thinking" not in self.spec.capabilities:
            raise ApiError(400, f"{json.dumps(self.model)} does not support thinking")


def parse_ollama_generation(api: str, raw: bytes, find_model: FindModel) -> GenRequest:
    """Decode and check an /api/chat ("chat") or /api/generate ("generate") body."""
    struct = "ChatRequest" if api == "chat" else "GenerateRequest"
    body = decode_json_body(raw, struct)
    check_fields(body, struct)
    name = body.get("model") or ""
    if not name:
        raise ApiError(400, "model is required")
    spec = find_model(name)
    if spec is None:
        raise ApiError(404, f"model '{name}' not found")
    keep_alive = body.get("keep_alive")
    messages = [
        {"role": str(message.get("role") or ""), "content": str(message.get("content") or "")}
        for message in body.get("messages") or []
        if isinstance(message, dict)
    ]
    return GenRequest(
        api=api,
        body=body,
        model=name,
        spec=spec,
        messages=messages if api == "chat" else [],
        stream=body.get("stream") is not False,
        think=parse_think(body.get("think")),
        keep_alive=None if keep_alive is None else parse_keep_alive(keep_alive),
        options=body.get("options") or {},
    )


# --- Ollama's response objects -------------------------------------------------------------


def _message(content: str, thinking: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    return message


def done_without_text(req: GenRequest, reason: str) -> dict[str, Any]:
    """The single object answering a load ("load") or unload ("unload") request."""
    reply: dict[str, Any] = {"model": req.model, "created_at": rfc3339()}
    if req.is_chat:
        reply.update(message=_message(""), done_reason=reason, done=True)
    else:
        reply.update(response="", done=True, done_reason=reason)
    return reply


class OllamaReply:
    """The objects answering one /api/chat or /api/generate request that produces text."""

    def __init__(self, req: GenRequest, generation: Generation) -> None:
        self.req = req
        self.generation = generation

    def stream(self, pause: Callable[[], None]) -> Generator[list[dict[str, Any]], None, None]:
        """Batches of objects to write together; a last token known in advance travels with
        the final object."""
        for piece, is_last in self.generation.pieces(pause):
            if not is_last:
                yield [self._chunk(piece)]
                continue
            last = self._chunk(piece)  # built before the final stops the clocks
            yield [last, self._final("", "")]
            return
        yield [self._final("", "")]

    def whole(self, pause: Callable[[], None]) -> dict[str, Any]:
        """The single object of a stream:false response."""
        pieces = [piece for piece, _ in self.generation.pieces(pause)]
        content = "".join(piece.text for piece in pieces if not piece.thinking)
        thinking = "".join(piece.text for piece in pieces if piece.thinking)
        return self._final(content, thinking)

    def _chunk(self, piece: Piece) -> dict[str, Any]:
        content, thinking = ("", piece.text) if piece.thinking else (piece.text, "")
        chunk: dict[str, Any] = {"model": self.req.model, "created_at": rfc3339()}
        if self.req.is_chat:
            chunk["message"] = _message(content, thinking)
        else:
            chunk["response"] = content
            if thinking:
                chunk["thinking"] = thinking
        chunk["done"] = False
        return chunk

    def _final(self, content: str, thinking: str) -> dict[str, Any]:
        self.generation.finish()
        final = self._chunk(Piece(content))
        reason = self.generation.done_reason
        if self.req.is_chat:
            final["message"] = _message(content, thinking)
            final.pop("done")
            final.update(done_reason=reason, done=True)
        else:
            if thinking:
                final["thinking"] = thinking
            final.update(done=True, done_reason=reason)
            if not self.req.body.get("raw"):
                final["context"] = self._context()
        final.update(self._metrics())
        return final

    def _metrics(self) -> dict[str, int]:
        durations = self.generation.durations_ns()
        metrics = {
            "total_duration": durations["total_duration"],
            "load_duration": durations["load_duration"],
            "prompt_eval_count": self.generation.source.prompt_tokens,
            "prompt_eval_duration": durations["prompt_eval_duration"],
            "eval_count": self.generation.eval_count,
            "eval_duration": durations["eval_duration"],
        }
        return {key: value for key, value in metrics.items() if value}  # Go's omitempty

    def _context(self) -> list[int]:
        """The prompt's and the reply's tokens: the real ones when a model generated them."""
        if self.generation.source.token_ids:
            return list(self.generation.source.token_ids)
        count = self.generation.source.prompt_tokens + self.generation.eval_count
        return [(index * 7919 + 151_643) % 151_936 for index in range(count)]


class TextGenerator(Protocol):
    """A real text generator (see llama.py): it loads a model and produces its tokens."""

    def load(self, load_options: dict[str, Any]) -> None:
        """Load the model afresh with these load-time options (a cold load)."""

    def tokens(self, req: GenRequest) -> TokenSource:
        """The tokens answering `req`, produced as they are iterated."""

    def unload(self) -> None:
        """Free the model, if loaded."""
