"""Several hosts as one: throughput, a long text in parallel, and hedging's tail latency.

    python bench/hosts.py [--requests 120] [--record]

Every host is an Ollama stand-in in its own process, with 2 slots (OLLAMA_NUM_PARALLEL 2:
more requests queue) and a fixed per-token delay, so a host's capacity is known and the
client's work shows (the stand-ins echo the text: the guard passes it unchanged):

- throughput: the same number of rewrites, from enough threads to fill every slot, over
  1, 2, 3 and 4 hosts; the target is at least 0.9 x N times one host's rate;
- a 30-paragraph text over 3 hosts (split, sent at once, put back) against one host doing
  its paragraphs one after another; the target is at most 0.4 of that time;
- p95 time to first token with one of 3 hosts slow to its first token (1 s), hedging off and
  on (`routing.hedge`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import machine, publish  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from rewrite import Engine, RewriteRequest  # noqa: E402
from rewrite.config import Settings  # noqa: E402
from rewrite.hosts import parse_host  # noqa: E402
from rewrite.settings import CacheSettings, RoutingSettings  # noqa: E402
from rewrite.warm import warm_hosts  # noqa: E402

TOKEN_DELAY = 0.01  # seconds a token: a rewrite of ~12 words is ~0.2 s of one slot
SLOTS = 2
WORDS = ["maple", "river", "quiet", "seven", "paper", "lantern", "harbor", "winter", "copper"]


def sentence(n: int) -> str:
    return f"note {n} " + " ".join(WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(10))


def engine(servers: list[Server], *, hedge: bool = False, num_ctx: int = 2048) -> Engine:
    return Engine(
        Settings(
            hosts=tuple(parse_host(server.url) for server in servers),
            options={"num_ctx": num_ctx, "temperature": 0},
            cache=CacheSettings(enabled=False),
            routing=RoutingSettings(hedge=hedge),
        )
    )


class Server:
    """A stand-in in a process of its own, as a real server is: the client's work and the
    servers' do not share one interpreter lock."""

    def __init__(self, first_token_delay: float) -> None:
        command = [sys.executable, "-m", "tests.standin", "--port", "0", "--slots", str(SLOTS)]
        command += [
            "--token-delay",
            str(TOKEN_DELAY),
            "--first-token-delay",
            str(first_token_delay),
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        first = self.process.stdout.readline()  # "Ollama stand-in listening on URL (...)"
        self.url = first.split(" listening on ", 1)[1].split()[0]
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # its log

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def pool(count: int, first_token_delay: float = 0.0) -> list[Server]:
    return [Server(first_token_delay) for _ in range(count)]


def run_all(work: Engine, requests: list[RewriteRequest], threads: int) -> list[float]:
    """Rewrite every request from `threads` threads; each one's time to first token, ms."""
    firsts: list[float] = []
    lock = threading.Lock()
    todo = list(requests)

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                request = todo.pop()
            result = work.rewrite(request)
            with lock:
                firsts.append(result.timings.first_token_ms or 0.0)

    pool_threads = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool_threads:
        thread.start()
    for thread in pool_threads:
        thread.join()
    return firsts


def throughput(hosts: int, requests: int) -> float:
    servers = pool(hosts)
    try:
        work = engine(servers)
        batch = [RewriteRequest(sentence(n), "fix", use_cache=False) for n in range(requests)]
        run_all(work, batch[: hosts * SLOTS], hosts * SLOTS)  # warm: models loaded everywhere
        started = time.perf_counter()
        run_all(work, batch, hosts * SLOTS * 2)
        return requests / (time.perf_counter() - started)
    finally:
        for server in servers:
            server.stop()


def long_text() -> tuple[float, float]:
    paragraphs = [sentence(n) + " " + sentence(n + 100) for n in range(30)]
    one = pool(1)
    try:
        work = engine(one)
        work.rewrite(RewriteRequest(paragraphs[0], "fix", use_cache=False))
        started = time.perf_counter()
        for text in paragraphs:
            work.rewrite(RewriteRequest(text, "fix", use_cache=False))
        alone = time.perf_counter() - started
    finally:
        one[0].stop()
    three = pool(3)
    try:
        work = engine(three, num_ctx=800)  # too small for the whole text: it is split
        run_all(work, [RewriteRequest(sentence(n), "fix", use_cache=False) for n in range(6)], 6)
        started = time.perf_counter()
        result = work.rewrite(RewriteRequest("\n\n".join(paragraphs), "fix", use_cache=False))
        together = time.perf_counter() - started
        assert result.text.count("\n\n") == 29
    finally:
        for server in three:
            server.stop()
    return alone, together


def tail(hedge: bool, requests: int) -> list[float]:
    servers = pool(2) + pool(1, first_token_delay=1.0)
    try:
        work = engine(servers, hedge=hedge)
        warm_hosts(work)  # loaded everywhere, and known to be: the slow host is asked too
        batch = [RewriteRequest(sentence(n), "fix", use_cache=False) for n in range(requests)]
        return run_all(work, batch, 3)
    finally:
        for server in servers:
            server.stop()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--requests", type=int, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["XDG_CACHE_HOME"] = home  # a fresh record of hosts for each run
        rates = {n: throughput(n, args.requests) for n in (1, 2, 3, 4)}
        alone, together = long_text()
        off, on = tail(False, args.requests // 2), tail(True, args.requests // 2)
    lines = [
        f"Machine: {machine()}. Stand-ins with {SLOTS} slots, {TOKEN_DELAY * 1000:.0f} ms a token.",
        "",
        f"`python bench/hosts.py --requests {args.requests}`",
        "",
        "| hosts | rewrites/s | x one host | target |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {rate:.1f} | {rate / rates[1]:.2f} | >= {0.9 * n:.1f} |"
        for n, rate in rates.items()
    ]
    lines += [
        "",
        "| 30 paragraphs | seconds |",
        "|---|---|",
        f"| one host, one after another | {alone:.2f} |",
        f"| three hosts, split and sent at once | {together:.2f} "
        f"({together / alone:.2f} of it; target <= 0.40) |",
        "",
        "| one of 3 hosts 1 s slow to its first token | p50 first token ms | p95 ms |",
        "|---|---|---|",
        f"| hedging off | {statistics.median(off):.0f} | {p95(off):.0f} |",
        f"| hedging on | {statistics.median(on):.0f} | {p95(on):.0f} |",
    ]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    publish(f"### Several hosts, {stamp}\n\n" + "\n".join(lines) + "\n", args.record)


if __name__ == "__main__":
    main()
