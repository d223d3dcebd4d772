"""The filter when its surroundings fail: signals while reading or streaming, a stdout that is
closed, full or abandoned, a closed stderr, a bug of rewrite's own. Each ends with the
documented exit code, at most one line on stderr, and the input given back wherever it can
still go."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import _command
from tests.standin import StandIn

TEXT = b"their going to the store\n"
GOOD = b"They're going to the store.\n"


def environment(standin: StandIn, **extra: str) -> dict[str, str]:
    return {**os.environ, "OLLAMA_HOST": standin.url, **extra}


def unreachable() -> str:
    with __import__("socket").socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def wait_until_drained(process: subprocess.Popen[bytes], pipe: int) -> None:
    """Until the process has read all that is in `pipe` and sleeps in its next read."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        unread = struct.unpack("i", fcntl.ioctl(pipe, termios.FIONREAD, b"\0" * 4))[0]
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if unread == 0 and state == "S":
            return
        time.sleep(0.01)  # polls an observable state; it does not hope a race away
    raise AssertionError("the process never read its input")


@pytest.mark.parametrize(
    ("signum", "code", "says"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_a_signal_while_reading_stdin_gives_back_what_had_arrived(
    standin: StandIn, signum: int, code: int, says: str
) -> None:
    process = subprocess.Popen(
        [*_command(), "fix"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(standin),
    )
    assert process.stdin is not None
    process.stdin.write(b"their going to")
    process.stdin.flush()
    wait_until_drained(process, process.stdin.fileno())
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=20)
    assert (process.returncode, stdout) == (code, b"their going to")
    assert stderr.decode() == f"rewrite: {says}\n"
    assert standin.chat_requests() == []


def test_a_closed_stdout_exits_74_with_one_line(standin: StandIn) -> None:
    standin.reply = GOOD.decode().strip()
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *_command(), "fix"],
        input=TEXT,
        capture_output=True,
        env=environment(standin),
    )
    assert (done.returncode, done.stderr) == (74, b"rewrite: the output could not be written\n")


def test_a_full_disk_exits_74_with_one_line(standin: StandIn) -> None:
    standin.reply = GOOD.decode().strip()
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [*_command(), "fix"],
            input=TEXT,
            stdout=full,
            stderr=subprocess.PIPE,
            env=environment(standin),
        )
    assert (done.returncode, done.stderr) == (74, b"rewrite: the output could not be written\n")


@pytest.mark.parametrize("server_up", [True, False], ids=["rewritten", "failed"])
def test_a_reader_gone_before_the_output_ends_it_quietly(standin: StandIn, server_up: bool) -> None:
    standin.reply = GOOD.decode().strip()
    env = environment(standin) if server_up else environment(standin, OLLAMA_HOST=unreachable())
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [*_command(), "fix"],
        stdin=subprocess.PIPE,
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(read_end)  # the reader is gone before anything is written
    os.close(write_end)
    _, stderr = process.communicate(TEXT, timeout=20)
    if server_up:  # a filter whose reader left says nothing, as SIGPIPE would have it
        assert (process.returncode, stderr) == (141, b"")
    else:  # the failure is still reported, once
        assert process.returncode == 3 and stderr.count(b"\n") == 1, stderr
        assert b"Exception ignored" not in stderr


def test_a_closed_stderr_still_gives_the_input_back(standin: StandIn) -> None:
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", *_command(), "fix"],
        input=TEXT,
        capture_output=True,
        env=environment(standin, OLLAMA_HOST=unreachable()),
    )
    assert (done.returncode, done.stdout) == (3, TEXT)


def test_a_bug_of_rewrite_itself_gives_the_input_back(standin: StandIn, tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(
        "import rewrite.engine\n"
        "def broken(self, request):\n"
        "    raise ZeroDivisionError('a bug')\n"
        "rewrite.engine.Engine.rewrite = broken\n"
    )
    env = environment(standin, PYTHONPATH=str(tmp_path))
    done = subprocess.run([*_command(), "fix"], input=TEXT, capture_output=True, env=env)
    assert (done.returncode, done.stdout) == (1, TEXT)
    assert done.stderr.decode() == (
        "rewrite: internal error (ZeroDivisionError: a bug); REWRITE_DEBUG=1 shows where\n"
    )
    env["REWRITE_DEBUG"] = "1"
    debug = subprocess.run([*_command(), "fix"], input=TEXT, capture_output=True, env=env)
    assert debug.returncode == 1 and b"Traceback" in debug.stderr and b"broken" in debug.stderr


def read_terminal(master: int) -> bytes:
    """All a process wrote to the terminal whose master end is `master`, until it closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


ESCAPES = b"\x1b]52;c;aGk=\x07\x1b[2J"


def test_on_a_terminal_escapes_are_shown_not_obeyed(standin: StandIn) -> None:
    """The user's own escapes may stay in a rewrite (the guard allows what the input held),
    but a terminal gets them as symbols; a pipe still gets the rewrite byte for byte."""
    import pty

    standin.reply = "Their text " + ESCAPES.decode() + " stays."
    text = b"their text " + ESCAPES + b" stays\n"
    master, slave = pty.openpty()
    with subprocess.Popen(
        [*_command(), "fix", "--no-cache"],
        stdin=subprocess.PIPE,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=environment(standin),
    ) as process:
        os.close(slave)
        assert process.stdin is not None
        process.stdin.write(text)
        process.stdin.close()
        shown = read_terminal(master)
        assert process.wait(20) == 0
    os.close(master)
    assert b"\x1b" not in shown and b"\x07" not in shown
    assert "Their text ␛]52;c;aGk=␇␛[2J stays.".encode() in shown
    piped = subprocess.run(
        [*_command(), "fix", "--no-cache"],
        input=text,
        capture_output=True,
        env=environment(standin),
        timeout=20,
    )
    assert (piped.returncode, piped.stdout) == (0, b"Their text " + ESCAPES + b" stays.\n")


def test_an_error_body_with_escapes_is_one_safe_line(standin: StandIn) -> None:
    page = "<html>\n<body>\n\x1b[2J<h1>502 Bad Gateway</h1>\n" + "x" * 2000 + "\n</body>\n"
    standin.fault("status", status=502, message=page)
    done = subprocess.run(
        [*_command(), "fix"], input=TEXT, capture_output=True, env=environment(standin), timeout=20
    )
    assert (done.returncode, done.stdout) == (1, TEXT)
    line = done.stderr.decode()
    assert line.count("\n") == 1 and "\x1b" not in line and len(line) <= 320, line
    assert "502" in line
