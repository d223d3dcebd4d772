"""The settings records and their defaults: what every part of rewrite reads.

`rewrite.config` builds them from flags, environment, layers and the config file.
"""

from __future__ import annotations

from .actions import BUILTIN_ACTIONS, Action
from .hosts import DEFAULT_HOST, Host, parse_host
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

COMMANDS = (
    "actions",
    "bench",
    "cache",
    "config",
    "lsp",
    "pull",
    "shell",
    "shell-init",
    "status",
    "warm",
)
DEFAULT_MODEL = "qwen2.5:1.5b"
DEFAULT_OPTIONS: Mapping[str, Any] = {"num_ctx": 2048, "temperature": 0}
DEFAULT_KEEP_ALIVE = "30m"
DEFAULT_TIMEOUT = 60.0
DEFAULT_DEADLINE = 120.0  # seconds a whole reply may take, however steadily it streams
DEFAULT_MAX_INPUT_CHARS = 20_000
DEFAULT_CACHE_ENTRIES = 20_000
MOST_CANDIDATES = 5  # rewrites of one text to choose from, at most

# Options that make Ollama reload the model when they change between requests.
LOAD_TIME_OPTIONS = (
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "use_mmap",
    "num_thread",
    "draft_num_predict",
    "shift",
)


class Overrides(Record):
    """What the command line said; None or empty means 'not given'."""

    __slots__ = ("config", "hosts", "model")

    def __init__(
        self, hosts: tuple[str, ...] = (), model: str | None = None, config: str | None = None
    ) -> None:
        self.hosts = hosts
        self.model = model
        self.config = config


class CacheSettings(Record):
    """`cache:` in the config file."""

    __slots__ = ("deterministic_only", "enabled", "max_entries")

    def __init__(
        self,
        enabled: bool = True,
        max_entries: int = DEFAULT_CACHE_ENTRIES,
        deterministic_only: bool = True,
    ) -> None:
        self.enabled = enabled
        self.max_entries = max_entries
        self.deterministic_only = deterministic_only


class RoutingSettings(Record):
    """`routing:` in the config file: how requests are spread over several hosts."""

    __slots__ = ("hedge", "hedge_after_ms", "warm")

    def __init__(
        self, hedge: bool = False, hedge_after_ms: float | None = None, warm: str | int = "all"
    ) -> None:
        self.hedge = hedge  # ask a second host when the first is slow to its first token
        self.hedge_after_ms = hedge_after_ms  # None: the host's recent p95, at least 250 ms
        self.warm = warm  # the hosts warm-up goes to: "all" that serve the model, or the N best


class LspSettings(Record):
    """`lsp:` in the config file: the language server's own settings."""

    __slots__ = ("candidate_actions", "candidates", "log_text", "prefetch", "preview")

    def __init__(
        self,
        prefetch: str | None = "fix",
        log_text: bool = False,
        preview: bool = False,
        candidates: int = 3,
        candidate_actions: tuple[str, ...] = ("rephrase",),
    ) -> None:
        self.prefetch = prefetch  # the action started when a selection gets code actions
        self.log_text = log_text  # log the user's text to the editor (off: it may be private)
        self.preview = preview  # show the change and wait for the user's yes (where the editor can)
        self.candidates = candidates  # how many "(N candidates)" offers
        self.candidate_actions = candidate_actions  # the actions offered with candidates too


class Settings(Record):
    """Everything a rewrite needs to know, resolved once."""

    __slots__ = (
        "actions",
        "auto_pull",
        "autostart",
        "cache",
        "config_file",
        "deadline",
        "hosts",
        "keep_alive",
        "lsp",
        "max_input_chars",
        "model",
        "options",
        "routing",
        "shell_history",
        "sources",
        "timeout",
    )

    def __init__(
        self,
        hosts: tuple[Host, ...] | None = None,
        model: str = DEFAULT_MODEL,
        keep_alive: str | float = DEFAULT_KEEP_ALIVE,
        options: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
        actions: Mapping[str, Action] | None = None,
        config_file: str | None = None,
        sources: Mapping[str, str] | None = None,
        cache: CacheSettings | None = None,
        auto_pull: bool = True,
        autostart: bool | None = None,
        lsp: LspSettings | None = None,
        deadline: float = DEFAULT_DEADLINE,
        shell_history: bool = True,
        routing: RoutingSettings | None = None,
    ) -> None:
        self.hosts = hosts or (parse_host(DEFAULT_HOST),)
        self.model = model
        self.keep_alive = keep_alive
        self.options: Mapping[str, Any] = {**DEFAULT_OPTIONS, **(options or {})}
        self.timeout = timeout
        self.max_input_chars = max_input_chars
        self.actions: Mapping[str, Action] = actions or dict(BUILTIN_ACTIONS)
        self.config_file = config_file
        self.sources: Mapping[str, str] = sources or {}
        self.cache = cache or CacheSettings()
        self.auto_pull = auto_pull  # pull a missing model when a person is watching stderr
        self.shell_history = shell_history  # the shell remembers inputs across sessions
        self.routing = routing or RoutingSettings()
        self.autostart = autostart  # None: start `ollama serve` for the local default host only
        self.lsp = lsp or LspSettings()
        self.deadline = deadline

    def model_for(self, action: str) -> str:
        """The model a rewrite with `action` uses when no flag names one: the action's own
        `model:`, else the configured model. (A flag, `--model` or `/model`, wins over both.)"""
        chosen = self.actions.get(action)
        return (chosen.model if chosen else None) or self.model

    @property
    def default_action(self) -> str:
        """The action rewrites start with: the editor's prefetch, else fix."""
        prefetch = self.lsp.prefetch
        return prefetch if prefetch and prefetch in self.actions else "fix"

    def source(self, key: str) -> str:
        return self.sources.get(key, "default")
