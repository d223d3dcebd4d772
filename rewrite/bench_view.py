"""`rewrite bench`: the shipped samples through each host × model × variant, with a progress
bar, then a table and the recommended row (the fastest that shipped no garbage).

Ctrl-C stops after the current sample and prints what was measured so far (exit 130).
On Ollama hosts the models that were in memory before are put back afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys

from .bench import (
    FAILED,
    REFUSED,
    Row,
    Summary,
    plan_rows,
    recommend,
    remember_loaded,
    restore_loaded,
    run_row,
    summarize,
)
from .bench_checks import GARBAGE, GOOD, MISSED, Sample, load_samples
from .cli_common import ExitCode, command_parser, exit_code, guarded, say, settings_from, write
from .errors import RewriteError, UsageError
from .pull_view import terminal_input

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import TextIO

    from prompt_toolkit.shortcuts.progress_bar import ProgressBarCounter

    from .bench import Outcome
    from .config import Settings

DEFAULT_VARIANTS = "plain,json"
EPILOG = """Each row runs every sample once, with the cache off, after one warm-up request that is
not measured. "garbage" is what the bench's own checks call wrong in a rewrite that was
shipped; "missed" is a correction left undone (the text no worse than it was); "refused"
is the guard giving the input back. Prompt tokens evaluated: what the server reports it
evaluated (llama.cpp's cache_n, OpenAI's cached tokens), when it says. Tokens/s: the
server's count of generated tokens over its own time, or where it reports none, the
pieces it streamed per second after the first. --json lists every sample's outcome too.

exit codes: 0 done, 2 usage, 3 no server, 4 no model, 130 interrupted (partial table)"""


@guarded
def bench_command(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.hosts:
        args.host = [*args.host, *_names(args.hosts, None, "host")]
    settings = settings_from(args)
    samples = _samples(args)
    from .variants import VARIANTS

    variants = _names(args.variants, VARIANTS, "variant")
    models = _names(args.models, None, "model") if args.models else [settings.model]
    rows = plan_rows(settings.hosts, models, variants)
    timeout = min(settings.timeout, 5.0)
    before = remember_loaded(settings.hosts, timeout)
    interrupted, failure = False, None
    try:
        failure = _run(settings, rows, samples)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for done in restore_loaded(settings.hosts, before, timeout):
            say(done)
    summaries = [summarize(row) for row in rows if row.outcomes]
    if not summaries and failure is not None:
        say(str(failure))
        return exit_code(failure)
    if args.json:
        write(render_json(summaries, interrupted, rows))
    else:
        write(render_text(summaries, interrupted))
    return ExitCode.INTERRUPTED if interrupted else ExitCode.OK


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "bench",
        "Run the shipped sample texts through each server (--host), model and prompt variant "
        "and compare their speed and the quality of what they ship.",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--hosts", metavar="URL,URL", help="servers to compare, each in its own rows (as --host)"
    )
    parser.add_argument("--models", metavar="A,B", help="models to compare (default: --model)")
    parser.add_argument(
        "--variants",
        metavar="A,B",
        default=DEFAULT_VARIANTS,
        help="ways of asking: plain, json, one-shot, zero-shot, terse (default: plain,json)",
    )
    parser.add_argument("--actions", metavar="A,B", help="only the samples of these actions")
    parser.add_argument("--samples", metavar="FILE", help="a sample file of your own (YAML)")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N samples per row")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    return parser


def _samples(args: argparse.Namespace) -> list[Sample]:
    try:
        samples = load_samples(args.samples)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the samples: {error}") from None
    if args.actions:
        wanted = set(_names(args.actions, None, "action"))
        samples = [sample for sample in samples if sample.action in wanted]
    samples = samples[: args.limit] if args.limit else samples
    if not samples:
        raise UsageError("no sample to run (check --actions and --limit)")
    return samples


def _names(text: str, known: Mapping[str, object] | None, what: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if known is not None and name not in known]
    if unknown or not names:
        choices = f" (choose from {', '.join(known)})" if known else ""
        raise UsageError(f"unknown {what} '{(unknown or [text])[0]}'{choices}")
    return names


def _run(settings: Settings, rows: Sequence[Row], samples: Sequence[Sample]) -> RewriteError | None:
    """Every row in turn; a row whose server or model fails is skipped with one line."""
    progress = _progress(len(samples))
    failure = None
    with progress:
        for row in rows:
            step = progress.row(f"{row.model} · {row.variant}")
            try:
                run_row(settings, row, samples, step)
            except RewriteError as error:
                failure = error
                say(f"{row.model} · {row.variant} on {row.host}: {error}")
    return failure


def _progress(total: int) -> Progress:
    keyboard = terminal_input()
    return BarProgress(total, keyboard) if keyboard is not None else Progress(total)


class Progress:
    """One line on stderr per row, when it is done."""

    def __init__(self, total: int) -> None:
        self.total = total

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def row(self, label: str) -> Callable[[Outcome], None]:
        counts: dict[str, int] = {}

        def step(outcome: Outcome) -> None:
            counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
            if sum(counts.values()) == self.total:
                say(f"{label}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))

        return step


class BarProgress(Progress):
    """A prompt-toolkit progress bar on stderr, one counter per row."""

    def __init__(self, total: int, keyboard: TextIO) -> None:
        super().__init__(total)
        from prompt_toolkit.input import create_input
        from prompt_toolkit.output import create_output
        from prompt_toolkit.shortcuts import ProgressBar

        self._bar = ProgressBar(
            title="rewrite bench",
            output=create_output(stdout=sys.stderr),
            input=create_input(keyboard),
        )

    def __enter__(self) -> Progress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def row(self, label: str) -> Callable[[Outcome], None]:
        counter: ProgressBarCounter[object] = self._bar(label=label, total=self.total)

        def step(outcome: Outcome) -> None:
            counter.item_completed()
            counter.done = counter.items_completed >= self.total

        return step


_HEAD: tuple[str, ...] = ("model", "variant", "n", "good", "missed", "garbage", "refused")
_HEAD += ("error", "first token p50/p95 ms", "total p50/p95 ms", "tokens/s", "prompt tokens")
_HEAD += ("chatter",)


def render_text(summaries: Sequence[Summary], interrupted: bool) -> str:
    hosts = {summary.host for summary in summaries}
    head = (("host",) if len(hosts) > 1 else ()) + _HEAD
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        cells = [s.host] if len(hosts) > 1 else []
        cells += [s.model, s.variant, str(s.samples)]
        cells += [str(s.counts[kind]) for kind in (GOOD, MISSED, GARBAGE, REFUSED, FAILED)]
        cells += [_pair(s.first_token), _pair(s.total), _number(s.tokens_per_s)]
        cells += [_number(s.prompt_tokens), str(s.chatter)]
        lines.append("| " + " | ".join(cells) + " |")
    best = recommend(summaries)
    lines.append("")
    if interrupted:
        lines.append("interrupted: the table holds what was measured before Ctrl-C")
    if best is None:
        lines.append("recommendation: none (every row shipped garbage or nothing good)")
    else:
        where = f" on {best.host}" if len(hosts) > 1 else ""
        lines.append(
            f"recommendation: {best.model} with the {best.variant} prompt{where}: "
            "the fastest that shipped no garbage"
        )
    return "\n".join(lines) + "\n"


def _pair(values: tuple[float, float] | None) -> str:
    return f"{values[0]:.0f} / {values[1]:.0f}" if values else "–"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def render_json(summaries: Sequence[Summary], interrupted: bool, rows: Sequence[Row]) -> str:
    best = recommend(summaries)
    outcomes = {(row.host.url, row.model, row.variant): row.outcomes for row in rows}
    document = {
        "rows": [
            {
                **summary.as_dict(),
                "outcomes": [
                    o.as_dict() for o in outcomes[(summary.host, summary.model, summary.variant)]
                ],
            }
            for summary in summaries
        ],
        "recommendation": None if best is None else summaries.index(best),
        "interrupted": interrupted,
    }
    return json.dumps(document, ensure_ascii=False) + "\n"
