"""`rewrite config`: the effective settings with their sources, and the starter file."""

from __future__ import annotations

import json
import os

from .actions import BUILTIN_ACTIONS
from .config import Settings
from .errors import UsageError
from .hosts import Host, parse_host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STARTER = """\
# rewrite's config file (YAML). Every key is optional; the values below are the defaults.
# `rewrite config` shows the settings in effect and where each one came from.

# Servers (OLLAMA_HOST and --host take precedence). Several share the requests and stand
# in for each other (see routing below). A URL ending in /v1 is an OpenAI-compatible server
# (llama.cpp, vLLM, LM Studio, LiteLLM). A host may also be a mapping, for its share of the
# requests, the models it serves, an API key or a proxy's headers; secrets stay in
# environment variables:
#   - url: https://gpu-box.example:8443/v1
#     api: openai                       # or ollama; default: from the URL
#     api_key_env: GPU_BOX_KEY          # the NAME of a variable holding a bearer token
#     headers: {X-Team: "${TEAM_TOKEN}"}
#     weight: 2                         # twice the requests of a host of weight 1
#     models: [qwen2.5:1.5b]            # only these models are sent to it
hosts: [http://127.0.0.1:11434]

# With several hosts: hedge asks a second host when the first is slow to start answering
# (after hedge_after_ms, or null: its recent p95 time to first token, at least 250 ms);
# warm-up goes to every host that serves the model (all) or to the N best.
routing:
  hedge: false
  hedge_after_ms: null
  warm: all

# The model: 1.5B-3B instruct models are the practical floor for rewriting.
model: qwen2.5:1.5b

# How long Ollama keeps the model loaded after a request: seconds, or 30m, 1h; -1 = forever.
keep_alive: 30m

# Model options sent with every request. Changing a load-time option such as num_ctx
# makes Ollama reload the model, so set it once here.
options:
  num_ctx: 2048
  temperature: 0

# Seconds the server may stay silent (loading the model included) before a rewrite fails,
# and seconds a whole reply may take however steadily it streams.
timeout: 60
deadline: 120

# Longer input is refused with exit code 2. One request holds about 2,000 characters with
# num_ctx 2048; longer text is rewritten paragraph by paragraph, all at once.
max_input_chars: 20000

# Rewrites are remembered in $XDG_CACHE_HOME/rewrite/cache.sqlite3; a repeat is answered
# without asking the server. Only temperature-0 requests, unless deterministic_only: false.
cache:
  enabled: true
  max_entries: 20000
  deterministic_only: true

# At a terminal, download a missing model before rewriting (elsewhere: exit code 4).
auto_pull: true

# Start `ollama serve` when no server answers. Unset: only for http://127.0.0.1:11434;
# true: any address on this machine; false: never. A remote server is never started.
# autostart: true

# The shell keeps what you typed in $XDG_STATE_HOME/rewrite/history (readable by you
# only); false keeps it for the session alone.
shell_history: true

# The language server: the action that starts as soon as text is selected (so choosing
# it is instant; false for none), and whether the text may appear in the editor's log.
lsp:
  prefetch: fix
  log_text: false
  preview: false           # true: show the change first, one key accepts (Neovim, Emacs, VS Code)
  candidates: 3            # how many candidates "Rewrite: rephrase (3 candidates)" offers
  candidate_actions: [rephrase]

# Your own actions, or changes to the built-in ones (fix, rephrase, concise, formal,
# friendly, simplify, translate). {name} in an instruction is filled from params,
# or from --param name=value on the command line.
actions:
  # pirate:
  #   description: Say it like a pirate
  #   instruction: Rewrite the text as a pirate would say it.
  #   model: llama3.2:3b          # optional: another model for this action
  #   examples:                   # optional: example turns, input then output
  #     - {input: "Hello, how are you?", output: "Ahoy, how be ye?"}
  # letter:
  #   description: Turn it into a short letter
  #   instruction: Rewrite the text as a short letter addressed to {name}.
  #   params: {name: Sam}
"""


def write_starter(path: str, *, force: bool) -> str:
    if os.path.exists(path) and not force:
        raise UsageError(f"{path} already exists; add --force to replace it")
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(STARTER)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


_MEANING = {  # what a value that is not self-evident does
    "autostart": {
        None: "start `ollama serve` only for http://127.0.0.1:11434",
        True: "start `ollama serve` for any host on this machine",
        False: "never start `ollama serve`",
    },
}


def render(settings: Settings, looked_at: str | None = None) -> str:
    """The settings as YAML, each top-level value followed by a comment naming its source.
    `looked_at`: the config file that was looked for, to name when there is none."""
    if settings.config_file:
        file_note = str(settings.config_file)
    else:
        where = f" at {looked_at}" if looked_at else ""
        file_note = f"none{where} (defaults in use; `rewrite config --init` writes one)"
    lines = [f"# config file: {file_note}"]
    values: dict[str, Any] = {
        "hosts": [_host(host) for host in settings.hosts],
        "model": settings.model,
        "keep_alive": settings.keep_alive,
        "options": dict(settings.options),
        "timeout": settings.timeout,
        "deadline": settings.deadline,
        "max_input_chars": settings.max_input_chars,
        "cache": settings.cache.as_dict(),
        "auto_pull": settings.auto_pull,
        "autostart": settings.autostart,
        "shell_history": settings.shell_history,
        "lsp": settings.lsp.as_dict(),
        "routing": settings.routing.as_dict(),
    }
    for key, value in values.items():
        meaning = _MEANING[key].get(value) if key in _MEANING else None
        note = f"{settings.source(key)}: {meaning}" if meaning else settings.source(key)
        lines.append(f"{key}: {_flow(value)}  # {note}")
    lines.append(f"actions:  # {settings.source('actions')}")
    for name, action in sorted(settings.actions.items()):
        origin = "built-in" if BUILTIN_ACTIONS.get(name) == action else "config"
        fields = {
            "description": action.description,
            "model": action.model,
            "params": dict(action.params),
        }
        shown = {k: v for k, v in fields.items() if v}
        lines.append(f"  {name}: {_flow(shown)}  # {origin}")
    return "\n".join(lines) + "\n"


def _host(host: Host) -> str | dict[str, Any]:
    """A plain URL when that says it all; otherwise the mapping, with no secret in it."""
    shown = host.describe()
    return host.url if shown == parse_host(host.url).describe() else shown


def _flow(value: Any) -> str:
    """A YAML flow value; JSON is valid YAML flow syntax."""
    return json.dumps(value, ensure_ascii=False)
