"""One server behind one interface, whatever API it speaks.

    server = connect(host, timeout=60.0, memo=cache)    # Ollama's API or OpenAI-compatible
    stream = server.chat(Chat(model, messages, options, keep_alive))
    for piece in stream: ...                            # the reply's text as it arrives
    stream.stats                                        # Timings, once the reply is done
    stream.close()                                      # any thread: the server stops generating
    server.warm(chat)                                   # make the next request like it fast
    server.models()                                     # the model names the server lists

Ollama's native API lives here; the OpenAI-compatible one in `openai_api` (imported only
for such a host). HTTP statuses become the core's errors here: 401/403 AccessDenied, a
missing model ModelNotFound, anything else at or above 400 a ServerError; 429 and 503 are
tried once more after the server's Retry-After, when that is short.
"""

from __future__ import annotations

import time

from . import wire
from .cache import ModelInfo
from .errors import AccessDenied, ModelNotFound, ServerError
from .hosts import OLLAMA
from .record import Record
from .results import Timings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from .cache import Cache
    from .hosts import Host

RETRY_STATUSES = (429, 503)
LONGEST_RETRY_WAIT = 5.0  # seconds; a server that asks for more is busy, not hiccuping
DEFAULT_RETRY_WAIT = 0.5  # seconds, when the server does not say


class Chat(Record):
    """One chat request, in the core's terms; each backend words it for its API."""

    __slots__ = ("format", "keep_alive", "messages", "model", "options")

    def __init__(
        self,
        model: str,
        messages: list[dict[str, str]],
        options: Mapping[str, Any],
        keep_alive: str | float | None = None,
        format: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.messages = messages
        self.options = options  # Ollama's names: temperature, num_predict, stop, num_ctx, ...
        self.keep_alive = keep_alive
        self.format = format  # a JSON schema the answer must follow (structured output)


class ChatStream:
    """The text of one streamed reply, piece by piece; `stats` once it is done."""

    def __init__(self, response: wire.Response) -> None:
        self._response = response
        self.stats: Timings | None = None

    def __iter__(self) -> Iterator[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the generation: closing the connection makes the server stop. Any thread."""
        self._response.close()

    def _failed(self, what: str) -> ServerError:
        host = self._response.host
        return ServerError(f"the server at {host} {what}", host=host.url)


class Backend:
    """One server. `memo` remembers what it said about each model."""

    api = ""

    def __init__(
        self, host: Host, *, timeout: float, memo: Cache | None = None, retry_busy: bool = True
    ) -> None:
        self.host = host
        self.timeout = timeout
        self.memo = memo
        self.retry_busy = retry_busy  # False: a busy answer fails at once (another host waits)

    def chat(
        self, chat: Chat, *, patient: bool = False, deadline: float | None = None
    ) -> ChatStream:
        """Send the request; raises at once for HTTP errors, so a caller may try another host.
        `patient` waits without a timeout (for a model load, which a disconnect would abort);
        `deadline` (time.monotonic()) bounds the whole reply."""
        raise NotImplementedError

    def warm(self, chat: Chat) -> None:
        """Make the next request like `chat` fast, waiting as long as that takes."""
        raise NotImplementedError

    def models(self) -> list[str]:
        """The names of the models the server has."""
        raise NotImplementedError

    def model_info(self, model: str) -> ModelInfo:
        return ModelInfo(())

    def forget(self, model: str) -> None:
        """Drop what is remembered about `model` (it went missing)."""

    def get_json(self, path: str, body: dict[str, Any] | None = None, *, model: str = "") -> Any:
        """One JSON request: GET, or POST when there is a body."""
        method = "GET" if body is None else "POST"
        with wire.request(self.host, method, path, body, timeout=self.timeout) as response:
            self.raise_for_status(response, model)
            return response.json()

    def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        patient: bool = False,
        deadline: float | None = None,
    ) -> wire.Response:
        """POST and return the open response once its status is good; a 429 or 503 is tried
        once more after the wait the server asks for, when that is short."""
        timeout = None if patient else self.timeout
        model = str(body.get("model"))
        for attempt in (1, 2):
            response = wire.request(
                self.host, "POST", path, body, timeout=timeout, deadline=deadline
            )
            try:
                wait = wire.retry_after(response.headers, DEFAULT_RETRY_WAIT)
                busy = self.retry_busy and attempt == 1 and response.status in RETRY_STATUSES
                if busy and wait <= LONGEST_RETRY_WAIT:
                    response.close()
                    time.sleep(wait)
                    continue
                self.raise_for_status(response, model)
            except BaseException:
                response.close()
                raise
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def raise_for_status(self, response: wire.Response, model: str) -> None:
        if response.status < 400:
            return
        status, message = response.status, wire.error_message(response)
        if status in (401, 403):
            raise access_denied(self.host, status, message)
        if self.is_missing_model(status, message, model):
            raise self.missing_model(model, message)
        busy = ""
        if status in RETRY_STATUSES:
            wait = wire.retry_after(response.headers, DEFAULT_RETRY_WAIT)
            busy = f" (busy; it asks to wait {wait:g} s)" if wait > LONGEST_RETRY_WAIT else ""
        raise ServerError(
            f"the server at {self.host} answered HTTP {status}: {message}{busy}"
            f"{self.status_hint(status)}",
            host=self.host.url,
            status=status,
        )

    def is_missing_model(self, status: int, message: str, model: str) -> bool:
        raise NotImplementedError

    def status_hint(self, status: int) -> str:
        return ""

    def missing_model(self, model: str, message: str) -> ModelNotFound:
        return ModelNotFound(model, host=self.host.url)


def access_denied(host: Host, status: int, message: str) -> AccessDenied:
    """A 401 or 403, with what to set or check to get in."""
    return AccessDenied(
        f"the server at {host} refused access (HTTP {status}: {message[:200]}): {host.auth_hint()}",
        hosts=(host.url,),
        api=host.api,
    )


def connect(
    host: Host, *, timeout: float, memo: Cache | None = None, retry_busy: bool = True
) -> Backend:
    """The backend for the API `host` speaks."""
    if host.api == OLLAMA:
        return Ollama(host, timeout=timeout, memo=memo, retry_busy=retry_busy)
    from .openai_api import OpenAI

    return OpenAI(host, timeout=timeout, memo=memo, retry_busy=retry_busy)


class OllamaStream(ChatStream):
    """Ollama's NDJSON chat stream; a line of any other shape is a failed reply."""

    def __iter__(self) -> Iterator[str]:
        with self._response as response:
            for chunk in _chunks(response):
                if "error" in chunk:
                    raise self._failed(f"failed mid-reply: {str(chunk['error'])[:300]}")
                message = chunk.get("message") or {}
                content = message.get("content") if isinstance(message, dict) else None
                if not isinstance(message, dict) or not isinstance(content, (str, type(None))):
                    raise self._failed(f"sent a line of another shape: {str(chunk)[:80]}")
                if content:
                    yield content
                if chunk.get("done") is True:
                    self.stats = Timings.from_final_chunk(chunk)
                    return
            if not response.closed_by_us:
                raise self._failed("ended the reply before it was done")


class Ollama(Backend):
    """A server speaking Ollama's native API."""

    api = OLLAMA

    def chat(
        self, chat: Chat, *, patient: bool = False, deadline: float | None = None
    ) -> ChatStream:
        body: dict[str, Any] = {
            "model": chat.model,
            "messages": chat.messages,
            "stream": True,
            "keep_alive": chat.keep_alive,
            "options": dict(chat.options),
        }
        if chat.keep_alive is None:
            del body["keep_alive"]
        if chat.format is not None:
            body["format"] = dict(chat.format)
        if "thinking" in self.model_info(chat.model).capabilities:
            body["think"] = False
        return OllamaStream(self.post("/api/chat", body, patient=patient, deadline=deadline))

    def warm(self, chat: Chat) -> None:
        """An empty chat is Ollama's load request: the model is loaded with these options and
        keep_alive, and nothing is generated."""
        for _ in self.chat(chat.replace(messages=[]), patient=True):
            pass

    def models(self) -> list[str]:
        return [name for name, _ in self._listing()]

    def _listing(self) -> list[tuple[str, str]]:
        """(name, digest) of each model in /api/tags; another shape is a server error."""
        listing = self.get_json("/api/tags")
        entries = listing.get("models") if isinstance(listing, dict) else None
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("name"), str) for entry in entries
        ):
            raise self._malformed("/api/tags", listing)
        return [(entry["name"], _string(entry.get("digest"))) for entry in entries]

    def _malformed(self, path: str, value: Any) -> ServerError:
        return ServerError(
            f"the server at {self.host} answered {path} with {str(value)[:80]}",
            host=self.host.url,
        )

    def model_info(self, model: str) -> ModelInfo:
        """Capabilities and digest, remembered for a day: /api/show makes the server read
        the model file's metadata."""
        key = f"{self.host.url} {model}"
        known = self.memo.model_info(key) if self.memo else None
        if known is not None:
            return known
        shown = self.get_json("/api/show", {"model": model}, model=model)
        listed = shown.get("capabilities", []) if isinstance(shown, dict) else None
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise self._malformed("/api/show", shown)
        info = ModelInfo(tuple(listed), self._digest(model))
        if self.memo:
            self.memo.remember_model(key, info)
        return info

    def forget(self, model: str) -> None:
        if self.memo:
            self.memo.forget_model(f"{self.host.url} {model}")

    def is_missing_model(self, status: int, message: str, model: str) -> bool:
        # "404 page not found" is the router's answer for an unknown path, not a missing model.
        return status == 404 and message != "404 page not found"

    def _digest(self, model: str) -> str:
        wanted = {model.lower(), f"{model.lower()}:latest"}
        return next((digest for name, digest in self._listing() if name.lower() in wanted), "")


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _chunks(response: wire.Response) -> Iterator[dict[str, Any]]:
    """NDJSON lines; a load or unload (no messages) is answered with one plain JSON object."""
    if response.headers.get("content-type", "").startswith("application/json"):
        value = response.json()
        if not isinstance(value, dict):
            raise ServerError(f"the server at {response.host} answered {value!r}")
        yield value
    else:
        yield from response.iter_json_lines()
