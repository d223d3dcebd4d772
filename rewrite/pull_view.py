"""`rewrite pull [MODEL]`: download a model into the Ollama server, showing the progress.

On a terminal (stderr is a TTY, and not a dumb one) the progress is a prompt-toolkit
progress bar on stderr: the current step above, then the model, percentage, bar, bytes
done of the total, speed and time left. Otherwise one plain line per step goes to stderr
("pulling manifest", "pulling 4d2f3ab1c4e8  986 MB", the layer's percentage at most every
10 %, "verifying sha256 digest", "writing manifest", "success"). stdout gets only the
final "pulled MODEL on HOST".

`pull_with_progress` is the same pull for other commands (pulling a missing model before a
rewrite). Ctrl-C stops the download; Ollama keeps what it has and the same pull resumes it.
prompt_toolkit is imported only when a bar is drawn.
"""

from __future__ import annotations

import os
import sys
import time

from .cli_common import (
    ExitCode,
    command_parser,
    guarded,
    is_terminal,
    say,
    settings_from,
    write,
)
from .pull import pull_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from prompt_toolkit.shortcuts.progress_bar import ProgressBar, ProgressBarCounter
    from prompt_toolkit.shortcuts.progress_bar.formatters import Formatter

    from .config import Settings
    from .pull import PullProgress

    Counter = ProgressBarCounter[object]

RESUME_HINT = "interrupted: run the same command again to resume the download"
_PERCENT_FROM_BYTES = 1_000_000  # smaller layers arrive at once: no percentage lines
_SPEED_WINDOW = 5.0  # seconds of progress the speed is measured over


@guarded
def pull_command(argv: list[str]) -> int:
    parser = command_parser(
        "pull",
        "Download a model into the Ollama server: the first configured host that answers. "
        "Running it again after an interruption resumes the download.",
    )
    parser.add_argument(
        "name", nargs="?", metavar="MODEL", help="the model (default: --model or the config's)"
    )
    args = parser.parse_args(argv)
    settings = settings_from(args)
    model = args.name or settings.model
    try:
        host = pull_with_progress(settings, model)
    except KeyboardInterrupt:
        say(RESUME_HINT)
        return ExitCode.INTERRUPTED
    write(f"pulled {model} on {host}\n")
    return ExitCode.OK


def pull_with_progress(settings: Settings, model: str) -> str:
    """Pull `model`, showing the progress on stderr; return the host's URL.

    Raises RewriteError subclasses, and KeyboardInterrupt on Ctrl-C (RESUME_HINT says
    what to do next).
    """
    keyboard = terminal_input()
    if keyboard is None:
        return pull_model(settings, model, PlainReport().show)
    return _pull_with_bar(settings, model, keyboard)


def terminal_input() -> TextIO | None:
    """The terminal to read keys from while a bar is drawn on stderr, or None for plain lines.

    stdin when it is the terminal; otherwise stderr itself (stdin may be the text being
    rewritten), as long as it can be read. A dumb terminal gets plain lines.
    """
    if not is_terminal(sys.stderr) or os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return None
    return next((s for s in (sys.stdin, sys.stderr) if is_terminal(s) and _readable(s)), None)


def _readable(stream: TextIO) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: every console stream reads
        return True
    try:
        mode = fcntl.fcntl(stream.fileno(), fcntl.F_GETFL) & os.O_ACCMODE
    except (OSError, ValueError):
        return False
    return mode in (os.O_RDONLY, os.O_RDWR)


class PlainReport:
    """One line on stderr per step, and a big layer's percentage at most every 10 %."""

    def __init__(self, report: Callable[[str], None] = say) -> None:
        self.report = report
        self.status = ""
        self.tenths = 0

    def show(self, progress: PullProgress) -> None:
        if progress.status != self.status:
            self.status = progress.status
            self.tenths = 0
            size = f"  {format_bytes(progress.layer_total)}" if progress.layer_total else ""
            self.report(f"{progress.status}{size}")
        if progress.layer_total < _PERCENT_FROM_BYTES:
            return
        tenths = progress.layer_completed * 10 // progress.layer_total
        if tenths > self.tenths:
            self.tenths = tenths
            self.report(
                f"{progress.status}  {tenths * 10}% of {format_bytes(progress.layer_total)}"
            )


class BarView:
    """What the bar shows beyond the counter's own numbers: the step, the speed, the ETA.

    Updated from the pulling thread; the bar's thread only reads finished values.
    """

    def __init__(self) -> None:
        self.status = "connecting"
        self.speed: float | None = None  # bytes per second over the last few seconds
        self._samples: list[tuple[float, int]] = []

    def update(self, progress: PullProgress, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.status = progress.status
        samples = self._samples
        while len(samples) > 1 and samples[1][0] <= now - _SPEED_WINDOW:
            del samples[0]  # keep one sample at or before the window's start as the base
        samples.append((now, progress.completed))
        elapsed = now - samples[0][0]
        self.speed = (progress.completed - samples[0][1]) / elapsed if elapsed >= 0.5 else None

    def title(self) -> str:
        return self.status

    def bytes_text(self, counter: Counter) -> str:
        total = format_bytes(counter.total) if counter.total else "?"
        return f"{format_bytes(counter.items_completed)}/{total}"

    def speed_text(self, counter: Counter) -> str:
        return f"{format_bytes(round(self.speed))}/s" if self.speed is not None else ""

    def eta_text(self, counter: Counter) -> str:
        if counter.done:
            return "0:00"
        if not self.speed or not counter.total:
            return "?:??"
        return format_duration(max(0, counter.total - counter.items_completed) / self.speed)


def _pull_with_bar(settings: Settings, model: str, keyboard: TextIO) -> str:
    from prompt_toolkit.input import create_input
    from prompt_toolkit.output import create_output
    from prompt_toolkit.shortcuts import ProgressBar

    view = BarView()
    with ProgressBar(
        title=view.title,
        formatters=_formatters(view),
        output=create_output(stdout=sys.stderr),
        input=create_input(keyboard),
    ) as bar:
        counter: Counter = bar(label=model)

        def show(progress: PullProgress) -> None:
            view.update(progress)
            counter.total = progress.total or None
            counter.items_completed = progress.completed
            bar.invalidate()

        try:
            host = pull_model(settings, model, show)
        except BaseException:
            counter.stopped = True
            raise
        counter.done = True
    return host


def _formatters(view: BarView) -> list[Formatter]:
    from prompt_toolkit.layout.dimension import D
    from prompt_toolkit.shortcuts.progress_bar import formatters as f

    class Live(f.Formatter):
        """A text from the view, right-aligned in a fixed width."""

        def __init__(self, text: Callable[[Counter], str], width: int) -> None:
            self.text = text
            self.width = width

        def format(self, progress_bar: ProgressBar, progress: Counter, width: int) -> str:
            return self.text(progress).rjust(width)

        def get_width(self, progress_bar: ProgressBar) -> D:
            return D.exact(self.width)

    return [
        f.Label(suffix="  "),
        f.Percentage(),
        f.Text(" "),
        f.Bar(),
        f.Text(" "),
        Live(view.bytes_text, 17),  # "999.9 MB/999.9 MB"
        f.Text(" "),
        Live(view.speed_text, 10),  # "123.4 MB/s"
        f.Text(" eta ", style="class:time-left"),
        Live(view.eta_text, 7),  # "1:02:03"
    ]


def format_bytes(count: int) -> str:
    """Decimal units, as Ollama shows sizes: 986 MB, 1.3 GB, 11.3 kB."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 999.95 or unit == "GB":
            break
        value /= 1000
    if unit == "B":
        return f"{count} B"
    return f"{value:.0f} {unit}" if value >= 99.95 else f"{value:.1f} {unit}"


def format_duration(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
