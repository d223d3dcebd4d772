"""`rewrite shell`: key sequences through prompt-toolkit's pipe input, and once in tmux."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from rewrite.config import Overrides, load_settings
from rewrite.shell import ShellState, create_session, run_shell
from rewrite.shell_commands import SlashCompleter
from tests.conftest import _command, write_config
from tests.standin import ModelSpec, StandIn

ENTER = "\r"
CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_U = "\x15"
UP = "\x1b[A"


def rewrites(standin: StandIn) -> list[Any]:
    return [r for r in standin.chat_requests() if r.body and r.body.get("messages")]


def shell_state(standin: StandIn, out: io.StringIO) -> ShellState:
    settings = load_settings(Overrides(hosts=(standin.url,)))
    return ShellState(settings, "fix", None, out)


Script = Callable[[Any, ShellState], Awaitable[None]]


def drive(standin: StandIn, script: Script) -> tuple[ShellState, str]:
    """Run the shell on a pipe input while `script` types into it; end with Ctrl-D."""
    out = io.StringIO()
    state = shell_state(standin, out)

    async def scenario() -> None:
        with create_pipe_input() as pipe:
            session = create_session(state, input=pipe, output=DummyOutput())
            shell = asyncio.ensure_future(run_shell(state, session))
            await script(pipe, state)
            pipe.send_text(CTRL_D)
            await asyncio.wait_for(shell, 10)

    asyncio.run(scenario())
    return state, out.getvalue()


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_enter_sends_and_the_rewrite_is_printed(standin: StandIn) -> None:
    standin.reply = "Sure! Here's the corrected text: They're going to the store."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("their going too the store" + ENTER)
        await until(lambda: state.last_result is not None)

    _, printed = drive(standin, script)
    assert printed == "They're going to the store.\n"
    assert (
        rewrites(standin)[-1].body["messages"][-1]["content"].endswith("their going too the store")
    )


def test_a_pasted_paragraph_stays_one_input(standin: StandIn) -> None:
    standin.reply = "Line one.\nLine two."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("\x1b[200~line one\nline two\x1b[201~" + ENTER)
        await until(lambda: state.last_result is not None)

    _, printed = drive(standin, script)
    assert printed == "Line one.\nLine two.\n"
    assert rewrites(standin)[-1].body["messages"][-1]["content"].endswith("line one\nline two")
    assert len(rewrites(standin)) == 1


def test_alt_enter_adds_a_line(standin: StandIn) -> None:
    standin.reply = "A.\nB."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("a\x1b\rb" + ENTER)
        await until(lambda: state.last_result is not None)

    drive(standin, script)
    assert rewrites(standin)[-1].body["messages"][-1]["content"].endswith("a\nb")


def test_slash_commands_switch_and_reapply(standin: StandIn) -> None:
    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.reply = "Done."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("/concise" + ENTER)
        await until(lambda: state.action == "concise")
        pipe.send_text("some words here" + ENTER)
        await until(lambda: len(rewrites(standin)) == 1)
        pipe.send_text("/action formal" + ENTER)
        await until(lambda: len(rewrites(standin)) == 2)
        pipe.send_text("/to German" + ENTER)
        await until(lambda: state.action == "translate")
        pipe.send_text("/again" + ENTER)
        await until(lambda: len(rewrites(standin)) == 3)
        pipe.send_text("/model llama3.2:3b" + ENTER)
        await until(lambda: state.model == "llama3.2:3b")
        pipe.send_text("/again" + ENTER)
        await until(lambda: len(rewrites(standin)) == 4)

    state, _ = drive(standin, script)
    systems = [r.body["messages"][0]["content"] for r in rewrites(standin)]
    assert "shorter" in systems[0]
    assert "formal" in systems[1]
    assert "into German" in systems[2]
    assert rewrites(standin)[3].body["model"] == "llama3.2:3b"
    assert all(
        r.body["messages"][-1]["content"].endswith("some words here") for r in rewrites(standin)
    )
    assert state.action == "translate"  # /action applied formal once without switching


def test_copy_writes_osc52_and_status_and_help_answer(standin: StandIn) -> None:
    standin.reply = "Done."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("done" + ENTER)
        await until(lambda: state.last_result is not None)
        for command in ("/copy", "/status", "/help"):
            pipe.send_text(command + ENTER)
        await until(lambda: "Ctrl-D quits" in state.out.getvalue())  # type: ignore[attr-defined]

    _, printed = drive(standin, script)
    assert "\x1b]52;c;RG9uZS4=\x07" in printed  # base64 of "Done."
    assert "model: qwen2.5:1.5b" in printed
    assert "/concise" in printed and "/quit" in printed


def test_ctrl_c_stops_the_generation_and_the_shell_goes_on(standin: StandIn) -> None:
    standin.reply = " ".join(["word"] * 80)
    standin.token_delay = 0.05

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("word word word" + ENTER)
        await until(lambda: any(r.chunks_sent > 2 for r in rewrites(standin)))
        pipe.send_text(CTRL_C)
        await until(lambda: "cancelled" in state.out.getvalue())  # type: ignore[attr-defined]
        await asyncio.to_thread(standin.wait_for, lambda: rewrites(standin)[0].disconnected, 5)
        standin.reply, standin.token_delay = "Fine.", 0.0
        pipe.send_text("fine" + ENTER)
        await until(lambda: state.last_result is not None)

    _, printed = drive(standin, script)
    assert rewrites(standin)[0].disconnected and not rewrites(standin)[0].completed
    assert printed.endswith("Fine.\n")


def test_ctrl_c_at_the_prompt_is_harmless(standin: StandIn) -> None:
    standin.reply = "Fine."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("half typed" + CTRL_C)
        pipe.send_text("fine" + ENTER)
        await until(lambda: state.last_result is not None)

    drive(standin, script)
    assert [r.body["messages"][-1]["content"].split("\n")[-1] for r in rewrites(standin)] == [
        "fine"
    ]


def test_errors_print_one_line_and_the_shell_recovers(standin: StandIn) -> None:
    standin.reply = "Fine."

    async def script(pipe: Any, state: ShellState) -> None:
        standin.stop()
        pipe.send_text("fine" + ENTER)
        await until(lambda: "no Ollama server answers" in state.out.getvalue())  # type: ignore[attr-defined]
        standin.start()
        pipe.send_text("fine!" + ENTER)
        await until(lambda: state.last_result is not None)

    _, printed = drive(standin, script)
    assert printed.count("no Ollama server answers") == 1
    assert printed.endswith("Fine.\n")


def test_the_completer_offers_commands_and_models(standin: StandIn) -> None:
    standin.add_model(ModelSpec("llama3.2:3b"))
    state = shell_state(standin, io.StringIO())
    completer = SlashCompleter(state)
    names = [c.text for c in completer.get_completions(Document("/con"), None)]  # type: ignore[arg-type]
    assert names == ["/concise"]
    assert {c.text for c in completer.get_completions(Document("/"), None)} >= {
        "/fix",
        "/help",
        "/quit",
    }  # type: ignore[arg-type]
    assert standin.wait_for(lambda: bool(completer.models), 5)
    models = [c.text for c in completer.get_completions(Document("/model ll"), None)]  # type: ignore[arg-type]
    assert models == ["llama3.2:3b"]


def test_the_model_is_warmed_when_the_shell_starts(standin: StandIn) -> None:
    async def script(pipe: Any, state: ShellState) -> None:
        await until(lambda: state.keeper is not None and state.keeper.state == "warm")

    drive(standin, script)
    warm_ups = [r for r in standin.chat_requests() if r.body and r.body.get("messages") == []]
    assert warm_ups and warm_ups[0].body["keep_alive"] == "30m"


def test_history_is_kept_between_sessions(standin: StandIn, isolated_home: Path) -> None:
    standin.reply = "Remember me."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("remember me" + ENTER)
        await until(lambda: state.last_result is not None)

    drive(standin, script)
    history = isolated_home / "state" / "rewrite" / "history"
    assert "remember me" in history.read_text()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600


def test_history_can_stay_off_the_disk(standin: StandIn, isolated_home: Path) -> None:
    write_config(isolated_home, "shell_history: false\n")
    standin.reply = "Forget me."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("forget me" + ENTER)
        await until(lambda: state.last_result is not None)
        pipe.send_text(UP)  # the session's own history still works
        await until(lambda: "forget me" in state.session.default_buffer.text)
        pipe.send_text(CTRL_U)

    drive(standin, script)
    assert not (isolated_home / "state" / "rewrite" / "history").exists()


def test_without_a_terminal_it_says_so(standin: StandIn) -> None:
    done = subprocess.run(
        [*_command(), "shell"],
        input=b"",
        capture_output=True,
        env={**os.environ, "OLLAMA_HOST": standin.url},
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        "rewrite: rewrite shell needs a terminal; in pipes and scripts use the filter: "
        "rewrite ACTION"
    )


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal(standin: StandIn, tmp_path: Path) -> None:
    standin.reply = "They're going to the store."
    socket = f"rewrite-shell-{os.getpid()}"
    tmux = ["tmux", "-L", socket]
    command = " ".join([*_command(), "shell"])
    env = {**os.environ, "OLLAMA_HOST": standin.url, "TERM": "xterm-256color"}
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "100", "-y", "20", command], env=env, check=True
    )
    try:
        screen = wait_for_screen(tmux, lambda s: "fix>" in s)
        subprocess.run([*tmux, "send-keys", "-l", "their going too the store"], check=True)
        subprocess.run([*tmux, "send-keys", "Enter"], check=True)
        screen = wait_for_screen(
            tmux, lambda s: "They're going to the store." in s and "total" in s
        )
        assert "qwen2.5:1.5b warm" in screen
        assert standin.url in screen
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)


def wait_for_screen(tmux: list[str], condition: Callable[[str], bool], seconds: float = 15) -> str:
    deadline = time.monotonic() + seconds
    screen = ""
    while time.monotonic() < deadline:
        screen = subprocess.run(
            [*tmux, "capture-pane", "-p"], capture_output=True, text=True
        ).stdout
        if condition(screen):
            return screen
        time.sleep(0.1)
    pytest.fail(f"the screen never showed what was expected:\n{screen}")
