"""Ollama's own endpoints (/, /api/...) and how they answer: NDJSON streams, {"error": ...}."""

from __future__ import annotations

from typing import Any

from .formats import (
    RUNNER_STOPPED,
    SERVER_BUSY,
    ApiError,
    check_fields,
    check_options,
    decode_json_body,
    go_json,
    ollama_error,
    status_phrase,
)
from .generation import OllamaReply, done_without_text, parse_ollama_generation
from .http import TEXT_TYPE, Batches, Dialect, Endpoint, Framing, Handler, route_of
from .models import full_name, pull_progress

OLLAMA_VERSION = "0.32.1"
PULL_MISSING = "pull model manifest: file does not exist"
MALFORMED_LINE = b'{"model": oops}\n'
NDJSON_TYPE = "application/x-ndjson"


def _line(value: Any) -> bytes:
    return go_json(value) + b"\n"


NDJSON = Framing(
    content_type=NDJSON_TYPE,
    encode=_line,
    malformed=MALFORMED_LINE,
    error=lambda message: _line(ollama_error(message)),
    error_event=lambda message: _line(ollama_error(message)),
    filler=_line({"model": "", "done": False}),
)


def _default_message(status: int, model: str) -> str:
    defaults = {404: f"model '{model}' not found", 500: RUNNER_STOPPED, 503: SERVER_BUSY}
    return defaults.get(status) or status_phrase(status)


OLLAMA = Dialect(
    error_body=lambda status, message, error_type: ollama_error(message),
    default_message=_default_message,
    malformed_body=MALFORMED_LINE.rstrip(b"\n"),
    unauthorized=ollama_error("unauthorized"),
    framing=NDJSON,
)


def health(handler: Handler) -> None:
    handler.send_body(200, TEXT_TYPE, b"Ollama is running")


def version(handler: Handler) -> None:
    handler.send_json(200, {"version": OLLAMA_VERSION})


def list_tags(handler: Handler) -> None:
    handler.send_json(200, {"models": handler.standin._catalog.tags()})


def list_running(handler: Handler) -> None:
    handler.send_json(200, {"models": handler.standin._running()})


def show(handler: Handler) -> None:
    body = decode_json_body(handler.log.raw_body, "ShowRequest")
    check_fields(body, "ShowRequest")
    name = body.get("model") or body.get("name") or ""
    if not name:
        raise ApiError(400, "model is required")
    spec = handler.standin._catalog.find(name)
    if spec is None:
        raise ApiError(404, f"model '{name}' not found")
    handler.send_json(200, handler.standin._catalog.show(spec))


def pull(handler: Handler) -> None:
    body = decode_json_body(handler.log.raw_body, "PullRequest")
    check_fields(body, "PullRequest")
    name = body.get("model") or body.get("name") or ""
    if not name:
        raise ApiError(400, "invalid model name")
    batches = _pull_batches(handler, name)
    if body.get("stream") is not False:
        handler.stream(batches, NDJSON)
        return
    last = [line for batch in batches for line in batch][-1]
    status = 500 if "error" in last else 200
    handler.send_body(status, "application/json", go_json(last))


def _pull_batches(handler: Handler, name: str) -> Batches:
    yield [{"status": "pulling manifest"}]
    standin = handler.standin
    spec = standin.pullable.get(name) or standin.pullable.get(full_name(name))
    if spec is None:
        yield [{"error": PULL_MISSING}]
        return
    for line in pull_progress(spec):
        handler.token_pause()
        yield [line]
    yield [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
    standin.add_model(spec)  # before "success", as the manifest is written first
    yield [{"status": "success"}]


def chat(handler: Handler) -> None:
    _generate_text(handler, "chat")


def generate(handler: Handler) -> None:
    _generate_text(handler, "generate")


def _generate_text(handler: Handler, api: str) -> None:
    standin = handler.standin
    req = parse_ollama_generation(api, handler.log.raw_body, standin._catalog.find)
    if req.is_warmup and req.keep_alive == 0:
        standin._memory.unload(req.spec.name)
        handler.send_json(200, done_without_text(req, "unload"))
        return
    req.check_thinking()
    check_options(req.options)
    if req.is_warmup:
        standin._warm_up(req, handler)
        handler.send_json(200, done_without_text(req, "load"))
        return
    path = route_of(handler.path)
    with standin._generating(req, path, handler, handler.started_ns) as generation:
        reply = OllamaReply(req, generation)
        if req.stream:
            handler.stream(reply.stream(handler.token_pause), NDJSON)
        else:
            handler.send_json(200, reply.whole(handler.token_pause))


ROUTES: dict[str, dict[str, Endpoint]] = {
    "/": {"GET": health, "HEAD": health},
    "/api/version": {"GET": version, "HEAD": version},
    "/api/tags": {"GET": list_tags, "HEAD": list_tags},
    "/api/ps": {"GET": list_running},
    "/api/show": {"POST": show},
    "/api/pull": {"POST": pull},
    "/api/chat": {"POST": chat},
    "/api/generate": {"POST": generate},
}
