"""Pulling a model into an Ollama server, with progress: the core of `rewrite pull`.

    host_url = pull_model(settings, "qwen2.5:1.5b", on_progress=print)

The model goes to the first configured host that answers; a host that refuses the
connection (or does not answer within the connect timeout) is skipped, as a rewrite skips
it. Once a host has answered, its failure is final: the same model library stands behind
every host, so another one would fail the same way.

This uses the official `ollama` client: a pull takes minutes, so its import (about 0.25 s
for httpx and pydantic) does not matter here. It is imported inside the functions, so that
importing this module costs a rewrite nothing.

Timeouts are explicit, never infinite: 5 s to connect, and a generous read timeout,
because Ollama may stay silent between progress lines (it hashes every downloaded layer
after "verifying sha256 digest"). The read timeout is PULL_READ_TIMEOUT (300 s) unless the
settings carry a `timeout` other than the default (60 s, sized for rewrites): a timeout
the user chose, in the config file or in code, is the longest silence they accept from
any server, a pull included.

Every failure of the client is translated into the core's errors at one boundary,
`translate_error` (always `raise ... from` the original):

    ollama.ResponseError, unknown model        ModelNotFound ("does not exist in the library")
    ollama.ResponseError, HTTP 400             UsageError (e.g. an invalid model name)
    ollama.ResponseError, other / mid-stream   ServerError
    httpx.ConnectError, httpx.ConnectTimeout   HostUnreachable (the next host is tried)
    httpx.ReadTimeout                          ServerError ("sent nothing for N s")
    other httpx.HTTPError (transport, protocol,
      decoding, redirects, other timeouts)     ServerError
    httpx.InvalidURL                           UsageError
    ValueError (malformed JSON or fields)      ServerError
    ConnectionRefusedError                     HostUnreachable
    other OSError                              ServerError

The client reaches the host as a rewrite does: no proxy from the environment (the server,
not this client, downloads the model) and, over https, the system's certificates.

Interrupting a pull (KeyboardInterrupt) closes the connection, which makes Ollama stop;
it keeps the partial download and resumes it when the same model is pulled again.
"""

from __future__ import annotations

from .errors import (
    HostUnreachable,
    ModelNotFound,
    RewriteError,
    ServerError,
    UsageError,
)
from .hosts import OLLAMA
from .record import Record
from .routing import unreachable_message
from .settings import DEFAULT_TIMEOUT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from ollama import ProgressResponse, ResponseError

    from .config import Settings
    from .hosts import Host

CONNECT_TIMEOUT = 5.0
PULL_READ_TIMEOUT = 300.0
LIBRARY_URL = "https://ollama.com/library"
_UNKNOWN_MODEL_MARKERS = ("file does not exist", "manifest unknown")
_NO_SUCH_PATH = "404 page not found"  # Gin's answer: not an Ollama endpoint


class PullProgress(Record):
    """One progress line of a pull, with byte counts summed over the layers seen so far.

    `layer` is the digest of the layer being pulled (None for "pulling manifest",
    "verifying sha256 digest", ...); `layer_completed` and `layer_total` are its own bytes.
    """

    __slots__ = ("completed", "layer", "layer_completed", "layer_total", "status", "total")

    def __init__(
        self,
        status: str,
        completed: int = 0,
        total: int = 0,
        layer: str | None = None,
        layer_completed: int = 0,
        layer_total: int = 0,
    ) -> None:
        self.status = status
        self.completed = completed
        self.total = total
        self.layer = layer
        self.layer_completed = layer_completed
        self.layer_total = layer_total


class _Tally:
    """Bytes per layer, from progress lines that may omit `completed` (or `total`)."""

    def __init__(self) -> None:
        self.layers: dict[str, tuple[int, int]] = {}
        self.succeeded = False

    def add(self, part: ProgressResponse) -> PullProgress:
        status = part.status or ""
        self.succeeded = self.succeeded or status == "success"
        digest = part.digest or None
        if digest is None:
            done, size = 0, 0
        else:
            known_done, known_size = self.layers.get(digest, (0, 0))
            done = known_done if part.completed is None else part.completed
            size = known_size if part.total is None else part.total
            self.layers[digest] = (done, size)
        return PullProgress(
            status,
            completed=sum(layer[0] for layer in self.layers.values()),
            total=sum(layer[1] for layer in self.layers.values()),
            layer=digest,
            layer_completed=done,
            layer_total=size,
        )


def pull_read_timeout(settings: Settings) -> float:
    """Seconds a pull waits for the next progress line (see the module docstring)."""
    return PULL_READ_TIMEOUT if settings.timeout == DEFAULT_TIMEOUT else settings.timeout


def pull_model(settings: Settings, model: str, on_progress: Callable[[PullProgress], None]) -> str:
    """Pull `model` into the first host that answers; return that host's URL.

    `on_progress` is called for every progress line, in this thread. Raises RewriteError
    subclasses only (and whatever `on_progress` raises, unchanged).
    """
    read_timeout = pull_read_timeout(settings)
    unreachable: list[HostUnreachable] = []
    ollama_hosts = [host for host in settings.hosts if host.api == OLLAMA]
    if not ollama_hosts:
        raise UsageError(
            "pulling a model is Ollama's; "
            + ", ".join(host.url for host in settings.hosts)
            + " speaks the OpenAI API: load models there with the server's own tools"
        )
    for host in ollama_hosts:
        try:
            _pull_from(host, model, read_timeout, on_progress)
        except HostUnreachable as error:
            unreachable.append(error)
            continue
        return host.url
    hosts = tuple(host for error in unreachable for host in error.hosts)
    raise HostUnreachable(unreachable_message(unreachable), hosts=hosts) from (
        unreachable[-1] if unreachable else None
    )


def _pull_from(
    host: Host, model: str, read_timeout: float, on_progress: Callable[[PullProgress], None]
) -> None:
    import httpx
    import ollama

    failures = client_errors()

    def translated(exc: Exception) -> RewriteError:
        return translate_error(exc, host, model, read_timeout)

    timeout = httpx.Timeout(read_timeout, connect=min(CONNECT_TIMEOUT, read_timeout))
    try:
        client = ollama.Client(host=host.url, timeout=timeout, **_connection_options(host))
        stream = client.pull(model, stream=True)  # sends nothing before the first next()
    except failures as exc:
        raise translated(exc) from exc
    tally = _Tally()
    try:
        while (part := _next_part(stream, failures, translated)) is not None:
            on_progress(tally.add(part))
    finally:
        _close(stream, client)
    if not tally.succeeded:
        raise ServerError(
            f"the server at {host} ended the pull of {model} before it finished", host=host.url
        )


def _connection_options(host: Host) -> dict[str, Any]:
    """Reach the host the way a rewrite does: directly (the server itself downloads the
    model, so a proxy from the environment has no business on this hop), and over https
    with the system's certificate store."""
    options: dict[str, Any] = {"trust_env": False, "headers": host.request_headers()}
    if host.scheme == "https":
        import ssl

        options["verify"] = ssl.create_default_context()
    return options


def _next_part(
    stream: Iterator[ProgressResponse],
    failures: tuple[type[Exception], ...],
    translated: Callable[[Exception], RewriteError],
) -> ProgressResponse | None:
    """The next progress line, or None at the end; only the client's errors are translated."""
    try:
        return next(stream)
    except StopIteration:
        return None
    except failures as exc:
        raise translated(exc) from exc


def client_errors() -> tuple[type[Exception], ...]:
    """The exception families the `ollama` client and httpx raise for a failed pull."""
    import httpx
    import ollama

    # ValueError: a line that is not JSON (json.JSONDecodeError) or has fields of the wrong
    # type (pydantic.ValidationError); OSError: a socket error that escaped httpx.
    return (ollama.ResponseError, httpx.HTTPError, httpx.InvalidURL, ValueError, OSError)


def translate_error(exc: Exception, host: Host, model: str, read_timeout: float) -> RewriteError:
    """The core's error for a failure of the `ollama` client or httpx while pulling."""
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        return _response_error(exc, host, model)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, ConnectionRefusedError)) or (
        type(exc) is ConnectionError  # the client's own "Failed to connect to Ollama"
    ):
        return HostUnreachable(
            f"no Ollama server answers at {host} ({_reason(exc)})", hosts=(host.url,)
        )
    if isinstance(exc, httpx.ReadTimeout):
        return ServerError(
            f"the server at {host} sent nothing for {read_timeout:g} s while pulling {model} "
            "(timeout)",
            host=host.url,
        )
    if isinstance(exc, httpx.InvalidURL):
        return UsageError(f"cannot pull from {host}: {_reason(exc)}")
    if isinstance(exc, ValueError):  # json.JSONDecodeError, pydantic.ValidationError
        return ServerError(
            f"the server at {host} sent a malformed progress line while pulling {model}: "
            f"{_reason(exc).splitlines()[0]}",
            host=host.url,
        )
    status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
    return ServerError(
        f"the server at {host} broke off the pull of {model}: {_reason(exc)}",
        host=host.url,
        status=status,
    )


def _response_error(exc: ResponseError, host: Host, model: str) -> RewriteError:
    message = str(exc.error).strip()
    status = exc.status_code if exc.status_code > 0 else None
    if status in (401, 403):
        from .backend import access_denied

        return access_denied(host, status, message)
    unknown = any(marker in message.lower() for marker in _UNKNOWN_MODEL_MARKERS)
    if unknown or (status == 404 and message != _NO_SUCH_PATH):
        return ModelNotFound(
            model,
            host=host.url,
            message=f"model '{model}' does not exist in the Ollama library: check the name "
            f"({LIBRARY_URL} lists them); the server at {host} said: {message}",
        )
    if status == 400:
        return UsageError(f"the server at {host} refused to pull '{model}': {message}")
    answered = f"answered HTTP {status}: " if status else "failed mid-pull: "
    return ServerError(
        f"the server at {host} could not pull {model}: {answered}{message}",
        host=host.url,
        status=status,
    )


def _close(*resources: object) -> None:
    """Close the response stream (a generator) and the client's connections.

    Looked up by name: the stream is typed as a plain iterator, and `Client.close`
    is untyped (and missing before ollama 0.6.2).
    """
    for resource in resources:
        close = getattr(resource, "close", None)
        if callable(close):
            close()


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
