"""`rewrite shell`: key sequences through prompt-toolkit's pipe input, and once in tmux."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import to_plain_text
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from rewrite.config import Overrides, load_settings
from rewrite.shell import ShellState, create_session, run_shell
from rewrite.shell_commands import FIXED, SlashCompleter
from tests.conftest import _command, write_config
from tests.standin import ModelSpec, StandIn, unused_url

ENTER = "\r"
CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_U = "\x15"
UP = "\x1b[A"
F5 = "\x1b[15~"


def rewrites(standin: StandIn) -> list[Any]:
    return [r for r in standin.chat_requests() if r.body and r.body.get("messages")]


def shell_state(
    standin: StandIn, out: io.StringIO, model: str | None = None, url: str | None = None
) -> ShellState:
    settings = load_settings(Overrides(hosts=(url or standin.url,), model=model))
    return ShellState(settings, "fix", model, out)


Script = Callable[[Any, ShellState], Awaitable[None]]


def drive(
    standin: StandIn, script: Script, model: str | None = None, url: str | None = None
) -> tuple[ShellState, str]:
    """Run the shell on a pipe input while `script` types into it; end with Ctrl-D. `model`
    is what `rewrite shell --model` would pass; `url` is another host than the stand-in."""
    out = io.StringIO()
    state = shell_state(standin, out, model, url)

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


def printed(state: ShellState) -> str:
    """What the shell has printed so far."""
    out = state.out
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def toolbar(state: ShellState) -> str:
    return to_plain_text(state.toolbar())


def line(state: ShellState) -> str:
    """The text at the prompt now, not yet sent."""
    return state.session.default_buffer.text


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

    def offered(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert offered("/con") == ["/concise"]
    assert set(offered("/")) >= {"/fix", "/help", "/quit", "/refine", "/use"}
    assert offered("/action fo") == offered("/refine fo") == offered("/use fo") == ["formal"]
    assert offered("//etc") == offered("/fix\nmore") == []
    assert standin.wait_for(lambda: bool(completer.models), 5)
    assert offered("/model ll") == ["llama3.2:3b"]


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


PIRATE = (
    "actions:\n"
    "  pirate: {description: Say it like a pirate, instruction: Say it like a pirate.,"
    " model: 'llama3.2:3b'}\n"
)


def systems(standin: StandIn) -> list[str]:
    return [r.body["messages"][0]["content"] for r in rewrites(standin)]


def test_a_parameter_stays_with_its_action(standin: StandIn) -> None:
    standin.reply = "Done."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("/to German" + ENTER)
        await until(lambda: state.action == "translate")
        pipe.send_text("hello world" + ENTER)
        await until(lambda: len(rewrites(standin)) == 1)
        pipe.send_text("/fix" + ENTER)
        await until(lambda: state.action == "fix")
        pipe.send_text("their going" + ENTER)
        await until(lambda: len(rewrites(standin)) == 2)
        pipe.send_text("/translate" + ENTER)
        await until(lambda: state.action == "translate")
        pipe.send_text("/again" + ENTER)  # the language set for translate is still there
        await until(lambda: len(rewrites(standin)) == 3)

    _, shown = drive(standin, script)
    assert "takes no parameter" not in shown
    assert "into German" in systems(standin)[0]
    assert "Correct the spelling" in systems(standin)[1] and "German" not in systems(standin)[1]
    assert "into German" in systems(standin)[2]


def test_an_actions_own_model_is_used_until_the_user_chooses_one(
    standin: StandIn, isolated_home: Path
) -> None:
    write_config(isolated_home, PIRATE)
    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.reply = "Arr."
    bars: list[str] = []

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("/pirate" + ENTER)
        await until(lambda: state.action == "pirate")
        bars.append(toolbar(state))
        pipe.send_text("/status" + ENTER)
        pipe.send_text("ahoy there" + ENTER)
        await until(lambda: len(rewrites(standin)) == 1)
        pipe.send_text("/fix" + ENTER)
        await until(lambda: state.action == "fix")
        pipe.send_text("their going" + ENTER)
        await until(lambda: len(rewrites(standin)) == 2)
        pipe.send_text("/model qwen2.5:1.5b" + ENTER)  # the user's choice wins from now on
        await until(lambda: "model: qwen2.5:1.5b" in printed(state))
        pipe.send_text("/pirate" + ENTER)
        await until(lambda: state.action == "pirate")
        bars.append(toolbar(state))
        pipe.send_text("ahoy again" + ENTER)
        await until(lambda: len(rewrites(standin)) == 3)

    _, shown = drive(standin, script)
    assert [r.body["model"] for r in rewrites(standin)] == [
        "llama3.2:3b",
        "qwen2.5:1.5b",
        "qwen2.5:1.5b",
    ]
    assert "llama3.2:3b" in bars[0] and "qwen2.5:1.5b" in bars[1]
    assert "model: llama3.2:3b (the pirate action's own" in shown


def test_the_model_flag_wins_over_an_actions_own(standin: StandIn, isolated_home: Path) -> None:
    write_config(isolated_home, PIRATE)
    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.add_model(ModelSpec("gemma3:1b"))
    standin.reply = "Arr."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("/pirate" + ENTER)
        await until(lambda: state.action == "pirate")
        pipe.send_text("ahoy there" + ENTER)
        await until(lambda: len(rewrites(standin)) == 1)

    state, _ = drive(standin, script, model="gemma3:1b")
    assert rewrites(standin)[0].body["model"] == "gemma3:1b"
    assert "gemma3:1b" in toolbar(state)


def test_model_takes_only_a_model_the_server_has(standin: StandIn) -> None:
    standin.add_model(ModelSpec("llama3.2:3b"))

    async def script(pipe: Any, state: ShellState) -> None:
        await until(lambda: "1.5b warm" in toolbar(state))
        pipe.send_text("/model nosuch" + ENTER)
        await until(lambda: "nosuch" in printed(state))
        pipe.send_text("/model qwen2.5:1.5b" + ENTER)
        await until(lambda: "model: qwen2.5:1.5b" in printed(state))
        pipe.send_text("/model llama3.2:3b" + ENTER)
        await until(lambda: "model: llama3.2:3b" in printed(state))
        standin.stop()
        pipe.send_text("/model qwen2.5:1.5b" + ENTER)
        await until(lambda: "cannot ask" in printed(state))

    state, shown = drive(standin, script)
    lines = shown.splitlines()
    assert [line for line in lines if "nosuch" in line] == [
        "the server has no model 'nosuch'; it has: llama3.2:3b, qwen2.5:1.5b"
    ]
    assert "model: qwen2.5:1.5b (loaded)" in lines
    assert "model: llama3.2:3b (loading it now)" in lines
    assert any(line.endswith("still using llama3.2:3b") for line in lines)
    assert shown.count("loading") == 1
    assert state.model == "llama3.2:3b"


def test_tab_completes_at_the_first_press_and_enter_takes_the_choice(standin: StandIn) -> None:
    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("/con\t" + ENTER)  # typed fast: Tab completes before any menu shows
        await until(lambda: state.action == "concise")
        pipe.send_text("/fi" + ENTER)  # one name fits: Enter completes it and sends nothing
        await until(lambda: line(state) == "/fix")
        pipe.send_text(ENTER)
        await until(lambda: state.action == "fix")
        pipe.send_text("/co\t" + ENTER)  # /concise and /copy: Tab picks the first, Enter takes it
        await until(
            lambda: line(state) == "/concise" and not state.session.default_buffer.complete_state
        )
        assert state.action == "fix"
        pipe.send_text(ENTER)
        await until(lambda: state.action == "concise")
        pipe.send_text("/action fo\t" + ENTER)  # action names complete after /action
        await until(lambda: "nothing to rewrite yet" in printed(state))

    _, shown = drive(standin, script)
    assert "unknown" not in shown


def test_the_toolbar_tells_what_is_wrong(standin: StandIn) -> None:
    bars: list[str] = []

    async def script(pipe: Any, state: ShellState) -> None:
        await until(lambda: "1.5b warm" in toolbar(state))
        standin.stop()
        pipe.send_text("fine" + ENTER)
        await until(lambda: "no Ollama server answers" in printed(state))
        bars.append(toolbar(state))
        pipe.send_text("/status" + ENTER)
        await until(lambda: "server down: no Ollama server answers" in printed(state))
        standin.start()
        pipe.send_text("fine!" + ENTER)
        await until(lambda: state.last_result is not None)
        bars.append(toolbar(state))

    drive(standin, script)
    assert "qwen2.5:1.5b server down" in bars[0]
    assert "qwen2.5:1.5b warm" in bars[1]


def test_the_toolbar_tells_a_server_down_or_a_model_missing_from_the_start(
    standin: StandIn,
) -> None:
    async def missing(pipe: Any, state: ShellState) -> None:
        await until(lambda: "model missing" in toolbar(state))

    drive(standin, missing, model="nosuch:1b")

    async def down(pipe: Any, state: ShellState) -> None:
        await until(lambda: "server down" in toolbar(state))

    drive(standin, down, url=unused_url())


def test_an_action_named_like_a_command_stays_reachable(
    standin: StandIn, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    write_config(
        isolated_home,
        "actions:\n  copy: {description: Copy-edit, instruction: Copy-edit the text.}\n",
    )
    standin.reply = "Edited."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("some text" + ENTER)
        await until(lambda: len(rewrites(standin)) == 1)
        pipe.send_text("/action copy" + ENTER)
        await until(lambda: len(rewrites(standin)) == 2)
        pipe.send_text("/use copy" + ENTER)
        await until(lambda: state.action == "copy")
        pipe.send_text("/copy" + ENTER)  # still the built-in command
        await until(lambda: "OSC 52" in printed(state))

    _, shown = drive(standin, script)
    assert shown.splitlines()[0] == (
        "/copy is the built-in command: reach your action copy with /use copy or /action copy"
    )
    assert shown.count("/use copy") == 1
    assert "Copy-edit the text." in systems(standin)[1]


def test_a_double_slash_sends_text_that_starts_with_a_slash(standin: StandIn) -> None:
    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("//etc/hosts maps names too adresses" + ENTER)
        await until(lambda: state.last_result is not None)
        pipe.send_text("/etc/hosts is a file" + ENTER)
        await until(lambda: "unknown command" in printed(state))
        pipe.send_text("/help" + ENTER)
        await until(lambda: "Ctrl-D quits" in printed(state))

    _, shown = drive(standin, script)
    assert (
        rewrites(standin)[0]
        .body["messages"][-1]["content"]
        .endswith("\n\n/etc/hosts maps names too adresses")
    )
    assert len(rewrites(standin)) == 1
    assert "start a line with // to send text that starts with /" in shown
    assert "A line that starts with // is sent as text that starts with /." in shown


@pytest.mark.parametrize(
    ("tmux_says", "expected"),
    [
        (None, "clipboard (OSC 52); a terminal without OSC 52 support ignores it"),
        ("external", "tmux drops it while set-clipboard is external: `tmux set -g"),
        ("on", "(OSC 52) through tmux, whose set-clipboard is on"),
    ],
)
def test_copy_says_what_it_did(
    standin: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmux_says: str | None,
    expected: str,
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    if tmux_says is not None:
        fake = tmp_path / "bin" / "tmux"
        fake.parent.mkdir()
        fake.write_text(f"#!/bin/sh\necho {tmux_says}\n")
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    standin.reply = "Done."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("done" + ENTER)
        await until(lambda: state.last_result is not None)
        pipe.send_text("/copy" + ENTER)
        await until(lambda: "OSC 52" in printed(state))

    _, shown = drive(standin, script)
    assert expected in shown
    assert "copied" not in shown


def test_status_counts_in_words(standin: StandIn) -> None:
    standin.reply = "Done."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("done" + ENTER)
        await until(lambda: state.last_result is not None)
        pipe.send_text("/status" + ENTER)
        await until(lambda: "last rewrite" in printed(state))

    _, shown = drive(standin, script)
    assert shown.splitlines()[-1].endswith(", 1 token")


def test_refine_rewrites_the_last_result_and_again_the_last_input(
    standin: StandIn, isolated_home: Path
) -> None:
    write_config(isolated_home, "cache: {enabled: false}\n")
    standin.queue_replies(
        "They're going to the store.", "They are going to the store.", "They're going."
    )

    def refined(state: ShellState) -> bool:
        return state.last_result is not None and state.last_result.text.startswith("They are")

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("/refine formal" + ENTER)
        await until(lambda: "nothing to refine yet" in printed(state))
        pipe.send_text("their going too the store" + ENTER)
        await until(lambda: state.last_result is not None)
        pipe.send_text("/refine formal" + ENTER)
        await until(lambda: len(rewrites(standin)) == 2 and refined(state))
        pipe.send_text("/again" + ENTER)
        await until(lambda: len(rewrites(standin)) == 3)
        pipe.send_text("/help" + ENTER)
        await until(lambda: "Ctrl-D quits" in printed(state))

    state, shown = drive(standin, script)
    sent = [r.body["messages"][-1]["content"] for r in rewrites(standin)]
    assert sent[1].endswith("\n\nThey're going to the store.")
    assert "formal" in systems(standin)[1]
    assert sent[2].endswith("\n\ntheir going too the store")
    assert "Correct the spelling" in systems(standin)[2]
    assert state.action == "fix" and state.last_input == "their going too the store"
    assert "/refine" in shown


def test_f5_keeps_a_half_typed_line_in_the_history(standin: StandIn) -> None:
    standin.reply = "Fine."

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("fine" + ENTER)
        await until(lambda: state.last_result is not None)
        pipe.send_text("half typed" + F5)
        # F5 is /again: another candidate, asked of the server, not the cached one.
        await until(lambda: len(rewrites(standin)) == 2 and printed(state).count("Fine.") == 2)
        pipe.send_text(UP + UP)  # /again, then the half-typed line
        await until(lambda: line(state) == "half typed")
        pipe.send_text(CTRL_U)

    drive(standin, script)


def test_the_readme_names_every_shell_command() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## By hand: the interactive shell", 1)[1].split("\n## ", 1)[0]
    table = [row for row in section.splitlines() if row.startswith("| `/")]
    assert set(FIXED) <= {name for row in table for name in re.findall(r"`(/[a-z]+)", row)}


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


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tab_and_copy_in_a_real_terminal(standin: StandIn) -> None:
    standin.reply = "They're going to the store."
    tmux = ["tmux", "-L", f"rewrite-tab-{os.getpid()}"]
    command = " ".join([*_command(), "shell"])
    env = {**os.environ, "OLLAMA_HOST": standin.url, "TERM": "xterm-256color"}
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "100", "-y", "20", command], env=env, check=True
    )
    try:
        wait_for_screen(tmux, lambda s: "fix>" in s and "warm" in s)
        subprocess.run([*tmux, "send-keys", "/con", "Tab", "Enter"], check=True)  # one burst
        wait_for_screen(tmux, lambda s: "concise>" in s)
        subprocess.run([*tmux, "send-keys", "/fo", "Enter"], check=True)  # completed, not sent
        wait_for_screen(tmux, lambda s: "concise> /formal" in s)
        subprocess.run([*tmux, "send-keys", "Enter"], check=True)
        wait_for_screen(tmux, lambda s: "formal>" in s)
        subprocess.run([*tmux, "send-keys", "-l", "their going too the store"], check=True)
        subprocess.run([*tmux, "send-keys", "Enter"], check=True)
        wait_for_screen(tmux, lambda s: "They're going to the store." in s)
        subprocess.run([*tmux, "send-keys", "/copy", "Enter"], check=True)
        screen = wait_for_screen(tmux, lambda s: "OSC 52" in s)
        assert "set-clipboard" in screen  # in tmux, it says whether tmux lets it through
        assert "unknown command" not in screen
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


def test_again_asks_for_another_candidate_never_the_cached_one(standin: StandIn) -> None:
    standin.queue_replies("They're going.", "They are going.", "Their going, they are.")

    async def script(pipe: Any, state: ShellState) -> None:
        pipe.send_text("their going" + ENTER)
        await until(lambda: len(rewrites(standin)) == 1 and state.last_result is not None)
        for count in (2, 3):
            pipe.send_text("/again" + ENTER)
            await until(lambda count=count: len(rewrites(standin)) == count)  # type: ignore[misc]
        await until(lambda: state.last_result is not None and state.candidate == 2)

    drive(standin, script)
    options = [r.body["options"] for r in rewrites(standin)]
    assert [o.get("seed") for o in options] == [None, 1, 2]
    assert options[0]["temperature"] == 0 and options[1]["temperature"] >= 0.7
