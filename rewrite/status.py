"""`rewrite status`: what each configured server has, and whether a rewrite is fast now.

Gathering (for Ollama `/api/version`, `/api/tags`, `/api/ps`; for an OpenAI-compatible
server `/models`; every host at once, short timeouts; none loads a model), judging (a pure
function of those facts, the model and num_ctx) and rendering (text or JSON) are kept apart.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from datetime import datetime

from . import wire
from .backend import access_denied, connect
from .cli_common import ExitCode, command_parser, guarded, settings_from, write
from .errors import HostUnreachable, RewriteError, ServerError
from .hosts import OLLAMA, OPENAI
from .record import Record
from .routing import unreachable_message
from .threads import each_at_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

    from .hosts import Host
    from .settings import Settings

PROBE_TIMEOUT_CAP = 5.0  # seconds: these requests never load a model
INDEFINITE_SECONDS = 366 * 86_400  # keep_alive -1 shows as an expiry centuries away
READY, COLD, MISSING, UNREACHABLE, BROKEN = "ready", "cold", "missing", "unreachable", "error"

EXIT_CODES_HELP = """exit codes:
  0  some server can rewrite with the model now (ready) or after loading it (cold)
  1  the servers answered, but only with errors
  3  no server answered, or every one refused access
  4  the servers answered, but none has the model (rewrite pull MODEL)"""


class Available(Record):
    """A model on the server's disk (`/api/tags`)."""

    __slots__ = ("name", "parameter_size", "quantization_level", "size")

    def __init__(
        self, name: str, size: int = 0, parameter_size: str = "", quantization_level: str = ""
    ) -> None:
        self.name = name
        self.size = size
        self.parameter_size = parameter_size
        self.quantization_level = quantization_level


class Loaded(Record):
    """A model in the server's memory (`/api/ps`); sizes in bytes."""

    __slots__ = ("context_length", "expires_at", "name", "size", "size_vram")

    def __init__(
        self,
        name: str,
        size: int = 0,
        size_vram: int = 0,
        context_length: int | None = None,
        expires_at: str | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.size_vram = size_vram
        self.context_length = context_length  # None: a server before v0.10 does not say
        self.expires_at = expires_at


class HostFacts(Record):
    """What one host told us; `error` says why the rest is missing."""

    __slots__ = ("api", "error", "loaded", "models", "reachable", "routing", "url", "version")

    def __init__(
        self,
        url: str,
        reachable: bool = True,
        error: str | None = None,
        version: str | None = None,
        models: tuple[Available, ...] = (),
        loaded: tuple[Loaded, ...] = (),
        api: str = OLLAMA,
        routing: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.routing = routing  # with several hosts: its state in the shared record
        self.api = api
        self.reachable = reachable
        self.error = error
        self.version = version
        self.models = models
        self.loaded = loaded


class Judgement(Record):
    __slots__ = ("state", "verdict", "warnings")

    def __init__(self, state: str, verdict: str, warnings: tuple[str, ...] = ()) -> None:
        self.state = state
        self.verdict = verdict
        self.warnings = warnings


def judge(facts: HostFacts, model: str, num_ctx: int | None, now: float) -> Judgement:
    """The verdict on one host for `model`; `now` is the epoch time the facts are read at."""
    error = " ".join(str(facts.error).split())  # one line, even for a proxy's HTML page
    if not facts.reachable:
        return Judgement(UNREACHABLE, f"unreachable: {error}")
    if facts.error is not None:
        return Judgement(BROKEN, f"error: {error}")
    key = model_key(model)
    if facts.api == OPENAI:
        return _judge_openai(facts, model)
    if not any(model_key(m.name) == key for m in facts.models):
        pull = f"run `rewrite pull {model}`"
        return Judgement(MISSING, f"missing: {model} is not on this server; {pull}")
    loaded = next((m for m in facts.loaded if model_key(m.name) == key), None)
    if loaded is None:
        then = "the next rewrite loads it (run `rewrite warm`)"
        return Judgement(COLD, f"cold: {model} is available but not loaded; {then}")
    expiry = expiry_words(seconds_left(loaded.expires_at, now))
    verdict = f"ready: {model} loaded {placement(cpu_share(loaded.size, loaded.size_vram))}"
    warnings = _warnings(model, loaded, num_ctx)
    return Judgement(READY, f"{verdict}, {expiry}" if expiry else verdict, warnings)


def _judge_openai(facts: HostFacts, model: str) -> Judgement:
    """An OpenAI-compatible server lists what it serves and keeps it loaded itself."""
    names = [m.name for m in facts.models]
    if model not in names:
        listed = f"it lists {', '.join(names)}" if names else "it lists no models"
        fix = "choose one with --model or `model:` in the config"
        return Judgement(MISSING, f"missing: {model} is not served here ({listed}); {fix}")
    return Judgement(READY, f"ready: {model} is served; keeping it loaded is the server's business")


def _warnings(model: str, loaded: Loaded, num_ctx: int | None) -> tuple[str, ...]:
    found: list[str] = []
    share = cpu_share(loaded.size, loaded.size_vram)
    if share >= 1:
        found.append(f"{model} runs entirely on the CPU: rewrites are much slower than on a GPU")
    elif share > 0:
        found.append(
            f"{percent(share)} of {model} runs on the CPU (it does not fit in GPU memory): "
            "rewrites are slower; a smaller model or a smaller num_ctx may fit"
        )
    context = loaded.context_length
    if num_ctx is not None and context is not None and context != num_ctx:
        found.append(
            f"{model} is loaded with a {context}-token context but num_ctx is {num_ctx}: "
            "a reload is coming, the next rewrite makes Ollama reload it"
            + (_CAPPED.format(context) if context < num_ctx else "")
        )
    return tuple(found)


# Ollama caps num_ctx at the model's trained context without reloading it for asking more.
_CAPPED = " (unless {} is the most this model was trained for: Ollama caps num_ctx there)"


def exit_code_for(states: Iterable[str]) -> ExitCode:
    seen = set(states)
    if seen & {READY, COLD}:
        return ExitCode.OK
    if MISSING in seen:
        return ExitCode.NO_MODEL
    if BROKEN in seen:
        return ExitCode.FAILED
    return ExitCode.NO_SERVER


def model_key(name: str) -> str:
    """A model name as Ollama compares it: case-insensitive, a missing tag meaning ':latest'."""
    key = name.strip().lower().removeprefix("registry.ollama.ai/").removeprefix("library/")
    return key if ":" in key.rsplit("/", 1)[-1] else f"{key}:latest"


def cpu_share(size: int, size_vram: int) -> float:
    """The part of a loaded model held in system memory, run by the CPU: 0 (all on GPU) to 1."""
    return min(1.0, max(0.0, (size - size_vram) / size)) if size > 0 else 0.0


def percent(share: float) -> str:
    """A share as a whole percentage that never shows a partial share as 0% or 100%."""
    value = round(share * 100)
    if 0 < share < 1:
        value = min(99, max(1, value))
    return f"{value}%"


def placement(share: float) -> str:
    if share <= 0:
        return "on GPU"
    if share >= 1:
        return "on CPU"
    return f"with {percent(share)} on CPU"


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


def parse_rfc3339(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 time (any number of fractional digits), or None."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    try:  # fromisoformat before Python 3.11 takes neither "Z" nor nanoseconds
        stamp = datetime.fromisoformat(f"{day}T{clock}{zone.upper().replace('Z', '+00:00')}")
        return stamp.timestamp() + float(fraction or 0)
    except (ValueError, OverflowError):
        return None


def seconds_left(expires_at: str | None, now: float) -> float | None:
    when = parse_rfc3339(expires_at) if expires_at else None
    return None if when is None else when - now


def expiry_words(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds > INDEFINITE_SECONDS:
        return "kept loaded indefinitely"
    if seconds < 1:
        return "expiring now"
    return f"expires in {duration_words(seconds)}"


def duration_words(seconds: float) -> str:
    """Whole units, rounded down: "45 s", "29 min", "2 h 5 min", "3 d 4 h"."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def parse_models(payload: Mapping[str, Any]) -> tuple[Available, ...]:
    found = []
    for entry in _entries(payload):
        details = entry["details"] if isinstance(entry.get("details"), dict) else {}
        about = (_text(details.get("parameter_size")), _text(details.get("quantization_level")))
        found.append(Available(entry["name"], _count(entry.get("size")) or 0, *about))
    return tuple(found)


def parse_loaded(payload: Mapping[str, Any]) -> tuple[Loaded, ...]:
    return tuple(
        Loaded(
            entry["name"],
            _count(entry.get("size")) or 0,
            _count(entry.get("size_vram")) or 0,
            _count(entry.get("context_length")) or None,  # Go omits a zero
            _text(entry.get("expires_at")) or None,
        )
        for entry in _entries(payload)
    )


def _entries(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The listing's entries that name a model."""
    models = payload.get("models")
    items = models if isinstance(models, list) else []
    return [item for item in items if isinstance(item, dict) and _text(item.get("name"))]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    return int(value) if number and math.isfinite(value) else None


def probe_timeout(timeout: float) -> float:
    return min(timeout, PROBE_TIMEOUT_CAP)


def gather_all(hosts: Sequence[Host], timeout: float) -> list[HostFacts]:
    """Every host at once, so a silent host costs one timeout, not one per host."""
    results = [HostFacts(host.url, error="the check failed") for host in hosts]  # until done

    def probe(index: int) -> None:
        results[index] = gather(hosts[index], timeout)

    each_at_once(probe, range(len(hosts)))
    return results


def gather(host: Host, timeout: float) -> HostFacts:
    facts = HostFacts(host.url, api=host.api)
    try:
        if host.api == OPENAI:
            served = connect(host, timeout=timeout).models()
            facts.models = tuple(Available(name) for name in served)
            return facts
        facts.version = _text(_get(host, "/api/version", timeout).get("version")) or None
        facts.models = parse_models(_get(host, "/api/tags", timeout))
        facts.loaded = parse_loaded(_get(host, "/api/ps", timeout))
    except HostUnreachable as error:
        return facts.replace(reachable=False, error=unreachable_message([error]))
    except RewriteError as error:  # a server error, or a listing that names no model
        return facts.replace(error=str(error))
    return facts


def _get(host: Host, path: str, timeout: float) -> dict[str, Any]:
    with wire.request(host, "GET", path, timeout=timeout) as response:
        if response.status in (401, 403):
            raise access_denied(host, response.status, wire.error_message(response))
        if response.status >= 400:
            what = f"HTTP {response.status} to {path}: {wire.error_message(response)[:200]}"
            raise ServerError(f"the server at {host} answered {what}", host=host.url)
        value = response.json()
    if not isinstance(value, dict):
        raise ServerError(f"the server at {host} answered {path} with {value!r:.80}", host=host.url)
    return value


def render_text(
    judged: Sequence[tuple[HostFacts, Judgement]], model: str, num_ctx: int | None, now: float
) -> str:
    ctx = f"num_ctx {num_ctx}" if num_ctx is not None else "num_ctx not set (Ollama's default)"
    blocks = [f"model {model}, {ctx}\n"]
    for facts, judgement in judged:
        lines = [facts.url + _speaks(facts)]
        if facts.reachable and facts.error is None:
            available = [_available_text(m) for m in facts.models] or ["none"]
            lines += [f"  available  {item}" for item in available]
            if facts.api == OLLAMA:
                loaded = [_loaded_text(m, now) for m in facts.loaded] or ["none"]
                lines += [f"  loaded     {item}" for item in loaded]
        lines += _routing_lines(facts.routing)
        lines.append(judgement.verdict)
        lines += [f"warning: {warning}" for warning in judgement.warnings]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _routing_lines(routing: Mapping[str, Any] | None) -> list[str]:
    if routing is None:
        return []
    if routing["state"] == "up":
        state = "up"
    else:
        until = datetime.fromtimestamp(routing["down_until"]).strftime("%H:%M:%S")
        failures = routing["failures"]
        state = f"down until {until} ({failures} failure{'s' if failures != 1 else ''} in a row)"
        state += f": {' '.join(routing['last_error'].split())[:200]}"
    p50 = routing["first_token_p50_ms"]
    first = f"{p50:.0f} ms (median of {routing['first_tokens']})" if p50 is not None else "none yet"
    return [
        f"  state      {state}",
        f"  in flight  {routing['in_flight']} (weight {routing['weight']:g})",
        f"  first token {first}",
    ]


def routing_facts(hosts: Sequence[Host], found: list[HostFacts]) -> list[HostFacts]:
    """With several hosts: tell the shared record what was found, and add what it knows."""
    from . import paths
    from .hostbook import HostBook

    book = HostBook(paths.cache_dir())
    try:
        for host, facts in zip(hosts, found, strict=True):
            if not facts.reachable:
                book.failed(host.url, facts.error or "unreachable")
            elif facts.error is None:
                book.recovered(host.url)
                if host.api == OLLAMA:
                    book.has_loaded(host.url, [model.name for model in facts.loaded])
        views = book.views([host.url for host in hosts])
    finally:
        book.close()
    now = time.time()
    return [
        facts.replace(
            routing={
                "state": "down" if views[host.url].is_down(now) else "up",
                "down_until": views[host.url].down_until,
                "failures": views[host.url].failures,
                "last_error": views[host.url].last_error,
                "in_flight": views[host.url].in_flight,
                "weight": host.weight,
                "first_token_p50_ms": views[host.url].first_token_ms(0.5),
                "first_tokens": len(views[host.url].first_tokens),
            }
        )
        for host, facts in zip(hosts, found, strict=True)
    ]


def _speaks(facts: HostFacts) -> str:
    if facts.api == OPENAI:
        return ", OpenAI-compatible API"
    return f", Ollama {facts.version}" if facts.version else ", Ollama API"


def _available_text(model: Available) -> str:
    about = [model.parameter_size, model.quantization_level, size_words(model.size)]
    shown = ", ".join(part for part in about if part)
    return f"{model.name} ({shown})" if shown else model.name


def _loaded_text(model: Loaded, now: float) -> str:
    about = [placement(cpu_share(model.size, model.size_vram))]
    if model.context_length is not None:
        about.append(f"context {model.context_length}")
    about.append(expiry_words(seconds_left(model.expires_at, now)) or "")
    return f"{model.name} ({', '.join(part for part in about if part)})"


def size_words(size: int) -> str:
    """Bytes in decimal units, as Ollama prints them."""
    if size <= 0:
        return ""
    if size >= 10**9:
        return f"{size / 10**9:.1f} GB"
    return f"{max(1, round(size / 10**6))} MB"


def render_json(
    judged: Sequence[tuple[HostFacts, Judgement]],
    model: str,
    num_ctx: int | None,
    now: float,
    others: Sequence[OtherModel] = (),
) -> str:
    hosts = [
        {
            **facts.as_dict(),
            "models": [m.as_dict() for m in facts.models],
            "loaded": [_loaded_json(m, now) for m in facts.loaded],
            "verdict": judgement.verdict,
            "warnings": list(judgement.warnings),
        }
        for facts, judgement in judged
    ]
    document = {
        "model": model,
        "num_ctx": num_ctx,
        "hosts": hosts,
        "other_models": [other.as_dict() for other in others],
    }
    return json.dumps(document, ensure_ascii=False) + "\n"


def _loaded_json(model: Loaded, now: float) -> dict[str, Any]:
    left = seconds_left(model.expires_at, now)
    return {
        **model.as_dict(),
        "cpu_share": round(cpu_share(model.size, model.size_vram), 4),
        "expires_in_seconds": None if left is None else round(left),
    }


@guarded
def status_command(argv: list[str]) -> int:
    about = (
        "Show each server's API and models, what is loaded (Ollama), and whether the model "
        "is ready."
    )
    parser = command_parser("status", about)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    settings = settings_from(args)
    num_ctx = _count(settings.options.get("num_ctx"))
    timeout = probe_timeout(settings.timeout)
    found = gather_all(settings.hosts, timeout)
    if len(settings.hosts) > 1:
        found = routing_facts(settings.hosts, found)
    now = time.time()
    model = settings.model if args.model else settings.model_for(settings.default_action)
    judged = [(facts, judge(facts, model, num_ctx, now)) for facts in found]
    others = other_models(settings, model, found, num_ctx, now)
    if args.json:
        write(render_json(judged, model, num_ctx, now, others))
    else:
        write(render_text(judged, model, num_ctx, now) + render_others(others))
    return exit_code_for(judgement.state for _, judgement in judged)


class OtherModel(Record):
    """A model some actions name, other than the one judged above, and where it can run."""

    __slots__ = ("actions", "model", "ready_on")

    def __init__(self, model: str, actions: tuple[str, ...], ready_on: tuple[str, ...]) -> None:
        self.model = model
        self.actions = actions
        self.ready_on = ready_on  # the hosts that have it (loaded or not)


def other_models(
    settings: Settings, model: str, found: Sequence[HostFacts], num_ctx: int | None, now: float
) -> list[OtherModel]:
    """Every other model the actions use, each with the hosts that could run it."""
    users: dict[str, list[str]] = {}
    for name in sorted(settings.actions):
        used = settings.model_for(name)
        if model_key(used) != model_key(model):
            users.setdefault(used, []).append(name)
    return [
        OtherModel(
            used,
            tuple(names),
            tuple(
                facts.url
                for facts in found
                if judge(facts, used, num_ctx, now).state in (READY, COLD)
            ),
        )
        for used, names in users.items()
    ]


def render_others(others: Sequence[OtherModel]) -> str:
    lines = []
    for other in others:
        who = ", ".join(other.actions)
        if other.ready_on:
            lines.append(f"{other.model} ({who}): on {', '.join(other.ready_on)}")
        else:
            fix = f"`rewrite pull {other.model}`, or another model: for these actions"
            lines.append(f"warning: {other.model} ({who}) is on no server: {fix}")
    return ("\nother models the actions use\n" + "\n".join(lines) + "\n") if lines else ""
