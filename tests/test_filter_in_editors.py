"""The filter as editors and new users run it: stderr sent into the buffer, usage errors,
comment blocks, a terminal that should see the text as it comes, words that name a command,
and which model a flag chooses."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunCli, _command, write_config
from tests.standin import ModelSpec, StandIn, echo_text, unused_url
from tests.test_neovim import nvim_binary

TEXT = b"their going to the store\n"


def fixed_reply(body: dict[str, Any]) -> str:
    text = echo_text(body["messages"][-1]["content"])
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def into_one_file(args: list[str], stdin: bytes, env: dict[str, str]) -> tuple[int, bytes]:
    """Run with stderr sent where stdout goes, as Vim's `2>&1` filter does."""
    done = subprocess.run(
        [*_command(), *args],
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
        timeout=30,
    )
    return done.returncode, done.stdout


def log_of(home: Path) -> str:
    path = home / "state" / "rewrite" / "rewrite.log"
    return path.read_text() if path.exists() else ""


# stderr into the buffer


def test_with_stderr_into_stdout_a_failure_leaves_only_the_text(isolated_home: Path) -> None:
    code, output = into_one_file(["fix"], TEXT, {"OLLAMA_HOST": unused_url()})
    assert (code, output) == (3, TEXT)
    assert "rewrite: no Ollama server answers at" in log_of(isolated_home)


def test_with_stderr_into_stdout_a_warning_stays_out_of_the_rewrite(
    standin: StandIn, isolated_home: Path
) -> None:
    standin.reply = fixed_reply
    write_config(isolated_home, "options: {tempreature: 0.1}\n")
    code, output = into_one_file(["fix"], TEXT, {"OLLAMA_HOST": standin.url})
    assert (code, output) == (0, b"Their going to the store.\n")
    assert "did you mean 'temperature'?" in log_of(isolated_home)


def test_a_terminal_shows_both_as_always(standin: StandIn, isolated_home: Path) -> None:
    master, slave = pty.openpty()
    with subprocess.Popen(
        [*_command(), "fix", "--to"],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "OLLAMA_HOST": standin.url},
    ) as process:
        os.close(slave)
        shown = read_all(master)
        assert process.wait(20) == 2
    assert b"expected one argument" in shown and log_of(isolated_home) == ""


def read_all(master: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks)


def nvim_filter(folder: Path, document: Path, host: str) -> subprocess.CompletedProcess[bytes]:
    """Neovim, headless and without a config, runs `:%!rewrite fix` on `document` and saves."""
    script = folder / "filter.vim"
    script.write_text(f"%!{' '.join(_command())} fix\nwrite\nqall!\n")
    nvim = [str(nvim_binary()), "--headless", "-u", "NONE", "-i", "NONE", "-n"]
    return subprocess.run(
        [*nvim, "-S", str(script), str(document)],
        env={**os.environ, "OLLAMA_HOST": host},
        capture_output=True,
        timeout=60,
    )


def test_vims_filter_keeps_the_selection_when_the_server_is_down(
    isolated_home: Path, tmp_path: Path
) -> None:
    """A real Neovim, headless, runs `:%!rewrite fix` with its own shellredir (2>&1)."""
    document = tmp_path / "note.txt"
    document.write_text("their going\ntoo the store\n")
    done = nvim_filter(tmp_path, document, unused_url())
    assert done.returncode == 0, done.stderr
    assert document.read_text() == "their going\ntoo the store\n"
    assert "no Ollama server answers" in log_of(isolated_home)


def test_vims_filter_puts_the_rewrite_alone_in_the_buffer(
    standin: StandIn, isolated_home: Path, tmp_path: Path
) -> None:
    standin.reply = fixed_reply
    write_config(isolated_home, "options: {tempreature: 0.1}\n")  # a warning goes to the log
    document = tmp_path / "note.txt"
    document.write_text("their going too the store\n")
    done = nvim_filter(tmp_path, document, standin.url)
    assert done.returncode == 0, done.stderr
    assert document.read_text() == "Their going too the store.\n"


# usage errors give the text back


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "name an action"),
        (["fix", "--to"], "argument --to: expected one argument"),
        (["fix", "--colour"], "unrecognized arguments: --colour"),
        (["fix", "--param", "x"], "--param takes KEY=VALUE"),
        (["no-such-action"], "unknown action 'no-such-action'"),
    ],
)
def test_a_usage_error_gives_the_text_back_with_one_line(
    run_cli: RunCli, args: list[str], says: str
) -> None:
    run = run_cli(*args, input=TEXT)
    assert (run.code, run.stdout) == (2, TEXT)
    assert run.stderr.count("\n") == 1 and says in run.stderr, run.stderr


# words after --instruction are text, and -- ends the options


def test_words_that_name_a_command_are_text_after_an_instruction(
    standin: StandIn, run_cli: RunCli
) -> None:
    standin.reply = "Status update, please."
    run = run_cli("-i", "make it formal", "status", "update", "please")
    assert (run.code, run.text) == (0, "Status update, please.\n"), run.stderr
    assert "status update please" in standin.chat_requests()[-1].body["messages"][-1]["content"]


def test_a_double_dash_ends_the_options(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = fixed_reply
    run = run_cli("fix", "--", "--verbose", "is not an option")
    assert run.code == 0, run.stderr
    sent = standin.chat_requests()[-1].body["messages"][-1]["content"]
    assert sent.endswith("--verbose is not an option")


# comment blocks


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_comment_block_is_rewritten_as_prose(
    standin: StandIn, run_cli: RunCli, newline: str
) -> None:
    standin.reply = fixed_reply
    text = newline.join(["# their going to the store", "# tomorow morning"]) + newline
    run = run_cli("fix", "--no-cache", input=text)
    assert run.code == 0, run.stderr
    sent = standin.chat_requests()[-1].body["messages"][-1]["content"]
    assert "#" not in sent and "their going to the store\ntomorow morning" in sent
    assert (
        run.stdout.decode()
        == newline.join(["# Their going to the store", "# tomorow morning."]) + newline
    )


def test_no_prose_sends_the_markers(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = fixed_reply
    run = run_cli("fix", "--no-prose", input="# their going\n# too the store\n")
    assert run.code == 0, run.stderr
    assert (
        "# their going\n# too the store"
        in standin.chat_requests()[-1].body["messages"][-1]["content"]
    )


# a terminal sees the text as it comes


def test_a_terminal_sees_the_rewrite_before_it_ends(standin: StandIn, isolated_home: Path) -> None:
    standin.reply = "They are going to the store tomorrow and then home again."
    standin.fault("stall", after_chunks=4)  # the server goes quiet mid-reply
    write_config(isolated_home, f"hosts: [{standin.url}]\ntimeout: 3\n")
    master, slave = pty.openpty()
    with subprocess.Popen(
        [*_command(), "fix", "--no-cache", "their going to the store tomorow and then home again"],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**os.environ, "OLLAMA_HOST": ""},
    ) as process:
        os.close(slave)
        first = os.read(master, 4096)
        assert process.poll() is None  # still waiting on the server: the words came early
        assert first.startswith(b"They")
        rest = read_all(master)
        assert process.wait(20) == 1
    lines = (first + rest).decode().replace("\r\n", "\n").split("\n")
    assert lines[0].startswith("They are") and "store" not in lines[0]  # cut off mid-reply
    assert lines[1] == "their going to the store tomorow and then home again"  # given back


# which model


def test_the_model_flag_wins_over_the_actions_own_model(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.reply = fixed_reply
    write_config(isolated_home, "actions:\n  fix:\n    model: llama3.2:3b\n")
    assert run_cli("fix", "--no-cache", input=TEXT).code == 0
    assert standin.chat_requests()[-1].body["model"] == "llama3.2:3b"
    assert run_cli("fix", "--no-cache", "--model", "qwen2.5:1.5b", input=TEXT).code == 0
    assert standin.chat_requests()[-1].body["model"] == "qwen2.5:1.5b"
