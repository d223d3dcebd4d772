"""An Ollama stand-in: a real HTTP/1.1 server on 127.0.0.1 that speaks Ollama's wire protocol,
and the OpenAI-compatible /v1 API that Ollama (and llama.cpp's server) also serve.

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
    ollama.fault("raw", raw=lambda: [b"HTTP/1.1 200 OK\r\n", b"X: y\r\n" * 10**6])  # verbatim
    ollama.wait_for(lambda: ollama.chat_requests()[-1].disconnected)   # the client hung up

Without a reply it echoes the last user message (or the prompt). When that text opens with a
paragraph ending in ':' followed by a blank line ("Fix this text:\\n\\ntheir going"), only what
follows the blank line comes back, so an echo looks like a rewrite.

Models start unloaded. A cold load (model not loaded, keep-alive expired, or different load-time
options) waits `load_delay`, counts in `load_count` and shows in `load_duration`; `loaded` maps
each model in memory to its expiry and load options. Thinking models (capability "thinking")
stream a few thinking tokens first unless the request says think:false; `num_predict` counts
them too, and reaching it ends the reply with done_reason "length". Every reply that generated
text leaves a GenerationRecord in `generations` (tokens produced, and done_reason None when it
was cut short).

The OpenAI-compatible API, on the same server, log, replies, token_delay and model memory:

    GET  /v1/models             {"object":"list","data":[{"id","object":"model","created",...}]}
    POST /v1/chat/completions   "stream": true answers server-sent events, as llama.cpp's
                                server writes them: the role, one event per token, the finish
                                reason, the usage (with stream_options.include_usage), then
                                `data: [DONE]`; otherwise one chat.completion object.

    ollama.openai_requests()[-1].body               # what the client sent to /v1
    StandIn(openai_timings=True)                    # llama.cpp's "timings" in the finish chunk

Errors on /v1 are {"error": {"message", "type", "param": null, "code": null}}. Faults are
keyed by path and speak the path's dialect::

    ollama.fault("status", status=429, retry_after=7, path="/v1/chat/completions")
    ollama.fault("error_midstream", after_chunks=2, path="/v1/chat/completions")  # data: {"error"}
    ollama.fault("error_event", path="/v1/chat/completions")    # event: error, then the end
    ollama.fault("malformed", path="/v1/chat/completions")      # data: {not json, then goes on
    ollama.fault("truncate", path="/v1/chat/completions")       # half an event, no [DONE]

"stall", "stall_headers" and "die" behave alike on both. `after_chunks` counts NDJSON lines or
events (the role event is the first). Authentication, for both APIs::

    StandIn(required_headers={"Authorization": "Bearer k"})    # else 401 (names ignore case)

Concurrency, bounded as Ollama's OLLAMA_NUM_PARALLEL and OLLAMA_MAX_QUEUE bound it, so that a
few stand-ins make a pool of GPU servers::

    StandIn(slots=2, max_queue=4)       # two generate at once, four wait, the next gets a 503
    StandIn(first_token_delay=0.2)      # a slow prompt evaluation: 0.2 s more to the first token
    ollama.slots = 3                    # settable at any time, as are max_queue and the delays
    ollama.wait_for(lambda: ollama.active == 2 and ollama.waiting == 4)
    assert (ollama.served, ollama.max_active, ollama.busy_rejections) == (6, 2, 1)

Both limits default to None: no limit. A request that generates text (/api/chat,
/api/generate, /v1/chat/completions) holds a slot from its turn until its reply ends or is
cut short; a warm-up (no messages, no prompt) holds one only while it loads a cold model.
With every slot taken a request waits its turn, first come first served; when `max_queue`
requests already wait, it is answered 503 at once with SERVER_BUSY ({"error": ...}, or the
/v1 error object of type "server_error"). Ollama answers so when too many requests wait for a
model load; here the queue is the wait for a slot. A client hanging up while it waits leaves
the queue without ever taking a slot; stop() ends the waiting requests, closing their
connections. The wait, a cold load and first_token_delay all come before the status line and
headers, which go out with the first token as Ollama writes them. load_duration counts from
the slot on, prompt_eval_duration includes first_token_delay, total_duration the wait too.

`served` counts the generations that held a slot and ended (finished or cut short; warm-ups
are not generations), `max_active` the most requests holding a slot at once, `active` and
`waiting` the requests holding one and waiting now, `busy_rejections` the 503s sent. The
counts are read-only and last across stop() and start(). A slot is given back as the final
object is built, a moment before the client reads it, like the model in memory.

Real generation with a GGUF model (llama-cpp-python, imported only then)::

    from tests.standin import LlamaGenerator, smollm2_path
    generator = LlamaGenerator(smollm2_path())
    with StandIn(generator=generator, models=[generator.spec]) as ollama: ...

Replies, queued replies and echo are then unused: the model answers, with measured timings.

By hand, without a GPU (Ctrl-C stops it)::

    python -m tests.standin --port 11434 --token-delay 0.03 --thinking-model qwen3:0.6b
    python -m tests.standin --port 8080 --smollm2 --require-header "Authorization: Bearer k"
    python -m tests.standin --port 11435 --slots 1 --max-queue 4 --first-token-delay 0.3
"""

from __future__ import annotations

from .cli import main
from .faults import FAULT_KINDS
from .formats import (
    FOREVER,
    RUNNER_STOPPED,
    SERVER_BUSY,
    ApiError,
    check_fields,
    check_options,
    decode_json_body,
    go_json,
    json_kind,
    openai_error,
    parse_go_duration,
    parse_keep_alive,
    parse_think,
    rfc3339,
)
from .generation import GenRequest, TextGenerator
from .http import JSON_TYPE, STAND_IN_HEADER, TEXT_TYPE, unused_url
from .llama import LlamaGenerator, smollm2_path
from .models import (
    DEFAULT_KEEP_ALIVE,
    DEFAULT_MODEL,
    DEFAULT_NUM_CTX,
    FOREVER_NS,
    LOAD_OPTIONS,
    LoadedModel,
    ModelSpec,
    full_name,
)
from .ollama import MALFORMED_LINE, NDJSON_TYPE, OLLAMA_VERSION, PULL_MISSING
from .openai import DONE_EVENT, EVENT_STREAM_TYPE, FINGERPRINT, MALFORMED_EVENT
from .server import LoggedRequest, StandIn
from .tokens import THINKING_TEXT, TOKEN_RE, GenerationRecord, echo_text

__all__ = [
    "DEFAULT_KEEP_ALIVE",
    "DEFAULT_MODEL",
    "DEFAULT_NUM_CTX",
    "DONE_EVENT",
    "EVENT_STREAM_TYPE",
    "FAULT_KINDS",
    "FINGERPRINT",
    "FOREVER",
    "FOREVER_NS",
    "JSON_TYPE",
    "LOAD_OPTIONS",
    "MALFORMED_EVENT",
    "MALFORMED_LINE",
    "NDJSON_TYPE",
    "OLLAMA_VERSION",
    "PULL_MISSING",
    "RUNNER_STOPPED",
    "SERVER_BUSY",
    "STAND_IN_HEADER",
    "TEXT_TYPE",
    "THINKING_TEXT",
    "TOKEN_RE",
    "ApiError",
    "GenRequest",
    "GenerationRecord",
    "LlamaGenerator",
    "LoadedModel",
    "LoggedRequest",
    "ModelSpec",
    "StandIn",
    "TextGenerator",
    "check_fields",
    "check_options",
    "decode_json_body",
    "echo_text",
    "full_name",
    "go_json",
    "json_kind",
    "main",
    "openai_error",
    "parse_go_duration",
    "parse_keep_alive",
    "parse_think",
    "rfc3339",
    "smollm2_path",
    "unused_url",
]
