"""How long a config file takes to load, by size: the load must stay linear in the file.

    python bench/config_load.py [--runs 3]

Loads files of examples from 1/8 of the size bound (1 MiB) up to the bound, and prints the
best time of each size and its time per KiB; a linear load keeps the last column flat.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from rewrite.config import MAX_CONFIG_BYTES, Overrides, load_settings

LINE = "      - {{input: in {n:05}, output: out {n:05}}}\n"


def config_text(size: int) -> str:
    head = "actions:\n  x:\n    instruction: y\n    examples:\n"
    count = (size - len(head)) // len(LINE.format(n=0))
    return head + "".join(LINE.format(n=n) for n in range(count))


def best_seconds(path: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        load_settings(Overrides(config=path))
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print(f"{'bytes':>9} {'best ms':>9} {'ms/KiB':>7}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "config.yaml")
        for eighths in (1, 2, 4, 8):
            text = config_text(MAX_CONFIG_BYTES * eighths // 8)
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
            seconds = best_seconds(path, runs)
            size = len(text.encode())
            print(f"{size:>9} {seconds * 1000:>9.1f} {seconds * 1000 / (size / 1024):>7.3f}")


if __name__ == "__main__":
    main()
