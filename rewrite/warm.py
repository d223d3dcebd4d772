"""Keep the model loaded: one warm-up call, and a keeper that repeats it while a process runs.

For Ollama a warm-up is an empty `/api/chat` with the same `keep_alive` and options every
rewrite sends, so Ollama loads the model exactly as a rewrite would need it (different
load-time options would make the next rewrite reload it). It has no timeout: closing the
connection during a load aborts the load. An OpenAI-compatible server keeps its models
loaded itself: it is sent one tiny request, once, which also fills its prompt cache.
"""

from __future__ import annotations

import re
import threading
import time

from .errors import UsageError
from .hosts import OLLAMA
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .backend import Chat
    from .config import Settings
    from .engine import Engine
    from .hosts import Host

LONGEST_REFRESH_SECONDS = 300.0  # also notices a restarted server or a model unloaded by others
RETRY_SECONDS = 10.0
WARM_TEXT = "Hi"
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class WarmResult(Record):
    """Where the model was loaded, and how long that took (a load reply carries no timings)."""

    __slots__ = ("api", "host", "model", "wall_ms")

    def __init__(self, model: str, host: str, wall_ms: float, api: str = "ollama") -> None:
        self.model = model
        self.host = host
        self.wall_ms = wall_ms
        self.api = api


def warm_up(engine: Engine, model: str | None = None) -> WarmResult:
    """Load `model` (default: the configured one) on the first host that has it; with
    several hosts, on every host that serves it (config routing.warm), and say where first."""
    from .routing import route

    settings = engine.settings
    name = model or settings.model_for(settings.default_action)
    if len(settings.hosts) > 1:
        ready, failed = warm_hosts(engine, name)
        if ready:
            return ready[0]
        raise engine.router.telling(name, [error for _, error in failed])
    chat = _warm_chat(settings, name)
    started = time.perf_counter()
    server, _ = route(settings, name, engine.cache, lambda s: s.warm(chat), warn=engine.warn)
    wall_ms = round((time.perf_counter() - started) * 1000, 3)
    return WarmResult(name, server.host.url, wall_ms, server.api)


def warm_hosts(
    engine: Engine, model: str | None = None
) -> tuple[list[WarmResult], list[tuple[Host, BaseException]]]:
    """Load `model` on each host that serves it (all of them, or the `routing.warm` best),
    at once; what became ready, and what failed where."""
    settings, router = engine.settings, engine.router
    name = model or settings.model_for(settings.default_action)
    hosts = router.order(name)
    count = settings.routing.warm
    chosen = hosts if count == "all" else hosts[: int(count)]
    ready: list[WarmResult] = []
    failed: list[tuple[Host, BaseException]] = []

    def warm(host: Host) -> None:
        started = time.perf_counter()
        try:
            router.server(host).warm(_warm_chat(settings, name))
        except Exception as error:
            router.note_failure(host, error)
            failed.append((host, error))
            return
        router.book.answered(host.url, name, None)
        wall_ms = round((time.perf_counter() - started) * 1000, 3)
        ready.append(WarmResult(name, host.url, wall_ms, host.api))

    from .threads import each_at_once

    each_at_once(warm, chosen)
    by_place = {host.url: place for place, host in enumerate(chosen)}
    ready.sort(key=lambda result: by_place[result.host])
    return ready, failed


def _warm_chat(settings: Settings, model: str) -> Chat:
    from .backend import Chat

    return Chat(model, _warm_messages(settings), dict(settings.options), settings.keep_alive)


def _warm_messages(settings: Settings) -> list[dict[str, str]]:
    """The default action's prompt around a word: an OpenAI-compatible server answers one
    token of it and keeps the prompt's fixed part cached (Ollama is sent an empty chat)."""
    from .actions import build_messages

    action = settings.actions.get(settings.lsp.prefetch or "") or settings.actions.get("fix")
    try:
        return build_messages(action, WARM_TEXT, {}) if action else []
    except UsageError:  # an action whose parameters have no defaults
        return []


def keep_alive_seconds(keep_alive: str | float) -> float | None:
    """Seconds a model stays loaded after a request; None for "forever" (negative)."""
    if isinstance(keep_alive, (int, float)):
        seconds = float(keep_alive)
    else:
        sign = -1.0 if keep_alive.startswith("-") else 1.0
        parts = _DURATION_PART.findall(keep_alive)
        seconds = sign * sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return None if seconds < 0 else seconds


def refresh_seconds(keep_alive: str | float) -> float | None:
    """How long after a warm-up to warm up again; None when keeping warm is pointless
    (keep_alive 0 unloads the model after every request)."""
    seconds = keep_alive_seconds(keep_alive)
    if seconds is None:
        return LONGEST_REFRESH_SECONDS
    if seconds == 0:
        return None
    return min(max(seconds * 0.8, 0.5), LONGEST_REFRESH_SECONDS)


class KeepWarm:
    """Loads the model when started and keeps it loaded until stopped, from a daemon thread.

    `state` is "loading", "warm" or "error: ..." for a toolbar; `on_change` hears each change.
    """

    def __init__(
        self,
        engine: Engine,
        model: str | None = None,
        *,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.model = model
        self.state = "loading"
        self.error: BaseException | None = None  # what the last warm-up failed with
        self.warm_ups = 0
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rewrite-keep-warm", daemon=True)

    def start(self) -> KeepWarm:
        self._thread.start()
        if len(self.engine.settings.hosts) > 1:  # which host has what loaded, which is down
            from .pool import watch

            args = (self.engine.router, self._stop)
            threading.Thread(target=watch, args=args, name="rewrite-hosts", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = refresh_seconds(self.engine.settings.keep_alive)
        while not self._stop.is_set():
            try:
                result = warm_up(self.engine, self.model)
            except Exception as error:  # a thread's failure would otherwise print a traceback
                self.error = error
                self._set_state(f"error: {error}")
                pause = RETRY_SECONDS if interval is None else min(interval, RETRY_SECONDS)
            else:
                self.warm_ups += 1
                self.error = None
                self._set_state("warm")
                if interval is None or result.api != OLLAMA:  # the others keep models loaded
                    return
                pause = interval
            self._stop.wait(pause)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self._on_change:
                self._on_change(state)
