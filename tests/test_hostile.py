"""Servers that lie: each answer below is written to the CLI byte for byte, and whatever it
is, the user gets one line on stderr, a documented exit code and the input back unchanged,
or a clean rewrite, never a traceback, a hang or garbage."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunCli, write_config
from tests.standin import StandIn

TEXT = "their going to the store tomorow\n"
GOOD = "They're going to the store tomorrow."


def response(body: bytes, content_type: str = "application/x-ndjson") -> list[bytes]:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return [head.encode() + b"\r\n", body]


def lines(*items: object) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def piece(text: str) -> dict[str, object]:
    return {"model": "m", "message": {"role": "assistant", "content": text}, "done": False}


DONE = {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True}


def endless(head: bytes, filler: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: itertools.chain([head], itertools.repeat(filler))


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

# (name, what /api/chat answers, words the one line on stderr holds)
LIES: list[tuple[str, Callable[[], Iterable[bytes]], str]] = [
    ("a list for an object", lambda: response(b"[]\n"), "malformed"),
    ("a string for the message", lambda: response(lines({"message": "hi"}, DONE)), "another shape"),
    ("a number for the content", lambda: response(lines(piece(5), DONE)), "another shape"),  # type: ignore[arg-type]
    ("null all through", lambda: response(b"null\n"), "malformed"),
    ("not json", lambda: response(b"{they're going\n"), "malformed"),
    ("not utf-8", lambda: response(b'{"message": {"content": "\xff\xfe"}}\n'), "malformed"),
    (
        "a lone surrogate",
        lambda: response(b'{"message": {"content": "They\\ud800re"}, "done": false}\n'),
        "not valid unicode",
    ),
    ("nesting without end", lambda: response(b"[" * 200_000 + b"\n"), "malformed"),
    (
        "a number of 5000 digits",
        lambda: response(b'{"eval_count": ' + b"9" * 5000 + b"}\n"),
        "malformed",
    ),
    ("an end that never comes", lambda: response(lines(piece("They're"))), "ended"),
    ("a status line that is not", lambda: [b"SMTP ready\r\n\r\n"], "did not answer like"),
    (
        "headers without end",
        endless(b"HTTP/1.1 200 OK\r\n", b"X-Pad: " + b"a" * 100 + b"\r\n"),
        "header lines",
    ),
    (
        "a header line without end",
        endless(b"HTTP/1.1 200 OK\r\nX-Pad: ", b"a" * 4096),
        "more than 8192 bytes",
    ),
    (
        "a body of a terabyte",
        lambda: [b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{"],
        "more than the 16 mb",
    ),
    ("a chunk of a terabyte", lambda: [CHUNKED_HEAD + b"E8D4A51000\r\n{"], "more than the 16 mb"),
    ("a line without end", endless(CHUNKED_HEAD, b"1000\r\n" + b"a" * 4096 + b"\r\n"), "line"),
    (
        "tokens without end",
        endless(
            CHUNKED_HEAD, b"%x\r\n%s\r\n" % (len(lines(piece("going "))), lines(piece("going ")))
        ),
        "rejected",
    ),
]


@pytest.mark.parametrize(("name", "raw", "says"), LIES, ids=[lie[0] for lie in LIES])
def test_a_lying_server_gets_the_input_back_and_one_line(
    standin: StandIn, run_cli: RunCli, name: str, raw: Callable[[], Iterable[bytes]], says: str
) -> None:
    standin.fault("raw", raw=raw)
    run = run_cli("fix", input=TEXT)
    assert (run.code, run.stdout) == (1, TEXT.encode()), run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert says in run.stderr.lower(), run.stderr


def test_strange_numbers_in_the_last_line_do_not_spoil_a_good_reply(
    standin: StandIn, run_cli: RunCli
) -> None:
    final = {**DONE, "eval_count": "many", "total_duration": -1, "eval_duration": [1]}
    standin.fault("raw", raw=lambda: response(lines(piece(GOOD), final)))
    run = run_cli("fix", input=TEXT)
    assert (run.code, run.text, run.stderr) == (0, GOOD + "\n", "")


def test_a_reply_that_trickles_past_the_deadline_is_given_up(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(isolated_home, f"hosts: [{standin.url}]\ndeadline: 1\n")

    def trickle() -> Iterator[bytes]:
        yield CHUNKED_HEAD
        line = lines(piece("going "))
        while True:
            yield b"%x\r\n%s\r\n" % (len(line), line)
            time.sleep(0.3)  # the pace of a slow server, well inside any read timeout

    standin.fault("raw", raw=trickle)
    run = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})  # endless: run_cli's timeout fails it
    assert (run.code, run.stdout) == (1, TEXT.encode()), run.stderr
    assert "deadline" in run.stderr and run.stderr.count("\n") == 1, run.stderr


def events(*items: object) -> bytes:
    return b"".join(b"data: " + json.dumps(item).encode() + b"\n\n" for item in items)


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)

# (name, what /v1/chat/completions answers, words the one line on stderr holds)
SSE_LIES: list[tuple[str, Callable[[], Iterable[bytes]], str]] = [
    (
        "choices that are not a list",
        lambda: response(
            events({"choices": "They're going."}) + b"data: [DONE]\n\n", "text/event-stream"
        ),
        "without choices",
    ),
    (
        "a delta of numbers",
        lambda: response(
            events({"choices": [{"delta": {"content": 7}}]}) + b"data: [DONE]\n\n",
            "text/event-stream",
        ),
        "not text",
    ),
    (
        "an event without end",
        endless(SSE_HEAD + b"1000\r\ndata: ", b"1000\r\n" + b"a" * 4096 + b"\r\n"),
        "longer than",
    ),
    (
        "no [DONE]",
        lambda: response(
            events({"choices": [{"delta": {"content": "They"}}]}), "text/event-stream"
        ),
        "[done]",
    ),
]


@pytest.mark.parametrize(("name", "raw", "says"), SSE_LIES, ids=[lie[0] for lie in SSE_LIES])
def test_a_lying_openai_compatible_server_gets_the_input_back_and_one_line(
    standin: StandIn, run_cli: RunCli, name: str, raw: Callable[[], Iterable[bytes]], says: str
) -> None:
    standin.fault("raw", raw=raw, path="/v1/chat/completions")
    run = run_cli("fix", "--host", f"{standin.url}/v1", input=TEXT)
    assert (run.code, run.stdout) == (1, TEXT.encode()), run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert says in run.stderr.lower(), run.stderr


# The other endpoints, and the other doors: each lie is a server error, never a traceback.


def json_answer(value: object) -> Callable[[], list[bytes]]:
    return lambda: response(json.dumps(value).encode() + b"\n", "application/json")


# (path that lies, its answer, the command, words the one line holds)
ENDPOINT_LIES = [
    ("/api/show", json_answer([]), ["fix"], "answered /api/show with []"),
    ("/api/show", json_answer({"capabilities": 5}), ["fix"], "answered /api/show with"),
    ("/api/tags", json_answer({"models": 3}), ["fix"], "answered /api/tags with"),
    ("/api/show", json_answer({"capabilities": 5}), ["warm"], "answered /api/show with"),
    (
        "/api/pull",
        lambda: response(b'{"status": 5}\n{"total": "x"}\n'),
        ["pull", "qwen2.5:1.5b"],
        "malformed progress line",
    ),
]


@pytest.mark.parametrize(
    ("path", "raw", "command", "says"),
    ENDPOINT_LIES,
    ids=[f"{lie[2][0]} {lie[0]} {i}" for i, lie in enumerate(ENDPOINT_LIES)],
)
def test_every_endpoint_that_lies_is_a_server_error(
    standin: StandIn,
    run_cli: RunCli,
    path: str,
    raw: Callable[[], Iterable[bytes]],
    command: list[str],
    says: str,
) -> None:
    standin.fault("raw", raw=raw, path=path, times=-1)
    run = run_cli(*command, input=TEXT.encode())
    assert run.code == 1, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert says in run.stderr
    if command == ["fix"]:
        assert run.stdout == TEXT.encode()


def test_the_shell_survives_a_lying_server_and_shows_escapes_as_symbols(
    standin: StandIn,
) -> None:
    from tests.test_shell import ENTER, ShellState, drive, until

    lone_surrogate = response(b'{"message": {"content": "They\\ud800re"}, "done": false}\n')
    standin.queue_replies("They're going.\x1b]52;c;aGk=\x07\x1b[2J", GOOD)

    async def script(pipe: Any, state: ShellState) -> None:
        await until(lambda: state.keeper is not None and state.keeper.state == "warm")
        standin.fault("raw", raw=lambda: lone_surrogate)
        pipe.send_text("their going" + ENTER)
        await until(lambda: "not valid Unicode" in state.out.getvalue())  # type: ignore[attr-defined]
        pipe.send_text("their going!" + ENTER)
        await until(lambda: "control characters" in state.out.getvalue())  # type: ignore[attr-defined]
        pipe.send_text("their going to the store tomorow" + ENTER)
        await until(lambda: state.last_result is not None and state.last_result.text == GOOD)

    _, printed = drive(standin, script)
    assert "\x1b]52" not in printed and "\x1b[2J" not in printed
    assert "They're going.␛]52;c;aGk=␇␛[2J" in printed  # streamed, shown, then refused
    assert printed.count("not valid Unicode") == 1
    assert printed.endswith(GOOD + "\n")


def test_the_keep_warm_thread_outlives_a_lying_server(standin: StandIn) -> None:
    from rewrite.config import Overrides, load_settings
    from rewrite.engine import Engine
    from rewrite.warm import KeepWarm

    standin.fault("raw", raw=json_answer([]), path="/api/chat", times=-1)
    told = threading.Event()
    engine = Engine(load_settings(Overrides(hosts=(standin.url,))))
    keeper = KeepWarm(engine, on_change=lambda state: told.set()).start()
    try:
        assert told.wait(20)
        assert keeper.state.startswith("error: the server at"), keeper.state
        assert keeper._thread.is_alive()  # waiting to try again, not dead
    finally:
        keeper.stop()
        engine.close()
    keeper._thread.join(5)
    assert not keeper._thread.is_alive()
