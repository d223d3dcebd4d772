"""OpenAI-compatible servers through the real wire: the CLI as a subprocess, the stand-in's
/v1 endpoints over HTTP, and what a user sees when such a server fails or refuses."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Run, RunCli, write_config
from tests.lsp_client import actions, fix_of, selection, start_editor, until
from tests.lsp_client import run as execute
from tests.standin import StandIn, unused_url
from tests.test_imports import HEAVY, imported_modules

MODEL = "qwen2.5:1.5b"  # the stand-in's model, and the default
CHAT = "/v1/chat/completions"
SLOPPY = b"their going too the store\n"


def v1(standin: StandIn) -> str:
    return f"{standin.url}/v1"


def assert_failed_cleanly(run: Run, code: int, original: bytes, *, mentions: str) -> None:
    assert run.code == code, run.stderr
    assert run.stdout == original
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and mentions in lines[0], run.stderr
    assert "Traceback" not in run.stderr


def test_a_rewrite_streams_from_an_openai_server(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "Sure! Here's the corrected text: They're going to the store."
    run = run_cli("fix", input=SLOPPY, env={"OLLAMA_HOST": v1(standin)})
    assert run.code == 0, run.stderr
    assert run.stdout == b"They're going to the store.\n"
    (sent,) = standin.openai_requests()
    body = sent.body
    assert (body["model"], body["stream"], body["stream_options"]) == (
        MODEL,
        True,
        {"include_usage": True},
    )
    assert body["temperature"] == 0 and body["max_tokens"] > 0
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1]["content"].endswith("their going too the store")
    for ollama_only in ("keep_alive", "options", "think", "num_ctx"):
        assert ollama_only not in body
    assert sent.headers["accept"].startswith("text/event-stream")
    assert standin.chat_requests() == []  # no /api call at all


def test_json_carries_the_usage_and_llama_cpp_timings(run_cli: RunCli) -> None:
    with StandIn(reply="They're going to the store.", openai_timings=True) as server:
        run = run_cli("fix", "--json", input=SLOPPY, env={"OLLAMA_HOST": v1(server)})
        assert run.code == 0, run.stderr
        result = json.loads(run.stdout)
        assert result["host"] == v1(server)
    timings = result["timings"]
    assert timings["prompt_tokens"] > 0 and timings["output_tokens"] == 5
    assert timings["eval_ms"] > 0 and timings["cached_tokens"] is not None
    assert timings["total_ms"] == pytest.approx(
        timings["prompt_eval_ms"] + timings["eval_ms"], abs=0.002
    )


def test_an_unknown_model_exits_4_listing_what_the_server_has(
    standin: StandIn, run_cli: RunCli
) -> None:
    run = run_cli("fix", "--model", "nosuch:1b", input=SLOPPY, env={"OLLAMA_HOST": v1(standin)})
    assert_failed_cleanly(run, 4, SLOPPY, mentions=f"it has {MODEL}")
    assert "rewrite pull" not in run.stderr  # nothing to pull from such a server


@pytest.mark.parametrize(
    ("kind", "extra", "mentions"),
    [
        ("status", {"status": 500}, "HTTP 500"),
        ("status", {"status": 503, "times": 2}, "HTTP 503"),
        ("status", {"status": 429, "retry_after": 60}, "asks to wait 60 s"),
        ("error_midstream", {"message": "CUDA out of memory"}, "CUDA out of memory"),
        ("error_event", {"message": "slot unavailable"}, "slot unavailable"),
        ("malformed", {}, "not JSON"),
        ("truncate", {"after_chunks": 2}, "in the middle of a line"),
        ("die", {}, "before the reply was complete"),
    ],
)
def test_server_faults_exit_1_with_the_text_intact(
    standin: StandIn, run_cli: RunCli, kind: str, extra: dict[str, object], mentions: str
) -> None:
    standin.reply = "They are going to the store."
    standin.fault(kind, path=CHAT, **extra)  # type: ignore[arg-type]
    run = run_cli("fix", input=SLOPPY, env={"OLLAMA_HOST": v1(standin)})
    assert_failed_cleanly(run, 1, SLOPPY, mentions=mentions)


def test_a_stream_that_ends_without_done_is_a_failure(run_cli: RunCli) -> None:
    event = {"choices": [{"index": 0, "delta": {"content": "They're going."}}]}
    body = f"data: {json.dumps(event)}\n\n".encode()
    with one_shot_server(body) as url:
        run = run_cli("fix", input=SLOPPY, env={"OLLAMA_HOST": f"{url}/v1"})
    assert_failed_cleanly(run, 1, SLOPPY, mentions="ended the reply without [DONE]")


@pytest.mark.parametrize(
    ("event", "mentions"),
    [
        ("[1, 2]", "failed mid-reply"),
        ('{"object": "error", "message": "overloaded"}', "overloaded"),
        ('{"choices": [{"delta": {"content": 5}}]}', "not text"),
        ('{"id": "x"}', "without choices"),
    ],
)
def test_odd_events_are_failures_not_text(run_cli: RunCli, event: str, mentions: str) -> None:
    with one_shot_server(f"data: {event}\n\ndata: [DONE]\n\n".encode()) as url:
        run = run_cli("fix", input=SLOPPY, env={"OLLAMA_HOST": f"{url}/v1"})
    assert_failed_cleanly(run, 1, SLOPPY, mentions=mentions)


@contextmanager
def one_shot_server(body: bytes) -> Iterator[str]:
    """A server that answers one request with `body` as an event stream, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            connection.sendall(head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(5)


def test_a_short_retry_after_is_waited_for_once(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "They're going to the store."
    standin.fault("status", status=429, retry_after=0, path=CHAT)
    run = run_cli("fix", input=SLOPPY, env={"OLLAMA_HOST": v1(standin)})
    assert run.code == 0, run.stderr
    assert [r.status for r in standin.openai_requests()] == [429, 200]


def test_a_key_from_the_named_variable_and_a_refusal_that_names_it(
    run_cli: RunCli, isolated_home: Path
) -> None:
    with StandIn(
        reply="They're going to the store.", required_headers={"Authorization": "Bearer k-1"}
    ) as s:
        write_config(isolated_home, f"hosts: [{{url: '{v1(s)}', api_key_env: GPU_KEY}}]\n")
        env = {"OLLAMA_HOST": ""}  # the config's hosts, not the fixture's
        refused = run_cli("fix", input=SLOPPY, env={**env, "GPU_KEY": ""})
        wrong = run_cli("fix", input=SLOPPY, env={**env, "GPU_KEY": "k-2"})
        allowed = run_cli("fix", "--json", input=SLOPPY, env={**env, "GPU_KEY": "k-1"})
    assert_failed_cleanly(refused, 3, SLOPPY, mentions="set GPU_KEY")
    assert_failed_cleanly(wrong, 3, SLOPPY, mentions="check the key in GPU_KEY")
    assert "HTTP 401" in wrong.stderr and "k-2" not in wrong.stderr
    assert allowed.code == 0, allowed.stderr
    assert "k-1" not in allowed.text
    assert s.openai_requests()[-1].headers["authorization"] == "Bearer k-1"


def test_basic_auth_from_ollama_host_reaches_an_ollama_proxy(run_cli: RunCli) -> None:
    token = base64.b64encode(b"bob:s3cret").decode()
    with StandIn(
        reply="They're going to the store.", required_headers={"Authorization": f"Basic {token}"}
    ) as s:
        address = s.url.replace("http://", "http://bob:s3cret@")
        allowed = run_cli("fix", "--json", input=SLOPPY, env={"OLLAMA_HOST": address})
        wrong = address.replace("s3cret", "guess")
        refused = run_cli("fix", "--no-cache", input=SLOPPY, env={"OLLAMA_HOST": wrong})
        assert allowed.code == 0, allowed.stderr
        assert json.loads(allowed.stdout)["host"] == s.url  # no credentials in what is shown
    assert_failed_cleanly(refused, 3, SLOPPY, mentions="HTTP 401")
    assert "guess" not in refused.stderr and "s3cret" not in refused.stderr


def test_proxy_headers_on_an_ollama_host_read_the_environment(
    run_cli: RunCli, isolated_home: Path
) -> None:
    with StandIn(
        reply="They're going to the store.", required_headers={"X-Api-Key": "team-key"}
    ) as s:
        write_config(isolated_home, f"hosts: [{{url: '{s.url}', headers: {{X-Api-Key: $KEY}}}}]\n")
        run = run_cli("fix", input=SLOPPY, env={"OLLAMA_HOST": "", "KEY": "team-key"})
        status = run_cli("status", env={"OLLAMA_HOST": "", "KEY": "team-key"})
    assert run.code == 0, run.stderr
    assert status.code == 0, status.stderr
    assert all(r.headers.get("x-api-key") == "team-key" for r in s.requests)


def test_status_lists_what_an_openai_server_serves(standin: StandIn, run_cli: RunCli) -> None:
    run = run_cli("status", "--json", env={"OLLAMA_HOST": v1(standin)})
    assert run.code == 0, run.stderr
    (host,) = json.loads(run.stdout)["hosts"]
    assert (host["api"], host["loaded"]) == ("openai", [])
    assert [m["name"] for m in host["models"]] == [MODEL]
    assert "the server's business" in host["verdict"]
    missing = run_cli("status", "--model", "other:1b", env={"OLLAMA_HOST": v1(standin)})
    assert missing.code == 4 and f"it lists {MODEL}" in missing.stdout.decode()
    assert not [r for r in standin.requests if r.path.startswith("/api/")]


def test_warm_sends_one_tiny_request_with_the_default_prompt(
    standin: StandIn, run_cli: RunCli
) -> None:
    run = run_cli("warm", env={"OLLAMA_HOST": v1(standin)})
    assert run.code == 0, run.stderr
    assert "the server keeps it loaded" in run.text
    (sent,) = standin.openai_requests()
    assert sent.body["max_tokens"] == 1
    assert "spelling" in sent.body["messages"][0]["content"]  # fix's instructions, cached


def test_pull_says_it_is_ollamas_alone(standin: StandIn, run_cli: RunCli) -> None:
    run = run_cli("pull", "some:model", env={"OLLAMA_HOST": v1(standin)})
    assert run.code == 2 and "OpenAI API" in run.stderr
    assert standin.requests == []


def test_an_unreachable_openai_server_says_so(run_cli: RunCli) -> None:
    run = run_cli("fix", input=SLOPPY, env={"OLLAMA_HOST": f"{unused_url()}/v1"})
    assert_failed_cleanly(run, 3, SLOPPY, mentions="no OpenAI-compatible server answers")
    assert "ollama serve" not in run.stderr


def test_a_wrong_base_url_hints_at_v1(standin: StandIn, run_cli: RunCli) -> None:
    run = run_cli("fix", "--host", f"{standin.url}/api/v1", input=SLOPPY, env={"OLLAMA_HOST": ""})
    assert_failed_cleanly(run, 1, SLOPPY, mentions="usually ends in /v1")


def test_an_openai_rewrite_imports_nothing_heavy(standin: StandIn) -> None:
    standin.reply = "They're going."
    modules = imported_modules(standin, "fix", "--host", v1(standin))
    assert "rewrite.openai_api" in modules  # the measurement itself works
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}


@pytest.mark.asyncio(loop_scope="function")
async def test_the_language_server_does_not_know_which_api_it_talks_to(
    standin: StandIn,
) -> None:
    standin.reply = "They're going to the store."
    editor = await start_editor(v1(standin), "neovim", {"lsp": {"prefetch": False}})
    try:
        editor.open("file:///n.md", "their going too the store\n")
        offered = await actions(editor, "file:///n.md", selection((0, 0), (0, 25)))
        await execute(editor, fix_of(offered))
        await until(lambda: editor.edits)
        assert editor.texts["file:///n.md"] == "They're going to the store.\n"
        assert standin.openai_requests() and not standin.chat_requests()
    finally:
        await editor.client.shutdown_session()
