"""The `rewrite` command: a filter from stdin (or arguments) to stdout, and a few commands.

A thin door: parse, call the engine, render. One error boundary maps the core's errors to
one line on stderr and a documented exit code. Whatever text was read is written back
unchanged when the rewrite fails, so a filter never loses the user's text.
"""

from __future__ import annotations

import argparse
import json
import sys
from enum import IntEnum

from . import __version__
from .config import Overrides, Settings, config_path, load_settings
from .engine import Engine, RewriteRequest
from .errors import (
    Cancelled,
    HostUnreachable,
    InputError,
    ModelNotFound,
    RewriteError,
    ServerError,
    UsageError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the rewrite failed on the server, or its reply was rejected
    USAGE = 2  # bad usage, config or input
    NO_SERVER = 3  # no Ollama server reachable
    NO_MODEL = 4  # the model is not available
    INTERRUPTED = 130


EXIT_CODES_HELP = """exit codes:
  0    done
  1    the rewrite failed on the server, or its reply was rejected (the input is printed unchanged)
  2    usage, config or input error
  3    no Ollama server reachable
  4    model not available (ollama pull MODEL)
  130  interrupted"""

_VALUE_OPTIONS = {"--host", "--model", "--config", "--to", "--param", "-p", "--instruction", "-i"}


def _common_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server and config")
    group.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="URL",
        help="Ollama server, [scheme://]host[:port]; repeat to fall back "
        "(default: OLLAMA_HOST, the config, http://127.0.0.1:11434)",
    )
    group.add_argument(
        "--model", metavar="NAME", help="model to use (default: from the config, qwen2.5:1.5b)"
    )
    group.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: REWRITE_CONFIG, $XDG_CONFIG_HOME/rewrite/config.yaml)",
    )


def _rewrite_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewrite",
        usage="rewrite [options] ACTION [TEXT ...]\n"
        "       rewrite [options] --instruction TEXT [TEXT ...]\n"
        "       rewrite {actions,config} [options]",
        description="Rewrite TEXT (or stdin when no TEXT is given) with a local model and print "
        "the "
        "result. Whitespace around the text, indentation and line endings are kept exactly.",
        epilog="commands:\n  actions   list the actions, one line each\n"
        "  config    show the effective settings and where each came from\n"
        "            (--init writes a starter file)\n\n"
        f"{EXIT_CODES_HELP}\n\nexample: echo 'their going too the store' | rewrite fix",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        help="bypass the cache of earlier rewrites (accepted; nothing is cached yet)",
    )
    parser.add_argument("--version", action="version", version=f"rewrite {__version__}")
    _common_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = _first_word(args)
    if command in COMMANDS:
        args.remove(command)
        return COMMANDS[command](args)
    return _rewrite_command(args)


def _first_word(args: list[str]) -> str | None:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            return None
        elif arg.startswith("-"):
            skip = arg in _VALUE_OPTIONS
        else:
            return arg
    return None


def _rewrite_command(argv: list[str]) -> int:
    args = _rewrite_parser().parse_intermixed_args(argv)
    if not args.words and args.instruction is None:
        _say(
            "name an action (`rewrite actions` lists them) or give --instruction; "
            "see rewrite --help"
        )
        return ExitCode.USAGE
    action = "" if args.instruction is not None else args.words[0]
    words = args.words if args.instruction is not None else args.words[1:]
    original = _Input.from_words(words) if words else _Input.from_stdin()
    try:
        params = _params(args.param, args.to)
        request = RewriteRequest(original.text(), action, args.instruction, params)
        result = Engine(_settings(args)).rewrite(request)
    except KeyboardInterrupt:
        return _fail(ExitCode.INTERRUPTED, "interrupted", original, args.json)
    except RewriteError as error:
        return _fail(_exit_code(error), str(error), original, args.json)
    if args.json:
        _write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    else:
        _write(result.text + original.added_newline)
    return ExitCode.OK


class _Input:
    """The user's text exactly as read, so it can be given back untouched on failure."""

    def __init__(self, raw: bytes, added_newline: str = "") -> None:
        self.raw = raw
        self.added_newline = added_newline  # text from arguments prints with a newline, like echo

    @classmethod
    def from_words(cls, words: list[str]) -> _Input:
        return cls(" ".join(words).encode("utf-8", "surrogateescape"), "\n")

    @classmethod
    def from_stdin(cls) -> _Input:
        if sys.stdin is None:
            return cls(b"")
        if sys.stdin.isatty():
            _say("reading the text from the terminal; end it with Ctrl-D")
        return cls(sys.stdin.buffer.read())

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


def _exit_code(error: RewriteError) -> ExitCode:
    codes: list[tuple[type[RewriteError], ExitCode]] = [
        (UsageError, ExitCode.USAGE),
        (HostUnreachable, ExitCode.NO_SERVER),
        (ModelNotFound, ExitCode.NO_MODEL),
        (Cancelled, ExitCode.INTERRUPTED),
        (ServerError, ExitCode.FAILED),
    ]
    return next((code for kind, code in codes if isinstance(error, kind)), ExitCode.FAILED)


def _fail(code: ExitCode, message: str, original: _Input, as_json: bool) -> int:
    _say(message)
    if as_json:
        _write(json.dumps({"error": message, "exit_code": int(code)}) + "\n")
    else:
        _write_bytes(original.raw + original.added_newline.encode())
    return code


def _say(message: str) -> None:
    print(f"rewrite: {message}", file=sys.stderr, flush=True)


def _write(text: str) -> None:
    _write_bytes(text.encode("utf-8"))


def _write_bytes(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        pass


def _command_parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"rewrite {name}", description=description)
    _common_options(parser)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Overrides(tuple(args.host), args.model, args.config))


def _guarded(command: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        try:
            return command(argv)
        except KeyboardInterrupt:
            _say("interrupted")
            return ExitCode.INTERRUPTED
        except RewriteError as error:
            _say(str(error))
            return _exit_code(error)

    return run


@_guarded
def _actions_command(argv: list[str]) -> int:
    args = _command_parser("actions", "List the actions, one line each.").parse_args(argv)
    actions = _settings(args).actions
    width = max(len(name) for name in actions)
    for name, action in sorted(actions.items()):
        _write(f"{name:<{width}}  {action.description}\n")
    return ExitCode.OK


@_guarded
def _config_command(argv: list[str]) -> int:
    parser = _command_parser("config", "Show the effective settings and where each came from.")
    parser.add_argument("--init", action="store_true", help="write a commented starter config file")
    parser.add_argument(
        "--force", action="store_true", help="with --init: replace an existing file"
    )
    args = parser.parse_args(argv)
    from . import configdoc

    if args.init:
        path, _ = config_path(Overrides(config=args.config))
        _write(f"wrote {configdoc.write_starter(path, force=args.force)}\n")
    else:
        _write(configdoc.render(_settings(args)))
    return ExitCode.OK


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "actions": _actions_command,
    "config": _config_command,
}
