"""Which server a request goes to: the first configured host that answers and has the model.

When no host answers and one of them is this machine's Ollama, `ollama serve` may be started
for it (config `autostart`); a remote host, or one speaking the OpenAI API, is never started.
"""

from __future__ import annotations

from .backend import Backend, connect
from .errors import AccessDenied, HostUnreachable, ModelNotFound
from .hosts import OLLAMA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from .cache import Cache
    from .config import Settings
    from .hosts import Host

    T = TypeVar("T")

_LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")


def route(
    settings: Settings,
    model: str,
    memo: Cache | None,
    call: Callable[[Backend], T],
    *,
    warn: Callable[[str], None] | None = None,
) -> tuple[Backend, T]:
    """Run `call` on the first host that is up and has the model."""
    unreachable: list[HostUnreachable] = []
    missing: list[ModelNotFound] = []
    for host in settings.hosts:
        server = connect(host, timeout=settings.timeout, memo=memo)
        try:
            return server, call(server)
        except HostUnreachable as error:
            unreachable.append(error)
        except ModelNotFound as error:
            server.forget(model)
            missing.append(error)
    if missing:
        raise missing_model(model, missing)
    started = start_local_server(settings, warn)
    if started is not None:
        server = connect(started, timeout=settings.timeout, memo=memo)
        return server, call(server)
    hosts = tuple(host for error in unreachable for host in error.hosts)
    raise HostUnreachable(unreachable_message(unreachable), hosts=hosts)


def missing_model(model: str, errors: list[ModelNotFound]) -> ModelNotFound:
    if len(errors) == 1:
        return errors[0]
    if all(error.pullable for error in errors):
        return ModelNotFound(model, host=", ".join(str(error.host) for error in errors))
    return ModelNotFound(model, message="; ".join(str(error) for error in errors), pullable=False)


def may_autostart(host: Host, setting: bool | None) -> bool:
    """`autostart: true` allows any host on this machine; unset, only the default one."""
    if setting is False or host.api != OLLAMA:
        return False
    if host.scheme != "http" or host.host not in _LOCAL_NAMES:
        return False
    return setting is True or host.is_local_default


def start_local_server(settings: Settings, warn: Callable[[str], None] | None) -> Host | None:
    candidates = [h for h in settings.hosts if may_autostart(h, settings.autostart)]
    if not candidates:
        return None
    from .autostart import start_ollama

    return candidates[0] if start_ollama(candidates[0], warn) else None


def unreachable_message(errors: list[HostUnreachable]) -> str:
    """What went wrong at each host, and what to do about it."""
    import shutil

    refused = [error for error in errors if not isinstance(error, AccessDenied)]
    if not refused:  # each refusal already says which credentials to set
        return "; ".join(str(error) for error in errors)
    local_ollama = any(
        error.api == OLLAMA and host.startswith(("http://127.", "http://localhost", "http://[::1]"))
        for error in refused
        for host in error.hosts
    )
    if local_ollama and shutil.which("ollama") is None:
        fix = (
            "Ollama is not installed here: get it from https://ollama.com/download, "
            "then run `ollama serve`"
        )
    elif all(error.api == OLLAMA for error in refused):
        fix = "start it with `ollama serve`, or point OLLAMA_HOST or --host at a running server"
    else:
        fix = "start the server, or point --host or the config's hosts at a running one"
    return "; ".join([*(str(error) for error in errors), fix])
