"""Starting `ollama serve` when no server answers: only on this machine, only when allowed.

A fake `ollama` on a temporary PATH stands in for the real one: `ollama serve` starts the
Ollama stand-in where OLLAMA_HOST says, the way Ollama chooses its address.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewrite.hosts import parse_host
from rewrite.routing import may_autostart
from tests.conftest import RunCli, write_config
from tests.standin import unused_url

ROOT = Path(__file__).resolve().parent.parent
FAKE_OLLAMA = f"""#!{sys.executable}
import os, sys
if sys.argv[1:] != ["serve"]:
    sys.exit(2)
port = os.environ["OLLAMA_HOST"].rsplit(":", 1)[1]
with open(os.environ["FAKE_OLLAMA_PIDFILE"], "w") as pidfile:
    pidfile.write(str(os.getpid()))
os.chdir({str(ROOT)!r})
os.execv(sys.executable, [sys.executable, "-m", "tests.standin", "--port", port,
                          "--reply", "They're going."])
"""


@pytest.fixture
def fake_ollama(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment whose PATH has a fake `ollama`; the server it starts is killed after."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "ollama"
    script.write_text(FAKE_OLLAMA)
    script.chmod(0o755)
    pidfile = tmp_path / "ollama.pid"
    yield {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "FAKE_OLLAMA_PIDFILE": str(pidfile)}
    if pidfile.exists():
        os.kill(int(pidfile.read_text()), signal.SIGTERM)


def test_autostart_starts_ollama_serve_and_rewrites(
    run_cli: RunCli, isolated_home: Path, fake_ollama: dict[str, str]
) -> None:
    write_config(isolated_home, "autostart: true\n")
    host = unused_url()
    run = run_cli("fix", input="their going\n", env={**fake_ollama, "OLLAMA_HOST": host})
    assert (run.code, run.text) == (0, "They're going.\n"), run.stderr
    assert "started `ollama serve`" in run.stderr
    assert Path(fake_ollama["FAKE_OLLAMA_PIDFILE"]).exists()
    log = isolated_home / "state" / "rewrite" / "ollama-serve.log"
    assert log.exists()


def test_autostart_is_off_by_default_for_other_local_ports(
    run_cli: RunCli, fake_ollama: dict[str, str]
) -> None:
    run = run_cli("fix", input="their going\n", env={**fake_ollama, "OLLAMA_HOST": unused_url()})
    assert run.code == 3
    assert "start it with `ollama serve`" in run.stderr
    assert not Path(fake_ollama["FAKE_OLLAMA_PIDFILE"]).exists()


def test_autostart_false_never_starts(
    run_cli: RunCli, isolated_home: Path, fake_ollama: dict[str, str]
) -> None:
    write_config(isolated_home, "autostart: false\n")
    run = run_cli("fix", input="their going\n", env={**fake_ollama, "OLLAMA_HOST": unused_url()})
    assert run.code == 3
    assert not Path(fake_ollama["FAKE_OLLAMA_PIDFILE"]).exists()


def test_without_ollama_installed_the_message_says_so(
    run_cli: RunCli, isolated_home: Path, tmp_path: Path
) -> None:
    write_config(isolated_home, "autostart: true\n")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    run = run_cli("fix", input="x\n", env={"PATH": str(empty), "OLLAMA_HOST": unused_url()})
    assert run.code == 3
    assert "Ollama is not installed here" in run.stderr


@pytest.mark.parametrize(
    ("host", "setting", "allowed"),
    [
        ("http://127.0.0.1:11434", None, True),
        ("127.0.0.1:5555", None, False),
        ("127.0.0.1:5555", True, True),
        ("localhost:11434", True, True),
        ("[::1]:11434", True, True),
        ("http://127.0.0.1:11434", False, False),
        ("gpu-box:11434", True, False),
        ("https://127.0.0.1:11434", True, False),
        ("http://example.com", None, False),
    ],
)
def test_only_this_machine_is_ever_started(host: str, setting: bool | None, allowed: bool) -> None:
    assert may_autostart(parse_host(host), setting) is allowed
