"""The one exception tree of rewrite.

    RewriteError                 base of everything the core raises on purpose
    ├── UsageError               the caller asked for something that cannot be done
    │   ├── ConfigError          a bad config file or setting (names file, line, key)
    │   └── InputError           unusable input: invalid UTF-8, too long, too large for the context
    │       └── TooLongForContext    more than one request can hold (a long text is split)
    ├── ServerError              the rewrite failed on the server: HTTP error, error line
    │   │                        mid-stream, malformed or truncated reply, a stall
    │   └── RejectedReply        the model answered, but the guard would not let it replace the text
    ├── HostUnreachable          no server answered at any configured host
    │   └── AccessDenied         a server answered, but refused us (HTTP 401/403)
    ├── ModelNotFound            the server does not have the model
    └── Cancelled                the caller stopped the rewrite (the HTTP stream was closed)

Network and HTTP failures are translated into this tree at two boundaries: the wire module
(every rewrite) and the pull module (the official client's errors); each door maps the
tree to its own way of telling the user (the CLI to exit codes).
"""

from __future__ import annotations


class RewriteError(Exception):
    """Base class of every error the core raises on purpose."""


class UsageError(RewriteError):
    """The request cannot be carried out as asked: fix the call, the config or the input."""


class ConfigError(UsageError):
    """A config file or setting is invalid."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class InputError(UsageError):
    """The input text cannot be sent to the model."""


class TooLongForContext(InputError):
    """The text does not fit the model's context with its prompt and reply."""


class ServerError(RewriteError):
    """The Ollama server failed the request."""

    def __init__(self, message: str, *, host: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.status = status


class RejectedReply(ServerError):
    """The model's reply was refused by the guard; the original text stands."""

    def __init__(self, reason: str, *, reply: str) -> None:
        super().__init__(f"the rewrite was rejected: {reason}")
        self.reason = reason
        self.reply = reply


class HostUnreachable(RewriteError):
    """No server could be reached; `api` is what the hosts speak ("ollama" or "openai")."""

    def __init__(self, message: str, *, hosts: tuple[str, ...] = (), api: str = "ollama") -> None:
        super().__init__(message)
        self.hosts = hosts
        self.api = api


class AccessDenied(HostUnreachable):
    """The server refused our credentials, or wants some (HTTP 401 or 403)."""


class ModelNotFound(RewriteError):
    """The model is not available on the server."""

    def __init__(
        self,
        model: str,
        *,
        host: str | None = None,
        message: str | None = None,
        pullable: bool = True,
    ) -> None:
        where = f" on {host}" if host else ""
        super().__init__(
            message or f"model '{model}' is not available{where}: run `rewrite pull {model}`"
        )
        self.model = model
        self.host = host
        self.pullable = pullable  # an Ollama server can download it; others cannot


class Cancelled(RewriteError):
    """The rewrite was stopped by its caller before it finished."""
