"""Run the bench's samples through hosts × models × variants and summarize each row: speed
(time to first token, total, tokens/s, prompt tokens evaluated) and quality, judged by the
bench's own checks (`bench_checks`), never by the guard that produced the result.

    rows = plan_rows(settings, hosts, models, variants)
    for row in rows:
        run_row(settings, row, samples, on_outcome)   # Ctrl-C stops after the current sample
    summary = summarize(row)

On Ollama hosts the models in memory before the bench are put back afterwards
(`remember_loaded` / `restore_loaded`): what the bench loaded is unloaded, what it pushed
out is loaded again with the time it had left.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time

from .backend import Backend, Chat, connect
from .bench_checks import GARBAGE, GOOD, MISSED, Sample, verdict
from .engine import Engine
from .errors import RejectedReply, RewriteError
from .hosts import OLLAMA
from .record import Record
from .results import RewriteRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .config import Settings
    from .hosts import Host

REFUSED, FAILED = "refused", "error"
KINDS = (GOOD, MISSED, GARBAGE, REFUSED, FAILED)


class Row(Record):
    """One line of the table: a host, a model, a variant, and what its samples gave."""

    __slots__ = ("host", "model", "outcomes", "variant")

    def __init__(self, host: Host, model: str, variant: str) -> None:
        self.host = host
        self.model = model
        self.variant = variant
        self.outcomes: list[Outcome] = []


class Outcome(Record):
    """One sample's result: its kind (good, missed, garbage, refused, error) and times."""

    __slots__ = (
        "chatter",
        "evaluated",
        "first_token_ms",
        "kind",
        "output_tokens",
        "reasons",
        "sample",
        "tokens_per_s",
        "wall_ms",
    )

    def __init__(
        self,
        sample: str,
        kind: str,
        wall_ms: float,
        first_token_ms: float | None = None,
        tokens_per_s: float | None = None,
        evaluated: int | None = None,
        output_tokens: int = 0,
        chatter: bool = False,
        reasons: tuple[str, ...] = (),
    ) -> None:
        self.sample = sample
        self.kind = kind
        self.wall_ms = wall_ms
        self.first_token_ms = first_token_ms
        self.tokens_per_s = tokens_per_s
        self.evaluated = evaluated  # prompt tokens the server evaluated (None: not said)
        self.output_tokens = output_tokens
        self.chatter = chatter  # the clean-up took something off the reply
        self.reasons = reasons


def plan_rows(hosts: Sequence[Host], models: Sequence[str], variants: Sequence[str]) -> list[Row]:
    return [Row(host, model, variant) for host in hosts for model in models for variant in variants]


def run_row(
    settings: Settings,
    row: Row,
    samples: Sequence[Sample],
    on_outcome: Callable[[Outcome], None],
) -> None:
    """Warm the row's model (not measured), then run every sample with the cache off."""
    from .warm import warm_up

    engine = Engine(settings.replace(hosts=(row.host,), model=row.model))
    try:
        warm_up(engine, row.model)
        for sample in samples:
            outcome = run_sample(engine, row, sample)
            row.outcomes.append(outcome)
            on_outcome(outcome)
    finally:
        engine.close()


def run_sample(engine: Engine, row: Row, sample: Sample) -> Outcome:
    request = RewriteRequest(
        sample.text,
        sample.action,
        params=dict(sample.params),
        model=row.model,
        use_cache=False,
        variant=row.variant,
    )
    started = time.perf_counter()
    stream = engine.stream(request)
    try:
        for _ in stream:
            pass
    except RejectedReply as rejected:
        return Outcome(sample.id, REFUSED, _ms(started), reasons=(rejected.reason,))
    except RewriteError as error:
        return Outcome(sample.id, FAILED, _ms(started), reasons=(str(error),))
    assert stream.result is not None
    result, timings = stream.result, stream.result.timings
    kind, reasons = verdict(sample, result.text)
    raw = (stream.raw_reply or "").strip()
    evaluated = None
    if timings.cached_tokens is not None:
        evaluated = max(0, timings.prompt_tokens - timings.cached_tokens)
    speed = _speed(timings.output_tokens, timings.eval_ms)
    if speed is None and timings.first_token_ms is not None:  # the server does not say
        speed = _speed(stream.pieces - 1, timings.wall_ms - timings.first_token_ms)
    return Outcome(
        sample.id,
        kind,
        timings.wall_ms,
        timings.first_token_ms,
        speed,
        evaluated,
        timings.output_tokens,
        chatter=bool(raw) and raw != result.text.strip() and row.variant != "json",
        reasons=tuple(reasons),
    )


def _speed(tokens: int, ms: float) -> float | None:
    return round(tokens / ms * 1000, 1) if tokens > 0 and ms > 0 else None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class Summary(Record):
    """A row's figures: counts by kind, p50 and p95 of first token and total (ms), median
    tokens per second and prompt tokens evaluated, and how often chatter was stripped."""

    __slots__ = (
        "chatter",
        "counts",
        "first_token",
        "host",
        "model",
        "prompt_tokens",
        "samples",
        "tokens_per_s",
        "total",
        "variant",
    )

    def __init__(
        self,
        host: str,
        model: str,
        variant: str,
        samples: int,
        counts: dict[str, int],
        first_token: tuple[float, float] | None,
        total: tuple[float, float] | None,
        tokens_per_s: float | None,
        prompt_tokens: int | None,
        chatter: int,
    ) -> None:
        self.host = host
        self.model = model
        self.variant = variant
        self.samples = samples
        self.counts = counts
        self.first_token = first_token
        self.total = total
        self.tokens_per_s = tokens_per_s
        self.prompt_tokens = prompt_tokens
        self.chatter = chatter


def summarize(row: Row) -> Summary:
    done = row.outcomes
    shipped = [o for o in done if o.kind in (GOOD, MISSED, GARBAGE)]
    speeds = [o.tokens_per_s for o in shipped if o.tokens_per_s]
    evaluated = [o.evaluated for o in done if o.evaluated is not None]
    return Summary(
        row.host.url,
        row.model,
        row.variant,
        len(done),
        {kind: sum(1 for o in done if o.kind == kind) for kind in KINDS},
        percentiles([o.first_token_ms for o in shipped]),
        percentiles([o.wall_ms for o in done]),
        round(statistics.median(speeds), 1) if speeds else None,
        round(statistics.median(evaluated)) if evaluated else None,
        sum(1 for o in done if o.chatter),
    )


def percentiles(values: Sequence[float | None]) -> tuple[float, float] | None:
    """The p50 and nearest-rank p95 of the known values, or None."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    p95 = known[max(math.ceil(0.95 * len(known)), 1) - 1]
    return round(statistics.median(known), 1), round(p95, 1)


def recommend(summaries: Sequence[Summary]) -> Summary | None:
    """The fastest row (total p50) that shipped no garbage and answered something."""
    fit = [s for s in summaries if s.total and not s.counts[GARBAGE] and s.counts[GOOD]]
    if not fit:
        return None
    return min(fit, key=lambda s: (s.total[0] if s.total else math.inf, s.counts[REFUSED]))


def remember_loaded(hosts: Sequence[Host], timeout: float) -> dict[str, dict[str, float | None]]:
    """For each Ollama host, the models in memory and the seconds each has left."""
    from .status import gather_all, seconds_left

    now = time.time()
    ollama_hosts = [host for host in hosts if host.api == OLLAMA]
    return {
        facts.url: {m.name: seconds_left(m.expires_at, now) for m in facts.loaded}
        for facts in gather_all(ollama_hosts, timeout)
        if facts.reachable and facts.error is None
    }


def restore_loaded(
    hosts: Sequence[Host], before: dict[str, dict[str, float | None]], timeout: float
) -> list[str]:
    """Unload what the bench loaded, load again what it pushed out; what was done, in words."""
    after = remember_loaded(hosts, timeout)
    done: list[str] = []
    for host in hosts:
        if host.url not in before or host.url not in after:
            continue
        server = connect(host, timeout=timeout)
        for model in set(after[host.url]) - set(before[host.url]):
            _chat_quietly(server, Chat(model, [], {}, keep_alive=0))
            done.append(f"unloaded {model} on {host.url}")
        for model, left in before[host.url].items():
            if model not in after[host.url]:
                keep = -1 if left is None or left > 365 * 86_400 else max(1, round(left))
                _chat_quietly(server, Chat(model, [], {}, keep_alive=keep))
                done.append(f"loaded {model} again on {host.url}")
    return done


def _chat_quietly(server: Backend, chat: Chat) -> None:
    with contextlib.suppress(RewriteError):  # a courtesy: failing here loses no result
        server.warm(chat)
