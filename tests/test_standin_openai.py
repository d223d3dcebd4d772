"""The stand-in's OpenAI-compatible API (/v1), over real sockets: events, bodies, faults, auth."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.standin import (
    RUNNER_STOPPED,
    SERVER_BUSY,
    ModelSpec,
    StandIn,
)
from tests.standin.probe import (
    Reply,
    call,
    connect,
    data_of,
    encode,
    events_of,
    raw_post,
)

MODEL = "qwen2.5:1.5b"
OTHER = "llama3.2:1b"
COMPLETIONS = "/v1/chat/completions"
CHUNK_KEYS = {"id", "object", "created", "model", "system_fingerprint", "choices"}


@pytest.fixture
def server() -> Iterator[StandIn]:
    with StandIn(models=[ModelSpec(MODEL), ModelSpec(OTHER, family="llama")]) as standin:
        yield standin


def request(text: str = "hello there", model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def streamed(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return request(text, stream=True, **extra)


def post(standin: StandIn, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return call(standin, "POST", COMPLETIONS, body, headers)


def stream_data(reply: Reply) -> list[Any]:
    """The data of every event of a streamed reply, which must end with a blank line."""
    assert reply.data.endswith(b"\n\n")
    return data_of(events_of(reply.data))


def contents(chunks: list[Any]) -> list[str]:
    return [
        chunk["choices"][0]["delta"]["content"]
        for chunk in chunks
        if chunk != "[DONE]" and chunk["choices"] and "content" in chunk["choices"][0]["delta"]
    ]


def error_body(message: str, error_type: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": None}}


# --- models and the event stream -----------------------------------------------------------


def test_models_lists_every_model(server: StandIn) -> None:
    reply = call(server, "GET", "/v1/models")
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    listing = reply.json()
    assert listing["object"] == "list"
    assert [model["id"] for model in listing["data"]] == [MODEL, OTHER]
    for model in listing["data"]:
        assert set(model) == {"id", "object", "created", "owned_by"}
        assert (model["object"], model["owned_by"]) == ("model", "library")
        assert type(model["created"]) is int
        assert abs(model["created"] - (time.time() - 86_400)) < 60


def test_stream_sends_role_tokens_finish_then_done(server: StandIn) -> None:
    server.reply = "one two three"
    reply = post(server, streamed())
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/event-stream"
    assert reply.headers["transfer-encoding"] == "chunked"
    *chunks, done = stream_data(reply)
    assert done == "[DONE]"
    deltas = [
        (chunk["choices"][0]["delta"], chunk["choices"][0]["finish_reason"]) for chunk in chunks
    ]
    assert deltas == [
        ({"role": "assistant"}, None),
        ({"content": "one"}, None),
        ({"content": " two"}, None),
        ({"content": " three"}, None),
        ({}, "stop"),
    ]
    first = chunks[0]
    assert first["id"].startswith("chatcmpl-") and first["id"][9:].isdigit()
    for chunk in chunks:
        assert set(chunk) == CHUNK_KEYS
        assert chunk["id"] == first["id"]
        assert (chunk["object"], chunk["model"]) == ("chat.completion.chunk", MODEL)
        assert chunk["system_fingerprint"] == "fp_ollama"
        assert type(chunk["created"]) is int and abs(chunk["created"] - time.time()) < 60
        (choice,) = chunk["choices"]
        assert set(choice) == {"index", "delta", "finish_reason"} and choice["index"] == 0


def test_each_completion_has_its_own_id(server: StandIn) -> None:
    ids = {stream_data(post(server, streamed()))[0]["id"] for _ in range(3)}
    ids.add(post(server, request()).json()["id"])
    assert len(ids) == 4


def test_include_usage_adds_a_usage_chunk_before_done(server: StandIn) -> None:
    server.reply = "a b c d"
    body = streamed("x" * 40, stream_options={"include_usage": True})
    *chunks, usage, done = stream_data(post(server, body))
    assert done == "[DONE]"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert set(usage) == {*CHUNK_KEYS, "usage"} and usage["choices"] == []
    assert usage["id"] == chunks[0]["id"] and usage["object"] == "chat.completion.chunk"
    assert usage["usage"] == {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
    assert len(contents(chunks)) == 4
    without = stream_data(post(server, streamed(stream_options={"include_usage": False})))
    assert all(chunk == "[DONE]" or chunk["choices"] for chunk in without)


def test_max_tokens_stops_with_length(server: StandIn) -> None:
    server.reply = "one two three four five"
    chunks = stream_data(post(server, streamed(max_tokens=2)))
    assert contents(chunks) == ["one", " two"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    roomy = stream_data(post(server, streamed(max_tokens=50)))
    assert roomy[-2]["choices"][0]["finish_reason"] == "stop"
    assert "".join(contents(roomy)) == server.reply
    whole = post(server, request(max_completion_tokens=3)).json()
    assert whole["choices"][0]["message"]["content"] == "one two three"
    assert whole["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("stream", [False, None])
def test_without_stream_one_completion_object(server: StandIn, stream: bool | None) -> None:
    server.reply = "All of it at once."
    body = request("y" * 20) if stream is None else request("y" * 20, stream=stream)
    reply = post(server, body)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/json")
    assert int(reply.headers["content-length"]) == len(reply.data)
    got = reply.json()
    assert set(got) == {*CHUNK_KEYS, "usage"}
    assert (got["object"], got["model"], got["system_fingerprint"]) == (
        "chat.completion",
        MODEL,
        "fp_ollama",
    )
    assert got["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "All of it at once."},
            "finish_reason": "stop",
        }
    ]
    assert got["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}


def test_replies_come_from_the_same_sources_as_ollama(server: StandIn) -> None:
    instructed = post(server, request("Fix this text:\n\ntheir going")).json()
    assert instructed["choices"][0]["message"]["content"] == "their going"
    parts = [{"type": "text", "text": "Rewrite:\n\n"}, {"type": "text", "text": "in parts"}]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": parts}]
    from_parts = post(server, {"model": MODEL, "messages": messages}).json()
    assert from_parts["choices"][0]["message"]["content"] == "in parts"
    server.queue_replies("queued")
    seen: list[dict[str, Any]] = []

    def shout(body: dict[str, Any]) -> str:
        seen.append(body)
        return str(body["messages"][-1]["content"]).upper()

    server.reply = shout
    assert "".join(contents(stream_data(post(server, streamed("abc"))))) == "queued"
    assert "".join(contents(stream_data(post(server, streamed("abc"))))) == "ABC"
    assert seen == [streamed("abc")]


def test_token_delay_paces_the_events(server: StandIn) -> None:
    server.reply = "a b c d e"
    server.token_delay = 0.04
    started = time.monotonic()
    assert len(contents(stream_data(post(server, streamed())))) == 5
    assert time.monotonic() - started >= 0.2


def test_timings_when_asked_for(server: StandIn) -> None:
    server.reply = "one two three"
    assert all("timings" not in chunk for chunk in stream_data(post(server, streamed()))[:-1])
    server.openai_timings = True
    server.token_delay = 0.01
    finish = stream_data(post(server, streamed("z" * 16)))[-2]
    assert finish["choices"][0]["finish_reason"] == "stop"
    timings = finish["timings"]
    assert set(timings) == {"prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "cache_n"}
    assert (timings["prompt_n"], timings["predicted_n"], timings["cache_n"]) == (4, 3, 0)
    assert timings["predicted_ms"] >= 30 and timings["prompt_ms"] > 0
    whole = post(server, request()).json()
    assert whole["timings"]["predicted_n"] == 3


def test_a_request_loads_the_model_like_ollama(server: StandIn) -> None:
    server.load_delay = 0.1
    assert post(server, request()).status == 200
    assert post(server, streamed()).status == 200
    assert server.load_count == 1 and MODEL in server.loaded


# --- bad requests --------------------------------------------------------------------------


def test_unknown_model_is_a_404_in_openai_shape(server: StandIn) -> None:
    reply = post(server, request(model="nope:1b"))
    assert reply.status == 404
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.data == (
        b'{"error":{"message":"model \\"nope:1b\\" not found, try pulling it first",'
        b'"type":"api_error","param":null,"code":null}}'
    )
    assert server.load_count == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{bad", "invalid character 'b' looking for beginning of object key string"),
        (b"", "EOF"),
        (b"[]", "json: cannot unmarshal array into Go value of type openai.ChatCompletionRequest"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model is required"),
        ({"model": MODEL}, "messages must be a non-empty array"),
        ({"model": MODEL, "messages": []}, "messages must be a non-empty array"),
        (
            {"model": MODEL, "messages": "hi"},
            "json: cannot unmarshal string into Go struct field "
            "ChatCompletionRequest.messages of type []openai.Message",
        ),
        (
            {"model": MODEL, "messages": ["hi"]},
            "json: cannot unmarshal string into Go struct field "
            "ChatCompletionRequest.messages of type openai.Message",
        ),
        (
            {"model": MODEL, "messages": [{"content": "x"}]},
            "invalid message format: role must be a string",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": 5}]},
            "invalid message content type: number",
        ),
        (request(max_tokens=0), "max_tokens must be a positive integer"),
        (request(stop=5), "stop must be a string or an array of strings"),
        (
            request(stream_options={"include_usage": "yes"}),
            "json: cannot unmarshal string into Go struct field "
            "ChatCompletionRequest.stream_options.include_usage of type bool",
        ),
        (
            request(stream="yes"),
            "json: cannot unmarshal string into Go struct field "
            "ChatCompletionRequest.stream of type bool",
        ),
    ],
)
def test_bad_requests_are_400s_in_openai_shape(server: StandIn, body: Any, message: str) -> None:
    reply = post(server, body)
    assert (reply.status, reply.json()) == (400, error_body(message, "invalid_request_error"))
    assert server.load_count == 0


def test_other_fields_are_accepted_and_logged(server: StandIn) -> None:
    body = request(temperature=0, top_p=0.5, seed=7, stop="\n\n", frequency_penalty=0.1)
    assert post(server, body).status == 200
    (logged,) = server.openai_requests()
    assert logged.body == body and json.loads(logged.raw_body) == body


def test_unknown_v1_path_answers_like_gin(server: StandIn) -> None:
    reply = call(server, "POST", "/v1/completions", request())
    assert (reply.status, reply.data) == (404, b"404 page not found")
    assert call(server, "GET", COMPLETIONS).status == 405


# --- faults --------------------------------------------------------------------------------


def fault(server: StandIn, kind: str, **options: Any) -> None:
    server.fault(kind, path=COMPLETIONS, **options)


@pytest.mark.parametrize(
    ("status", "message", "error_type"),
    [
        (503, SERVER_BUSY, "server_error"),
        (500, RUNNER_STOPPED, "server_error"),
        (404, f'model "{MODEL}" not found, try pulling it first', "api_error"),
        (400, "bad request", "invalid_request_error"),
    ],
)
def test_status_fault_answers_an_openai_error(
    server: StandIn, status: int, message: str, error_type: str
) -> None:
    fault(server, "status", status=status)
    failed = post(server, streamed())
    assert (failed.status, failed.json()) == (status, error_body(message, error_type))
    assert "retry-after" not in failed.headers
    assert post(server, streamed()).status == 200


def test_retry_after_goes_with_a_status_fault(server: StandIn) -> None:
    fault(server, "status", status=429, retry_after=7, message="slow down")
    limited = post(server, streamed())
    assert (limited.status, limited.headers["retry-after"]) == (429, "7")
    assert limited.json() == error_body("slow down", "rate_limit_error")
    server.fault("status", status=503, retry_after=2)  # Ollama's paths too, in Ollama's shape
    busy = call(server, "POST", "/api/chat", request())
    assert (busy.status, busy.headers["retry-after"], busy.json()) == (
        503,
        "2",
        {"error": SERVER_BUSY},
    )
    with pytest.raises(ValueError, match="retry_after"):
        fault(server, "die", retry_after=1)


def test_error_midstream_is_a_data_event_then_the_end(server: StandIn) -> None:
    server.reply = "a b c d e"
    fault(server, "error_midstream", after_chunks=2, message="boom")
    raw = raw_post(server, COMPLETIONS, streamed())
    assert raw.head.startswith(b"HTTP/1.1 200") and raw.terminated
    events = events_of(raw.body)
    assert raw.body.endswith(b"\n\n") and len(events) == 3
    assert contents(data_of(events[:2])) == ["a"]
    assert events[2] == (
        b'data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}'
    )
    entry = server.openai_requests()[-1]
    assert entry.completed and entry.chunks_sent == 3


def test_error_event_is_an_event_named_error(server: StandIn) -> None:
    server.reply = "a b c"
    fault(server, "error_event", after_chunks=1)
    raw = raw_post(server, COMPLETIONS, streamed())
    assert raw.terminated
    events = events_of(raw.body)
    assert len(events) == 2 and data_of(events[:1])[0]["choices"][0]["delta"] == {
        "role": "assistant"
    }
    name, data = events[1].split(b"\n")
    assert name == b"event: error"
    assert json.loads(data.removeprefix(b"data: ")) == error_body(RUNNER_STOPPED, "server_error")
    with pytest.raises(ValueError, match="error_event"):
        server.fault("error_event", path="/api/chat")


def test_malformed_event_then_the_stream_goes_on(server: StandIn) -> None:
    server.reply = "a b c"
    fault(server, "malformed", after_chunks=2)
    raw = raw_post(server, COMPLETIONS, streamed())
    events = events_of(raw.body)
    assert events[2] == b"data: {not json"
    rest = data_of(events[:2] + events[3:])
    assert "".join(contents(rest)) == "a b c" and rest[-1] == "[DONE]"
    assert raw.terminated


def test_truncate_ends_the_body_inside_an_event_without_done(server: StandIn) -> None:
    server.reply = "a b c"
    fault(server, "truncate", after_chunks=2)
    raw = raw_post(server, COMPLETIONS, streamed())
    assert raw.terminated and b"[DONE]" not in raw.body
    *complete, partial = events_of(raw.body)
    assert len(complete) == 2
    chunk = data_of(complete)[1]  # the event " b" would have been: the "a" event's twin
    chunk["choices"][0]["delta"] = {"content": " b"}
    event = b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
    assert partial == event[: len(event) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(partial.removeprefix(b"data: "))


def test_truncate_after_the_last_event_cuts_done_in_half(server: StandIn) -> None:
    server.reply = "a b c"
    fault(server, "truncate", after_chunks=99)
    raw = raw_post(server, COMPLETIONS, streamed())
    assert raw.terminated
    *complete, partial = events_of(raw.body)
    assert partial == b"data: ["
    assert "".join(contents(data_of(complete))) == "a b c"
    assert complete[-1].startswith(b"data: {") and len(complete) == 5


def test_die_drops_the_connection_without_the_last_chunk(server: StandIn) -> None:
    server.reply = "a b c d e"
    fault(server, "die", after_chunks=2)
    raw = raw_post(server, COMPLETIONS, streamed())
    assert not raw.terminated and len(events_of(raw.body)) == 2
    entry = server.openai_requests()[-1]
    assert entry.status == 200 and not entry.completed and entry.chunks_sent == 2
    assert server.wait_for(lambda: server.generations[-1].done_reason is None)


def test_stall_goes_silent_after_the_role_event(server: StandIn) -> None:
    fault(server, "stall", after_chunks=1, seconds=30)
    conn = connect(server, timeout=0.3)
    conn.request("POST", COMPLETIONS, body=encode(streamed()))
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.readline().removeprefix(b"data: "))["choices"][0]["delta"] == {
        "role": "assistant"
    }
    with pytest.raises(TimeoutError):
        response.read()
    response.close()
    conn.close()
    assert server.wait_for(lambda: server.openai_requests()[-1].disconnected)


def test_stall_headers_sends_nothing(server: StandIn) -> None:
    fault(server, "stall_headers", seconds=30)
    conn = connect(server, timeout=0.3)
    conn.request("POST", COMPLETIONS, body=encode(streamed()))
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    assert server.wait_for(lambda: server.openai_requests()[-1].disconnected)
    assert server.openai_requests()[-1].status is None


def test_body_faults_on_a_non_streamed_reply(server: StandIn) -> None:
    fault(server, "error_midstream", message="runner crashed")
    failed = post(server, request())
    assert (failed.status, failed.json()) == (500, error_body("runner crashed", "server_error"))
    fault(server, "malformed")
    assert post(server, request()).data == b"{not json"
    fault(server, "die")
    with pytest.raises(http.client.RemoteDisconnected):
        post(server, request())


# --- the wire ------------------------------------------------------------------------------


def test_chunk_boundaries_fall_inside_events(server: StandIn) -> None:
    server.reply = "Café au lait — naïve, isn't it? The quick brown fox."
    raw = raw_post(server, COMPLETIONS, streamed(stream_options={"include_usage": True}))
    assert b"transfer-encoding: chunked" in raw.head.lower()
    assert b"content-type: text/event-stream" in raw.head.lower()
    assert raw.terminated
    assert any(not chunk.endswith(b"\n\n") for chunk in raw.chunks), "a cut inside an event"
    assert any(b"\n\n" in chunk for chunk in raw.chunks), "a chunk joining two events"
    values = data_of(events_of(raw.body))
    assert "".join(contents(values)) == server.reply and values[-1] == "[DONE]"


def test_client_hanging_up_mid_stream_is_noticed(server: StandIn) -> None:
    server.token_delay = 0.05
    server.reply = " ".join(["word"] * 40)
    conn = connect(server)
    conn.request("POST", COMPLETIONS, body=encode(streamed()))
    response = conn.getresponse()
    assert response.readline().startswith(b"data: ")
    response.close()
    conn.close()
    assert server.wait_for(lambda: server.openai_requests()[-1].disconnected)
    assert server.wait_for(lambda: len(server.generations) == 1)
    (record,) = server.generations
    assert record.done_reason is None and record.tokens < 10
    assert not server.openai_requests()[-1].completed


def test_the_request_log_and_generation_records(server: StandIn) -> None:
    server.reply = "a b"
    body = streamed("Fix:\n\nteh cat", temperature=0.2, seed=1, stop=["\n"], top_p=0.9)
    post(server, body)
    post(server, b"not json")
    call(server, "GET", "/v1/models")
    first, broken = server.openai_requests()
    assert first.body == body and first.headers["content-type"] == "application/json"
    assert (first.status, first.completed, first.disconnected) == (200, True, False)
    assert first.chunks_sent == 5  # role, two tokens, finish, [DONE]
    assert (broken.body, broken.raw_body, broken.status) == (None, b"not json", 400)
    assert [entry.path for entry in server.requests] == [COMPLETIONS, COMPLETIONS, "/v1/models"]
    (record,) = server.generations
    assert (record.path, record.model, record.tokens, record.done_reason) == (
        COMPLETIONS,
        MODEL,
        2,
        "stop",
    )


# --- authentication ------------------------------------------------------------------------

UNAUTHORIZED_V1 = error_body("Invalid API key", "invalid_request_error")


@pytest.mark.parametrize(
    "required",
    [
        {"Authorization": "Bearer k"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-Api-Key": "k", "X-Tenant": "t"},
    ],
)
def test_required_headers_guard_both_apis(required: dict[str, str]) -> None:
    with StandIn(required_headers=required) as server:
        for path in (COMPLETIONS, "/api/chat"):
            assert call(server, "POST", path, request()).status == 401
        assert call(server, "GET", "/v1/models").json() == UNAUTHORIZED_V1
        assert call(server, "GET", "/api/tags").json() == {"error": "unauthorized"}
        partial = dict(list(required.items())[:-1]) | {list(required)[-1]: "wrong"}
        assert post(server, streamed(), partial).status == 401
        spelled = {name.upper(): value for name, value in required.items()}
        assert post(server, streamed(), spelled).status == 200
        assert call(server, "POST", "/api/chat", request(), required).status == 200
        assert all(entry.status in (200, 401) for entry in server.requests)
        assert len(server.requests) == 7  # every request is logged, refused or not


def test_unauthorized_bodies_and_log(server: StandIn) -> None:
    server.required_headers = {"Authorization": "Bearer k"}
    refused = post(server, streamed(), {"Authorization": "Bearer nope"})
    assert (refused.status, refused.json()) == (401, UNAUTHORIZED_V1)
    ollama = call(server, "POST", "/api/chat", request())
    assert (ollama.status, ollama.json()) == (401, {"error": "unauthorized"})
    entry = server.openai_requests()[-1]
    assert entry.status == 401 and entry.headers["authorization"] == "Bearer nope"
    assert server.load_count == 0 and server.generations == []


def test_a_refused_request_leaves_the_fault_for_the_next(server: StandIn) -> None:
    server.required_headers = {"Authorization": "Bearer k"}
    fault(server, "status", status=503)
    assert post(server, streamed()).status == 401
    assert post(server, streamed(), {"Authorization": "Bearer k"}).status == 503
    assert post(server, streamed(), {"Authorization": "Bearer k"}).status == 200
