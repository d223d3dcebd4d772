"""What every subcommand of the command line shares: exit codes, the server and config
options, one error boundary, and output that survives a closed pipe."""

from __future__ import annotations

import argparse
import os
import sys
from enum import IntEnum

from .config import Overrides, Settings, load_settings
from .errors import (
    Cancelled,
    HostUnreachable,
    ModelNotFound,
    RewriteError,
    ServerError,
    UsageError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the rewrite failed on the server, or its reply was rejected
    USAGE = 2  # bad usage, config or input
    NO_SERVER = 3  # no server reachable, or it refused access
    NO_MODEL = 4  # the model is not available
    INTERRUPTED = 130


EXIT_CODES_HELP = """exit codes:
  0    done
  1    the rewrite failed on the server, or its reply was rejected (the input is printed unchanged)
  2    usage, config or input error
  3    no server reachable, or it refused access (401/403: set the key it names)
  4    model not available (Ollama: rewrite pull MODEL; others: the models it serves)
  130  interrupted"""


def help_formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's formatter with the width given, so that it does not import shutil (2-3 ms
    of every start-up: argparse builds a formatter for each option it adds)."""
    try:
        columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size(2).columns
    except (ValueError, OSError):
        columns = 80
    return argparse.RawDescriptionHelpFormatter(prog, width=max(columns, 40) - 2)


def common_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server and config")
    group.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="URL",
        help="server, [scheme://][user:pass@]host[:port][/path]; a path ending in /v1 is an "
        "OpenAI-compatible server; repeat to fall back "
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


def exit_code(error: RewriteError) -> ExitCode:
    codes: list[tuple[type[RewriteError], ExitCode]] = [
        (UsageError, ExitCode.USAGE),
        (HostUnreachable, ExitCode.NO_SERVER),
        (ModelNotFound, ExitCode.NO_MODEL),
        (Cancelled, ExitCode.INTERRUPTED),
        (ServerError, ExitCode.FAILED),
    ]
    return next((code for kind, code in codes if isinstance(error, kind)), ExitCode.FAILED)


def say(message: str) -> None:
    print(f"rewrite: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    say(f"warning: {message}")


def write(text: str) -> None:
    write_bytes(text.encode("utf-8"))


def write_bytes(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        pass


def command_parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"rewrite {name}", description=description, formatter_class=help_formatter
    )
    common_options(parser)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(Overrides(tuple(args.host), args.model, args.config))


def guarded(command: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        try:
            return command(argv)
        except KeyboardInterrupt:
            say("interrupted")
            return ExitCode.INTERRUPTED
        except RewriteError as error:
            say(str(error))
            return exit_code(error)

    return run
