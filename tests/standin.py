"""An Ollama stand-in: a real HTTP/1.1 server on 127.0.0.1 that speaks Ollama's wire protocol.

No Ollama binary and no model weights are needed. The server answers the endpoints the project
uses with Ollama's field names, units (durations in integer nanoseconds), status codes and error
bodies, and streams chunked NDJSON whose HTTP chunk boundaries fall in the middle of lines, so a
client has to reassemble lines exactly as it must when a proxy sits in front of the real server.

In a test::

    from tests.standin import ModelSpec, StandIn

    with StandIn(reply="They're going.", token_delay=0.01) as ollama:
        ...  # point the client at ollama.url
        sent = ollama.chat_requests()[-1].body      # what the client sent
        assert sent["keep_alive"] == "30m"

    ollama.queue_replies("first", "second")         # one-shot replies, used before `reply`
    ollama.reply = lambda body: body["messages"][-1]["content"].upper()
    ollama.fault("status", status=503)              # the next /api/chat answers 503
    ollama.fault("stall", after_chunks=1)           # the next stream goes silent after one line
    ollama.wait_for(lambda: ollama.chat_requests()[-1].disconnected)   # the client hung up

Without a reply it echoes the last user message (or the prompt). When that text opens with a
paragraph ending in ':' followed by a blank line ("Fix this text:\\n\\ntheir going"), only what
follows the blank line comes back, so an echo looks like a rewrite.

Models start unloaded. A cold load (model not loaded, keep-alive expired, or different load-time
options) waits `load_delay`, counts in `load_count` and shows in `load_duration`; `loaded` maps
each model in memory to its expiry and load options. Thinking models (capability "thinking")
stream a few thinking tokens first unless the request says think:false; `num_predict` counts
them too, and reaching it ends the reply with done_reason "length".

By hand, without a GPU (Ctrl-C stops it)::

    python -m tests.standin --port 11434 --token-delay 0.03 --thinking-model qwen3:0.6b
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import itertools
import json
import re
import selectors
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

OLLAMA_VERSION = "0.32.1"
DEFAULT_MODEL = "qwen2.5:1.5b"
DEFAULT_KEEP_ALIVE = 300.0  # seconds; Ollama's OLLAMA_KEEP_ALIVE default
DEFAULT_NUM_CTX = 4096
FOREVER = float("inf")
FOREVER_NS = 2**63 - 1  # Go's math.MaxInt64 duration: "expires" about 292 years from now
LOAD_OPTIONS = (
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "use_mmap",
    "num_thread",
    "draft_num_predict",
    "shift",
)
TOKEN_RE = re.compile(r"\s*\S+|\s+")
THINKING_TEXT = "Okay, the user wants this rewritten. Keep the meaning."
RUNNER_STOPPED = (
    "model runner has unexpectedly stopped, this may be due to resource limitations "
    "or an internal error, check ollama server logs for details"
)
SERVER_BUSY = "server busy, please try again.  maximum pending requests exceeded"
PULL_MISSING = "pull model manifest: file does not exist"
FAULT_KINDS = frozenset(
    {"status", "error_midstream", "truncate", "malformed", "stall", "stall_headers", "die"}
)
MALFORMED_LINE = b'{"model": oops}\n'
JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
TEXT_TYPE = "text/plain; charset=utf-8"


# --- public data types ---------------------------------------------------------------------


@dataclass
class ModelSpec:
    """A model the stand-in has "on disk"."""

    name: str
    family: str = "qwen2"
    parameter_size: str = "1.5B"
    quantization_level: str = "Q4_K_M"
    size: int = 986_000_000  # bytes
    capabilities: tuple[str, ...] = ("completion",)
    context_length: int = 32768
    digest: str = ""  # sha256 hex; derived from the name when empty

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = hashlib.sha256(self.name.encode()).hexdigest()


@dataclass
class LoadedModel:
    """A model in memory."""

    expires_at: float | None  # time.monotonic() deadline; None = kept forever
    options: dict[str, Any]  # the load-time options it was loaded with
    keep_alive: float = DEFAULT_KEEP_ALIVE  # seconds; FOREVER = never expires
    active: int = 0  # requests using it now; it cannot expire meanwhile


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
    chunks_sent: int = 0  # NDJSON objects written


@dataclass
class _Fault:
    kind: str
    status: int | None
    message: str | None
    after_chunks: int
    path: str
    times: int
    seconds: float


class ApiError(Exception):
    """An error answered as Ollama does: `status` with body {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _ClientGone(Exception):
    """The client closed the connection before the response was complete."""


class _Abort(Exception):
    """Drop the connection now, without finishing the response."""


class _ResponseEnded(Exception):
    """The response was finished early (a fault ended the stream cleanly)."""


# --- Go and Ollama formats -----------------------------------------------------------------

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json(value: Any) -> bytes:
    """Encode like Go's encoding/json: compact UTF-8 with <, > and & escaped."""
    # Those characters can only occur inside JSON strings, so translating them is safe.
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_GO_ESCAPES).encode()
    )


def rfc3339(epoch_ns: int | None = None) -> str:
    """A UTC time in Go's RFC3339Nano form: nanoseconds, trailing zeros trimmed, 'Z'."""
    ns = time.time_ns() if epoch_ns is None else epoch_ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string ("30m", "1h30m", "-1m", "500ms"); Go's errors."""
    quoted = f'"{text}"'
    rest = text[1:] if text[:1] in ("+", "-") else text
    sign = -1.0 if text.startswith("-") else 1.0
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        match = _DURATION_PART.match(rest)
        assert match is not None  # the pattern matches the empty string
        whole, fraction, unit = match.groups()
        if not whole and not fraction:
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(f"{whole or 0}.{fraction or 0}") * _DURATION_UNITS[unit]
        rest = rest[match.end() :]
    return sign * total


def parse_keep_alive(value: Any) -> float:
    """Seconds from a keep_alive value (number of seconds or Go duration); FOREVER if < 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"unsupported duration type: '{_go_type_name(value)}'")
    seconds = parse_go_duration(value) if isinstance(value, str) else float(value)
    return FOREVER if seconds < 0 else seconds


def parse_think(value: Any) -> bool | None:
    """The request's think value as a switch: None when absent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value not in ("high", "medium", "low"):
            raise ValueError(
                f'invalid think value: "{value}" (must be "high", "medium", "low", true, or false)'
            )
        return True
    raise ValueError('think must be a boolean or string ("high", "medium", "low", true, or false)')


def json_kind(value: Any) -> str:
    """The JSON kind of a decoded value, named as Go's decoder names it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    kinds = {str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), "null")


def _go_type_name(value: Any) -> str:
    names = {"bool": "bool", "array": "[]interface {}", "object": "map[string]interface {}"}
    return names.get(json_kind(value), "<nil>")


def _go_char(char: str) -> str:
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + json.dumps(char, ensure_ascii=False)[1:-1] + "'"


_BEGIN_VALUE = "looking for beginning of value"
_SYNTAX_CONTEXT = {
    "Expecting value": _BEGIN_VALUE,
    "Expecting property name enclosed in double quotes": (
        "looking for beginning of object key string"
    ),
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
}


def _go_syntax_error(exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(exc.doc) or exc.msg.startswith("Unterminated string"):
        return "unexpected EOF"
    char = _go_char(exc.doc[exc.pos])
    if exc.msg.startswith("Invalid control character"):
        return f"invalid character {char} in string literal"
    return f"invalid character {char} {_SYNTAX_CONTEXT.get(exc.msg, _BEGIN_VALUE)}"


def decode_json_body(raw: bytes, struct: str) -> dict[str, Any]:
    """Decode a request body as Gin's ShouldBindJSON does, with Go's error messages."""
    text = raw.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise ApiError(400, "missing request body")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)  # like Go's Decoder: trailing data ignored
    except json.JSONDecodeError as exc:
        raise ApiError(400, _go_syntax_error(exc)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(
            400, f"json: cannot unmarshal {json_kind(value)} into Go value of type api.{struct}"
        )
    return value


_STRING = ("string", "string")
_BOOL = ("bool", "bool")
_OPTIONS = ("object", "map[string]interface {}")
_FIELD_TYPES: dict[str, dict[str, tuple[str, str]]] = {
    "ChatRequest": {
        "model": _STRING,
        "messages": ("array", "[]api.Message"),
        "stream": _BOOL,
        "options": _OPTIONS,
        "tools": ("array", "api.Tools"),
    },
    "GenerateRequest": {
        "model": _STRING,
        "prompt": _STRING,
        "suffix": _STRING,
        "system": _STRING,
        "template": _STRING,
        "stream": _BOOL,
        "raw": _BOOL,
        "options": _OPTIONS,
    },
    "ShowRequest": {"model": _STRING, "name": _STRING, "system": _STRING, "verbose": _BOOL},
    "PullRequest": {"model": _STRING, "name": _STRING, "insecure": _BOOL, "stream": _BOOL},
}


def _type_error(kind: str, where: str, go_type: str) -> ApiError:
    return ApiError(
        400, f"json: cannot unmarshal {kind} into Go struct field {where} of type {go_type}"
    )


def check_fields(body: dict[str, Any], struct: str) -> None:
    """Reject wrongly typed fields as Go's decoder does (keep_alive and think included)."""
    types = _FIELD_TYPES[struct]
    for key, value in body.items():
        if value is None:
            continue
        if key in ("keep_alive", "think") and struct in ("ChatRequest", "GenerateRequest"):
            try:
                (parse_keep_alive if key == "keep_alive" else parse_think)(value)
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        elif key in types and json_kind(value) != types[key][0]:
            raise _type_error(json_kind(value), f"{struct}.{key}", types[key][1])
        elif key == "messages" and struct == "ChatRequest":
            _check_messages(value)


def _check_messages(messages: list[Any]) -> None:
    for message in messages:
        if message is not None and not isinstance(message, dict):
            raise _type_error(json_kind(message), "ChatRequest.messages", "api.Message")
        for key in ("role", "content"):
            value = (message or {}).get(key)
            if value is not None and not isinstance(value, str):
                raise _type_error(json_kind(value), f"Message.messages.{key}", "string")


_INT_OPTIONS = frozenset(
    {"num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "num_predict", "num_keep"}
    | {"seed", "top_k", "repeat_last_n", "mirostat", "draft_num_predict"}
)
_FLOAT_OPTIONS = frozenset(
    {"temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty"}
    | {"frequency_penalty", "mirostat_tau", "mirostat_eta"}
)
_BOOL_OPTIONS = frozenset({"use_mmap", "numa", "penalize_newline", "shift"})


def check_options(options: dict[str, Any]) -> None:
    """Option type errors surface when the model is scheduled: a 500, as in Ollama."""
    for key, value in options.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is None:
            continue
        if key in _INT_OPTIONS and not number:
            raise ApiError(500, f'option "{key}" must be of type integer')
        if key in _FLOAT_OPTIONS and not number:
            raise ApiError(500, f'option "{key}" must be of type float32')
        if key in _BOOL_OPTIONS and not isinstance(value, bool):
            raise ApiError(500, f'option "{key}" must be of type boolean')
        if key == "stop" and not isinstance(value, list):
            raise ApiError(500, 'option "stop" must be of type array')
        if key == "stop" and not all(isinstance(item, str) for item in value):
            raise ApiError(500, 'option "stop" must be of an array of strings')


def full_name(name: str) -> str:
    """Ollama's canonical model name: a missing tag means ':latest'."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


_PREAMBLE_BREAK = re.compile(r"\r?\n[ \t]*\r?\n")


def echo_text(text: str) -> str:
    """The echo-mode reply: `text`, minus a leading "Instructions:" paragraph."""
    found = _PREAMBLE_BREAK.search(text)
    if found and text[: found.start()].rstrip().endswith(":"):
        return text[found.end() :]
    return text


def unused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (for connection-refused tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- requests that generate text -----------------------------------------------------------


@dataclass
class _GenRequest:
    """A validated /api/chat or /api/generate request."""

    kind: str  # "chat" or "generate"
    body: dict[str, Any]
    model: str  # as the client spelled it; echoed in responses
    spec: ModelSpec
    think: bool | None
    keep_alive: float | None  # seconds; None when the request did not send one
    options: dict[str, Any]

    @property
    def is_chat(self) -> bool:
        return self.kind == "chat"

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is not False

    @property
    def is_warmup(self) -> bool:
        return not (self.body.get("messages") if self.is_chat else self.body.get("prompt"))

    @property
    def thinks(self) -> bool:
        return "thinking" in self.spec.capabilities and self.think is not False

    @property
    def load_options(self) -> dict[str, Any]:
        chosen = {key: self.options[key] for key in LOAD_OPTIONS if key in self.options}
        if isinstance(chosen.get("num_gpu"), (int, float)) and chosen["num_gpu"] < 0:
            del chosen["num_gpu"]  # a negative num_gpu means "decide for me": the default
        return chosen

    @property
    def num_predict(self) -> int | None:
        value = self.options.get("num_predict")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return int(value) if number and value > 0 else None

    @property
    def source_text(self) -> str:
        if not self.is_chat:
            return str(self.body.get("prompt") or "")
        users = [
            m for m in self.body["messages"] if isinstance(m, dict) and m.get("role") == "user"
        ]
        return str(users[-1].get("content") or "") if users else ""

    @property
    def prompt_eval_count(self) -> int:
        if self.is_chat:
            texts = [m.get("content") or "" for m in self.body["messages"] if isinstance(m, dict)]
        else:
            texts = [self.body.get("prompt") or "", self.body.get("system") or ""]
        return max(1, sum(len(str(text)) for text in texts) // 4)

    def check_thinking(self) -> None:
        if self.think and "thinking" not in self.spec.capabilities:
            raise ApiError(400, f"{json.dumps(self.model)} does not support thinking")


def _message(content: str, thinking: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    return message


def _done_without_text(req: _GenRequest, reason: str) -> dict[str, Any]:
    """The single object answering a load ("load") or unload ("unload") request."""
    reply: dict[str, Any] = {"model": req.model, "created_at": rfc3339()}
    if req.is_chat:
        reply.update(message=_message(""), done_reason=reason, done=True)
    else:
        reply.update(response="", done=True, done_reason=reason)
    return reply


class _Generation:
    """The response objects of one request that produces text, with real timings."""

    def __init__(
        self,
        req: _GenRequest,
        reply: str,
        times_ns: tuple[int, int],
        on_done: Callable[[], None],
    ) -> None:
        thinking = TOKEN_RE.findall(THINKING_TEXT) if req.thinks else []
        tokens = [(True, t) for t in thinking] + [(False, t) for t in TOKEN_RE.findall(reply)]
        self.done_reason = "stop"
        limit = req.num_predict
        if limit is not None and limit <= len(tokens):
            tokens, self.done_reason = tokens[:limit], "length"
        self.req, self.tokens = req, tokens
        self.started_ns, self.loaded_ns = times_ns  # request received, model ready
        self.eval_started_ns = self.loaded_ns
        self.on_done = on_done

    def stream(self, pause: Callable[[], None]) -> Iterator[list[dict[str, Any]]]:
        """Batches of objects to write together; the last token travels with the final."""
        self.eval_started_ns = time.perf_counter_ns()
        if not self.tokens:
            yield [self._final("", "")]
        for index, (is_thinking, token) in enumerate(self.tokens):
            pause()
            batch = [self._chunk(is_thinking, token)]
            if index == len(self.tokens) - 1:
                batch.append(self._final("", ""))
            yield batch

    def whole(self, pause: Callable[[], None]) -> dict[str, Any]:
        """The single object of a stream:false response."""
        self.eval_started_ns = time.perf_counter_ns()
        for _ in self.tokens:
            pause()
        content = "".join(token for is_thinking, token in self.tokens if not is_thinking)
        thinking = "".join(token for is_thinking, token in self.tokens if is_thinking)
        return self._final(content, thinking)

    def _chunk(self, is_thinking: bool, token: str) -> dict[str, Any]:
        content, thinking = ("", token) if is_thinking else (token, "")
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
        self.on_done()  # the model is free before the client can see the end
        final = self._chunk(False, content)
        if self.req.is_chat:
            final["message"] = _message(content, thinking)
            final.pop("done")
            final.update(done_reason=self.done_reason, done=True)
        else:
            if thinking:
                final["thinking"] = thinking
            final.update(done=True, done_reason=self.done_reason)
            if not self.req.body.get("raw"):
                final["context"] = self._context()
        final.update(self._metrics())
        return final

    def _metrics(self) -> dict[str, int]:
        now = time.perf_counter_ns()
        metrics = {
            "total_duration": now - self.started_ns,
            "load_duration": max(1, self.loaded_ns - self.started_ns),
            "prompt_eval_count": self.req.prompt_eval_count,
            "prompt_eval_duration": max(1, self.eval_started_ns - self.loaded_ns),
            "eval_count": len(self.tokens),
            "eval_duration": max(1, now - self.eval_started_ns),
        }
        return {key: value for key, value in metrics.items() if value}  # Go's omitempty

    def _context(self) -> list[int]:
        count = self.req.prompt_eval_count + len(self.tokens)
        return [(index * 7919 + 151_643) % 151_936 for index in range(count)]


# --- the stand-in --------------------------------------------------------------------------


class StandIn:
    """A controllable Ollama server for tests. See the module docstring."""

    def __init__(
        self,
        *,
        models: list[ModelSpec] | None = None,
        reply: str | Callable[[dict[str, Any]], str] | None = None,
        token_delay: float = 0.0,
        load_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.reply = reply
        self.token_delay = token_delay
        self.load_delay = load_delay
        self.host, self.port = host, port
        self.pullable: dict[str, ModelSpec] = {}
        self.listener: Callable[[LoggedRequest], None] | None = None  # called after each request
        self.requests: list[LoggedRequest] = []
        self.load_count = 0
        self._cond = threading.Condition(threading.RLock())
        self._load_lock = threading.Lock()
        self._models: dict[str, tuple[ModelSpec, int]] = {}  # key -> (spec, modified ns)
        self._loaded: dict[str, LoadedModel] = {}
        self._replies: deque[str] = deque()
        self._faults: list[_Fault] = []
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        day_ago = time.time_ns() - 86_400 * 10**9
        for index, spec in enumerate(models if models is not None else [ModelSpec(DEFAULT_MODEL)]):
            self._register(spec, day_ago - index * 10**9)  # /api/tags keeps the given order

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
        server = _Server((self.host, self.port), self)
        self.port = server.server_address[1]
        with self._cond:
            self._loaded.clear()  # a fresh server has nothing in memory
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
                _shutdown_quietly(connection)
            self._cond.wait_for(lambda: not self._connections, timeout=5.0)
        server.wake_reader.close()
        server.wake_writer.close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # what the server knows

    def add_model(self, spec: ModelSpec) -> None:
        """Make a model available now (as if just pulled): first in /api/tags."""
        self._register(spec, time.time_ns())

    def _register(self, spec: ModelSpec, modified_ns: int) -> None:
        spec = replace(spec, name=full_name(spec.name))
        with self._cond:
            self._models[spec.name.lower()] = (spec, modified_ns)

    def remove_model(self, name: str) -> None:
        """Delete a model (as `ollama rm` would); it also leaves memory."""
        spec = self._find_model(name)
        with self._cond:
            self._models.pop(full_name(name).lower(), None)
            self._loaded.pop(spec.name if spec else name, None)
            self._cond.notify_all()

    @property
    def loaded(self) -> dict[str, LoadedModel]:
        """Models in memory by name (expired ones dropped); mutable, for tests."""
        with self._cond:
            return self._live_loaded()

    def expire(self, name: str | None = None) -> None:
        """End a model's keep-alive now (all models when name is None)."""
        spec = None if name is None else self._find_model(name)
        with self._cond:
            if name is None:
                self._loaded.clear()
            else:
                self._loaded.pop(spec.name if spec else name, None)
            self._cond.notify_all()

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
    ) -> None:
        """Misbehave on the next `times` requests to `path` (-1: until clear_faults())."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {sorted(FAULT_KINDS)}")
        if after_chunks < 0 or times == 0:
            raise ValueError("after_chunks must be >= 0 and times non-zero")
        with self._cond:
            self._faults.append(_Fault(kind, status, message, after_chunks, path, times, seconds))

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    # the request log

    def chat_requests(self) -> list[LoggedRequest]:
        """The POST /api/chat requests, in order."""
        with self._cond:
            return [
                r for r in self.requests if r.method == "POST" and _route(r.path) == "/api/chat"
            ]

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

    # used by the request handler

    def _track(self, server: _Server, connection: socket.socket) -> bool:
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

    def _take_fault(self, path: str) -> _Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.path == path:
                    if fault.times > 0:
                        fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _find_model(self, name: str) -> ModelSpec | None:
        with self._cond:
            found = self._models.get(full_name(name).lower())
        return found[0] if found else None

    def _next_reply(self, req: _GenRequest) -> str:
        with self._cond:
            if self._replies:
                return self._replies.popleft()
            reply = self.reply
        if callable(reply):
            return str(reply(req.body))
        return reply if reply is not None else echo_text(req.source_text)

    def _parse_generation(self, kind: str, raw: bytes) -> _GenRequest:
        struct = "ChatRequest" if kind == "chat" else "GenerateRequest"
        body = decode_json_body(raw, struct)
        check_fields(body, struct)
        name = body.get("model") or ""
        if not name:
            raise ApiError(400, "model is required")
        spec = self._find_model(name)
        if spec is None:
            raise ApiError(404, f"model '{name}' not found")
        keep_alive = body.get("keep_alive")
        return _GenRequest(
            kind=kind,
            body=body,
            model=name,
            spec=spec,
            think=parse_think(body.get("think")),
            keep_alive=None if keep_alive is None else parse_keep_alive(keep_alive),
            options=body.get("options") or {},
        )

    # model memory

    def _live_loaded(self) -> dict[str, LoadedModel]:
        now = time.monotonic()
        for name, model in list(self._loaded.items()):
            if model.active == 0 and model.expires_at is not None and model.expires_at <= now:
                del self._loaded[name]
        return self._loaded

    def _warm_model(self, req: _GenRequest) -> LoadedModel | None:
        with self._cond:
            model = self._live_loaded().get(req.spec.name)
            if model is None or model.options != req.load_options:
                return None
            self._use(model, req.keep_alive)
            return model

    def _acquire_model(self, req: _GenRequest, pause: Callable[[float], None]) -> int:
        """Load the model unless it is warm; returns perf_counter_ns when it was ready."""
        if self._warm_model(req) is None:
            with self._load_lock:
                if self._warm_model(req) is None:
                    pause(self.load_delay)  # a client hanging up here aborts the load
                    keep = DEFAULT_KEEP_ALIVE if req.keep_alive is None else req.keep_alive
                    model = LoadedModel(None, dict(req.load_options), keep)
                    with self._cond:
                        self._loaded[req.spec.name] = model
                        self.load_count += 1
                        self._use(model, None)
        return time.perf_counter_ns()

    def _use(self, model: LoadedModel, keep_alive: float | None) -> None:
        if keep_alive is not None:
            model.keep_alive = keep_alive
        model.active += 1
        model.expires_at = _deadline(model.keep_alive)
        self._cond.notify_all()

    def _release_model(self, req: _GenRequest) -> None:
        """The request is over: the keep-alive clock starts (or the model unloads)."""
        key = req.spec.name
        with self._cond:
            model = self._loaded.get(key)
            if model is None:
                return
            model.active = max(0, model.active - 1)
            if model.active == 0 and model.keep_alive == 0:
                del self._loaded[key]
            elif model.active == 0:
                model.expires_at = _deadline(model.keep_alive)
            self._cond.notify_all()

    def _unload(self, spec: ModelSpec) -> None:
        with self._cond:
            self._loaded.pop(spec.name, None)
            self._cond.notify_all()

    # listings

    def _tags(self) -> list[dict[str, Any]]:
        with self._cond:
            entries = list(self._models.values())
        entries.sort(key=lambda entry: entry[1], reverse=True)  # newest first
        return [_tag_entry(spec, modified) for spec, modified in entries]

    def _ps(self) -> list[dict[str, Any]]:
        with self._cond:
            rows = [
                (self._models[name.lower()][0], replace(model))
                for name, model in self._live_loaded().items()
                if name.lower() in self._models
            ]
        rows.sort(key=lambda row: FOREVER if row[1].expires_at is None else row[1].expires_at)
        return [_ps_entry(spec, model) for spec, model in reversed(rows)]

    def _show(self, spec: ModelSpec) -> dict[str, Any]:
        with self._cond:
            modified = self._models[spec.name.lower()][1]
        return _show_entry(spec, modified)


def _once(action: Callable[[], None]) -> Callable[[], None]:
    """`action`, made safe to call several times: only the first call runs it."""
    pending = [action]

    def run() -> None:
        if pending:
            pending.pop()()

    return run


def _deadline(keep_alive: float) -> float | None:
    return None if keep_alive == FOREVER else time.monotonic() + keep_alive


def _route(path: str) -> str:
    return path.split("?", 1)[0]


def _shutdown_quietly(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


# --- listings ------------------------------------------------------------------------------

_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)
_STOPS = ("<|im_start|>", "<|im_end|>")


def _details(spec: ModelSpec) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": spec.family,
        "families": [spec.family],
        "parameter_size": spec.parameter_size,
        "quantization_level": spec.quantization_level,
    }


def _tag_entry(spec: ModelSpec, modified_ns: int) -> dict[str, Any]:
    return {
        "name": spec.name,
        "model": spec.name,
        "modified_at": rfc3339(modified_ns),
        "size": spec.size,
        "digest": spec.digest,
        "details": _details(spec),
    }


def _ps_entry(spec: ModelSpec, model: LoadedModel) -> dict[str, Any]:
    now_ns = time.time_ns()
    if model.expires_at is None:
        expires_ns = now_ns + FOREVER_NS
    else:
        expires_ns = now_ns + int((model.expires_at - time.monotonic()) * 1e9)
    return {
        "name": spec.name,
        "model": spec.name,
        "size": spec.size,
        "digest": spec.digest,
        "details": _details(spec),
        "expires_at": rfc3339(expires_ns),
        "size_vram": spec.size,
        "context_length": model.options.get("num_ctx", DEFAULT_NUM_CTX),
    }


def _parameter_count(parameter_size: str) -> int:
    match = re.fullmatch(r"([\d.]+)\s*([KMBT]?)", parameter_size.strip().upper())
    if not match:
        return 0
    scale = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}[match[2]]
    return int(float(match[1]) * scale)


def _show_entry(spec: ModelSpec, modified_ns: int) -> dict[str, Any]:
    parameters = "\n".join(f'{"stop":<30} "{stop}"' for stop in _STOPS)
    modelfile = (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        f"# FROM {spec.name}\n\n"
        f"FROM ~/.ollama/models/blobs/sha256-{spec.digest}\n"
        f'TEMPLATE """{_TEMPLATE}"""\n' + "".join(f"PARAMETER stop {stop}\n" for stop in _STOPS)
    )
    return {
        "modelfile": modelfile,
        "parameters": parameters,
        "template": _TEMPLATE,
        "details": _details(spec),
        "model_info": {
            "general.architecture": spec.family,
            "general.parameter_count": _parameter_count(spec.parameter_size),
            "general.quantization_version": 2,
            f"{spec.family}.context_length": spec.context_length,
        },
        "capabilities": list(spec.capabilities),
        "modified_at": rfc3339(modified_ns),
    }


def _pull_progress(spec: ModelSpec) -> Iterator[dict[str, Any]]:
    """Per-layer progress lines; `completed` is absent while it is 0 (Go's omitempty)."""
    layer_sizes = [max(1, spec.size - 12_945), 1_482, 11_343]
    for index, size in enumerate(layer_sizes):
        digest = "sha256:" + hashlib.sha256(f"{spec.digest}:{index}".encode()).hexdigest()
        status = f"pulling {digest[7:19]}"
        yield {"status": status, "digest": digest, "total": size}
        yield {"status": status, "digest": digest, "total": size, "completed": size // 2}
        yield {"status": status, "digest": digest, "total": size, "completed": size}


# --- the HTTP side -------------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], standin: StandIn) -> None:
        super().__init__(address, _Handler)
        self.standin = standin
        self.stopping = threading.Event()
        self.wake_reader, self.wake_writer = socket.socketpair()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a vanished client is not news
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    log: LoggedRequest  # the request being answered
    fault: _Fault | None  # a fault still to apply to this response
    started_ns: int  # perf_counter_ns when the request arrived

    @property
    def standin(self) -> StandIn:
        return self.server.standin

    def setup(self) -> None:
        super().setup()
        # Go sets TCP_NODELAY too; without it small chunks would wait on delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.standin._track(self.server, self.connection):
            _shutdown_quietly(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.standin._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log replaces http.server's stderr lines."""

    def send_response(self, code: int, message: str | None = None) -> None:
        """Like the base class, without a Server header (Ollama sends none)."""
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    # one request

    def _dispatch(self) -> None:
        self.started_ns = time.perf_counter_ns()
        raw = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.log = self.standin._log_request(self.command, self.path, raw, headers)
        self.fault = self.standin._take_fault(_route(self.path))
        try:
            self._respond()
        except _ResponseEnded:
            pass
        except _ClientGone:
            self.close_connection = True
            if not self.server.stopping.is_set():
                self.standin._update(self.log, disconnected=True)
        except _Abort:
            self.close_connection = True
            _shutdown_quietly(self.connection)
        finally:
            self.standin._request_done(self.log)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(parts)
        length = self.headers.get("Content-Length", "0")
        return self.rfile.read(int(length)) if length.isdigit() and int(length) > 0 else b""

    def _respond(self) -> None:
        fault = self.fault
        if fault is not None and fault.kind in ("status", "stall_headers"):
            self.fault = None
            self._early_fault(fault)
            return
        methods = _ROUTES.get(_route(self.path))
        if methods is None:
            self._send_body(404, "text/plain", b"404 page not found")
        elif self.command not in methods:
            self._send_body(405, "text/plain", b"405 method not allowed")
        else:
            try:
                methods[self.command](self)
            except ApiError as exc:
                self._send_json(exc.status, {"error": exc.message})

    def _early_fault(self, fault: _Fault) -> None:
        if fault.kind == "stall_headers":
            self._pause(fault.seconds)
            raise _Abort
        status = fault.status or 500
        self._send_json(status, {"error": fault.message or self._default_message(status)})

    def _default_message(self, status: int) -> str:
        body = self.log.body if isinstance(self.log.body, dict) else {}
        defaults = {
            404: f"model '{body.get('model', '')}' not found",
            500: RUNNER_STOPPED,
            503: SERVER_BUSY,
        }
        if status in defaults:
            return defaults[status]
        try:
            return HTTPStatus(status).phrase.lower()
        except ValueError:
            return "error"

    # endpoints

    def _health(self) -> None:
        self._send_body(200, TEXT_TYPE, b"Ollama is running")

    def _version(self) -> None:
        self._send_json(200, {"version": OLLAMA_VERSION})

    def _list_tags(self) -> None:
        self._send_json(200, {"models": self.standin._tags()})

    def _list_running(self) -> None:
        self._send_json(200, {"models": self.standin._ps()})

    def _show(self) -> None:
        body = decode_json_body(self.log.raw_body, "ShowRequest")
        check_fields(body, "ShowRequest")
        name = body.get("model") or body.get("name") or ""
        if not name:
            raise ApiError(400, "model is required")
        spec = self.standin._find_model(name)
        if spec is None:
            raise ApiError(404, f"model '{name}' not found")
        self._send_json(200, self.standin._show(spec))

    def _pull(self) -> None:
        body = decode_json_body(self.log.raw_body, "PullRequest")
        check_fields(body, "PullRequest")
        name = body.get("model") or body.get("name") or ""
        if not name:
            raise ApiError(400, "invalid model name")
        batches = self._pull_batches(name)
        if body.get("stream") is not False:
            self._stream(batches)
            return
        last = [line for batch in batches for line in batch][-1]
        status = 500 if "error" in last else 200
        self._send_body(status, "application/json", go_json(last))

    def _pull_batches(self, name: str) -> Iterator[list[dict[str, Any]]]:
        yield [{"status": "pulling manifest"}]
        spec = self.standin.pullable.get(name) or self.standin.pullable.get(full_name(name))
        if spec is None:
            yield [{"error": PULL_MISSING}]
            return
        for line in _pull_progress(spec):
            self._token_pause()
            yield [line]
        yield [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
        self.standin.add_model(spec)  # before "success", as the manifest is written first
        yield [{"status": "success"}]

    def _chat(self) -> None:
        self._generation("chat")

    def _generate(self) -> None:
        self._generation("generate")

    def _generation(self, kind: str) -> None:
        req = self.standin._parse_generation(kind, self.log.raw_body)
        if req.is_warmup and req.keep_alive == 0:
            self.standin._unload(req.spec)
            self._send_json(200, _done_without_text(req, "unload"))
            return
        req.check_thinking()
        check_options(req.options)
        loaded_ns = self.standin._acquire_model(req, self._pause)
        release = _once(lambda: self.standin._release_model(req))
        try:
            if req.is_warmup:
                release()
                self._send_json(200, _done_without_text(req, "load"))
                return
            reply = self.standin._next_reply(req)
            generation = _Generation(req, reply, (self.started_ns, loaded_ns), release)
            if req.stream:
                self._stream(generation.stream(self._token_pause))
            else:
                self._send_json(200, generation.whole(self._token_pause))
        finally:
            release()

    # writing

    def _send(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:  # broken pipe, reset, or a socket shut down by stop()
            raise _ClientGone from exc

    def _send_headers(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        try:
            self.end_headers()
        except OSError as exc:
            raise _ClientGone from exc
        self.standin._update(self.log, status=status)

    def _send_json(self, status: int, value: Any) -> None:
        self._send_body(status, JSON_TYPE, go_json(value))

    def _send_body(self, status: int, content_type: str, body: bytes) -> None:
        """A response with Content-Length; a pending fault bends it (see StandIn.fault)."""
        fault, self.fault = self.fault, None
        kind = fault.kind if fault else ""
        if kind == "die":
            raise _Abort
        if kind == "error_midstream":
            status, body = 500, go_json({"error": (fault and fault.message) or RUNNER_STOPPED})
        if kind == "malformed":
            body = MALFORMED_LINE.rstrip(b"\n")
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        self._send_headers(status, headers)
        if kind == "stall":
            self._pause(fault.seconds if fault else 0.0)
            raise _Abort
        if kind == "truncate":
            self._send(body[: len(body) // 2])
            raise _Abort
        self._send_last(body if self.command != "HEAD" else b"")

    def _stream(self, batches: Iterator[list[dict[str, Any]]]) -> None:
        """A chunked NDJSON body; a pending fault strikes after `after_chunks` lines."""
        fault, self.fault = self.fault, None
        self._send_headers(200, {"Content-Type": NDJSON_TYPE, "Transfer-Encoding": "chunked"})
        for batch in batches:
            ready: list[bytes] = []
            for value in batch:
                line = go_json(value) + b"\n"
                if fault is not None and self.log.chunks_sent + len(ready) == fault.after_chunks:
                    self._write_lines(ready)
                    ready = []
                    self._stream_fault(fault, line)
                    fault = None
                ready.append(line)
            self._write_lines(ready)
        if fault is not None:
            self._stream_fault(fault, go_json({"model": "", "done": False}) + b"\n")
        self._end_stream()

    def _stream_fault(self, fault: _Fault, next_line: bytes) -> None:
        """Misbehave mid-stream; returns only for "malformed" (the stream then goes on)."""
        if fault.kind == "malformed":
            self._write_chunk(MALFORMED_LINE)
            return
        if fault.kind == "stall":
            self._pause(fault.seconds)
            raise _Abort
        if fault.kind == "die":
            raise _Abort
        if fault.kind == "error_midstream":
            self._write_lines([go_json({"error": fault.message or RUNNER_STOPPED}) + b"\n"])
        else:  # truncate: half a line, no newline, then a proper end of the body
            self._write_chunk(next_line[: len(next_line) // 2])
        self._end_stream()
        raise _ResponseEnded

    def _write_lines(self, lines: list[bytes]) -> None:
        """Write lines as HTTP chunks cut inside every line (even inside a UTF-8 sequence).

        Consecutive lines share a chunk: the end of one and the start of the next.
        """
        if not lines:
            return
        data = b"".join(lines)
        cuts, offset = [0], 0
        for line in lines:
            cuts.append(offset + max(1, len(line) // 2))
            offset += len(line)
        cuts.append(len(data))
        for start, end in itertools.pairwise(cuts):
            self._write_chunk(data[start:end])
        self.standin._update(self.log, chunks_sent=self.log.chunks_sent + len(lines))

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self._send(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self._send_last(b"0\r\n\r\n")

    def _send_last(self, data: bytes) -> None:
        """The last bytes of a response; the log says "completed" before the client sees them."""
        self.standin._update(self.log, completed=True)
        try:
            if data:
                self._send(data)
        except _ClientGone:
            self.standin._update(self.log, completed=False)
            raise

    # waiting

    def _token_pause(self) -> None:
        self._pause(self.standin.token_delay)

    def _pause(self, seconds: float) -> None:
        """Wait, giving up at once when the client hangs up or the server stops."""
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            selector.register(self.server.wake_reader, selectors.EVENT_READ, "stop")
            selector.register(self.connection, selectors.EVENT_READ, "client")
            while True:
                remaining = deadline - time.monotonic()
                for key, _ in selector.select(max(remaining, 0.0)):
                    if key.data == "stop":
                        raise _Abort
                    if self._client_hung_up():
                        raise _ClientGone
                    selector.unregister(self.connection)  # pipelined bytes, not a hang-up
                if remaining <= 0:
                    return

    def _client_hung_up(self) -> bool:
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True


_Endpoint = Callable[[_Handler], None]
_ROUTES: dict[str, dict[str, _Endpoint]] = {
    "/": {"GET": _Handler._health, "HEAD": _Handler._health},
    "/api/version": {"GET": _Handler._version, "HEAD": _Handler._version},
    "/api/tags": {"GET": _Handler._list_tags, "HEAD": _Handler._list_tags},
    "/api/ps": {"GET": _Handler._list_running},
    "/api/show": {"POST": _Handler._show},
    "/api/pull": {"POST": _Handler._pull},
    "/api/chat": {"POST": _Handler._chat},
    "/api/generate": {"POST": _Handler._generate},
}


# --- by hand -------------------------------------------------------------------------------


def _spec_from_name(name: str, thinking: bool) -> ModelSpec:
    size = re.search(r":(\d+(?:\.\d+)?)([bm])\b", name.lower())
    spec = ModelSpec(name, parameter_size=f"{size[1]}{size[2].upper()}" if size else "1.5B")
    if thinking:
        spec = replace(
            spec, family="qwen3", capabilities=("completion", "thinking"), context_length=40960
        )
    return spec


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin",
        description="Serve an Ollama stand-in until Ctrl-C. Without --reply it echoes.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--reply", help="fixed reply text (default: echo the user's text)")
    parser.add_argument("--token-delay", type=float, default=0.0, metavar="S")
    parser.add_argument("--load-delay", type=float, default=0.0, metavar="S")
    parser.add_argument("--model", action="extend", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--thinking-model", action="extend", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--pullable", action="extend", nargs="+", default=[], metavar="NAME")
    return parser.parse_args(argv)


def _print_request(entry: LoggedRequest) -> None:
    model = entry.body.get("model") if isinstance(entry.body, dict) else None
    note = " (client closed)" if entry.disconnected else ""
    print(f"{entry.method} {entry.path} {entry.status or '-'} {model or '-'}{note}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    models = [_spec_from_name(name, False) for name in args.model]
    models += [_spec_from_name(name, True) for name in args.thinking_model]
    standin = StandIn(
        models=models or None,
        reply=args.reply,
        token_delay=args.token_delay,
        load_delay=args.load_delay,
        host=args.host,
        port=args.port,
    )
    standin.pullable = {full_name(n): _spec_from_name(n, False) for n in args.pullable}
    standin.listener = _print_request
    try:
        standin.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Ollama stand-in listening on {standin.url} (Ctrl-C stops it)", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
