"""Ollama's HTTP API, the parts a rewrite needs: chat (streamed) and show.

HTTP status and error lines are mapped to the core's errors here: 404 means the model is
missing, anything else at or above 400, an `{"error": ...}` line in the stream, a
malformed line or a stall is a ServerError.
"""

from __future__ import annotations

import json
import os
import time

from . import paths, wire
from .errors import ModelNotFound, ServerError
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from .hosts import Host

_NS_PER_MS = 1_000_000
CAPABILITY_MEMO_SECONDS = 24 * 3600


class Timings(Record):
    """Milliseconds. wall and first_token are measured by the client; the rest come from the
    server's final chunk."""

    __slots__ = (
        "eval_ms",
        "first_token_ms",
        "load_ms",
        "output_tokens",
        "prompt_eval_ms",
        "prompt_tokens",
        "total_ms",
        "wall_ms",
    )

    def __init__(
        self,
        wall_ms: float = 0.0,
        first_token_ms: float | None = None,
        load_ms: float = 0.0,
        prompt_eval_ms: float = 0.0,
        eval_ms: float = 0.0,
        total_ms: float = 0.0,
        prompt_tokens: int = 0,
        output_tokens: int = 0,
    ) -> None:
        self.wall_ms = wall_ms
        self.first_token_ms = first_token_ms
        self.load_ms = load_ms
        self.prompt_eval_ms = prompt_eval_ms
        self.eval_ms = eval_ms
        self.total_ms = total_ms
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens

    @classmethod
    def from_final_chunk(cls, chunk: dict[str, Any]) -> Timings:
        def ms(key: str) -> float:
            return round(float(chunk.get(key) or 0) / _NS_PER_MS, 3)

        return cls(
            load_ms=ms("load_duration"),
            prompt_eval_ms=ms("prompt_eval_duration"),
            eval_ms=ms("eval_duration"),
            total_ms=ms("total_duration"),
            prompt_tokens=int(chunk.get("prompt_eval_count") or 0),
            output_tokens=int(chunk.get("eval_count") or 0),
        )


class ChatStream:
    """The content of one streamed chat reply, piece by piece; `stats` once it is done."""

    def __init__(self, response: wire.Response) -> None:
        self._response = response
        self.stats: Timings | None = None

    def __iter__(self) -> Iterator[str]:
        with self._response as response:
            for chunk in response.iter_json_lines():
                if "error" in chunk:
                    raise ServerError(
                        f"the server at {response.host} failed mid-reply: {chunk['error']}",
                        host=response.host.url,
                    )
                content = (chunk.get("message") or {}).get("content") or ""
                if content:
                    yield content
                if chunk.get("done"):
                    self.stats = Timings.from_final_chunk(chunk)
                    return
            if not response.closed_by_us:
                raise ServerError(
                    f"the server at {response.host} ended the reply before it was done"
                )

    def close(self) -> None:
        """Stop the generation: closing the connection makes Ollama stop. Any thread may call it."""
        self._response.close()


class Ollama:
    """One Ollama server."""

    def __init__(self, host: Host, *, timeout: float) -> None:
        self.host = host
        self.timeout = timeout

    def chat(self, body: dict[str, Any]) -> ChatStream:
        """Send the request; raises at once for HTTP errors, so a caller may try another host."""
        response = wire.request(self.host, "POST", "/api/chat", body, timeout=self.timeout)
        try:
            _raise_for_status(response, str(body.get("model")))
        except BaseException:
            response.close()
            raise
        return ChatStream(response)

    def show(self, model: str) -> dict[str, Any]:
        with wire.request(
            self.host, "POST", "/api/show", {"model": model}, timeout=self.timeout
        ) as response:
            _raise_for_status(response, model)
            value = response.json()
        if not isinstance(value, dict):
            raise ServerError(f"the server at {self.host} answered /api/show with {value!r}")
        return value

    def capabilities(self, model: str) -> tuple[str, ...]:
        """The model's capabilities ("completion", "thinking", ...), remembered on disk for a day
        because /api/show makes the server read the model file's metadata."""
        memo = _CapabilityMemo(os.path.join(paths.cache_dir(), "models.json"))
        key = f"{self.host.url} {model}"
        known = memo.get(key)
        if known is not None:
            return known
        found = tuple(str(c) for c in self.show(model).get("capabilities") or ())
        memo.put(key, found)
        return found

    def forget(self, model: str) -> None:
        _CapabilityMemo(os.path.join(paths.cache_dir(), "models.json")).drop(
            f"{self.host.url} {model}"
        )


def _raise_for_status(response: wire.Response, model: str) -> None:
    if response.status < 400:
        return
    message = wire.error_message(response)
    if (
        response.status == 404 and message != "404 page not found"
    ):  # that one is Gin's: no such path
        raise ModelNotFound(model, host=response.host.url)
    raise ServerError(
        f"the server at {response.host} answered HTTP {response.status}: {message}",
        host=response.host.url,
        status=response.status,
    )


class _CapabilityMemo:
    """A small JSON file; any failure to read or write it only costs a /api/show call."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as file:
                data = json.load(file)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> tuple[str, ...] | None:
        entry = self._load().get(key)
        if (
            not isinstance(entry, dict)
            or time.time() - entry.get("checked", 0) > CAPABILITY_MEMO_SECONDS
        ):
            return None
        return tuple(str(c) for c in entry.get("capabilities", ()))

    def put(self, key: str, capabilities: tuple[str, ...]) -> None:
        data = self._load()
        data[key] = {"capabilities": list(capabilities), "checked": time.time()}
        self._save(data)

    def drop(self, key: str) -> None:
        data = self._load()
        if data.pop(key, None) is not None:
            self._save(data)

    def _save(self, data: dict[str, Any]) -> None:
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            temporary = f"{self.path}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(data, file)
            os.replace(temporary, self.path)
        except OSError:
            pass
