"""The `rewrite` command: a filter from stdin (or arguments) to stdout, and a few commands.

A thin door: parse, call the engine, render. One error boundary maps the core's errors to
one line on stderr and a documented exit code. Whatever text was read is written back
unchanged when the rewrite fails, so a filter never loses the user's text.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from importlib import import_module

from . import __version__
from .cli_common import (
    EXIT_CODES_HELP,
    ExitCode,
    OutputFailed,
    Parser,
    Terminated,
    common_options,
    exit_code,
    help_formatter,
    internal_error,
    is_terminal,
    say,
    settings_from,
    signals_raise,
    warn,
    write,
    write_text,
)
from .engine import Engine, RewriteRequest
from .errors import InputError, ModelNotFound, RewriteError, UsageError
from .results import RewriteResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .prose import Marked

COMMANDS_HELP = """commands:
  actions     list the actions, one line each
  config      show the effective settings and where each came from (--init: a starter file)
  status      each server: reachable, models, what is loaded, on GPU or CPU, a verdict
  warm        load the model now, with the options rewrites use
  pull        download a model, with a progress bar
  cache       stats or clear: the cache of earlier rewrites
  bench       compare models and prompt variants on shipped samples: speed and quality
  shell       rewrite text interactively
  shell-init  print key bindings for zsh, bash or fish
  lsp         the language server on stdio (also: rewrite-lsp)"""

_VALUE_OPTIONS = {"--host", "--model", "--config", "--to", "--param", "-p", "--instruction", "-i"}


def _rewrite_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rewrite",
        usage="rewrite [options] ACTION [TEXT ...]\n"
        "       rewrite [options] --instruction TEXT [TEXT ...]\n"
        "       rewrite COMMAND [options]    (rewrite COMMAND --help tells more)",
        description="Rewrite TEXT (or stdin when no TEXT is given) with a local model and print "
        "the result. Whitespace around the text, indentation and line endings are kept exactly.",
        epilog=f"{COMMANDS_HELP}\n\n{EXIT_CODES_HELP}\n\n"
        "example: echo 'their going too the store' | rewrite fix",
        formatter_class=help_formatter,
    )
    parser.add_argument("words", nargs="*", metavar="ACTION [TEXT ...]", help=argparse.SUPPRESS)
    parser.add_argument(
        "-i", "--instruction", metavar="TEXT", help="an ad-hoc action: what to do with the text"
    )
    parser.add_argument(
        "--to", metavar="LANGUAGE", help="target language for translate (default English)"
    )
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter for the action's instruction; repeatable",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: text, model, action, host, cached, timings",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the cache of earlier rewrites",
    )
    parser.add_argument(
        "--no-prose",
        action="store_true",
        help="send comment and quote markers (#, //, >, ...) to the model too; by default, "
        "when every line starts with the same marker, only the words after it are rewritten",
    )
    parser.add_argument("--version", action="version", version=f"rewrite {__version__}")
    common_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = _first_word(args)
    if command in COMMANDS:
        args.remove(command)
        return _load_command(COMMANDS[command])(args)
    return _rewrite_command(args)


def _first_word(args: list[str]) -> str | None:
    """The command a word names, unless it is text: after `--`, or once --instruction is
    given (then every word is text: `rewrite -i "make it formal" status update please`)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--" or _is_instruction(arg):
            return None
        elif arg.startswith("-"):
            skip = arg in _VALUE_OPTIONS
        else:
            return arg
    return None


def _is_instruction(arg: str) -> bool:
    return arg in ("-i", "--instruction") or arg.startswith(("--instruction=", "-i="))


def _rewrite_command(argv: list[str]) -> int:
    try:
        args = _rewrite_parser().parse_intermixed_args(argv)
        if not args.words and args.instruction is None:
            raise UsageError(
                "name an action (`rewrite actions` lists them) or give --instruction; "
                "see rewrite --help"
            )
    except UsageError as error:  # a filter still gives its text back
        return _refuse_usage(error)
    received: list[bytes] = []  # stdin as it arrives, to give back if stopped mid-read
    original: _Input | None = None
    with signals_raise():
        try:
            original = _read_input(args, received)
            result = _rewrite(args, original)
        except (KeyboardInterrupt, Terminated, Exception) as error:
            code, message = _failure(error)
            given = original if original is not None else _Input(b"".join(received))
            return _fail(code, message, given, args.json)
        return _print(result, original, args.json)


def _failure(error: BaseException) -> tuple[ExitCode, str]:
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, "interrupted"
    if isinstance(error, Terminated):
        return error.code, error.message
    if isinstance(error, RewriteError):
        return exit_code(error), str(error)
    return ExitCode.FAILED, internal_error(error)  # the last resort: a failure of rewrite itself


def _read_input(args: argparse.Namespace, received: list[bytes]) -> _Input:
    words = args.words if args.instruction is not None else args.words[1:]
    return _Input.from_words(words) if words else _Input.from_stdin(received)


def _refuse_usage(error: UsageError) -> int:
    """A usage error: one line, exit 2, and stdin (when it is not a terminal) given back,
    so that a filter replaces a selection with itself rather than with nothing."""
    if sys.stdin is None or is_terminal(sys.stdin):
        say(str(error))
        return ExitCode.USAGE
    received: list[bytes] = []
    with signals_raise(), contextlib.suppress(KeyboardInterrupt, Terminated):
        _Input.from_stdin(received)
    return _fail(ExitCode.USAGE, str(error), _Input(b"".join(received)), as_json=False)


def _rewrite(args: argparse.Namespace, original: _Input) -> RewriteResult:
    action = "" if args.instruction is not None else args.words[0]
    params = _params(args.param, args.to)
    text = original.text()
    marked = None if args.no_prose else _marked(text)
    request = RewriteRequest(
        marked.prose.text if marked else text,
        action,
        args.instruction,
        params,
        model=args.model,  # the flag wins over the action's own model
        use_cache=not args.no_cache,
    )
    engine = Engine(settings_from(args), warn=warn)
    streaming = marked is None and not args.json and is_terminal(sys.stdout)
    result = _rewrite_pulling(engine, request, streaming)
    return result.replace(text=marked.join(result.text)) if marked else result


def _print(result: RewriteResult, original: _Input, as_json: bool) -> int:
    try:
        if as_json:
            import json

            write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        else:  # the guard has refused control characters the model added
            write_text((result.text + original.added_newline).encode("utf-8", "surrogateescape"))
    except OutputFailed as failed:
        if failed.code != ExitCode.PIPE:
            say("the output could not be written")
        return failed.code
    return ExitCode.OK


def _marked(text: str) -> Marked | None:
    """The text as comment prose, when its first line starts like a comment or a quote."""
    if text.lstrip()[:1] not in _MARKER_STARTS:
        return None  # most text: not even the module that would say so is imported
    from .prose import marked_prose

    return marked_prose(text)


_MARKER_STARTS = tuple("#/-;%>*")


def _rewrite_pulling(engine: Engine, request: RewriteRequest, streaming: bool) -> RewriteResult:
    """Rewrite; when the model is missing and a person is watching stderr, pull it first
    (config auto_pull), so the very first rewrite on a new machine just works."""
    run = _stream_to_terminal if streaming else Engine.rewrite
    try:
        return run(engine, request)
    except ModelNotFound as missing:
        if not (missing.pullable and engine.settings.auto_pull and is_terminal(sys.stderr)):
            raise
        from .pull_view import RESUME_HINT, pull_with_progress

        say(f"{missing.model} is not on the server yet: downloading it once, then rewriting")
        try:
            pull_with_progress(engine.settings, missing.model)
        except KeyboardInterrupt:
            say(RESUME_HINT.replace("run the same command", f"run `rewrite pull {missing.model}`"))
            raise
        return run(engine, request)


def _stream_to_terminal(engine: Engine, request: RewriteRequest) -> RewriteResult:
    """At a terminal, the cleaned text as it arrives (a pipe or a file gets all or nothing);
    the result's text is then what is left to print: the end of the line."""
    stream = engine.stream(request)
    shown = False
    try:
        for piece in stream:
            write_text(piece.encode("utf-8", "surrogateescape"))
            shown = True
    except BaseException:
        if shown:  # what failed part-way is not left looking like the answer
            write_text(b"\n")
        raise
    assert stream.result is not None
    result = stream.result
    if not shown:
        return result
    return result.replace(text="\n" if result.text.endswith(("\n", "\r")) else "")


class _Input:
    """The user's text exactly as read, so it can be given back untouched on failure."""

    def __init__(self, raw: bytes, added_newline: str = "") -> None:
        self.raw = raw
        self.added_newline = added_newline  # text from arguments prints with a newline, like echo

    @classmethod
    def from_words(cls, words: list[str]) -> _Input:
        return cls(" ".join(words).encode("utf-8", "surrogateescape"), "\n")

    @classmethod
    def from_stdin(cls, received: list[bytes]) -> _Input:
        """All of stdin, collected in `received` as it arrives."""
        if sys.stdin is None:
            return cls(b"")
        if is_terminal(sys.stdin):
            say("reading the text from the terminal; end it with Ctrl-D")
        stdin = sys.stdin.buffer
        read = getattr(stdin, "read1", stdin.read)  # read1: each piece as it arrives
        try:
            while part := read(65536):
                received.append(part)
        except OSError:
            pass  # a closed or unreadable stdin has given what it had
        return cls(b"".join(received))

    def text(self) -> str:
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"the input is not valid UTF-8 (byte {exc.start}: "
                f"{self.raw[exc.start : exc.start + 1]!r})"
            ) from None


def _params(pairs: list[str], to: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param takes KEY=VALUE, got {pair!r}")
        params[key.strip()] = value
    if to is not None:
        params["to"] = to
    return params


def _fail(code: ExitCode, message: str, original: _Input, as_json: bool) -> int:
    """One line on stderr, and the input given back unchanged (as JSON with --json)."""
    say(message)
    try:
        if as_json:
            import json

            write(json.dumps({"error": message, "exit_code": int(code)}) + "\n")
        else:
            write_text(original.raw + original.added_newline.encode())
    except OutputFailed:
        pass  # nowhere to give it back to; the exit code says what happened first
    return code


# Each command is imported only when it runs: a rewrite pays for none of them.
COMMANDS = {
    "actions": "rewrite.commands:actions_command",
    "cache": "rewrite.commands:cache_command",
    "config": "rewrite.commands:config_command",
    "warm": "rewrite.commands:warm_command",
    "status": "rewrite.status:status_command",
    "pull": "rewrite.pull_view:pull_command",
    "lsp": "rewrite_lsp.server:lsp_command",
    "bench": "rewrite.bench_view:bench_command",
    "shell": "rewrite.shell:shell_command",
    "shell-init": "rewrite.shell_init:shell_init_command",
}


def _load_command(target: str) -> Callable[[list[str]], int]:
    module, _, name = target.partition(":")
    command: Callable[[list[str]], int] = getattr(import_module(module), name)
    return command
