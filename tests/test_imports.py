"""The command line's hot path imports only what a rewrite needs (start-up is the product)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_config
from tests.standin import StandIn

HEAVY = (
    "ollama",
    "httpx",
    "pydantic",
    "asyncio",
    "prompt_toolkit",
    "pygls",
    "http.client",
    "ssl",
    "email",
)


def imported_modules(standin: StandIn, *args: str) -> set[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; from rewrite.cli import main; sys.exit(main())",
            *args,
        ],
        input=b"their going\n",
        capture_output=True,
        env={**os.environ, "OLLAMA_HOST": standin.url},
        timeout=30,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = [line for line in done.stderr.decode().splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[-1].strip() for line in lines}


def test_a_rewrite_imports_nothing_heavy(standin: StandIn) -> None:
    standin.reply = "They're going."
    modules = imported_modules(standin, "fix")
    assert "rewrite.engine" in modules  # the measurement itself works
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}
    assert "yaml" not in modules  # no config file: no YAML parser


def test_a_config_file_brings_only_yaml(standin: StandIn, isolated_home: Path) -> None:
    write_config(isolated_home, "model: qwen2.5:1.5b\n")
    standin.reply = "They're going."
    modules = imported_modules(standin, "fix")
    assert "yaml" in modules
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}
