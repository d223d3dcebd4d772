"""Every file location rewrite uses, from the XDG base directories.

Resolved on each call (not at import) so tests and users can point them elsewhere with
the environment alone. Plain strings and os.path: pathlib costs the command line's
start-up several milliseconds.
"""

from __future__ import annotations

import os

APP = "rewrite"


def _xdg(variable: str, fallback: str) -> str:
    value = os.environ.get(variable, "")
    # The spec says relative values are invalid and must be ignored.
    base = value if os.path.isabs(value) else os.path.join(os.path.expanduser("~"), fallback)
    return os.path.join(base, APP)


def config_dir() -> str:
    return _xdg("XDG_CONFIG_HOME", ".config")


def cache_dir() -> str:
    return _xdg("XDG_CACHE_HOME", ".cache")


def state_dir() -> str:
    return _xdg("XDG_STATE_HOME", os.path.join(".local", "state"))


def default_config_file() -> str:
    return os.path.join(config_dir(), "config.yaml")
