"""The shell's slash commands: a completer and a dispatch table, each with one line of help."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from .errors import RewriteError

if TYPE_CHECKING:
    from .config import Settings
    from .shell import ShellState

Handler = Callable[["ShellState", str], Awaitable[None]]

LIST_TIMEOUT = 5.0  # seconds to wait for a server's model list
TMUX_TIMEOUT = 1.0  # seconds to wait for tmux to tell its set-clipboard option


async def _again(state: ShellState, _: str) -> None:
    if state.last_input is None:
        state.error("nothing to rewrite yet: type some text first")
        return
    await state.rewrite(state.last_input, again=True)


async def _action(state: ShellState, name: str) -> None:
    if not _is_action(state, name, "/action"):
        return
    if state.last_input is None:
        state.error("nothing to rewrite yet: type some text first")
        return
    await state.rewrite(state.last_input, name)


async def _refine(state: ShellState, name: str) -> None:
    name = name or state.action
    if not _is_action(state, name, "/refine"):
        return
    if state.last_result is None:
        state.error("nothing to refine yet: rewrite some text first")
        return
    await state.rewrite(state.last_result.text, name, remember=False)


async def _use(state: ShellState, name: str) -> None:
    if _is_action(state, name, "/use"):
        state.switch_to(name)


def _is_action(state: ShellState, name: str, command: str) -> bool:
    """Whether `name` is an action; if not, say so."""
    if not name:
        state.error(f"{command} needs an action, for example: {command} formal")
    elif name not in state.settings.actions:
        state.error(f"unknown action '{name}'; /help lists them")
    else:
        return True
    return False


async def _model(state: ShellState, name: str) -> None:
    if not name:
        state.tell(f"model: {state.model} ({_model_source(state)})")
        return
    try:
        models = await asyncio.to_thread(server_models, state.settings)
    except RewriteError as error:
        state.error(f"cannot ask the server for its models ({error}); still using {state.model}")
        return
    found = _find_model(models, name)
    if found is None:
        state.error(f"the server has no model '{name}'; it has: {', '.join(models) or 'none'}")
        return
    loaded = await asyncio.to_thread(loaded_models, state.settings)
    state.chosen_model = found
    state.keep_warm()
    if loaded is None:  # a server that cannot say what it has in memory
        state.tell(f"model: {found}")
    else:
        state.tell(f"model: {found} ({'loaded' if found in loaded else 'loading it now'})")


def _model_source(state: ShellState) -> str:
    """Why the current action uses the model it does."""
    action = state.settings.actions.get(state.action)
    if state.chosen_model:
        return "your choice"
    if action is not None and action.model:
        return f"the {state.action} action's own"
    source = state.settings.sources.get("model")
    return f"set in {source}" if source else "the default"


def _find_model(models: list[str], name: str) -> str | None:
    """The server's name for `name`: Ollama reads a name without a tag as NAME:latest."""
    wanted = {name.lower(), f"{name.lower()}:latest"}
    return next((model for model in models if model.lower() in wanted), None)


async def _to(state: ShellState, language: str) -> None:
    if not language:
        state.error("/to needs a language, for example: /to German")
        return
    state.params["translate"] = {"to": language}
    state.switch_to("translate")
    state.tell(f"translating into {language}")


async def _copy(state: ShellState, _: str) -> None:
    """OSC 52 asks the terminal itself to set the clipboard (over ssh too). Whether it did,
    the shell cannot see, so it says what it sent and what is known to stop it."""
    if state.last_result is None:
        state.error("nothing to copy yet")
        return
    encoded = base64.b64encode(state.last_result.text.encode("utf-8")).decode("ascii")
    state.out.write(f"\x1b]52;c;{encoded}\x07")
    state.out.flush()
    dropped, note = await asyncio.to_thread(_clipboard_note)
    if dropped:
        state.warn(note)
    else:
        state.tell(note)


def _clipboard_note() -> tuple[bool, str]:
    """What to say once the text is sent: whether it is known to be dropped, and the words."""
    sent = "sent the last rewrite to the terminal's clipboard (OSC 52)"
    if not os.environ.get("TMUX"):
        return False, f"{sent}; a terminal without OSC 52 support ignores it"
    setting = _tmux_set_clipboard()
    if setting == "on":
        return False, f"{sent} through tmux, whose set-clipboard is on"
    if setting in ("off", "external"):
        fix = "`tmux set -g set-clipboard on` lets it through"
        return True, f"{sent}, but tmux drops it while set-clipboard is {setting}: {fix}"
    return False, f"{sent}; tmux passes it on only with `set -g set-clipboard on`"


def _tmux_set_clipboard() -> str | None:
    """tmux's set-clipboard option (on, external or off); None when tmux does not say."""
    try:
        done = subprocess.run(
            ["tmux", "show-options", "-gv", "set-clipboard"],
            capture_output=True,
            text=True,
            timeout=TMUX_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


async def _status(state: ShellState, _: str) -> None:
    hosts = ", ".join(host.url for host in state.settings.hosts)
    warmth = f"{state.warmth}: {state.trouble}" if state.trouble else state.warmth
    to = state.params.get(state.action, {}).get("to")
    action = f"{state.action} (into {to})" if to else state.action
    state.tell(
        f"hosts: {hosts}\nmodel: {state.model} ({_model_source(state)}, {warmth})\naction: {action}"
    )
    if state.last_result is not None:
        timings = state.last_result.timings
        state.tell(
            f"last rewrite: {timings.wall_ms:.0f} ms in all, load {timings.load_ms:.0f} ms, "
            f"{counted(timings.output_tokens, 'token')}"
            f"{' (cached)' if state.last_result.cached else ''}"
        )


def counted(number: int, noun: str) -> str:
    """`number` and `noun`, in the plural unless there is exactly one."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


async def _help(state: ShellState, _: str) -> None:
    for name, (_handler, summary) in sorted(commands(state).items()):
        state.show("<b>{}</b> {}", f"{name:<10}", summary)
    state.tell(
        "Enter sends, Alt-Enter adds a line, Tab completes, F5 rewrites again, Ctrl-C stops, "
        "Ctrl-D quits.\nA line that starts with // is sent as text that starts with /."
    )


async def _quit(state: ShellState, _: str) -> None:
    state.quit = True


FIXED: dict[str, tuple[Handler, str]] = {
    "/again": (_again, "another candidate for the last input (also F5)"),
    "/action": (_action, "/action NAME: apply another action to the last input"),
    "/refine": (_refine, "/refine [NAME]: apply an action (or the current one) to the last result"),
    "/use": (_use, "/use NAME: switch to action NAME (also /NAME)"),
    "/model": (_model, "/model NAME: use model NAME for every action (and load it)"),
    "/to": (_to, "/to LANGUAGE: translate into LANGUAGE"),
    "/copy": (_copy, "send the last rewrite to the clipboard, through the terminal (OSC 52)"),
    "/status": (_status, "host, model, whether it is loaded, the last timings"),
    "/help": (_help, "this list"),
    "/quit": (_quit, "leave (also Ctrl-D)"),
}
TAKES_AN_ACTION = ("/action ", "/refine ", "/use ")


def commands(state: ShellState) -> dict[str, tuple[Handler, str]]:
    """The fixed commands, plus one per action that makes it the current one."""

    def switch_to(name: str) -> Handler:
        async def switch(state: ShellState, _: str) -> None:
            state.switch_to(name)

        return switch

    per_action = {
        f"/{name}": (switch_to(name), f"switch to: {action.summary}")
        for name, action in state.settings.actions.items()
    }
    return {**per_action, **FIXED}


def name_clash_note(state: ShellState) -> str | None:
    """A note on the actions whose /NAME is a built-in command, and how to reach them."""
    names = sorted(name for name in state.settings.actions if f"/{name}" in FIXED)
    if not names:
        return None
    if len(names) == 1:
        name = names[0]
        reach = f"/use {name} or /action {name}"
        return f"/{name} is the built-in command: reach your action {name} with {reach}"
    listed = ", ".join(f"/{name}" for name in names)
    reach = "/use NAME or /action NAME"
    return f"{listed} are built-in commands: reach your actions of those names with {reach}"


async def dispatch(state: ShellState, text: str) -> None:
    name, _, argument = text.strip().partition(" ")
    entry = commands(state).get(name)
    if entry is None:
        state.error(
            f"unknown command {name}; /help lists them (start a line with // to send text "
            "that starts with /)"
        )
        return
    await entry[0](state, argument.strip())


def server_models(settings: Settings) -> list[str]:
    """The models the hosts have (a host's own `models` list respected); the first error
    when no host answers."""
    from .backend import connect

    names: set[str] = set()
    errors: list[RewriteError] = []
    for host in settings.hosts:
        try:
            listed = connect(host, timeout=LIST_TIMEOUT).models()
        except RewriteError as error:
            errors.append(error)
            continue
        names.update(name for name in listed if host.serves(name))
    if len(errors) == len(settings.hosts):
        raise errors[0]
    return sorted(names)


def loaded_models(settings: Settings) -> set[str] | None:
    """The models the Ollama hosts have in memory (/api/ps); None when none can say."""
    from .backend import connect
    from .hosts import OLLAMA

    loaded: set[str] | None = None
    for host in settings.hosts:
        if host.api != OLLAMA:
            continue
        try:
            listing = connect(host, timeout=LIST_TIMEOUT).get_json("/api/ps")
        except RewriteError:
            continue
        entries = listing.get("models") if isinstance(listing, dict) else None
        names = {e.get("name") for e in entries or [] if isinstance(e, dict)}
        loaded = (loaded or set()) | {name for name in names if isinstance(name, str)}
    return loaded


class SlashCompleter(Completer):
    """Completes /commands, action names after /action, /refine and /use, and model names
    after /model (asked from the server once)."""

    def __init__(self, state: ShellState) -> None:
        self.state = state
        self.models: list[str] = []
        threading.Thread(target=self._fetch_models, daemon=True).start()

    def _fetch_models(self) -> None:
        try:
            self.models = server_models(self.state.settings)
        except RewriteError:
            return

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or text.startswith("//") or "\n" in text:
            return
        command = next((c for c in TAKES_AN_ACTION if text.startswith(c)), None)
        if text.startswith("/model "):
            yield from _matching(self.models, text[len("/model ") :])
        elif command is not None:
            yield from _matching(sorted(self.state.settings.actions), text[len(command) :])
        elif " " not in text:
            for name, (_, summary) in sorted(commands(self.state).items()):
                if name.startswith(text):
                    yield Completion(name, -len(text), display_meta=summary)


def _matching(options: list[str], typed: str) -> Iterable[Completion]:
    for option in options:
        if option.startswith(typed):
            yield Completion(option, -len(typed))
