"""rewrite: rewrite short text with a local language model, fast.

The public API; everything else is private. Names load on first use, so that
`import rewrite` stays cheap on the command line's hot path.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Engine": "engine",
    "RewriteRequest": "results",
    "RewriteResult": "results",
    "RewriteStream": "engine",
    "Timings": "results",
    "Settings": "config",
    "Overrides": "config",
    "load_settings": "config",
    "Action": "actions",
    "RewriteError": "errors",
    "UsageError": "errors",
    "ConfigError": "errors",
    "InputError": "errors",
    "ServerError": "errors",
    "RejectedReply": "errors",
    "HostUnreachable": "errors",
    "ModelNotFound": "errors",
    "Cancelled": "errors",
    "rewrite_async": "aio",
    "stream_async": "aio",
}
__all__ = [
    "Action",
    "Cancelled",
    "ConfigError",
    "Engine",
    "HostUnreachable",
    "InputError",
    "ModelNotFound",
    "Overrides",
    "RejectedReply",
    "RewriteError",
    "RewriteRequest",
    "RewriteResult",
    "RewriteStream",
    "ServerError",
    "Settings",
    "Timings",
    "UsageError",
    "__version__",
    "load_settings",
    "rewrite_async",
    "stream_async",
]

if TYPE_CHECKING:
    from .actions import Action
    from .aio import rewrite_async, stream_async
    from .config import Overrides, Settings, load_settings
    from .engine import Engine, RewriteStream
    from .errors import (
        Cancelled,
        ConfigError,
        HostUnreachable,
        InputError,
        ModelNotFound,
        RejectedReply,
        RewriteError,
        ServerError,
        UsageError,
    )
    from .results import RewriteRequest, RewriteResult, Timings


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rewrite' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
