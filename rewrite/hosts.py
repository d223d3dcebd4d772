"""Server addresses: parsed the way Ollama reads OLLAMA_HOST, plus the API each one speaks
and how to authenticate to it.

A URL whose path ends in `/v1` is an OpenAI-compatible server (llama.cpp, vLLM, LM Studio,
LiteLLM, Ollama's own /v1); anything else speaks Ollama's native API. Secrets never live in
a Host: it holds the NAMES of environment variables (`api_key_env`, `${NAME}` in header
templates), read when a request is sent, and `user:pass@` from the URL, which is shown only
as the user name.
"""

from __future__ import annotations

import os
import re

from .errors import ConfigError
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_HOST = "http://127.0.0.1:11434"
OLLAMA, OPENAI = "ollama", "openai"
APIS = (OLLAMA, OPENAI)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_OLLAMA_PORT = 11434
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SCHEME_WORD = re.compile(r"(Bearer|Basic|Token|Bot) ")


class Host(Record):
    """One server: where to connect, which API it speaks, and how to authenticate."""

    __slots__ = (
        "api",
        "api_key_env",
        "credentials",
        "headers",
        "host",
        "models",
        "path",
        "port",
        "scheme",
        "weight",
    )

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        path: str = "",
        api: str | None = None,
        api_key_env: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        credentials: tuple[str, str] | None = None,
        weight: float = 1.0,
        models: tuple[str, ...] = (),
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.api = api or (OPENAI if path.endswith("/v1") else OLLAMA)
        self.api_key_env = api_key_env  # the NAME of a variable holding a bearer token
        self.headers = headers  # (name, template); templates may hold ${VARIABLE}
        self.credentials = credentials  # (user, password) from user:pass@ in the URL
        self.weight = weight  # its share of the requests, against the other hosts' weights
        self.models = models  # the only models sent to it; empty: any

    @property
    def url(self) -> str:
        """The base URL, without credentials: safe to show."""
        return f"{self.scheme}://{self.address}{self.path}"

    @property
    def address(self) -> str:
        """host:port, the IPv6 address in brackets, as OLLAMA_HOST takes it."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        return f"{name}:{self.port}"

    @property
    def is_local_default(self) -> bool:
        return self.url == DEFAULT_HOST and self.api == OLLAMA

    @property
    def is_openai(self) -> bool:
        return self.api == OPENAI

    @property
    def kind(self) -> str:
        """What to call the server in a message."""
        return "OpenAI-compatible server" if self.is_openai else "Ollama server"

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"Host({self.describe()!r})"

    def as_dict(self) -> dict[str, Any]:
        return self.describe()

    def describe(self) -> dict[str, Any]:
        """The host as the config file would say it, with every secret left out."""
        shown: dict[str, Any] = {"url": self.url, "api": self.api}
        if self.api_key_env:
            shown["api_key_env"] = self.api_key_env
        if self.headers:
            shown["headers"] = {name: masked(template) for name, template in self.headers}
        if self.credentials:
            shown["basic_auth_user"] = self.credentials[0]
        if self.weight != 1:
            shown["weight"] = self.weight
        if self.models:
            shown["models"] = list(self.models)
        return shown

    def serves(self, model: str) -> bool:
        """Whether requests for `model` may go here (the host's `models`, when it has any)."""
        return not self.models or model.lower() in (m.lower() for m in self.models)

    def request_headers(self) -> dict[str, str]:
        """The headers every request carries, with the environment read now. A header whose
        variable is unset is left out: the server's refusal then names the variable."""
        found: dict[str, str] = {}
        if self.credentials:
            import base64

            pair = ":".join(self.credentials).encode("utf-8")
            found["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        token = os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""
        if token:
            found["Authorization"] = f"Bearer {token}"
        for name, template in self.headers:
            value = expand(template)
            if value is not None:
                found[name] = value
        return found

    def missing_variables(self) -> list[str]:
        """The environment variables this host's auth names that are not set."""
        names = [self.api_key_env] if self.api_key_env else []
        names += [ref for _, template in self.headers for ref in references(template)]
        return [name for name in names if not os.environ.get(name, "").strip()]

    def auth_hint(self) -> str:
        """What to do when the server refuses us."""
        missing = self.missing_variables()
        if missing:
            return f"set {' and '.join(missing)} (named by this host's config), then try again"
        if self.api_key_env:
            return f"check the key in {self.api_key_env}"
        if self.credentials or self.headers:
            return "check the credentials this host's config gives"
        return (
            "give this host its key: in the config, hosts: [{url: "
            f"{self.url}, api_key_env: NAME_OF_A_VARIABLE_HOLDING_IT}}]"
        )


def references(template: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(template)]


def expand(template: str) -> str | None:
    """The template with each ${NAME} or $NAME replaced from the environment; None when a
    variable it names is unset or empty."""
    if any(not os.environ.get(name, "").strip() for name in references(template)):
        return None
    return _REFERENCE.sub(lambda m: os.environ[m[1] or m[2]].strip(), template)


def masked(template: str) -> str:
    """A header template fit to print: variable references and an auth scheme word stay,
    any other literal text (perhaps a secret written into the file) is hidden."""
    parts: list[str] = []
    position = 0
    for match in _REFERENCE.finditer(template):
        parts.append(_masked_literal(template[position : match.start()]))
        parts.append(f"${{{match[1] or match[2]}}}")
        position = match.end()
    parts.append(_masked_literal(template[position:]))
    return "".join(parts)


def _masked_literal(text: str) -> str:
    if not text or _SCHEME_WORD.fullmatch(text):
        return text
    return "<hidden>"


def parse_host(value: str, api: str | None = None) -> Host:
    """Parse `[scheme://][user:pass@]host[:port][/path]` as Ollama does.

    No scheme means http on port 11434; an explicit scheme without a port means its usual
    port; `:5678` means 127.0.0.1:5678; `0.0.0.0` is a bind address, so we connect to
    127.0.0.1 instead. `user:pass@` becomes Basic auth, as in Ollama's own client.
    """
    text = value.strip().strip("\"'")
    if _UNSAFE_CHARACTER.search(text):
        raise ConfigError(f"host {_safe(value)!r}: spaces and control characters do not belong")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, default_port = "http", text, _OLLAMA_PORT
    else:
        scheme = scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ConfigError(f"host {_safe(value)!r}: the scheme must be http or https")
        default_port = _DEFAULT_PORTS[scheme]
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    credentials = _credentials(userinfo) if at else None
    host, port = _split_host_port(hostport, default_port, _safe(value))
    path = f"/{path}".rstrip("/") if slash else ""
    return Host(scheme, _connectable(host), port, path, api=api, credentials=credentials)


def _credentials(userinfo: str) -> tuple[str, str]:
    from urllib.parse import unquote

    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


def _safe(value: str) -> str:
    """The host as typed, with a password in it hidden, for error messages."""
    return re.sub(r"(://|^)([^/@:]*):[^/@]*@", r"\1\2:***@", value.strip())


def _split_host_port(hostport: str, default_port: int, original: str) -> tuple[str, int]:
    if hostport.startswith("["):
        host, closed, after = hostport[1:].partition("]")
        if not closed or not _IPV6.fullmatch(host) or (after and not after.startswith(":")):
            raise ConfigError(f"host {original!r}: write an IPv6 address as [::1]:11434")
        port_text = after[1:]
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    else:  # a bare IPv6 address or a name without port
        host, port_text = hostport, ""
    if not (_NAME.fullmatch(host) or _IPV6.fullmatch(host)):
        raise ConfigError(f"host {original!r}: {host!r} is not a host name or address")
    if not port_text:
        return host, default_port
    if not _PORT.fullmatch(port_text) or not 0 < int(port_text) < 65536:
        raise ConfigError(f"host {original!r}: {port_text!r} is not a port number")
    return host, int(port_text)


_UNSAFE_CHARACTER = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_NAME = re.compile(r"[A-Za-z0-9_.-]*")  # empty: the port alone, as `:11434` means 127.0.0.1
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?")
_PORT = re.compile(r"[0-9]{1,5}")


def _connectable(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    return "::1" if host == "::" else host.lower()
