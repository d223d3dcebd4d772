"""Several servers as one, through real HTTP: failover, health shared between runs, models
that live on one host only, and long texts split over all of them."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rewrite.hostbook import HostBook
from tests.conftest import RunCli, write_config
from tests.standin import ModelSpec, StandIn

MODEL = "qwen2.5:1.5b"
TEXT = "their going to the store tomorow\n"


def fixed(text: str) -> str:
    """A stand-in's fix: the first letter capitalized and a full stop added."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def fix_reply(body: dict[str, Any]) -> str:
    from tests.standin import echo_text

    return fixed(echo_text(body["messages"][-1]["content"]))


def hosts_config(home: Path, urls: list[str], extra: str = "") -> Path:
    return write_config(home, "hosts:\n" + "".join(f"  - {url}\n" for url in urls) + extra)


def book(home: Path) -> HostBook:
    return HostBook(str(home / "cache" / "rewrite"))


class BlackHole:
    """A server that accepts connections and never answers; counts what it accepted."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture
def second() -> Iterator[StandIn]:
    with StandIn(reply=fix_reply) as server:
        yield server


def test_a_host_that_never_answers_costs_one_run_only(
    standin: StandIn, black_hole: BlackHole, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = fix_reply
    hosts_config(isolated_home, [black_hole.url, standin.url], "timeout: 1\n")
    book(isolated_home).answered(black_hole.url, MODEL, None)  # believed loaded: asked first
    first = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})
    assert (first.code, first.text, first.stderr) == (0, fixed(TEXT.strip()) + "\n", "")
    assert len(black_hole.accepted) == 1
    assert book(isolated_home).views([black_hole.url])[black_hole.url].is_down()
    again = run_cli("fix", input="an other text\n", env={"OLLAMA_HOST": ""})
    assert (again.code, again.text) == (0, "An other text.\n")
    assert len(black_hole.accepted) == 1  # skipped: not asked again while it cools down
    status = run_cli("status", env={"OLLAMA_HOST": ""})
    assert f"{black_hole.url}" in status.text and "  state      down until" in status.text
    assert "  state      up" in status.text


def test_a_refused_connection_goes_to_the_next_host(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = fix_reply
    with socket.create_server(("127.0.0.1", 0)) as taken:
        dead = f"http://127.0.0.1:{taken.getsockname()[1]}"
    hosts_config(isolated_home, [dead, standin.url])
    book(isolated_home).answered(dead, MODEL, None)
    run = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})
    assert (run.code, run.text, run.stderr) == (0, fixed(TEXT.strip()) + "\n", "")
    view = book(isolated_home).views([dead])[dead]
    assert view.is_down() and "refused" in view.last_error.lower()


def test_a_server_error_before_the_first_token_goes_to_the_next_host(
    standin: StandIn, second: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = fix_reply
    hosts_config(isolated_home, [standin.url, second.url])
    book(isolated_home).answered(standin.url, MODEL, None)
    standin.fault("status", status=500, message="model runner has unexpectedly stopped")
    run = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})
    assert (run.code, run.text) == (0, fixed(TEXT.strip()) + "\n")
    assert len(second.chat_requests()) == 1
    assert book(isolated_home).views([standin.url])[standin.url].is_down()


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_host_is_left_for_another_but_not_marked_down(
    standin: StandIn, second: StandIn, run_cli: RunCli, isolated_home: Path, status: int
) -> None:
    hosts_config(isolated_home, [standin.url, second.url])
    book(isolated_home).answered(standin.url, MODEL, None)
    standin.fault("status", status=status, retry_after=1)
    run = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})
    assert (run.code, run.text) == (0, fixed(TEXT.strip()) + "\n")
    assert len(standin.chat_requests()) == 1  # not tried again after its Retry-After
    assert not book(isolated_home).views([standin.url])[standin.url].is_down()


def test_a_failure_after_text_arrived_starts_over_elsewhere_in_the_filter(
    standin: StandIn, second: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = fix_reply
    hosts_config(isolated_home, [standin.url, second.url])
    book(isolated_home).answered(standin.url, MODEL, None)
    standin.fault("error_midstream", after_chunks=2)
    run = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})
    assert (run.code, run.text, run.stderr) == (0, fixed(TEXT.strip()) + "\n", "")
    assert len(second.chat_requests()) == 1


def test_a_guard_refusal_is_not_sent_elsewhere(
    standin: StandIn, second: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = "I cannot help with that."
    second.reply = "I cannot help with that."
    hosts_config(isolated_home, [standin.url, second.url])
    run = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})
    assert (run.code, run.text) == (1, TEXT)
    assert len(standin.chat_requests()) + len(second.chat_requests()) == 1


def test_a_host_without_the_model_is_skipped_for_that_model_only(
    run_cli: RunCli, isolated_home: Path
) -> None:
    other = "llama3.2:3b"
    with (
        StandIn(models=[ModelSpec(other)], reply=fix_reply) as lacking,
        StandIn(models=[ModelSpec(MODEL)], reply=fix_reply) as having,
    ):
        hosts_config(isolated_home, [lacking.url, having.url])
        for n in range(6):
            run = run_cli("fix", input=f"text number {n}\n", env={"OLLAMA_HOST": ""})
            assert (run.code, run.text) == (0, f"Text number {n}.\n"), run.stderr
        asked = [r for r in lacking.requests if isinstance(r.body, dict) and r.body.get("model")]
        assert len(asked) <= 1  # one 404 at most; then it is skipped for this model
        run = run_cli("fix", "--model", other, input="for the other\n", env={"OLLAMA_HOST": ""})
        assert (run.code, run.text) == (0, "For the other.\n"), run.stderr
        assert lacking.chat_requests()[-1].body["model"] == other


def test_with_the_model_loaded_on_one_host_requests_go_there(
    run_cli: RunCli, isolated_home: Path
) -> None:
    with StandIn(reply=fix_reply) as cold, StandIn(reply=fix_reply) as warm:
        hosts_config(isolated_home, [cold.url, warm.url])
        loaded = run_cli("warm", env={"OLLAMA_HOST": warm.url})
        assert loaded.code == 0, loaded.stderr
        assert run_cli("status", env={"OLLAMA_HOST": ""}).code == 0  # reads each /api/ps
        for n in range(8):
            run = run_cli("fix", input=f"text number {n}\n", env={"OLLAMA_HOST": ""})
            assert run.code == 0, run.stderr
        assert [r for r in cold.chat_requests() if r.body and r.body.get("messages")] == []
        assert len([r for r in warm.chat_requests() if r.body and r.body.get("messages")]) == 8


def test_warm_loads_the_model_on_every_host(
    standin: StandIn, second: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    hosts_config(isolated_home, [standin.url, second.url])
    run = run_cli("warm", env={"OLLAMA_HOST": ""})
    assert run.code == 0, run.stderr
    ready = re.compile(
        rf"{re.escape(MODEL)} is ready on (\S+) after \d+\.\d\d s "
        r"\(kept loaded for 30m after each request\)"
    )
    lines = [ready.fullmatch(line) for line in run.text.splitlines()]
    assert all(lines) and {m[1] for m in lines if m} == {standin.url, second.url}, run.text
    assert MODEL in standin.loaded and MODEL in second.loaded


def test_every_host_down_says_so_once_and_gives_the_input_back(
    run_cli: RunCli, isolated_home: Path
) -> None:
    ports = []
    for _ in range(2):
        with socket.create_server(("127.0.0.1", 0)) as taken:
            ports.append(taken.getsockname()[1])
    hosts_config(isolated_home, [f"http://127.0.0.1:{port}" for port in ports])
    run = run_cli("fix", input=TEXT, env={"OLLAMA_HOST": ""})
    assert (run.code, run.text) == (3, TEXT)
    assert run.stderr.count("\n") == 1 and all(str(p) in run.stderr for p in ports)
