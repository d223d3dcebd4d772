"""The shell key bindings in real shells: zsh, bash and fish run in tmux with the shipped
editor-configs/shell/ files, `rewrite` from this environment on PATH and the Ollama
stand-in as the model. Keys go in with `tmux send-keys`; the screen comes back with
`tmux capture-pane`, polled until it shows what is expected or a deadline passes.

The shells, tmux and fzf come from the system (Debian: apt-get install tmux zsh bash fish
fzf); a test is skipped only when a program it needs is not installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rewrite.shell_init import SHELLS, snippet
from tests.conftest import RunCli
from tests.standin import StandIn

SHELL_DIR = Path(__file__).resolve().parent.parent / "editor-configs" / "shell"
PROMPT = "$ "
DEADLINE = 10.0  # seconds to wait for the screen to show something
TYPED = "echo grüsse aus münchen, their going too the store"
REPLY = "echo Grüße aus München, they're going to the store."
# Quotes, $, a backslash and non-ASCII text; the same output in all three shells.
TRICKY = "printf '%s|' \"a \\$b\" 'c \"d\" $e' f\\\\g ünï"
TRICKY_OUTPUT = 'a $b|c "d" $e|f\\g|ünï|'
PENDING = {"zsh": "⏳", "bash": "[rewriting…]", "fish": "⏳"}
SYNTAX_CHECK = {"zsh": ["-n"], "bash": ["-n"], "fish": ["--no-execute"]}
UNDO_KEY = {"zsh": "C-_", "fish": "C-_"}  # bash: bind -x has no say over readline's undo
# Keys that close the numbered menu and keep the line. In bash, Ctrl-C drops the line as it
# does anywhere at the bash prompt; fish's `read` ignores Escape.
CANCEL_KEYS = {"zsh": ["Escape", "C-c", "q"], "bash": ["Escape", "q"], "fish": ["C-c", "q"]}


def installed(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (Debian: apt-get install {program})")
    return path


class Pane:
    """One shell in a detached tmux session of its own (a private tmux server)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-u", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=True,
        )
        return done.stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        window = ["new-session", "-d", "-x", "120", "-y", "30", "-s", "t"]
        clean = ["env", "-i", *(f"{name}={value}" for name, value in env.items())]
        subprocess.run(
            ["tmux", "-u", "-L", self.socket, "-f", os.devnull, *window, *clean, *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the server keeps what it inherits: no pipes
            stderr=subprocess.DEVNULL,
            timeout=DEADLINE,
            check=True,
        )

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def press(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def lines(self) -> list[str]:
        screen = self.tmux("capture-pane", "-p", "-J", "-t", "t")
        lines = [line.rstrip() for line in screen.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def wait(self, what: str, done: Callable[[list[str]], bool]) -> list[str]:
        deadline = time.monotonic() + DEADLINE
        while True:
            lines = self.lines()
            if done(lines):
                return lines
            if time.monotonic() > deadline:
                screen = "\n".join(lines)
                pytest.fail(f"not within {DEADLINE:.0f} s: {what}\n--- screen ---\n{screen}")
            time.sleep(0.05)

    def wait_for_line(self, text: str) -> list[str]:
        """Wait until the last line is the prompt with `text` on it."""
        return self.wait(f"the line {text!r}", lambda lines: last(lines) == (PROMPT + text))

    def wait_for_error(self, text: str, mentions: str) -> list[str]:
        """Wait until the line shows `text` again, with an error line right above it."""

        def shown(lines: list[str]) -> bool:
            return (
                last(lines) == PROMPT + text
                and len(lines) > 1
                and lines[-2].startswith("rewrite: ")
                and mentions in lines[-2]
            )

        return self.wait(f"{text!r} under an error about {mentions!r}", shown)


def last(lines: list[str]) -> str:
    """The last line, with the prompt's trailing space that capture-pane strips."""
    line = lines[-1] if lines else ""
    return PROMPT if line == PROMPT.rstrip() else line


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """PATH for the shells: rewrite and the few tools the snippets use, and no fzf."""
    folder = tmp_path / "bin"
    folder.mkdir()
    rewrite = Path(sys.executable).with_name("rewrite")
    if rewrite.exists():
        (folder / "rewrite").symlink_to(rewrite)
    else:
        wrapper = folder / "rewrite"
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m rewrite "$@"\n')
        wrapper.chmod(0o755)
    for tool in ("mktemp", "rm"):
        (folder / tool).symlink_to(installed(tool))
    return folder


ShellFactory = Callable[..., Pane]


@pytest.fixture
def open_shell(tmux_socket: str, bin_dir: Path, tmp_path: Path, standin: StandIn) -> ShellFactory:
    """Start `shell` in tmux with the key bindings loaded and an empty prompt showing."""

    def start(shell: str, load: str = "source", **settings: str) -> Pane:
        program = installed(shell)
        temp = tmp_path / "tmp"
        temp.mkdir(exist_ok=True)
        env = {
            "HOME": os.environ["HOME"],
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "PATH": str(bin_dir),
            "TMPDIR": str(temp),
            "OLLAMA_HOST": standin.url,
            **{name: os.environ[name] for name in os.environ if name.startswith("XDG_")},
            **settings,
        }
        pane = Pane(tmux_socket)
        setup = load_command(shell, load)
        if shell == "fish":
            fish_setup = f"function fish_prompt; printf '{PROMPT}'; end; {setup}"
            pane.start([program, "--no-config", "-C", fish_setup], env)
        else:
            pane.start(
                [program, "-f"] if shell == "zsh" else [program, "--norc", "--noprofile"], env
            )
            pane.wait("the first prompt", bool)
            pane.type(f"PS1='{PROMPT}'; {setup}")
            pane.press("Enter")
        pane.wait_for_line("")
        return pane

    return start


def load_command(shell: str, load: str) -> str:
    if load == "shell-init":
        if shell == "fish":
            return "rewrite shell-init fish | source"
        return f'eval "$(rewrite shell-init {shell})"'
    return f"source {shlex.quote(str(SHELL_DIR / f'rewrite.{shell}'))}"


def sent_text(standin: StandIn) -> str:
    """The text of the last rewrite request: what follows the prompt's prefix."""
    content: str = standin.chat_requests()[-1].body["messages"][-1]["content"]
    return content.split("\n\n", 1)[1]


def system_prompt(standin: StandIn) -> str:
    return str(standin.chat_requests()[-1].body["messages"][0]["content"])


# --- in a real shell -------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_the_key_rewrites_the_line_and_a_failure_keeps_it(
    shell: str, open_shell: ShellFactory, standin: StandIn, tmp_path: Path
) -> None:
    pane = open_shell(shell)
    pane.press("M-r")  # an empty line: nothing to rewrite, no request
    standin.reply = REPLY
    pane.type(TYPED)
    pane.press("M-r")
    pane.wait_for_line(REPLY)
    assert sent_text(standin) == TYPED
    assert len(standin.chat_requests()) == 1
    pane.type(" #end")  # the cursor is at the end of the rewrite
    pane.wait_for_line(REPLY + " #end")
    pane.press("C-u")

    standin.stop()
    out = tmp_path / "out.txt"
    line = f"{TRICKY} > {shlex.quote(str(out))}"
    pane.wait_for_line("")
    pane.type(line)
    pane.press("M-r")
    pane.wait_for_error(line, mentions="no Ollama server answers")
    pane.press("Enter")  # the line runs exactly as typed
    pane.wait("the restored line to run", lambda _: out.exists() and out.stat().st_size > 0)
    assert out.read_text(encoding="utf-8") == TRICKY_OUTPUT
    assert not list((tmp_path / "tmp").glob("rewrite.*")), "temporary files left behind"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_multi_line_buffer_goes_to_rewrite_unchanged(
    shell: str, open_shell: ShellFactory, standin: StandIn
) -> None:
    pane = open_shell(shell)
    standin.reply = "echo 'One' \\\n  && echo \"$two\""
    pane.type("echo 'one' \\")
    pane.press(*(["C-v", "C-j"] if shell == "bash" else ["M-Enter"]))
    pane.type('  && echo "$two"')
    pane.press("M-r")
    pane.wait("the rewritten buffer", lambda lines: PROMPT + "echo 'One' \\" in lines)
    assert sent_text(standin) == "echo 'one' \\\n  && echo \"$two\""


@pytest.mark.parametrize("shell", sorted(UNDO_KEY))
def test_one_undo_brings_back_the_line_before_the_rewrite(
    shell: str, open_shell: ShellFactory, standin: StandIn
) -> None:
    pane = open_shell(shell)
    standin.reply = REPLY
    pane.type(TYPED)
    pane.press("M-r")
    pane.wait_for_line(REPLY)
    pane.press(UNDO_KEY[shell])
    pane.wait_for_line(TYPED)


@pytest.mark.parametrize("shell", SHELLS)
def test_a_marker_shows_while_pending_and_ctrl_c_keeps_the_line(
    shell: str, open_shell: ShellFactory, standin: StandIn
) -> None:
    pane = open_shell(shell)
    standin.reply = "echo Grüße aus München, their going to the store"  # shorter than the line
    standin.token_delay = 0.25
    pane.type(TYPED)
    pane.press("M-r")
    pane.wait("the pending marker", lambda lines: PENDING[shell] in last(lines))
    pane.wait_for_line("echo Grüße aus München, their going to the store")
    assert PENDING[shell] not in "\n".join(pane.lines())
    pane.press("C-u")
    interrupt_a_slow_rewrite(pane, shell, standin)


def test_ctrl_c_keeps_the_line_in_zsh_without_job_control(
    open_shell: ShellFactory, standin: StandIn
) -> None:
    pane = open_shell("zsh")
    pane.type("setopt no_monitor")  # rewrite then shares the shell's process group
    pane.press("Enter")
    pane.wait_for_line("")
    interrupt_a_slow_rewrite(pane, "zsh", standin)


def interrupt_a_slow_rewrite(pane: Pane, shell: str, standin: StandIn) -> None:
    standin.token_delay = 60.0
    requests = len(standin.chat_requests())
    pane.type("echo a slow one")
    pane.press("M-r")
    pane.wait("the pending marker", lambda lines: PENDING[shell] in last(lines))
    assert standin.wait_for(lambda: len(standin.chat_requests()) > requests, timeout=DEADLINE)
    pane.press("C-c")
    lines = pane.wait_for_error("echo a slow one", mentions="interrupted")
    assert PENDING[shell] not in "\n".join(lines)
    assert standin.wait_for(lambda: standin.chat_requests()[-1].disconnected)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_picker_without_fzf_takes_a_numbered_choice(
    shell: str, open_shell: ShellFactory, standin: StandIn
) -> None:
    pane = open_shell(shell)
    standin.reply = REPLY
    pane.type("echo output above")
    pane.press("Enter")
    pane.wait_for_line("")
    pane.type(TYPED)
    for key in CANCEL_KEYS[shell]:
        pane.press("M-R")
        pane.wait("the menu", has_menu)
        pane.press(key)
        pane.wait(f"{key} to cancel", lambda lines: menu_gone(lines, TYPED))
    pane.press("M-R")
    lines = pane.wait("the menu", has_menu)
    menu = {m[2]: m[1] for m in (re.match(r"(\w)\) (\w+) ", line) for line in lines) if m}
    assert {"fix", "formal", "translate"} <= set(menu), lines
    pane.press(menu["formal"])
    lines = pane.wait_for_line(REPLY)
    assert lines[-3:] == [PROMPT + "echo output above", "output above", PROMPT + REPLY]
    assert "formal, professional tone" in system_prompt(standin)
    assert sent_text(standin) == TYPED
    assert len(standin.chat_requests()) == 1


def has_menu(lines: list[str]) -> bool:
    return "press the key of an action" in "".join(lines)


def menu_gone(lines: list[str], text: str) -> bool:
    return not has_menu(lines) and last(lines) == PROMPT + text


@pytest.mark.parametrize("shell", SHELLS)
def test_the_picker_uses_fzf_when_present(
    shell: str, open_shell: ShellFactory, standin: StandIn, bin_dir: Path
) -> None:
    (bin_dir / "fzf").symlink_to(installed("fzf"))
    pane = open_shell(shell)
    standin.reply = REPLY
    pane.type(TYPED)
    pane.press("M-R")
    pane.wait("fzf", lambda lines: any(line.startswith("rewrite>") for line in lines))
    pane.type("formal")
    pane.wait("one match", lambda lines: any(line.strip().startswith("1/") for line in lines))
    pane.press("Enter")
    pane.wait_for_line(REPLY)
    assert "formal, professional tone" in system_prompt(standin)


@pytest.mark.parametrize("shell", SHELLS)
def test_key_action_and_command_come_from_the_environment(
    shell: str, open_shell: ShellFactory, standin: StandIn, bin_dir: Path
) -> None:
    (bin_dir / "rewrite").unlink()  # only REWRITE_COMMAND can find it now
    command = f"{sys.executable} -m rewrite --no-cache"
    pane = open_shell(shell, REWRITE_KEY="\\eg", REWRITE_ACTION="formal", REWRITE_COMMAND=command)
    standin.reply = REPLY
    pane.type(TYPED)
    pane.press("M-g")
    pane.wait_for_line(REPLY)
    assert "formal, professional tone" in system_prompt(standin)


@pytest.mark.parametrize("shell", SHELLS)
def test_loading_through_shell_init(shell: str, open_shell: ShellFactory, standin: StandIn) -> None:
    pane = open_shell(shell, load="shell-init")
    standin.reply = REPLY
    pane.type(TYPED)
    pane.press("M-r")
    pane.wait_for_line(REPLY)


# --- the files and `rewrite shell-init` ------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_each_snippet_parses(shell: str) -> None:
    program = installed(shell)
    path = SHELL_DIR / f"rewrite.{shell}"
    done = subprocess.run(
        [program, *SYNTAX_CHECK[shell], str(path)], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_init_prints_the_shipped_file(shell: str, run_cli: RunCli) -> None:
    run = run_cli("shell-init", shell)
    assert (run.code, run.stderr) == (0, "")
    assert run.text == (SHELL_DIR / f"rewrite.{shell}").read_text(encoding="utf-8")
    assert snippet(shell) == run.text


def test_shell_init_refuses_an_unknown_shell_in_one_line(run_cli: RunCli) -> None:
    for args in (["shell-init", "tcsh"], ["shell-init"]):
        run = run_cli(*args)
        assert (run.code, run.stdout) == (2, b"")
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert all(name in run.stderr for name in SHELLS)
