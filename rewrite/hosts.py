"""Ollama server addresses, parsed the way Ollama itself reads OLLAMA_HOST."""

from __future__ import annotations

from .errors import ConfigError
from .record import Record

DEFAULT_HOST = "http://127.0.0.1:11434"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_OLLAMA_PORT = 11434


class Host(Record):
    """One Ollama server: where to connect, and the base URL to show the user."""

    __slots__ = ("host", "path", "port", "scheme")

    def __init__(self, scheme: str, host: str, port: int, path: str = "") -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path

    @property
    def url(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{name}:{self.port}{self.path}"

    @property
    def is_local_default(self) -> bool:
        return self.url == DEFAULT_HOST

    def __str__(self) -> str:
        return self.url


def parse_host(value: str) -> Host:
    """Parse `[scheme://]host[:port][/path]` as Ollama does.

    No scheme means http on port 11434; an explicit scheme without a port means its usual
    port; `:5678` means 127.0.0.1:5678; `0.0.0.0` is a bind address, so we connect to
    127.0.0.1 instead.
    """
    text = value.strip().strip("\"'")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, default_port = "http", text, _OLLAMA_PORT
    else:
        scheme = scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ConfigError(f"host {value!r}: the scheme must be http or https")
        default_port = _DEFAULT_PORTS[scheme]
    hostport, slash, path = rest.partition("/")
    host, port = _split_host_port(hostport, default_port, value)
    return Host(scheme, _connectable(host), port, f"/{path}".rstrip("/") if slash else "")


def _split_host_port(hostport: str, default_port: int, original: str) -> tuple[str, int]:
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    else:  # a bare IPv6 address or a name without port
        host, port_text = hostport, ""
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"host {original!r}: {port_text!r} is not a port number")
    return host, int(port_text)


def _connectable(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    return "::1" if host == "::" else host.lower()
