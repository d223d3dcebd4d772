"""The interactive shell: start-up to a usable prompt, and Enter to the first character.

    python bench/shell_latency.py [--runs 20] [--record]

Start-up: `rewrite shell` in a pseudo-terminal, timed from launch until the prompt is
drawn (the model warms in the background). Enter to first character: the shell driven
through prompt-toolkit's pipe input against the zero-latency stand-in, timed from the
Enter key to the first character written, next to the engine's own time to first token
(request sent to first token received) for the same rewrite.
"""

from __future__ import annotations

import asyncio
import io
import os
import pty
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prompt_toolkit.input import create_pipe_input  # noqa: E402
from prompt_toolkit.output import DummyOutput  # noqa: E402

from bench.common import machine, publish  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from rewrite.config import Overrides, load_settings  # noqa: E402
from rewrite.shell import ShellState, create_session, run_shell  # noqa: E402
from tests.standin import StandIn  # noqa: E402


def startup_ms(env: dict[str, str]) -> float:
    script = Path(sys.executable).with_name("rewrite")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "rewrite"]
    master, slave = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "shell"], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    seen = b""
    try:
        while b"fix>" not in re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen):
            if select.select([master], [], [], 10)[0]:
                seen += os.read(master, 65536)
            else:
                raise SystemExit(f"no prompt within 10 s: {seen!r}")
        return (time.perf_counter() - started) * 1000
    finally:
        process.kill()
        process.wait()
        os.close(master)


class StampedOutput(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.first_write: float | None = None

    def write(self, text: str) -> int:
        if self.first_write is None and text:
            self.first_write = time.perf_counter()
        return super().write(text)


async def enter_to_first_char(standin: StandIn, runs: int) -> list[tuple[float, float]]:
    settings = load_settings(Overrides(hosts=(standin.url,)))
    out = StampedOutput()
    state = ShellState(settings, "fix", None, out)
    pairs = []
    with create_pipe_input() as pipe:
        shell = asyncio.ensure_future(run_shell(state, create_session(state, pipe, DummyOutput())))
        await asyncio.sleep(0.5)  # let the warm-up finish before measuring
        for n in range(runs):
            out.first_write, state.last_result = None, None
            pipe.send_text(f"sentence number {n} for the bench")
            await asyncio.sleep(0.05)
            sent = time.perf_counter()
            pipe.send_text("\r")
            while state.last_result is None:
                await asyncio.sleep(0.001)
            assert out.first_write is not None and state.last_result.timings.first_token_ms
            pairs.append(
                ((out.first_write - sent) * 1000, state.last_result.timings.first_token_ms)
            )
        pipe.send_text("\x04")
        await shell
    return pairs


def report(runs: int, startups: list[float], pairs: list[tuple[float, float]]) -> str:
    enter = [p[0] for p in pairs]
    backend = [p[1] for p in pairs]
    over = [e - b for e, b in pairs]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    def row(name: str, values: list[float], target: str) -> str:
        return f"| {name} | {statistics.median(values):.1f} | {max(values):.1f} | {target} |"

    rows = [
        "| measurement | median ms | max ms | target |",
        "|---|---|---|---|",
        row("start-up to a usable prompt", startups, "≤ 300"),
        row("Enter to first character", enter, ""),
        row("engine's time to first token", backend, ""),
        row("difference (the shell's share)", over, "≤ 20"),
    ]
    return (
        f"### Shell, {stamp}\n\nMachine: {machine()}. {runs} runs each.\n\n"
        + "\n".join(rows)
        + "\n"
    )


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with (
        StandIn(reply="They're going to the store.") as standin,
        tempfile.TemporaryDirectory() as home,
    ):
        env: dict[str, Any] = {
            **os.environ,
            "OLLAMA_HOST": standin.url,
            "TERM": "xterm-256color",
            "XDG_STATE_HOME": f"{home}/state",
            "XDG_CACHE_HOME": f"{home}/cache",
        }
        os.environ.update(
            XDG_STATE_HOME=env["XDG_STATE_HOME"], XDG_CACHE_HOME=env["XDG_CACHE_HOME"]
        )
        startups = [startup_ms(env) for _ in range(args.runs)]
        pairs = asyncio.run(enter_to_first_char(standin, args.runs))
    publish(report(args.runs, startups, pairs), args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
