"""What every subcommand of the command line shares: exit codes, the server and config
options, one error boundary, and output that survives a closed pipe."""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
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
    from typing import NoReturn, TextIO


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the rewrite failed on the server, its reply was rejected, or rewrite itself
    USAGE = 2  # bad usage, config or input
    NO_SERVER = 3  # no server reachable, or it refused access
    NO_MODEL = 4  # the model is not available
    OUTPUT = 74  # the output could not be written (a full disk, a closed stdout)
    HANGUP = 129  # SIGHUP: the terminal went away
    INTERRUPTED = 130  # Ctrl-C
    PIPE = 141  # the reader of stdout went away (as SIGPIPE would end a filter)
    TERMINATED = 143  # SIGTERM


class OutputFailed(Exception):
    """stdout cannot take the output; `code` says how it failed."""

    def __init__(self, code: ExitCode) -> None:
        super().__init__(code.name)
        self.code = code


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: wind down like Ctrl-C, with the signal's exit code."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        hangup = signum == getattr(signal, "SIGHUP", None)
        self.code = ExitCode.HANGUP if hangup else ExitCode.TERMINATED
        self.message = "hung up" if hangup else "terminated"


EXIT_CODES_HELP = """exit codes:
  0    done
  1    the rewrite failed on the server, or its reply was rejected (the input is printed unchanged)
  2    usage, config or input error
  3    no server reachable, or it refused access (401/403: set the key it names)
  4    model not available (Ollama: rewrite pull MODEL; others: the models it serves)
  74   the output could not be written (a full disk, a closed stdout)
  129  hung up (SIGHUP); the input is printed unchanged
  130  interrupted (Ctrl-C); the input is printed unchanged
  141  the reader of the output went away (a closed pipe)
  143  terminated (SIGTERM); the input is printed unchanged"""


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
        "OpenAI-compatible server; repeat for a pool that shares the work "
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


LOG_NAME = "rewrite.log"  # in the state directory: messages stderr could not carry
_LONGEST_LOG = 1 << 20


def say(message: str) -> None:
    """One line on stderr, safe for a terminal; nothing at all when stderr is closed. When
    stderr is the very file stdout is (an editor's filter: Vim's `2>&1`), the line goes to
    the log in the state directory instead, so that stdout holds the text alone."""
    from .terminal import one_line

    if sys.stderr is None:
        return
    line = f"rewrite: {one_line(message)}"
    if stderr_is_stdout():
        log(line)
        return
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


@functools.cache
def stderr_is_stdout() -> bool:
    """Whether fds 1 and 2 are one file that is not a terminal (a terminal shows both)."""
    try:
        out, err = os.fstat(1), os.fstat(2)
    except OSError:
        return False
    same = (out.st_dev, out.st_ino) == (err.st_dev, err.st_ino)
    return same and not os.isatty(1)


def log(line: str) -> None:
    """Append `line` to the message log (kept under a megabyte: the older half goes)."""
    import time

    from . import paths

    folder = paths.state_dir()
    path = os.path.join(folder, LOG_NAME)
    with contextlib.suppress(OSError):
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.path.exists(path) and os.path.getsize(path) > _LONGEST_LOG:
            os.replace(path, path + ".old")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as file:
            file.write(f"{stamp} {line}\n")


def warn(message: str) -> None:
    say(f"warning: {message}")


def write(text: str) -> None:
    """rewrite's own output (lists, reports): on a terminal, control characters that a
    server put in it (a model's name, an error) are shown rather than obeyed."""
    if is_terminal(sys.stdout):
        from .terminal import visible

        text = visible(text)
    write_bytes(text.encode("utf-8", "surrogateescape"))


def write_text(data: bytes) -> None:
    """A rewrite or the input given back: byte for byte into a pipe or a file; on a
    terminal, its control characters shown rather than obeyed."""
    if is_terminal(sys.stdout):
        from .terminal import visible

        shown = visible(data.decode("utf-8", "surrogateescape"))
        data = shown.encode("utf-8", "surrogateescape")
    write_bytes(data)


def is_terminal(stream: TextIO | None) -> bool:
    """Whether `stream` is an open terminal (a closed fd leaves it None)."""
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):  # ValueError: closed
        return False


def write_bytes(data: bytes) -> None:
    """Write to stdout now; OutputFailed when it cannot take it."""
    if sys.stdout is None:
        raise OutputFailed(ExitCode.OUTPUT)
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()  # or Python's own flush at exit complains
        raise OutputFailed(ExitCode.PIPE) from None
    except (OSError, ValueError):
        _silence_stdout()
        raise OutputFailed(ExitCode.OUTPUT) from None


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def internal_error(error: BaseException) -> str:
    """The one line for a failure of rewrite itself; the traceback with REWRITE_DEBUG=1."""
    if os.environ.get("REWRITE_DEBUG"):
        import traceback

        traceback.print_exception(error)
    return f"internal error ({type(error).__name__}: {error}); REWRITE_DEBUG=1 shows where"


class signals_raise:
    """While active, SIGTERM and SIGHUP raise Terminated in the main thread, so the input
    can be given back before the process ends."""

    def __enter__(self) -> signals_raise:
        self._previous = {}
        for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if signum is not None:
                self._previous[signum] = signal.signal(signum, _raise_terminated)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line and exit code 2 (a UsageError), never the
    usage text and a traceback-like second line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def command_parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = Parser(prog=f"rewrite {name}", description=description, formatter_class=help_formatter)
    common_options(parser)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(Overrides(tuple(args.host), args.model, args.config), warn=warn)


def guarded(command: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
    """The error boundary of a command: one line and an exit code, never a traceback."""

    def run(argv: list[str]) -> int:
        try:
            with signals_raise():
                return command(argv)
        except KeyboardInterrupt:
            say("interrupted")
            return ExitCode.INTERRUPTED
        except Terminated as terminated:
            say(terminated.message)
            return terminated.code
        except RewriteError as error:
            say(str(error))
            return exit_code(error)
        except OutputFailed as failed:
            if failed.code != ExitCode.PIPE:
                say("the output could not be written")
            return failed.code
        except Exception as error:  # the last resort: a failure of rewrite itself
            say(internal_error(error))
            return ExitCode.FAILED

    return run
