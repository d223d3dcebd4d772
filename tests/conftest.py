"""Shared fixtures: an isolated home for every test, the Ollama stand-in, the CLI as a
subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.standin import StandIn


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every path rewrite uses at a temporary folder, and forget the caller's settings."""
    for variable in ("OLLAMA_HOST", "REWRITE_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    for variable, folder in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        (home / folder).mkdir(parents=True)
        monkeypatch.setenv(variable, str(home / folder))
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def tmux_socket() -> Iterator[str]:
    """A tmux server of the test's own (-L SOCKET), killed and its socket file removed after."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (Debian: apt-get install tmux)")
    socket = f"rewrite-test-{uuid.uuid4().hex[:12]}"
    yield socket
    tmux = ["tmux", "-L", socket]
    where = subprocess.run(
        [*tmux, "display-message", "-p", "#{socket_path}"],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=15, check=False)
    if where.returncode == 0 and where.stdout.strip():
        Path(where.stdout.strip()).unlink(missing_ok=True)  # kill-server leaves the socket file


@dataclass(frozen=True)
class Run:
    code: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8")


def _command() -> list[str]:
    script = Path(sys.executable).with_name("rewrite")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rewrite"]


RunCli = Callable[..., Run]


@pytest.fixture
def run_cli(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Run the installed `rewrite` command against the stand-in (unless `env` gives
    OLLAMA_HOST; an empty one leaves the config's hosts in charge)."""

    def run(
        *args: str, input: bytes | str = b"", env: dict[str, str] | None = None, timeout: float = 30
    ) -> Run:
        given = dict(env or {})
        if "OLLAMA_HOST" not in given:  # an empty one leaves the config in charge
            given["OLLAMA_HOST"] = standin.url
        environment = {**os.environ, **given}
        data = input.encode("utf-8") if isinstance(input, str) else input
        done = subprocess.run(
            [*_command(), *args], input=data, capture_output=True, env=environment, timeout=timeout
        )
        return Run(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))

    return run


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "rewrite" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
