"""Tests of the Ollama stand-in itself, over real sockets (http.client and raw socket)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standin import (
    FOREVER,
    PULL_MISSING,
    RUNNER_STOPPED,
    SERVER_BUSY,
    ModelSpec,
    StandIn,
    parse_keep_alive,
    unused_url,
)
from tests.standin.llama import LlamaGenerator, StopText, sampling_arguments
from tests.standin.probe import Reply, call, connect, encode, raw_post

ROOT = Path(__file__).resolve().parent.parent
PLAIN = "qwen2.5:1.5b"
THINKER = "qwen3:0.6b"
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


@pytest.fixture
def ollama() -> Iterator[StandIn]:
    thinker = ModelSpec(
        THINKER,
        family="qwen3",
        parameter_size="0.6B",
        capabilities=("completion", "thinking"),
        context_length=40960,
    )
    with StandIn(models=[ModelSpec(PLAIN), thinker]) as standin:
        yield standin


# --- helpers -------------------------------------------------------------------------------


def chat(text: str = "hello there", model: str = PLAIN, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def final_of(reply: Reply) -> dict[str, Any]:
    last = reply.lines()[-1]
    assert last["done"] is True
    return last


def content_of(reply: Reply) -> str:
    return "".join(line["message"]["content"] for line in reply.lines())


# --- plain endpoints -----------------------------------------------------------------------


def test_health_answers_get_and_head(ollama: StandIn) -> None:
    got = call(ollama, "GET", "/")
    assert (got.status, got.data) == (200, b"Ollama is running")
    assert got.headers["content-type"].startswith("text/plain")
    head = call(ollama, "HEAD", "/")
    assert (head.status, head.data, head.headers["content-length"]) == (200, b"", "17")


def test_version(ollama: StandIn) -> None:
    assert call(ollama, "GET", "/api/version").json() == {"version": "0.32.1"}


def test_tags_lists_every_model_with_details(ollama: StandIn) -> None:
    models = {m["name"]: m for m in call(ollama, "GET", "/api/tags").json()["models"]}
    assert set(models) == {PLAIN, THINKER}
    plain = models[PLAIN]
    assert plain["model"] == PLAIN and plain["size"] == 986_000_000
    assert re.fullmatch(r"[0-9a-f]{64}", plain["digest"])
    assert CREATED_AT.match(plain["modified_at"])
    assert plain["details"] == {
        "parent_model": "",
        "format": "gguf",
        "family": "qwen2",
        "families": ["qwen2"],
        "parameter_size": "1.5B",
        "quantization_level": "Q4_K_M",
    }


def test_show_reports_capabilities_and_context_length(ollama: StandIn) -> None:
    shown = call(ollama, "POST", "/api/show", {"model": THINKER}).json()
    assert shown["capabilities"] == ["completion", "thinking"]
    assert shown["model_info"]["qwen3.context_length"] == 40960
    assert shown["model_info"]["general.architecture"] == "qwen3"
    assert shown["details"]["family"] == "qwen3"
    assert {"template", "parameters", "modelfile", "modified_at"} <= shown.keys()
    plain = call(ollama, "POST", "/api/show", {"model": PLAIN}).json()
    assert plain["capabilities"] == ["completion"]


def test_show_errors(ollama: StandIn) -> None:
    missing = call(ollama, "POST", "/api/show", {"model": "nope:1b"})
    assert (missing.status, missing.json()) == (404, {"error": "model 'nope:1b' not found"})
    nameless = call(ollama, "POST", "/api/show", {})
    assert (nameless.status, nameless.json()) == (400, {"error": "model is required"})


def test_unknown_path_and_wrong_method_answer_like_gin(ollama: StandIn) -> None:
    unknown = call(ollama, "GET", "/api/nothing")
    assert (unknown.status, unknown.data) == (404, b"404 page not found")
    assert unknown.headers["content-type"] == "text/plain"
    wrong = call(ollama, "GET", "/api/chat")
    assert (wrong.status, wrong.data) == (405, b"405 method not allowed")


def test_unused_url_refuses_connections() -> None:
    host, port = unused_url().removeprefix("http://").rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"", 400, "missing request body"),
        (b"{bad", 400, "invalid character 'b' looking for beginning of object key string"),
        (b"[]", 400, "json: cannot unmarshal array into Go value of type api.ChatRequest"),
        ({"messages": []}, 400, "model is required"),
        (
            {"model": 5},
            400,
            "json: cannot unmarshal number into Go struct field ChatRequest.model of type string",
        ),
        ({"model": "nope:1b", "messages": []}, 404, "model 'nope:1b' not found"),
        (chat(keep_alive="3600"), 400, 'time: missing unit in duration "3600"'),
        (chat(keep_alive="-1"), 400, 'time: missing unit in duration "-1"'),
        (chat(keep_alive="soon"), 400, 'time: invalid duration "soon"'),
        (chat(think=True), 400, '"qwen2.5:1.5b" does not support thinking'),
        # keep_alive is checked while decoding, before the model is looked up (as in Go)
        ({"model": "nope:1b", "keep_alive": "3600"}, 400, 'time: missing unit in duration "3600"'),
        (chat(options={"num_ctx": "big"}), 500, 'option "num_ctx" must be of type integer'),
    ],
)
def test_chat_rejects_bad_requests(ollama: StandIn, body: Any, status: int, error: str) -> None:
    got = call(ollama, "POST", "/api/chat", body)
    assert (got.status, got.json()) == (status, {"error": error})
    assert got.headers["content-type"].startswith("application/json")
    assert ollama.load_count == 0


def test_generate_rejects_unknown_model(ollama: StandIn) -> None:
    got = call(ollama, "POST", "/api/generate", {"model": "nope:1b", "prompt": "x"})
    assert (got.status, got.json()) == (404, {"error": "model 'nope:1b' not found"})


def test_think_false_is_accepted_by_models_without_thinking(ollama: StandIn) -> None:
    assert call(ollama, "POST", "/api/chat", chat(think=False)).status == 200


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30m", 1800.0), ("1h30m", 5400.0), ("500ms", 0.5), ("0", 0.0), (3600, 3600.0)],
)
def test_keep_alive_values(value: Any, seconds: float) -> None:
    assert parse_keep_alive(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["-1m", -1, -0.5])
def test_negative_keep_alive_means_forever(value: Any) -> None:
    assert parse_keep_alive(value) == FOREVER


# --- model memory --------------------------------------------------------------------------


def test_warmup_loads_and_keep_alive_zero_unloads(ollama: StandIn) -> None:
    warm = {"model": PLAIN, "messages": [], "keep_alive": "10m", "options": {"num_ctx": 2048}}
    loaded = call(ollama, "POST", "/api/chat", warm)
    assert loaded.json()["done_reason"] == "load"
    assert loaded.json()["message"] == {"role": "assistant", "content": ""}
    assert ollama.load_count == 1
    (running,) = call(ollama, "GET", "/api/ps").json()["models"]
    assert running["name"] == PLAIN and running["context_length"] == 2048
    assert running["size_vram"] == running["size"] == 986_000_000
    assert "modified_at" not in running
    assert CREATED_AT.match(running["expires_at"])
    unloaded = call(ollama, "POST", "/api/chat", {"model": PLAIN, "messages": [], "keep_alive": 0})
    assert unloaded.json()["done_reason"] == "unload"
    assert call(ollama, "GET", "/api/ps").json() == {"models": []}
    assert ollama.loaded == {}


def test_generate_warmup_without_prompt(ollama: StandIn) -> None:
    got = call(ollama, "POST", "/api/generate", {"model": PLAIN}).json()
    assert (got["response"], got["done"], got["done_reason"]) == ("", True, "load")
    assert "message" not in got and ollama.load_count == 1


def test_cold_load_is_slow_and_warm_is_fast(ollama: StandIn) -> None:
    ollama.load_delay = 0.2
    cold = final_of(call(ollama, "POST", "/api/chat", chat()))
    warm = final_of(call(ollama, "POST", "/api/chat", chat()))
    assert cold["load_duration"] >= 200_000_000
    assert warm["load_duration"] < 50_000_000
    assert cold["total_duration"] >= cold["load_duration"]
    assert ollama.load_count == 1


def test_load_time_options_decide_reloads(ollama: StandIn) -> None:
    def send(options: dict[str, Any]) -> int:
        assert call(ollama, "POST", "/api/chat", chat(options=options)).status == 200
        return ollama.load_count

    assert send({"num_ctx": 2048}) == 1
    assert send({"num_ctx": 2048, "temperature": 0, "num_predict": 50}) == 1
    assert send({"num_ctx": 8192}) == 2
    assert call(ollama, "GET", "/api/ps").json()["models"][0]["context_length"] == 8192
    assert send({}) == 3  # omitting num_ctx after an explicit one counts as a change
    assert call(ollama, "GET", "/api/ps").json()["models"][0]["context_length"] == 4096
    assert send({"num_batch": 256}) == 4


def test_keep_alive_settings(ollama: StandIn) -> None:
    call(ollama, "POST", "/api/chat", chat())
    assert ollama.loaded[PLAIN].expires_at == pytest.approx(time.monotonic() + 300, abs=5)
    call(ollama, "POST", "/api/chat", chat(keep_alive="1h30m"))
    assert ollama.loaded[PLAIN].expires_at == pytest.approx(time.monotonic() + 5400, abs=5)
    call(ollama, "POST", "/api/chat", chat())  # omitted: the setting stays
    assert ollama.loaded[PLAIN].expires_at == pytest.approx(time.monotonic() + 5400, abs=5)
    call(ollama, "POST", "/api/chat", chat(keep_alive=-1))
    assert ollama.loaded[PLAIN].expires_at is None
    expires = call(ollama, "GET", "/api/ps").json()["models"][0]["expires_at"]
    assert int(expires[:4]) > 2300
    assert ollama.load_count == 1


def test_expired_model_loads_again(ollama: StandIn) -> None:
    call(ollama, "POST", "/api/chat", chat())
    ollama.loaded[PLAIN].expires_at = time.monotonic() - 1
    assert call(ollama, "GET", "/api/ps").json() == {"models": []}
    call(ollama, "POST", "/api/chat", chat())
    ollama.expire(PLAIN)
    call(ollama, "POST", "/api/chat", chat())
    assert ollama.load_count == 3


def test_keep_alive_zero_on_a_real_request_unloads_afterwards(ollama: StandIn) -> None:
    reply = call(ollama, "POST", "/api/chat", chat(keep_alive=0))
    assert final_of(reply)["done_reason"] == "stop"
    assert ollama.load_count == 1 and ollama.loaded == {}


def test_client_leaving_during_a_load_aborts_it(ollama: StandIn) -> None:
    ollama.load_delay = 5
    conn = connect(ollama, timeout=0.2)
    conn.request("POST", "/api/chat", body=encode(chat()))
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    assert ollama.wait_for(lambda: ollama.chat_requests()[-1].disconnected)
    assert ollama.load_count == 0 and ollama.loaded == {}


# --- generation ----------------------------------------------------------------------------


def test_stream_splits_lines_across_http_chunks(ollama: StandIn) -> None:
    ollama.reply = "Café au lait — naïve, isn't it? The quick brown fox."
    raw = raw_post(ollama, "/api/chat", chat())
    assert b"transfer-encoding: chunked" in raw.head.lower()
    assert b"content-type: application/x-ndjson" in raw.head.lower()
    assert raw.terminated
    assert any(not chunk.endswith(b"\n") for chunk in raw.chunks), "a boundary inside a line"
    assert any(b"\n" in chunk[:-1] for chunk in raw.chunks), "a chunk joining two lines"
    lines = [json.loads(line) for line in raw.body.decode().splitlines()]
    assert "".join(line["message"]["content"] for line in lines) == ollama.reply
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]


def test_stream_objects_have_ollama_fields_and_units(ollama: StandIn) -> None:
    ollama.reply = "one two three"
    reply = call(ollama, "POST", "/api/chat", chat("x" * 40))
    *chunks, final = reply.lines()
    assert [c["message"]["content"] for c in chunks] == ["one", " two", " three"]
    for chunk in chunks:
        assert set(chunk) == {"model", "created_at", "message", "done"}
        assert chunk["message"]["role"] == "assistant"
    assert final["message"] == {"role": "assistant", "content": ""}
    assert final["done_reason"] == "stop" and final["model"] == PLAIN
    assert all(type(final[key]) is int and final[key] > 0 for key in METRICS)
    assert final["eval_count"] == 3 and final["prompt_eval_count"] == 10
    assert all(CREATED_AT.match(line["created_at"]) for line in reply.lines())


def test_stream_false_returns_one_json_object(ollama: StandIn) -> None:
    ollama.reply = "All of it at once."
    reply = call(ollama, "POST", "/api/chat", chat(stream=False))
    assert reply.headers["content-type"].startswith("application/json")
    assert int(reply.headers["content-length"]) == len(reply.data)
    got = reply.json()
    assert got["message"] == {"role": "assistant", "content": "All of it at once."}
    assert got["done"] is True and got["done_reason"] == "stop"
    assert all(key in got for key in METRICS)


def test_generate_has_its_own_shape(ollama: StandIn) -> None:
    ollama.reply = "fine words"
    reply = call(ollama, "POST", "/api/generate", {"model": PLAIN, "prompt": "some text"})
    *chunks, final = reply.lines()
    assert [c["response"] for c in chunks] == ["fine", " words"]
    assert all("message" not in line for line in reply.lines())
    assert final["response"] == "" and final["done_reason"] == "stop"
    assert all(type(token) is int for token in final["context"]) and final["context"]
    whole = call(ollama, "POST", "/api/generate", {"model": PLAIN, "prompt": "x", "stream": False})
    assert whole.json()["response"] == "fine words"
    raw = call(ollama, "POST", "/api/generate", {"model": PLAIN, "prompt": "x", "raw": True})
    assert "context" not in final_of(raw)


def test_echo_mode_returns_the_text_after_the_instructions(ollama: StandIn) -> None:
    instructed = call(ollama, "POST", "/api/chat", chat("Fix this text:\n\ntheir going"))
    assert content_of(instructed) == "their going"
    plain = call(ollama, "POST", "/api/chat", chat("just this\n\nand that"))
    assert content_of(plain) == "just this\n\nand that"
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "Rewrite:\n\nsecond one"},
    ]
    last = call(ollama, "POST", "/api/chat", {"model": PLAIN, "messages": messages})
    assert content_of(last) == "second one"
    generated = call(ollama, "POST", "/api/generate", {"model": PLAIN, "prompt": "Fix:\n\nabc"})
    assert "".join(line["response"] for line in generated.lines()) == "abc"


def test_queued_replies_come_first_then_the_callable(ollama: StandIn) -> None:
    ollama.queue_replies("first", "second")
    seen: list[dict[str, Any]] = []

    def shout(body: dict[str, Any]) -> str:
        seen.append(body)
        return body["messages"][-1]["content"].upper()

    ollama.reply = shout
    texts = [content_of(call(ollama, "POST", "/api/chat", chat("abc"))) for _ in range(3)]
    assert texts == ["first", "second", "ABC"]
    assert seen == [chat("abc")]


def test_num_predict_cuts_the_reply_with_length(ollama: StandIn) -> None:
    ollama.reply = "one two three four five"
    reply = call(ollama, "POST", "/api/chat", chat(options={"num_predict": 2}))
    assert content_of(reply) == "one two"
    assert final_of(reply)["done_reason"] == "length" and final_of(reply)["eval_count"] == 2
    roomy = call(ollama, "POST", "/api/chat", chat(options={"num_predict": 50}))
    assert final_of(roomy)["done_reason"] == "stop"


def test_thinking_model_thinks_unless_told_not_to(ollama: StandIn) -> None:
    ollama.reply = "Done."
    thought = call(ollama, "POST", "/api/chat", chat(model=THINKER)).lines()
    thinking = [line for line in thought if line["message"].get("thinking")]
    assert thinking and all(line["message"]["content"] == "" for line in thinking)
    assert all("thinking" in line["message"] for line in thought[: len(thinking)])  # first
    assert "".join(line["message"]["content"] for line in thought) == "Done."
    quiet = call(ollama, "POST", "/api/chat", chat(model=THINKER, think=False)).lines()
    assert not any("thinking" in line["message"] for line in quiet)


def test_thinking_in_generate_and_non_streamed_chat(ollama: StandIn) -> None:
    ollama.reply = "Done."
    body = {"model": THINKER, "prompt": "x"}
    lines = call(ollama, "POST", "/api/generate", body).lines()
    assert any(line.get("thinking") and line["response"] == "" for line in lines)
    whole = call(ollama, "POST", "/api/chat", chat(model=THINKER, stream=False)).json()
    assert whole["message"]["thinking"] and whole["message"]["content"] == "Done."


def test_num_predict_counts_thinking_tokens(ollama: StandIn) -> None:
    reply = call(ollama, "POST", "/api/chat", chat(model=THINKER, options={"num_predict": 3}))
    assert content_of(reply) == "" and final_of(reply)["done_reason"] == "length"


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, RUNNER_STOPPED), (503, SERVER_BUSY), (404, f"model '{PLAIN}' not found")],
)
def test_status_fault_uses_ollama_messages(ollama: StandIn, status: int, error: str) -> None:
    ollama.fault("status", status=status)
    failed = call(ollama, "POST", "/api/chat", chat())
    assert (failed.status, failed.json()) == (status, {"error": error})
    assert call(ollama, "POST", "/api/chat", chat()).status == 200


def test_fault_times_and_paths(ollama: StandIn) -> None:
    ollama.fault("status", status=500, message="boom", times=-1)
    ollama.fault("status", status=503, path="/api/generate")
    assert call(ollama, "POST", "/api/chat", chat()).json() == {"error": "boom"}
    assert call(ollama, "POST", "/api/chat", chat()).status == 500
    generate = {"model": PLAIN, "prompt": "x"}
    assert call(ollama, "POST", "/api/generate", generate).status == 503
    assert call(ollama, "POST", "/api/generate", generate).status == 200
    ollama.clear_faults()
    assert call(ollama, "POST", "/api/chat", chat()).status == 200


def test_error_midstream_keeps_status_200(ollama: StandIn) -> None:
    ollama.reply = "a b c d e"
    ollama.fault("error_midstream", after_chunks=2)
    raw = raw_post(ollama, "/api/chat", chat())
    assert raw.head.startswith(b"HTTP/1.1 200") and raw.terminated
    lines = [json.loads(line) for line in raw.body.splitlines()]
    assert [line["message"]["content"] for line in lines[:2]] == ["a", " b"]
    assert lines[2:] == [{"error": RUNNER_STOPPED}]
    assert ollama.chat_requests()[-1].completed


def test_truncate_ends_on_half_a_line(ollama: StandIn) -> None:
    ollama.reply = "a b c d e"
    ollama.fault("truncate", after_chunks=2)
    raw = raw_post(ollama, "/api/chat", chat())
    assert raw.terminated and not raw.body.endswith(b"\n")
    *whole, partial = raw.body.split(b"\n")
    assert len(whole) == 2 and all(json.loads(line) for line in whole)
    with pytest.raises(json.JSONDecodeError):
        json.loads(partial)


def test_malformed_line_then_the_stream_goes_on(ollama: StandIn) -> None:
    ollama.reply = "a b c"
    ollama.fault("malformed", after_chunks=1)
    raw = raw_post(ollama, "/api/chat", chat())
    lines = raw.body.splitlines()
    assert lines[1] == b'{"model": oops}'
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1])
    rest = [json.loads(line) for line in lines[:1] + lines[2:]]
    assert "".join(line["message"]["content"] for line in rest) == "a b c"
    assert rest[-1]["done"] is True and raw.terminated


def test_die_closes_without_the_last_chunk(ollama: StandIn) -> None:
    ollama.reply = "a b c d e"
    ollama.fault("die", after_chunks=2)
    raw = raw_post(ollama, "/api/chat", chat())
    assert not raw.terminated
    assert [json.loads(line)["message"]["content"] for line in raw.body.splitlines()] == ["a", " b"]
    entry = ollama.chat_requests()[-1]
    assert entry.status == 200 and not entry.completed and entry.chunks_sent == 2


@pytest.mark.parametrize("after_chunks", [0, 1])
def test_stall_goes_silent_and_sees_the_client_leave(ollama: StandIn, after_chunks: int) -> None:
    ollama.fault("stall", after_chunks=after_chunks, seconds=30)
    conn = connect(ollama, timeout=0.3)
    conn.request("POST", "/api/chat", body=encode(chat()))
    response = conn.getresponse()
    assert response.status == 200
    if after_chunks:
        assert json.loads(response.readline())["done"] is False
    with pytest.raises(TimeoutError):
        response.read()
    response.close()
    conn.close()
    assert ollama.wait_for(lambda: ollama.chat_requests()[-1].disconnected)


def test_stall_headers_sends_nothing(ollama: StandIn) -> None:
    ollama.fault("stall_headers", seconds=30)
    conn = connect(ollama, timeout=0.3)
    conn.request("POST", "/api/chat", body=encode(chat()))
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    assert ollama.wait_for(lambda: ollama.chat_requests()[-1].disconnected)
    assert ollama.chat_requests()[-1].status is None


def test_stop_ends_a_stalled_stream_promptly(ollama: StandIn) -> None:
    ollama.fault("stall", after_chunks=1, seconds=30)
    conn = connect(ollama)
    conn.request("POST", "/api/chat", body=encode(chat()))
    response = conn.getresponse()
    response.readline()
    started = time.monotonic()
    ollama.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


def test_other_requests_are_served_while_one_stalls(ollama: StandIn) -> None:
    ollama.fault("stall_headers", seconds=30)
    stalled = connect(ollama)
    stalled.request("POST", "/api/chat", body=encode(chat()))
    assert ollama.wait_for(lambda: len(ollama.chat_requests()) == 1)
    assert call(ollama, "POST", "/api/chat", chat()).status == 200
    stalled.close()


def test_body_faults_on_a_non_streamed_reply(ollama: StandIn) -> None:
    ollama.fault("error_midstream", message="runner crashed")
    got = call(ollama, "POST", "/api/chat", chat(stream=False))
    assert (got.status, got.json()) == (500, {"error": "runner crashed"})
    ollama.fault("die")
    with pytest.raises(http.client.RemoteDisconnected):
        call(ollama, "POST", "/api/chat", chat(stream=False))


def test_fault_rejects_unknown_kinds(ollama: StandIn) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        ollama.fault("explode")


# --- connections ---------------------------------------------------------------------------


def test_one_connection_carries_several_requests(ollama: StandIn) -> None:
    conn = connect(ollama)
    conn.request("POST", "/api/chat", body=encode(chat()))
    first = conn.getresponse()
    assert first.read() and first.getheader("transfer-encoding") == "chunked"
    sock = conn.sock
    conn.request("GET", "/api/version")
    assert conn.getresponse().read() == b'{"version":"0.32.1"}'
    conn.request("POST", "/api/chat", body=encode(chat(stream=False)))
    assert json.loads(conn.getresponse().read())["done"] is True
    assert conn.sock is sock and sock is not None
    conn.close()


def test_client_closing_mid_stream_is_noticed(ollama: StandIn) -> None:
    ollama.token_delay = 0.05
    ollama.reply = " ".join(["word"] * 40)
    conn = connect(ollama)
    conn.request("POST", "/api/chat", body=encode(chat()))
    response = conn.getresponse()
    assert json.loads(response.readline())["done"] is False
    response.close()
    conn.close()
    assert ollama.wait_for(lambda: ollama.chat_requests()[-1].disconnected, 5)
    entry = ollama.chat_requests()[-1]
    assert not entry.completed and entry.chunks_sent < 10


def test_restart_serves_the_same_url_with_nothing_loaded(ollama: StandIn) -> None:
    call(ollama, "POST", "/api/chat", chat())
    url = ollama.url
    ollama.stop()
    ollama.start()
    assert ollama.url == url and ollama.loaded == {}
    assert call(ollama, "GET", "/").status == 200


def test_concurrent_streams_all_complete(ollama: StandIn) -> None:
    ollama.token_delay = 0.02
    ollama.reply = " ".join(["w"] * 10)
    results: list[str] = []

    def stream_one() -> None:
        results.append(content_of(call(ollama, "POST", "/api/chat", chat())))

    workers = [threading.Thread(target=stream_one) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(5)
    assert results == [ollama.reply] * 4


# --- pull ----------------------------------------------------------------------------------


def test_pull_streams_progress_then_the_model_exists(ollama: StandIn) -> None:
    ollama.pullable["qwen3:1.7b"] = ModelSpec("qwen3:1.7b", family="qwen3", size=1_400_000_000)
    reply = call(ollama, "POST", "/api/pull", {"model": "qwen3:1.7b", "stream": True})
    lines = reply.lines()
    statuses = [line["status"] for line in lines]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers: dict[str, list[dict[str, Any]]] = {}
    for line in lines[1:-3]:
        assert line["status"] == f"pulling {line['digest'][7:19]}"
        layers.setdefault(line["digest"], []).append(line)
    assert layers
    for progress in layers.values():
        assert "completed" not in progress[0]
        assert progress[-1]["completed"] == progress[-1]["total"]
    names = [m["name"] for m in call(ollama, "GET", "/api/tags").json()["models"]]
    assert names[0] == "qwen3:1.7b"
    assert call(ollama, "POST", "/api/chat", chat(model="qwen3:1.7b")).status == 200


def test_pull_of_an_unknown_model_fails_inside_the_stream(ollama: StandIn) -> None:
    reply = call(ollama, "POST", "/api/pull", {"model": "nope:1b"})
    assert reply.status == 200
    assert reply.lines() == [{"status": "pulling manifest"}, {"error": PULL_MISSING}]


def test_pull_without_streaming(ollama: StandIn) -> None:
    ollama.pullable["tiny:1b"] = ModelSpec("tiny:1b")
    done = call(ollama, "POST", "/api/pull", {"model": "tiny:1b", "stream": False})
    assert (done.status, done.json()) == (200, {"status": "success"})
    failed = call(ollama, "POST", "/api/pull", {"model": "nope:1b", "stream": False})
    assert (failed.status, failed.json()) == (500, {"error": PULL_MISSING})


# --- the request log -----------------------------------------------------------------------


def test_every_request_is_logged(ollama: StandIn) -> None:
    ollama.reply = "a b"
    body = chat("Fix:\n\nteh cat", keep_alive="30m", options={"temperature": 0})
    call(ollama, "GET", "/api/version")
    call(ollama, "POST", "/api/chat", body)
    call(ollama, "POST", "/api/chat", b"not json")
    version, first, broken = ollama.requests
    assert (version.method, version.path, version.body, version.status) == (
        "GET",
        "/api/version",
        None,
        200,
    )
    assert first.body == body and json.loads(first.raw_body) == body
    assert first.headers["content-type"] == "application/json"
    assert (first.status, first.completed, first.disconnected) == (200, True, False)
    assert first.chunks_sent == 3  # two tokens and the final object
    assert (broken.body, broken.raw_body, broken.status) == (None, b"not json", 400)
    assert ollama.chat_requests() == [first, broken]


def test_wait_for_times_out_with_false(ollama: StandIn) -> None:
    started = time.monotonic()
    assert ollama.wait_for(lambda: ollama.chat_requests()[-1].completed, 0.1) is False
    assert time.monotonic() - started < 1


# --- real generation, without a model ------------------------------------------------------


def test_the_package_does_not_import_llama_cpp() -> None:
    code = "import sys, tests.standin; print('llama_cpp' in sys.modules)"
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises((FileNotFoundError, ModuleNotFoundError), match=r"GGUF|llama-cpp-python"):
        LlamaGenerator(str(tmp_path / "nothing.gguf"))
    command = [sys.executable, "-m", "tests.standin", "--gguf", str(tmp_path / "x.gguf")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 1 and done.stderr.startswith("cannot generate: ")


@pytest.mark.parametrize(
    ("stops", "fed", "sent", "stopped"),
    [
        ([], ["Hello", " world"], ["Hello", " world"], False),
        (["END"], ["Hello E", "N", "D more"], ["Hello ", "", ""], True),
        (["END"], ["Hello E", "Nx"], ["Hello ", "ENx"], False),
        (["\n\n", "##"], ["a\n", "b#", "#c"], ["a", "\nb", ""], True),
    ],
)
def test_stop_text_holds_back_what_may_start_a_stop(
    stops: list[str], fed: list[str], sent: list[str], stopped: bool
) -> None:
    scanner = StopText(stops)
    results = [scanner.feed(text) for text in fed]
    assert [text for text, _ in results] == sent
    assert results[-1][1] is stopped and not any(hit for _, hit in results[:-1])


def test_sampling_options_become_llama_arguments() -> None:
    defaults = sampling_arguments({})
    assert defaults == {"temp": 0.8, "top_k": 40, "top_p": 0.9, "min_p": 0.0, "repeat_penalty": 1.1}
    chosen = sampling_arguments({"temperature": 0, "top_k": 5, "top_p": 0.5, "seed": 3, "stop": []})
    assert (chosen["temp"], chosen["top_k"], chosen["top_p"]) == (0, 5, 0.5)
    assert "seed" not in chosen and "stop" not in chosen  # set on the model, and scanned
