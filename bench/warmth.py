"""Does a long-running process keep the model warm? Sparse requests over a minute.

    python bench/warmth.py [--seconds 60] [--control] [--record]

The stand-in takes 2 s to load the model and forgets it 3 s after the last request
(keep_alive 3s). A core Engine with a KeepWarm keeper, driven the way the shell and the
language server drive it, sends a rewrite every 2-9 s (seeded, so runs compare). Prints
how many requests paid a load after the first warm-up: the target is 0. --control runs
the same schedule without the keeper, to show what it prevents.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from rewrite import Engine, RewriteRequest  # noqa: E402
from rewrite.cache import Cache  # noqa: E402
from rewrite.config import Settings  # noqa: E402
from rewrite.hosts import parse_host  # noqa: E402
from rewrite.warm import KeepWarm  # noqa: E402
from tests.standin import StandIn  # noqa: E402

LOAD_SECONDS = 2.0
KEEP_ALIVE = "3s"


def run(seconds: float, keep_warm: bool) -> dict[str, float]:
    with (
        StandIn(reply="Done.", load_delay=LOAD_SECONDS) as standin,
        tempfile.TemporaryDirectory() as folder,
    ):
        settings = Settings(hosts=(parse_host(standin.url),), keep_alive=KEEP_ALIVE)
        engine = Engine(settings, cache=Cache(folder, max_entries=100))
        keeper = KeepWarm(engine).start() if keep_warm else None
        if keeper is not None:
            standin.wait_for(lambda: keeper.state == "warm", LOAD_SECONDS * 5)
        loads_before = standin.load_count
        schedule = random.Random(7)
        paid, walls = 0, []
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            time.sleep(schedule.uniform(2.0, 9.0))
            n += 1
            result = engine.rewrite(RewriteRequest(f"request number {n}", use_cache=False))
            walls.append(result.timings.wall_ms)
            paid += result.timings.load_ms >= LOAD_SECONDS * 1000 / 2
        if keeper is not None:
            keeper.stop()
        return {
            "requests": n,
            "paid_a_load": paid,
            "loads_during_run": standin.load_count - loads_before,
            "median_wall_ms": statistics.median(walls),
            "max_wall_ms": max(walls),
        }


def report(seconds: float, results: dict[str, dict[str, float]]) -> str:
    rows = [
        "| run | requests | paid a load | loads in the run | median wall ms | max wall ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        rows.append(
            f"| {name} | {r['requests']:.0f} | {r['paid_a_load']:.0f} | "
            f"{r['loads_during_run']:.0f} | {r['median_wall_ms']:.1f} | {r['max_wall_ms']:.1f} |"
        )
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = (
        f"### Warmth, {stamp}\n\nMachine: {machine()}. {seconds:.0f} s of requests every 2-9 s; "
        f"stand-in load {LOAD_SECONDS:.0f} s, keep_alive {KEEP_ALIVE}.\n"
    )
    return head + "\n" + "\n".join(rows) + "\n"


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--control", action="store_true", help="also run without the keeper")
    args = parser.parse_args()
    results = {"with KeepWarm": run(args.seconds, keep_warm=True)}
    if args.control:
        results["without (control)"] = run(args.seconds, keep_warm=False)
    text = report(args.seconds, results)
    print(text)
    paid = results["with KeepWarm"]["paid_a_load"]
    print(f"requests that paid a load after the first warm-up: {paid:.0f}")
    if args.record:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as file:
            file.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
