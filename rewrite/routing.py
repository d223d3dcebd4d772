"""Which server a request goes to: the first configured host that answers and has the model.

When no host answers and one of them is this machine's, `ollama serve` may be started for
it (config `autostart`); a remote host is never started.
"""

from __future__ import annotations

from .backend import Ollama
from .errors import HostUnreachable, ModelNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from .cache import Cache, ModelInfo
    from .config import Settings
    from .hosts import Host

    T = TypeVar("T")

_LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")


def route(
    settings: Settings,
    model: str,
    memo: Cache | None,
    call: Callable[[Ollama, ModelInfo], T],
    *,
    warn: Callable[[str], None] | None = None,
) -> tuple[Ollama, T]:
    """Run `call` on the first host that is up and has the model."""
    unreachable: list[HostUnreachable] = []
    missing: list[str] = []
    for host in settings.hosts:
        server = Ollama(host, timeout=settings.timeout, memo=memo)
        try:
            return server, call(server, server.model_info(model))
        except HostUnreachable as error:
            unreachable.append(error)
        except ModelNotFound:
            server.forget(model)
            missing.append(host.url)
    if missing:
        raise ModelNotFound(model, host=", ".join(missing))
    started = _start_local_server(settings, warn)
    if started is not None:
        server = Ollama(started, timeout=settings.timeout, memo=memo)
        return server, call(server, server.model_info(model))
    hosts = tuple(host for error in unreachable for host in error.hosts)
    raise HostUnreachable(unreachable_message(unreachable), hosts=hosts)


def known_digest(settings: Settings, model: str, memo: Cache) -> str:
    """The model's digest as last reported by a configured host, or "" (no request made)."""
    for host in settings.hosts:
        info = memo.model_info(f"{host.url} {model}")
        if info is not None:
            return info.digest
    return ""


def may_autostart(host: Host, setting: bool | None) -> bool:
    """`autostart: true` allows any host on this machine; unset, only the default one."""
    if setting is False or host.scheme != "http" or host.host not in _LOCAL_NAMES:
        return False
    return setting is True or host.is_local_default


def _start_local_server(settings: Settings, warn: Callable[[str], None] | None) -> Host | None:
    candidates = [h for h in settings.hosts if may_autostart(h, settings.autostart)]
    if not candidates:
        return None
    from .autostart import start_ollama

    return candidates[0] if start_ollama(candidates[0], warn) else None


def unreachable_message(errors: list[HostUnreachable]) -> str:
    """What went wrong at each host, and what to do about it."""
    import shutil

    hosts = [host for error in errors for host in error.hosts]
    local = any(h.startswith(("http://127.", "http://localhost", "http://[::1]")) for h in hosts)
    if local and shutil.which("ollama") is None:
        fix = (
            "Ollama is not installed here: get it from https://ollama.com/download, "
            "then run `ollama serve`"
        )
    else:
        fix = "start it with `ollama serve`, or point OLLAMA_HOST or --host at a running server"
    return "; ".join([*(str(error) for error in errors), fix])
