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
from prompt_toolkit.buffer import Buffer, CompletionState
from prompt_toolkit.completion import CompleteEvent, Completion, get_common_complete_suffix
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
from .errors import (
    AccessDenied,
    Cancelled,
    HostUnreachable,
    ModelNotFound,
    RejectedReply,
    RewriteError,
    ServerError,
)
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
        self.chosen_model = model  # --model or /model: wins over an action's own model
        self.candidate = 0  # which candidate the last rewrite was: /again asks for the next
        self.params: dict[str, dict[str, str]] = {}  # per action, so /to stays with translate
        self.out = out
        self.engine = Engine(settings, warn=self.warn)
        self.keeper: KeepWarm | None = None
        self.warmth = "loading…"  # what the toolbar says about the model: warm, server down...
        self.trouble: str | None = None  # the error behind a warmth that is not good news
        self.last_input: str | None = None
        self.last_result: RewriteResult | None = None
        self.quit = False
        self.session: PromptSession[str] = None  # type: ignore[assignment]  # set by run_shell

    @property
    def model(self) -> str:
        """The model the current action will use, in the engine's order: the user's choice,
        the action's own model, the config's."""
        action = self.settings.actions.get(self.action)
        own = action.model if action is not None else None
        return self.chosen_model or own or self.settings.model

    def switch_to(self, action: str) -> None:
        self.action = action
        self.keep_warm()

    def warn(self, message: str) -> None:
        self.show(f"<ansiyellow>warning: {_escape(message)}</ansiyellow>")

    def error(self, message: str) -> None:
        self.show(f"<ansired>{_escape(message)}</ansired>")

    def show(self, markup: str, *values: str) -> None:
        """Print `markup` with `values` put in its {} fields, escaped."""
        from prompt_toolkit import print_formatted_text

        text = (
            HTML(markup).format(*(visible(value) for value in values)) if values else HTML(markup)
        )
        print_formatted_text(text, file=self.out)

    def tell(self, text: str) -> None:
        self.show("{}", text)

    def keep_warm(self) -> None:
        """Keep the current action's model loaded; a new keeper only when that model changed."""
        model = self.model
        if self.keeper is not None:
            if self.keeper.model == model:
                return
            self.keeper.stop()
        self.warmth, self.trouble = "loading…", None
        keeper = KeepWarm(self.engine, model, on_change=lambda told: self._warmed(keeper, told))
        self.keeper = keeper  # before it starts: its first news may come at once
        keeper.start()

    def _warmed(self, keeper: KeepWarm, told: str) -> None:
        if keeper is not self.keeper or told == "loading":
            return
        if told == "warm":
            self.heard(self.model)
            return
        self.heard(self.model, keeper.error or RewriteError(told.removeprefix("error: ")))

    def heard(self, model: str, error: BaseException | None = None) -> None:
        """The server loaded or answered `model`, or failed with `error`: tell the toolbar."""
        if model == self.model or isinstance(error, HostUnreachable):
            self.warmth = _warmth(error)
            self.trouble = None if error is None else str(error)

    def toolbar(self) -> HTML:
        host = self.settings.hosts[0].url if len(self.settings.hosts) == 1 else "several hosts"
        parts = [f"{_escape(host)}", f"<b>{_escape(self.model)}</b> {self.warmth}"]
        if (result := self.last_result) is not None:
            timing = result.timings
            first = f"first token {timing.first_token_ms:.0f} ms, " if timing.first_token_ms else ""
            parts.append(
                f"{first}total {timing.wall_ms:.0f} ms{' (cached)' if result.cached else ''}"
            )
        return HTML("  |  ".join(parts))

    async def rewrite(
        self, text: str, action: str | None = None, *, remember: bool = True, again: bool = False
    ) -> None:
        """Stream the rewrite of `text` below the prompt; Ctrl-C stops it. `remember` False
        leaves the last input alone (a refinement rewrites the last result, not the input);
        `again` asks for another candidate than those shown for it so far."""
        if remember:
            self.last_input = text
        self.candidate = self.candidate + 1 if again else 0
        name = action or self.action
        request = RewriteRequest(
            text,
            name,
            params=self.params.get(name),
            model=self.chosen_model,
            candidate=self.candidate,
        )
        try:
            stream = stream_async(self.engine, request)
        except RewriteError as error:
            self.error(str(error))
            return
        task = asyncio.ensure_future(_print_stream(self, stream))
        with _cancel_on_ctrl_c(self.session.input, task):
            try:
                await task
            except asyncio.CancelledError:
                self.out.write("\n")
                self.show("<ansiyellow>cancelled</ansiyellow>")
            except (RewriteError, Cancelled) as error:
                self.out.write("\n")
                self.error(str(error) + _again_hint(error))
                if isinstance(error, HostUnreachable | ModelNotFound):
                    self.heard(getattr(error, "model", self.model), error)
            else:
                self.last_result = result = stream.result
                if result is not None and not result.cached:
                    self.heard(result.model)


_WARMTH = (
    (ModelNotFound, "model missing"),
    (AccessDenied, "access denied"),
    (HostUnreachable, "server down"),
)


def _warmth(error: BaseException | None) -> str:
    """A few words for the toolbar: what the last load or rewrite showed."""
    if error is None:
        return "warm"
    return next((words for kind, words in _WARMTH if isinstance(error, kind)), "load failed")


def _escape(text: str) -> str:
    """`text` for HTML markup, its control characters shown rather than obeyed."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------- key bindings

bindings = KeyBindings()


@bindings.add(Keys.Enter)
def _submit(event: KeyPressEvent) -> None:
    """Enter takes the name chosen in the completion menu, finishes a command name only one
    command fits, and otherwise sends the text (pasted newlines stay in it)."""
    buffer = event.current_buffer
    menu = buffer.complete_state
    if menu is not None and menu.current_completion is not None:
        buffer.complete_state = None  # the chosen name is in the line already
        return
    candidates = _candidates(buffer)
    if len(candidates) == 1 and get_common_complete_suffix(buffer.document, candidates):
        buffer.apply_completion(candidates[0])
        return
    buffer.validate_and_handle()


@bindings.add(Keys.Tab)
def _complete(event: KeyPressEvent) -> None:
    """Tab completes at the first press: the only name that fits, else the start all the
    names share, else the first of them (Tab again goes on to the next)."""
    buffer = event.current_buffer
    menu = buffer.complete_state
    if menu is not None and menu.complete_index is not None:
        buffer.complete_next()
        return
    candidates = _candidates(buffer)
    common = get_common_complete_suffix(buffer.document, candidates)
    if len(candidates) == 1:
        buffer.apply_completion(candidates[0])
    elif common:
        buffer.insert_text(common)
    elif candidates:
        buffer.complete_state = CompletionState(buffer.document, candidates)
        buffer.go_to_completion(0)


def _candidates(buffer: Buffer) -> list[Completion]:
    """The completions for the line now. Asked directly: the menu's own list is computed in
    the background and may not be there yet when a fast typist presses Tab or Enter."""
    if buffer.completer is None:
        return []
    event = CompleteEvent(completion_requested=True)
    return list(buffer.completer.get_completions(buffer.document, event))


@bindings.add(Keys.Escape, Keys.Enter)
def _newline(event: KeyPressEvent) -> None:
    """Alt-Enter (or Esc, Enter) starts a new line."""
    event.current_buffer.insert_text("\n")


@bindings.add(Keys.F5)
def _again(event: KeyPressEvent) -> None:
    """F5 rewrites the last input again; a half-typed line goes to the history (Up)."""
    buffer = event.current_buffer
    if buffer.text.strip():
        buffer.append_to_history()
    buffer.text = "/again"
    buffer.validate_and_handle()


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
    from .shell_commands import dispatch, name_clash_note

    state.session = session
    state.keep_warm()
    if note := name_clash_note(state):
        state.tell(note)
    while not state.quit:
        try:
            text = await session.prompt_async()
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line, nothing more
        except EOFError:
            break
        try:
            if text.startswith("//"):  # the escape for text that starts with a slash
                await state.rewrite(text[1:])
            elif text.startswith("/"):
                await dispatch(state, text)
            elif text.strip():
                await state.rewrite(text)
        except Exception as error:  # a failure of rewrite itself must not end the session
            state.error(internal_error(error))
    if state.keeper is not None:
        state.keeper.stop()


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
