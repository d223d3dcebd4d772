"""Go's formats as Ollama's server writes them, and request bodies checked as Go decodes them.

JSON encoded like encoding/json, times in RFC3339Nano, durations parsed like time.ParseDuration,
request bodies decoded like Gin's ShouldBindJSON with Go's error messages, and the two error
body shapes: Ollama's {"error": "..."} and the OpenAI-compatible {"error": {...}}.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, TypeGuard

FOREVER = float("inf")  # a keep-alive that never expires
RUNNER_STOPPED = (
    "model runner has unexpectedly stopped, this may be due to resource limitations "
    "or an internal error, check ollama server logs for details"
)
SERVER_BUSY = "server busy, please try again.  maximum pending requests exceeded"


class ApiError(Exception):
    """An error answered with `status`: {"error": message} on Ollama's paths, or the OpenAI
    error object on /v1 paths (`error_type` overrides the type chosen from the status)."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


# --- error bodies --------------------------------------------------------------------------


def ollama_error(message: str) -> dict[str, Any]:
    return {"error": message}


def openai_error_type(status: int) -> str:
    """The OpenAI error type for a status: 404 is "api_error" as Ollama's /v1 says it."""
    if status == 404:
        return "api_error"
    if status == 429:
        return "rate_limit_error"
    return "invalid_request_error" if status < 500 else "server_error"


def openai_error(message: str, error_type: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": None}}


def status_phrase(status: int) -> str:
    """The reason phrase in lower case ("bad gateway"), or "error" for an unknown status."""
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


# --- JSON, times and durations -------------------------------------------------------------

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


# --- decoding request bodies ---------------------------------------------------------------


def json_kind(value: Any) -> str:
    """The JSON kind of a decoded value, named as Go's decoder names it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    kinds: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), "null")


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number (booleans are not, though Python counts them as ints)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


def decode_json_body(
    raw: bytes, struct: str, *, package: str = "api", empty: str = "missing request body"
) -> dict[str, Any]:
    """Decode a request body as Gin's ShouldBindJSON does, with Go's error messages.

    `empty` is the message for a body with nothing in it (Ollama's /api handlers say
    "missing request body"; Go's decoder alone says "EOF").
    """
    text = raw.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise ApiError(400, empty)
    try:
        value, _ = json.JSONDecoder().raw_decode(text)  # like Go's Decoder: trailing data ignored
    except json.JSONDecodeError as exc:
        raise ApiError(400, _go_syntax_error(exc)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(
            400,
            f"json: cannot unmarshal {json_kind(value)} into Go value of type {package}.{struct}",
        )
    return value


FieldTypes = dict[str, tuple[str, str]]  # field -> (JSON kind, Go type name)
_STRING = ("string", "string")
_BOOL = ("bool", "bool")
_OPTIONS = ("object", "map[string]interface {}")
_FIELD_TYPES: dict[str, FieldTypes] = {
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


def type_error(kind: str, where: str, go_type: str) -> ApiError:
    return ApiError(
        400, f"json: cannot unmarshal {kind} into Go struct field {where} of type {go_type}"
    )


def check_field_types(body: dict[str, Any], struct: str, types: FieldTypes) -> None:
    """Reject a field whose JSON kind differs from its Go type's, with Go's message."""
    for key, value in body.items():
        _check_type(key, value, struct, types)


def _check_type(key: str, value: Any, struct: str, types: FieldTypes) -> None:
    if value is not None and key in types and json_kind(value) != types[key][0]:
        raise type_error(json_kind(value), f"{struct}.{key}", types[key][1])


def check_fields(body: dict[str, Any], struct: str) -> None:
    """Reject wrongly typed fields of an Ollama request, in the body's order as Go does
    (keep_alive and think included)."""
    generates = struct in ("ChatRequest", "GenerateRequest")
    for key, value in body.items():
        if value is None:
            continue
        if generates and key in ("keep_alive", "think"):
            try:
                (parse_keep_alive if key == "keep_alive" else parse_think)(value)
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
            continue
        _check_type(key, value, struct, _FIELD_TYPES[struct])
        if key == "messages" and struct == "ChatRequest":
            _check_messages(value)


def _check_messages(messages: list[Any]) -> None:
    for message in messages:
        if message is not None and not isinstance(message, dict):
            raise type_error(json_kind(message), "ChatRequest.messages", "api.Message")
        for key in ("role", "content"):
            value = (message or {}).get(key)
            if value is not None and not isinstance(value, str):
                raise type_error(json_kind(value), f"Message.messages.{key}", "string")


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
        if value is None:
            continue
        if key in _INT_OPTIONS and not is_number(value):
            raise ApiError(500, f'option "{key}" must be of type integer')
        if key in _FLOAT_OPTIONS and not is_number(value):
            raise ApiError(500, f'option "{key}" must be of type float32')
        if key in _BOOL_OPTIONS and not isinstance(value, bool):
            raise ApiError(500, f'option "{key}" must be of type boolean')
        if key == "stop" and not isinstance(value, list):
            raise ApiError(500, 'option "stop" must be of type array')
        if key == "stop" and not all(isinstance(item, str) for item in value):
            raise ApiError(500, 'option "stop" must be of an array of strings')
