"""Wall time of `rewrite fix` against the zero-latency stand-in, next to the bare interpreter.

    python bench/cli_startup.py [--runs 30] [--record]

Measures a cache hit (the same text every run), a cache miss (a new text every run: one
request to the stand-in, one write to the cache), the same miss against the stand-in's
OpenAI-compatible /v1 (server-sent events instead of NDJSON) and, for the record, what the rejected
alternatives would cost: importing asyncio and the official `ollama` client. Commands run
in turn (interleaved, so machine noise hits them alike); the table shows the median and
90th percentile. With --record it is appended to bench/RESULTS.md with the machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, publish  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from tests.standin import StandIn  # noqa: E402


def rewrite_command() -> list[str]:
    script = Path(sys.executable).with_name("rewrite")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rewrite"]


Case = Callable[[int], tuple[list[str], bytes]]  # run number -> command and its stdin


def time_once(command: Sequence[str], data: bytes, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, input=data, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    return elapsed * 1000


def measure(cases: dict[str, Case], runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for case in cases.values():  # one warm-up round: disk cache, .pyc files, the first hit
        time_once(*case(-1), env)
    for run in range(runs):
        for name, case in cases.items():
            times[name].append(time_once(*case(run), env))
    return times


def fixed(command: list[str], data: bytes = b"") -> Case:
    return lambda run: (command, data)


def report(times: dict[str, list[float]], runs: int) -> str:
    bare = statistics.median(times["python -c pass"])
    rows = ["| command | median ms | p90 ms | median over bare python |", "|---|---|---|---|"]
    for name, values in times.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        rows.append(f"| `{name}` | {median:.1f} | {p90:.1f} | {median - bare:+.1f} |")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = f"### CLI start-up, {stamp}\n\nMachine: {machine()}. {runs} runs each, interleaved.\n"
    return head + "\n" + "\n".join(rows) + "\n"


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with (
        StandIn() as standin,  # echoes: a fix that changes nothing always passes the guard
        tempfile.TemporaryDirectory() as home,
    ):
        env = {
            **os.environ,
            "OLLAMA_HOST": standin.url,
            "XDG_CONFIG_HOME": f"{home}/config",
            "XDG_CACHE_HOME": f"{home}/cache",
            "XDG_STATE_HOME": f"{home}/state",
        }
        env.pop("REWRITE_CONFIG", None)
        fix = [*rewrite_command(), "fix"]
        cases: dict[str, Case] = {
            "python -c pass": fixed([sys.executable, "-c", "pass"]),
            "rewrite fix (cache hit)": fixed(fix, b"their going too the store\n"),
            "rewrite fix (cache miss)": lambda run: (fix, f"their going {run} times\n".encode()),
            "rewrite fix (cache miss, OpenAI host)": lambda run: (
                [*fix, "--host", f"{standin.url}/v1"],
                f"their going {run} times again\n".encode(),
            ),
            "python -c 'import asyncio'": fixed([sys.executable, "-c", "import asyncio"]),
            "python -c 'import ollama'": fixed([sys.executable, "-c", "import ollama"]),
        }
        text = report(measure(cases, args.runs, env), args.runs)
    publish(text, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
