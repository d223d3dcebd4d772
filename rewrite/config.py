"""Settings: resolved once, in this order: flags, environment, config file, defaults.

The config file is YAML (`$XDG_CONFIG_HOME/rewrite/config.yaml`, or `--config`, or
`REWRITE_CONFIG`). Every error names the file, the line and the key. PyYAML is imported
only when there is a file to read. The file must be a regular one of at most 1 MiB, and
its YAML aliases may add at most 10,000 nodes to it: any file loads in time linear in its
size. Model options are checked against the ones Ollama knows (`rewrite.options`).
"""

from __future__ import annotations

import gc
import os
import re
import stat

from . import paths
from .actions import (
    BUILTIN_ACTIONS,
    CONTENTS,
    CUSTOM_ACTION,
    LANGUAGES,
    LENGTHS,
    Action,
    Example,
    Profile,
)
from .errors import ConfigError
from .hosts import APIS, Host, parse_host
from .options import MODEL_OPTIONS, OptionError, close_option, parse_option, shown
from .settings import (  # re-exported: the settings are read as rewrite.config.Settings
    COMMANDS,
    LOAD_TIME_OPTIONS,
    MOST_CANDIDATES,
    CacheSettings,
    LspSettings,
    Overrides,
    RoutingSettings,
    Settings,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Any

__all__ = [
    "COMMANDS",
    "LOAD_TIME_OPTIONS",
    "MAX_ALIAS_EXPANSION",
    "MAX_CONFIG_BYTES",
    "CacheSettings",
    "LspSettings",
    "Overrides",
    "Settings",
    "config_path",
    "load_settings",
    "parse_keep_alive",
    "parse_yaml",
]

KeyPath = tuple[str, ...]
_GO_DURATION = re.compile(
    r"-?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))*"
)
_ACTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
MAX_CONFIG_BYTES = 1 << 20  # a config file is a few kilobytes; a bigger one is the wrong file
MAX_ALIAS_EXPANSION = 10_000  # nodes YAML aliases may add to a document, all told
_LINE_DEPTH = 5  # the key paths errors name are shorter (actions.x.options.num_ctx)
_MAX_WARNINGS = 10  # more are summed up in one line
_OPEN_FLAGS = (  # without waiting for a writer, becoming a terminal's reader, or leaking
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def config_path(overrides: Overrides) -> tuple[str, bool]:
    """The config file to read, and whether the user named it explicitly."""
    named = overrides.config or os.environ.get("REWRITE_CONFIG")
    return (os.path.expanduser(named), True) if named else (paths.default_config_file(), False)


def load_settings(
    overrides: Overrides | None = None,
    layers: Sequence[tuple[str, Any]] = (),
    *,
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Defaults, then the config file, then each of `layers` (a name and a mapping with the
    config file's keys, such as an editor's initializationOptions), then the environment
    and the flags. What is suspect but usable (a model option Ollama does not know) is told
    to `warn`, one line each, once the settings have loaded."""
    overrides = overrides or Overrides()
    path, explicit = config_path(overrides)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    warnings: list[str] = []
    file_used: str | None = None
    if explicit or os.path.exists(path):  # not isfile: a directory or a pipe is an error
        values, lines = _read_config(path, warnings)
        file_used = path
        sources.update({key[0]: f"{path}:{line}" for key, line in lines.items() if len(key) == 1})
    for name, data in layers:
        layer = _validate(data, {}, name, values, warnings)
        values.update(layer)
        sources.update(dict.fromkeys(layer, name))
    _apply_overrides(overrides, values, sources)
    settings = Settings(**values, config_file=file_used, sources=sources)
    _tell(warnings, warn)
    return settings


def _apply_overrides(overrides: Overrides, values: dict[str, Any], sources: dict[str, str]) -> None:
    if os.environ.get("OLLAMA_HOST", "").strip():
        values["hosts"] = _hosts([os.environ["OLLAMA_HOST"]], "OLLAMA_HOST")
        sources["hosts"] = "environment OLLAMA_HOST"
    if overrides.hosts:
        values["hosts"] = _hosts(list(overrides.hosts), "--host")
        sources["hosts"] = "--host"
    if overrides.model:
        values["model"] = overrides.model
        sources["model"] = "--model"


def _tell(warnings: list[str], warn: Callable[[str], None] | None) -> None:
    if warn is None:
        return
    for message in warnings[:_MAX_WARNINGS]:
        warn(message)
    if len(warnings) > _MAX_WARNINGS:
        warn(f"and {len(warnings) - _MAX_WARNINGS} more warnings about the settings")


def _hosts(raw: list[str], where: str) -> tuple[Host, ...]:
    try:
        return tuple(parse_host(value) for value in raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _read_config(path: str, warnings: list[str]) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    text = _read_text(path)
    collecting = gc.isenabled()
    gc.disable()  # a big document is many young objects, none garbage: collecting them over
    try:  # and over would make the load take more than linear time
        data, lines = parse_yaml(text, path)
        return _validate(data, lines, path, {}, warnings), lines
    finally:
        if collecting:
            gc.enable()


def _read_text(path: str) -> str:
    """The config file's text: a regular file of at most MAX_CONFIG_BYTES in UTF-8. It is
    checked before it is opened (a named pipe would block, a device is not to be touched)
    and again once open, without waiting, so what is read is what was checked."""
    try:
        _check_regular(os.stat(path).st_mode, path)
        fd = os.open(path, _OPEN_FLAGS)
        try:
            _check_regular(os.fstat(fd).st_mode, path)
            data = _read_at_most(fd, MAX_CONFIG_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise ConfigError("no such config file", path=path) from None
    except OSError as exc:
        message = f"cannot read the config file: {exc.strerror or exc}"
        raise ConfigError(message, path=path) from None
    if len(data) > MAX_CONFIG_BYTES:
        message = f"the config file is larger than {MAX_CONFIG_BYTES // 1024:,} KiB"
        raise ConfigError(f"{message}: is it the right file?", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read the config file: {exc}", path=path) from None


def _check_regular(mode: int, path: str) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a named pipe", stat.S_ISSOCK: "a socket"}
    kind = next((name for test, name in kinds.items() if test(mode)), "a device")
    raise ConfigError(f"the config file is not a regular file but {kind}", path=path)


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def parse_yaml(text: str, path: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML safely; also return the line of every mapping key, by key path (paths of
    up to _LINE_DEPTH keys). Aliases that would expand the document past
    MAX_ALIAS_EXPANSION nodes, or into itself, are refused before anything is built."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_aliases(node, text, path)
        lines = _key_lines(node, path)  # before construction, which rewrites merge keys
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(
            f"invalid YAML: {exc.problem or exc.context}", path=path, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path) from None
    except RecursionError:  # the pure-Python parser has no limit of its own
        raise ConfigError("invalid YAML: nested too deeply", path=path) from None
    finally:
        loader.dispose()


def _check_aliases(root: Any, text: str, path: str) -> None:
    """Refuse an alias inside the node it names (a cycle), and aliases that together add
    more than MAX_ALIAS_EXPANSION nodes to the document (an alias bomb). Every node is
    walked once, its expanded size remembered, so this is linear in the file."""
    import yaml

    if "&" not in text:
        return  # no anchor, so no alias: the document is a tree
    sizes: dict[int, int] = {}  # id of a node walked: its size with every alias expanded
    walking = {id(root)}
    stack = [(root, _children(root))]
    added = 0
    while stack:
        node, children = stack[-1]
        for child, line in children:
            if id(child) in sizes:
                added += sizes[id(child)]
                if added > MAX_ALIAS_EXPANSION:
                    message = f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION:,} values"
                    raise ConfigError(message, path=path, line=line)
            elif id(child) in walking:
                message = "a YAML alias refers to a node that contains it"
                raise ConfigError(message, path=path, line=line)
            elif isinstance(child, yaml.ScalarNode):
                sizes[id(child)] = 1
            else:
                walking.add(id(child))
                stack.append((child, _children(child)))
                break
        else:
            stack.pop()
            walking.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child, _ in _children(node))


def _children(node: Any) -> Iterator[tuple[Any, int]]:
    """The nodes inside `node`, each with the line an alias in its place is reported at."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            line = key.start_mark.line + 1
            yield key, line
            yield value, line
    elif isinstance(node, yaml.SequenceNode):
        line = node.start_mark.line + 1
        for item in node.value:
            yield item, line


def _key_lines(root: Any, path: str) -> dict[KeyPath, int]:
    """The line of each mapping key, by key path; a key twice in one mapping is an error.
    Merge keys (`<<: *base`) are left out: the keys they bring in are on other lines."""
    import yaml

    lines: dict[KeyPath, int] = {}
    pending: list[tuple[Any, KeyPath]] = [(root, ())]
    while pending:
        node, prefix = pending.pop()
        if not isinstance(node, yaml.MappingNode):
            continue
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # a mapping or list as a key fails when the document is built
            name, line = str(key_node.value), key_node.start_mark.line + 1
            if name in seen:
                raise ConfigError(
                    f"{'.'.join((*prefix, name))}: duplicate key", path=path, line=line
                )
            seen.add(name)
            key = (*prefix, name) if len(prefix) < _LINE_DEPTH else (*prefix[:-1], "…")
            lines.setdefault(key, line)
            pending.append((value_node, key))
    return lines


class _Checker:
    """Validates one config document, raising ConfigError with file, line and key."""

    def __init__(self, lines: dict[KeyPath, int], path: str, warnings: list[str]) -> None:
        self.lines = lines
        self.path = path
        self.warnings = warnings  # where `warn` puts what is suspect but usable

    def fail(self, key: KeyPath, message: str) -> ConfigError:
        line = next(
            (self.lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in self.lines), None
        )
        return ConfigError(f"{'.'.join(key)}: {message}", path=self.path, line=line)

    def warn(self, key: KeyPath, message: str) -> None:
        self.warnings.append(str(self.fail(key, message)))

    def mapping(self, key: KeyPath, value: Any) -> dict[str, Any]:
        if value == []:  # an empty table from Neovim's Lua
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping of keys to values, got {_kind(value)}")
        return value

    def string(self, key: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {_kind(value)}")
        return value

    def number(self, key: KeyPath, value: Any, *, integer: bool = False) -> float:
        wanted = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted) or value <= 0:
            raise self.fail(
                key, f"expected a positive {'whole ' if integer else ''}number, got {shown(value)}"
            )
        return value

    def boolean(self, key: KeyPath, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_kind(value)}")
        return value

    def known_keys(self, key: KeyPath, value: dict[str, Any], known: tuple[str, ...]) -> None:
        for name in value:
            if name not in known:
                import difflib

                close = difflib.get_close_matches(str(name), known, n=1)
                hint = (
                    f" (did you mean '{close[0]}'?)"
                    if close
                    else f"; known keys: {', '.join(known)}"
                )
                raise self.fail((*key, str(name)), f"unknown key{hint}")


_TOP_KEYS = (
    "hosts",
    "model",
    "keep_alive",
    "options",
    "timeout",
    "deadline",
    "max_input_chars",
    "actions",
    "cache",
    "auto_pull",
    "autostart",
    "shell_history",
    "lsp",
    "routing",
)
_CACHE_KEYS = ("enabled", "max_entries", "deterministic_only")
_HOST_KEYS = ("url", "api", "api_key_env", "headers", "weight", "models")
_ROUTING_KEYS = ("hedge", "hedge_after_ms", "warm")
_LSP_KEYS = ("prefetch", "log_text", "preview", "candidates", "candidate_actions")
_ACTION_KEYS = (
    "description",
    "instruction",
    "prefix",
    "model",
    "options",
    "examples",
    "params",
    "profile",
)
_PROFILE_KEYS = ("length", "content", "language")


def _validate(
    data: Any, lines: dict[KeyPath, int], path: str, base: Mapping[str, Any], warnings: list[str]
) -> dict[str, Any]:
    """Check one layer of settings; `base` holds the values of the layers below it, which
    options, actions, cache and lsp are merged over. Warnings are added to `warnings`."""
    check = _Checker(lines, path, warnings)
    if data is None or data == []:  # Neovim's Lua sends [] for an empty table
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of settings at the top, got {_kind(data)}", path=path, line=1
        )
    check.known_keys((), data, _TOP_KEYS)
    readers: dict[str, Callable[[Any], Any]] = {
        "hosts": lambda v: _config_hosts(check, v),
        "model": lambda v: check.string(("model",), v),
        "keep_alive": lambda v: _keep_alive(check, v),
        "options": lambda v: {**base.get("options", {}), **_options(check, ("options",), v)},
        "timeout": lambda v: float(check.number(("timeout",), v)),
        "deadline": lambda v: float(check.number(("deadline",), v)),
        "max_input_chars": lambda v: int(check.number(("max_input_chars",), v, integer=True)),
        "actions": lambda v: _actions(check, v, base.get("actions", BUILTIN_ACTIONS)),
        "cache": lambda v: _cache(check, v, base.get("cache", CacheSettings())),
        "lsp": lambda v: _lsp(check, v, base.get("lsp", LspSettings())),
        "auto_pull": lambda v: check.boolean(("auto_pull",), v),
        "autostart": lambda v: check.boolean(("autostart",), v),
        "shell_history": lambda v: check.boolean(("shell_history",), v),
        "routing": lambda v: _routing(check, v, base.get("routing", RoutingSettings())),
    }
    # An empty `actions:` or `options:` (everything below it commented out) means none.
    optional = ("actions", "options", "cache", "lsp", "routing")
    present = {k: v for k, v in data.items() if v is not None or k not in optional}
    return {key: readers[key](value) for key, value in present.items()}


def _cache(check: _Checker, value: Any, defaults: CacheSettings) -> CacheSettings:
    fields = check.mapping(("cache",), value)
    check.known_keys(("cache",), fields, _CACHE_KEYS)
    enabled = fields.get("enabled", defaults.enabled)
    entries = fields.get("max_entries", defaults.max_entries)
    deterministic = fields.get("deterministic_only", defaults.deterministic_only)
    return CacheSettings(
        enabled=check.boolean(("cache", "enabled"), enabled),
        max_entries=int(check.number(("cache", "max_entries"), entries, integer=True)),
        deterministic_only=check.boolean(("cache", "deterministic_only"), deterministic),
    )


def _routing(check: _Checker, value: Any, defaults: RoutingSettings) -> RoutingSettings:
    fields = check.mapping(("routing",), value)
    check.known_keys(("routing",), fields, _ROUTING_KEYS)
    hedge = check.boolean(("routing", "hedge"), fields.get("hedge", defaults.hedge))
    after = fields.get("hedge_after_ms", defaults.hedge_after_ms)
    if after is not None:
        after = float(check.number(("routing", "hedge_after_ms"), after))
    warm = fields.get("warm", defaults.warm)
    if warm != "all":
        warm = int(check.number(("routing", "warm"), warm, integer=True))
    return RoutingSettings(hedge=hedge, hedge_after_ms=after, warm=warm)


def _config_hosts(check: _Checker, value: Any) -> tuple[Host, ...]:
    items = [value] if isinstance(value, (str, dict)) else value
    if not isinstance(items, list) or not items:
        raise check.fail(("hosts",), f"expected a URL or a list of hosts, got {_kind(value)}")
    return tuple(_host_entry(check, ("hosts",), item) for item in items)


def _host_entry(check: _Checker, key: KeyPath, item: Any) -> Host:
    """A URL, or a mapping: url, api, api_key_env (a variable's NAME), headers."""
    if isinstance(item, str):
        return _parsed_host(check, key, item, None)
    if not isinstance(item, dict):
        raise check.fail(key, f"expected a URL or a mapping with a url, got {_kind(item)}")
    fields = check.mapping(key, item)
    check.known_keys(key, fields, _HOST_KEYS)
    if "url" not in fields:
        raise check.fail(key, "a host given as a mapping needs a 'url'")
    api = fields.get("api")
    if api is not None and api not in APIS:
        raise check.fail((*key, "api"), f"expected one of {', '.join(APIS)}, got {shown(api)}")
    host = _parsed_host(check, (*key, "url"), fields["url"], api)
    api_key_env = fields.get("api_key_env")
    if api_key_env is not None:
        api_key_env = check.string((*key, "api_key_env"), api_key_env)
        if not _VARIABLE_NAME.fullmatch(api_key_env):
            raise check.fail(
                (*key, "api_key_env"),
                "expected the NAME of an environment variable (such as OPENAI_API_KEY), "
                "not the key itself",
            )
    headers = check.mapping((*key, "headers"), fields.get("headers") or {})
    for name in headers:
        if not _HEADER_NAME.fullmatch(str(name)):
            raise check.fail((*key, "headers", str(name)), "not a valid HTTP header name")
    pairs = tuple(
        (str(name), check.string((*key, "headers", str(name)), template))
        for name, template in headers.items()
    )
    weight = float(check.number((*key, "weight"), fields.get("weight", 1)))
    models = fields.get("models") or []
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise check.fail((*key, "models"), f"expected a list of model names, got {_kind(models)}")
    return host.replace(api_key_env=api_key_env, headers=pairs, weight=weight, models=tuple(models))


def _parsed_host(check: _Checker, key: KeyPath, value: Any, api: str | None) -> Host:
    try:
        return parse_host(check.string(key, value), api)
    except ConfigError as exc:
        raise check.fail(key, str(exc)) from None


def parse_keep_alive(value: Any) -> str | float | None:
    """A keep_alive Ollama accepts (seconds as a number, or a duration with a unit), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):  # Ollama rejects a unit-less string: send a number
            return float(text) if "." in text else int(text)
        if _GO_DURATION.fullmatch(text):
            return text
    return None


def _keep_alive(check: _Checker, value: Any) -> str | float:
    parsed = parse_keep_alive(value)
    if parsed is None:
        raise check.fail(
            ("keep_alive",), f"expected seconds or a duration like 30m, 1h, -1; got {shown(value)}"
        )
    return parsed


def _options(check: _Checker, key: KeyPath, value: Any) -> dict[str, Any]:
    """Model options: each value of a kind and in a range the server takes (see
    rewrite.options); a name Ollama does not know is sent as it is, with a warning."""
    options = check.mapping(key, value)
    return {
        _option_name(check, key, name): _option(check, key, name, options[name]) for name in options
    }


def _option_name(check: _Checker, key: KeyPath, name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise check.fail((*key, str(name)), f"expected an option name, got {shown(name)}")
    if name not in MODEL_OPTIONS:
        close = close_option(name) if len(check.warnings) < _MAX_WARNINGS else None  # shown
        hint = f" (did you mean '{close}'?)" if close else ""
        check.warn((*key, name), f"not a model option Ollama knows{hint}; sent as it is")
    return name


def _option(check: _Checker, key: KeyPath, name: str, value: Any) -> Any:
    try:
        return parse_option(name, value)
    except OptionError as exc:
        raise check.fail((*key, name), str(exc)) from None


def _lsp(check: _Checker, value: Any, defaults: LspSettings) -> LspSettings:
    fields = check.mapping(("lsp",), value)
    check.known_keys(("lsp",), fields, _LSP_KEYS)
    prefetch = fields.get("prefetch", defaults.prefetch)
    if prefetch is not None and prefetch is not False:
        prefetch = check.string(("lsp", "prefetch"), prefetch)
    log_text = check.boolean(("lsp", "log_text"), fields.get("log_text", defaults.log_text))
    preview = check.boolean(("lsp", "preview"), fields.get("preview", defaults.preview))
    count = fields.get("candidates", defaults.candidates)
    count = int(check.number(("lsp", "candidates"), count, integer=True))
    if count > MOST_CANDIDATES:
        raise check.fail(("lsp", "candidates"), f"expected at most {MOST_CANDIDATES}, got {count}")
    offered = fields.get("candidate_actions", list(defaults.candidate_actions))
    if offered == []:
        offered = []
    elif not isinstance(offered, list) or not all(isinstance(name, str) for name in offered):
        message = f"expected a list of action names, got {_kind(offered)}"
        raise check.fail(("lsp", "candidate_actions"), message)
    return LspSettings(
        prefetch=prefetch or None,
        log_text=log_text,
        preview=preview,
        candidates=count,
        candidate_actions=tuple(offered),
    )


def _actions(check: _Checker, value: Any, base: Mapping[str, Action]) -> dict[str, Action]:
    actions = dict(base)
    for name, spec in check.mapping(("actions",), value).items():
        key = ("actions", str(name))
        if not isinstance(name, str) or not _ACTION_NAME.fullmatch(name):
            raise check.fail(key, "an action name takes letters, digits, '-' and '_' only")
        if name in COMMANDS or name == CUSTOM_ACTION:
            raise check.fail(key, f"'{name}' is a command name; choose another action name")
        actions[name] = _action(check, key, name, spec, base.get(name))
    return actions


def _action(check: _Checker, key: KeyPath, name: str, spec: Any, base: Action | None) -> Action:
    fields = check.mapping(key, spec)
    check.known_keys(key, fields, _ACTION_KEYS)
    if base is None and "instruction" not in fields:
        raise check.fail(key, "a new action needs an 'instruction'")
    strings = {
        f: check.string((*key, f), fields[f])
        for f in ("description", "instruction", "prefix", "model")
        if f in fields
    }
    action = base or Action(name, strings.get("description", name), strings["instruction"])
    params = fields.get("params")
    return action.with_overrides(
        **strings,
        profile=_profile(check, (*key, "profile"), fields["profile"], action.profile)
        if "profile" in fields
        else None,
        options=_action_options(check, (*key, "options"), fields["options"])
        if "options" in fields
        else None,
        examples=_examples(check, (*key, "examples"), fields["examples"])
        if "examples" in fields
        else None,
        params={str(k): str(v) for k, v in check.mapping((*key, "params"), params).items()}
        if params is not None
        else None,
    )


def _action_options(check: _Checker, key: KeyPath, value: Any) -> dict[str, Any]:
    options = _options(check, key, value)
    for name in options:
        if name in LOAD_TIME_OPTIONS:
            raise check.fail(
                (*key, name),
                "a load-time option belongs in the top-level options: "
                "a per-action value would reload the model",
            )
    return options


def _profile(check: _Checker, key: KeyPath, value: Any, base: Profile) -> Profile:
    """What a valid result of the action looks like: length, content, language."""
    fields = check.mapping(key, value)
    check.known_keys(key, fields, _PROFILE_KEYS)
    allowed = {"length": LENGTHS, "content": CONTENTS, "language": LANGUAGES}
    for name, item in fields.items():
        if item not in allowed[name]:
            choices = ", ".join(allowed[name])
            raise check.fail((*key, name), f"expected one of {choices}, got {shown(item)}")
    return base.replace(**fields)


def _examples(check: _Checker, key: KeyPath, value: Any) -> tuple[Example, ...]:
    if not isinstance(value, list):
        raise check.fail(key, f"expected a list of {{input, output}} pairs, got {_kind(value)}")
    examples = []
    for item in value:
        pair = check.mapping(key, item)
        if set(pair) != {"input", "output"}:
            raise check.fail(key, "each example needs exactly the keys 'input' and 'output'")
        examples.append(
            Example(check.string(key, pair["input"]), check.string(key, pair["output"]))
        )
    return tuple(examples)


def _kind(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "true/false",
        type(None): "nothing",
    }
    return names.get(type(value), f"{type(value).__name__} {value!r}")
