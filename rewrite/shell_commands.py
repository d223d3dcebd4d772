"""The shell's slash commands: a completer and a dispatch table, each with one line of help."""

from __future__ import annotations

import base64
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

if TYPE_CHECKING:
    from .shell import ShellState

Handler = Callable[["ShellState", str], Awaitable[None]]


async def _again(state: ShellState, _: str) -> None:
    if state.last_input is None:
        state.error("nothing to rewrite yet: type some text first")
        return
    from .shell import rewrite

    await rewrite(state, state.session, state.last_input)


async def _action(state: ShellState, name: str) -> None:
    if name not in state.settings.actions:
        state.error(f"unknown action '{name}'; /help lists them")
    elif state.last_input is None:
        state.error("nothing to rewrite yet: type some text first")
    else:
        from .shell import rewrite

        await rewrite(state, state.session, state.last_input, name)


async def _model(state: ShellState, name: str) -> None:
    if not name:
        state.show(f"model: {state.model}")
        return
    state.model = name
    state.keep_warm()
    state.show(f"model: {name} (loading it now)")


async def _to(state: ShellState, language: str) -> None:
    if not language:
        state.error("/to needs a language, for example: /to German")
        return
    state.params = {"to": language}
    state.action = "translate"
    state.show(f"translating into {language}")


async def _copy(state: ShellState, _: str) -> None:
    """OSC 52 asks the terminal itself to set the clipboard (works over ssh and tmux)."""
    if state.last_result is None:
        state.error("nothing to copy yet")
        return
    encoded = base64.b64encode(state.last_result.text.encode("utf-8")).decode("ascii")
    state.out.write(f"\x1b]52;c;{encoded}\x07")
    state.out.flush()
    state.show("copied the last rewrite to the clipboard")


async def _status(state: ShellState, _: str) -> None:
    warmth = state.keeper.state if state.keeper else "cold"
    hosts = ", ".join(host.url for host in state.settings.hosts)
    state.show(f"hosts: {hosts}\nmodel: {state.model} ({warmth})\naction: {state.action}")
    if state.last_result is not None:
        timings = state.last_result.timings
        state.show(
            f"last rewrite: {timings.wall_ms:.0f} ms in all, load {timings.load_ms:.0f} ms, "
            f"{timings.output_tokens} tokens{' (cached)' if state.last_result.cached else ''}"
        )


async def _help(state: ShellState, _: str) -> None:
    for name, (_handler, summary) in sorted(commands(state).items()):
        state.show(f"<b>{name:<10}</b> {summary}")
    state.show("Enter sends, Alt-Enter adds a line, F5 rewrites again, Ctrl-C stops, Ctrl-D quits.")


async def _quit(state: ShellState, _: str) -> None:
    state.quit = True


FIXED: dict[str, tuple[Handler, str]] = {
    "/again": (_again, "rewrite the last input again (also F5)"),
    "/action": (_action, "/action NAME: apply another action to the last input"),
    "/model": (_model, "/model NAME: switch model (and load it)"),
    "/to": (_to, "/to LANGUAGE: translate into LANGUAGE"),
    "/copy": (_copy, "put the last rewrite on the clipboard (through the terminal)"),
    "/status": (_status, "host, model, whether it is loaded, the last timings"),
    "/help": (_help, "this list"),
    "/quit": (_quit, "leave (also Ctrl-D)"),
}


def commands(state: ShellState) -> dict[str, tuple[Handler, str]]:
    """The fixed commands, plus one per action that makes it the current one."""

    def switch_to(name: str) -> Handler:
        async def switch(state: ShellState, _: str) -> None:
            state.action = name

        return switch

    per_action = {
        f"/{name}": (switch_to(name), f"switch to: {action.summary}")
        for name, action in state.settings.actions.items()
    }
    return {**per_action, **FIXED}


async def dispatch(state: ShellState, text: str) -> None:
    name, _, argument = text.strip().partition(" ")
    entry = commands(state).get(name)
    if entry is None:
        state.error(f"unknown command {name}; /help lists them")
        return
    await entry[0](state, argument.strip())


class SlashCompleter(Completer):
    """Completes /commands, and model names after /model (asked from the server once)."""

    def __init__(self, state: ShellState) -> None:
        self.state = state
        self.models: list[str] = []
        threading.Thread(target=self._fetch_models, daemon=True).start()

    def _fetch_models(self) -> None:
        from .backend import connect
        from .errors import RewriteError

        try:
            self.models = sorted(connect(self.state.settings.hosts[0], timeout=5.0).models())
        except RewriteError:
            return

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        if text.startswith("/model "):
            yield from _matching(self.models, text[len("/model ") :])
        elif " " not in text:
            for name, (_, summary) in sorted(commands(self.state).items()):
                if name.startswith(text):
                    yield Completion(name, -len(text), display_meta=summary)


def _matching(options: list[str], typed: str) -> Iterable[Completion]:
    for option in options:
        if option.startswith(typed):
            yield Completion(option, -len(typed))
