"""Start `ollama serve` on this machine when no server answers and the config allows it.

The server is started in its own session, so it outlives the command that started it,
listening where the host says (Ollama reads its bind address from OLLAMA_HOST); its output
goes to `$XDG_STATE_HOME/rewrite/ollama-serve.log`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from . import paths, wire
from .errors import RewriteError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .hosts import Host

READY_WITHIN_SECONDS = 20.0
_POLL_SECONDS = 0.1


def start_ollama(host: Host, warn: Callable[[str], None] | None = None) -> bool:
    """Start `ollama serve` for `host` and wait until it answers; False when it cannot."""
    executable = shutil.which("ollama")
    if executable is None:
        return False
    log_path = os.path.join(paths.state_dir(), "ollama-serve.log")
    try:
        os.makedirs(paths.state_dir(), mode=0o700, exist_ok=True)
        with open(log_path, "ab") as log:
            subprocess.Popen(
                [executable, "serve"],
                env={**os.environ, "OLLAMA_HOST": host.address},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
    except OSError as error:
        if warn:
            warn(f"could not start `ollama serve`: {error}")
        return False
    if warn:
        warn(f"started `ollama serve` for {host} (its log: {log_path})")
    return wait_until_up(host, READY_WITHIN_SECONDS)


def wait_until_up(host: Host, seconds: float) -> bool:
    """Whether `GET /` answers 200 within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with wire.request(host, "GET", "/", timeout=1.0, connect_timeout=1.0) as response:
                if response.status == 200:
                    return True
        except RewriteError:
            pass
        time.sleep(_POLL_SECONDS)
    return False
