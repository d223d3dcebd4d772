"""Ollama's HTTP API, the parts rewrite needs: chat (streamed), show, tags, and plain JSON calls.

HTTP status and error lines are mapped to the core's errors here: 404 means the model is
missing, anything else at or above 400, an `{"error": ...}` line in the stream, a
malformed line or a stall is a ServerError.
"""

from __future__ import annotations

from . import wire
from .cache import ModelInfo
from .errors import ModelNotFound, ServerError
from .results import Timings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from .cache import Cache
    from .hosts import Host


class ChatStream:
    """The content of one streamed chat reply, piece by piece; `stats` once it is done."""

    def __init__(self, response: wire.Response) -> None:
        self._response = response
        self.stats: Timings | None = None

    def __iter__(self) -> Iterator[str]:
        with self._response as response:
            for chunk in _chunks(response):
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
    """One Ollama server. `memo` remembers what it said about each model."""

    def __init__(self, host: Host, *, timeout: float, memo: Cache | None = None) -> None:
        self.host = host
        self.timeout = timeout
        self.memo = memo

    def chat(self, body: dict[str, Any], *, patient: bool = False) -> ChatStream:
        """Send the request; raises at once for HTTP errors, so a caller may try another host.
        `patient` waits without a timeout (for a model load, which a disconnect would abort)."""
        timeout = None if patient else self.timeout
        response = wire.request(self.host, "POST", "/api/chat", body, timeout=timeout)
        try:
            _raise_for_status(response, str(body.get("model")))
        except BaseException:
            response.close()
            raise
        return ChatStream(response)

    def get_json(self, path: str, body: dict[str, Any] | None = None, *, model: str = "") -> Any:
        """One JSON request: GET, or POST when there is a body."""
        method = "GET" if body is None else "POST"
        with wire.request(self.host, method, path, body, timeout=self.timeout) as response:
            _raise_for_status(response, model)
            return response.json()

    def model_info(self, model: str) -> ModelInfo:
        """Capabilities and digest, remembered for a day: /api/show makes the server read
        the model file's metadata."""
        key = f"{self.host.url} {model}"
        known = self.memo.model_info(key) if self.memo else None
        if known is not None:
            return known
        shown = self.get_json("/api/show", {"model": model}, model=model)
        capabilities = tuple(str(c) for c in (shown or {}).get("capabilities") or ())
        info = ModelInfo(capabilities, self._digest(model))
        if self.memo:
            self.memo.remember_model(key, info)
        return info

    def forget(self, model: str) -> None:
        if self.memo:
            self.memo.forget_model(f"{self.host.url} {model}")

    def _digest(self, model: str) -> str:
        wanted = {model.lower(), f"{model.lower()}:latest"}
        for entry in (self.get_json("/api/tags") or {}).get("models") or ():
            if str(entry.get("name", "")).lower() in wanted:
                return str(entry.get("digest") or "")
        return ""


def _chunks(response: wire.Response) -> Iterator[dict[str, Any]]:
    """NDJSON lines; a load or unload (no messages) is answered with one plain JSON object."""
    if response.headers.get("content-type", "").startswith("application/json"):
        value = response.json()
        if not isinstance(value, dict):
            raise ServerError(f"the server at {response.host} answered {value!r}")
        yield value
    else:
        yield from response.iter_json_lines()


def _raise_for_status(response: wire.Response, model: str) -> None:
    if response.status < 400:
        return
    message = wire.error_message(response)
    # "404 page not found" is the router's answer for an unknown path, not a missing model.
    if response.status == 404 and message != "404 page not found":
        raise ModelNotFound(model, host=response.host.url)
    raise ServerError(
        f"the server at {response.host} answered HTTP {response.status}: {message}",
        host=response.host.url,
        status=response.status,
    )
