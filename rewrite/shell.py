"""`rewrite shell`: type or paste text, see it rewritten as it streams in.

A door like the CLI: the session is assembled in one factory (`create_session`), slash
commands are a completer plus a dispatch table (`rewrite.shell_commands`), key bindings are
small functions. While a rewrite streams, the terminal's keys are still read (raw mode), so
Ctrl-C cancels it by closing the HTTP stream instead of killing the shell.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import HTML
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

from . import paths
from .aio import stream_async
from .cli_common import (
    ExitCode,
    command_parser,
    guarded,
    internal_error,
    is_terminal,
    say,
    settings_from,
)
from .engine import Engine
from .errors import Cancelled, HostUnreachable, RejectedReply, RewriteError, ServerError
from .results import RewriteRequest, RewriteResult
from .terminal import visible
from .warm import KeepWarm

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from .config import Settings


class ShellState:
    """What the shell remembers between inputs; the toolbar shows most of it."""

    def __init__(self, settings: Settings, action: str, model: str | None, out: TextIO) -> None:
        self.settings = settings
        self.action = action
        self.model = model or settings.model
        self.params: dict[str, str] = {}
        self.out = out
        self.engine = Engine(settings, warn=self.warn)
        self.keeper: KeepWarm | None = None
        self.last_input: str | None = None
        self.last_result: RewriteResult | None = None
        self.quit = False
        self.session: PromptSession[str] = None  # type: ignore[assignment]  # set by run_shell

    def warn(self, message: str) -> None:
        self.show(f"<ansiyellow>warning: {_escape(message)}</ansiyellow>")

    def error(self, message: str) -> None:
        self.show(f"<ansired>{_escape(message)}</ansired>")

    def show(self, markup: str) -> None:
        from prompt_toolkit import print_formatted_text

        print_formatted_text(HTML(markup), file=self.out)

    def keep_warm(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
        self.keeper = KeepWarm(self.engine, self.model).start()

    def toolbar(self) -> HTML:
        host = self.settings.hosts[0].url if len(self.settings.hosts) == 1 else "several hosts"
        warmth = {"loading": "loading…", "warm": "warm"}.get(
            self.keeper.state if self.keeper else "", "cold"
        )
        parts = [f"{_escape(host)}", f"<b>{_escape(self.model)}</b> {warmth}"]
        if (result := self.last_result) is not None:
            timing = result.timings
            first = f"first token {timing.first_token_ms:.0f} ms, " if timing.first_token_ms else ""
            parts.append(
                f"{first}total {timing.wall_ms:.0f} ms{' (cached)' if result.cached else ''}"
            )
        return HTML("  |  ".join(parts))


def _escape(text: str) -> str:
    """`text` for HTML markup, its control characters shown rather than obeyed."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------- key bindings

bindings = KeyBindings()


@bindings.add(Keys.Enter)
def _submit(event: KeyPressEvent) -> None:
    """Enter sends the text (pasted newlines stay in it)."""
    event.current_buffer.validate_and_handle()


@bindings.add(Keys.Escape, Keys.Enter)
def _newline(event: KeyPressEvent) -> None:
    """Alt-Enter (or Esc, Enter) starts a new line."""
    event.current_buffer.insert_text("\n")


@bindings.add(Keys.F5)
def _again(event: KeyPressEvent) -> None:
    """F5 rewrites the last input again."""
    event.current_buffer.text = "/again"
    event.current_buffer.validate_and_handle()


def create_session(
    state: ShellState, input: Input | None = None, output: Output | None = None
) -> PromptSession[str]:
    from .shell_commands import SlashCompleter

    return PromptSession(
        message=lambda: HTML(f"<ansicyan>{_escape(state.action)}</ansicyan>&gt; "),
        multiline=True,
        key_bindings=bindings,
        completer=SlashCompleter(state),
        complete_while_typing=True,
        history=_history(state.settings.shell_history),
        bottom_toolbar=state.toolbar,
        refresh_interval=0.5,
        input=input,
        output=output,
        prompt_continuation="  ",
    )


def _history(on_disk: bool) -> FileHistory | InMemoryHistory:
    """Inputs are remembered across sessions in a file only its owner can read."""
    if not on_disk:
        return InMemoryHistory()
    try:
        os.makedirs(paths.state_dir(), mode=0o700, exist_ok=True)
        path = os.path.join(paths.state_dir(), "history")
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        os.chmod(path, 0o600)
        return FileHistory(path)
    except OSError:
        return InMemoryHistory()


# -------------------------------------------------------------------------- the loop


async def run_shell(state: ShellState, session: PromptSession[str]) -> None:
    from .shell_commands import dispatch

    state.session = session
    state.keep_warm()
    while not state.quit:
        try:
            text = await session.prompt_async()
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line, nothing more
        except EOFError:
            break
        try:
            if text.startswith("/"):
                await dispatch(state, text)
            elif text.strip():
                await rewrite(state, session, text)
        except Exception as error:  # a failure of rewrite itself must not end the session
            state.error(internal_error(error))
    if state.keeper is not None:
        state.keeper.stop()


async def rewrite(
    state: ShellState, session: PromptSession[str], text: str, action: str | None = None
) -> None:
    """Stream the rewrite of `text` below the prompt; Ctrl-C stops it."""
    state.last_input = text
    request = RewriteRequest(text, action or state.action, params=state.params, model=state.model)
    try:
        stream = stream_async(state.engine, request)
    except RewriteError as error:
        state.error(str(error))
        return
    task = asyncio.ensure_future(_print_stream(state, stream))
    with _cancel_on_ctrl_c(session.input, task):
        try:
            await task
        except asyncio.CancelledError:
            state.out.write("\n")
            state.show("<ansiyellow>cancelled</ansiyellow>")
        except (RewriteError, Cancelled) as error:
            state.out.write("\n")
            state.error(str(error) + _again_hint(error))
        else:
            state.last_result = stream.result


def _again_hint(error: BaseException) -> str:
    """A server's failure may pass (another host, a restart); the guard's verdict will not."""
    if isinstance(error, HostUnreachable | ServerError) and not isinstance(error, RejectedReply):
        return " (/again tries again)"
    return ""


async def _print_stream(state: ShellState, stream: Any) -> None:
    async for piece in stream:
        state.out.write(visible(piece))
        state.out.flush()
    state.out.write("\n")
    state.out.flush()


class _cancel_on_ctrl_c:
    """Read the terminal's keys while a rewrite streams: Ctrl-C cancels the task."""

    def __init__(self, input: Input, task: asyncio.Future[None]) -> None:
        self.input = input
        self.task = task
        self._contexts: list[Any] = []

    def _keys(self) -> None:
        from prompt_toolkit.input.typeahead import get_typeahead, store_typeahead

        keys = self.input.read_keys()
        if any(key.key == Keys.ControlC for key in keys):
            self.task.cancel()
        else:  # typed ahead: the next prompt gets it
            store_typeahead(self.input, get_typeahead(self.input) + keys)

    def __enter__(self) -> None:
        for context in (self.input.raw_mode(), self.input.attach(self._keys)):
            context.__enter__()
            self._contexts.append(context)

    def __exit__(self, *exc: object) -> None:
        while self._contexts:
            self._contexts.pop().__exit__(None, None, None)


@guarded
def shell_command(argv: list[str]) -> int:
    parser = command_parser("shell", "Rewrite text interactively; /help lists the commands.")
    parser.add_argument("--action", default="fix", help="the action to start with (default fix)")
    args: argparse.Namespace = parser.parse_args(argv)
    if not (is_terminal(sys.stdin) and is_terminal(sys.stdout)):
        say("rewrite shell needs a terminal; in pipes and scripts use the filter: rewrite ACTION")
        return ExitCode.USAGE
    settings = settings_from(args)
    if args.action not in settings.actions:
        say(f"unknown action '{args.action}' (rewrite actions lists them)")
        return ExitCode.USAGE
    state = ShellState(settings, args.action, args.model, sys.stdout)
    asyncio.run(run_shell(state, create_session(state)))
    return ExitCode.OK
