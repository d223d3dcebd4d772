"""`rewrite shell-init SHELL`: print the key bindings for zsh, bash or fish.

eval "$(rewrite shell-init zsh)"      # in ~/.zshrc
eval "$(rewrite shell-init bash)"     # in ~/.bashrc
rewrite shell-init fish | source      # in ~/.config/fish/config.fish
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .cli_common import ExitCode, command_parser, guarded, say, write

SHELLS = ("zsh", "bash", "fish")
# An installed package carries the snippets in rewrite/shell/; a checkout has them here.
SOURCE_DIR = Path(__file__).resolve().parent.parent / "editor-configs" / "shell"


def snippet(shell: str) -> str:
    """The key bindings for `shell`: the package's copy, else the source tree's."""
    shipped = files("rewrite") / "shell_keys" / f"rewrite.{shell}"
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    return (SOURCE_DIR / f"rewrite.{shell}").read_text(encoding="utf-8")


@guarded
def shell_init_command(argv: list[str]) -> int:
    parser = command_parser(
        "shell-init",
        "Print the key bindings for SHELL: Alt-r rewrites the command line, Alt-R picks\n"
        "the action first.\n\n"
        '  eval "$(rewrite shell-init zsh)"      # in ~/.zshrc\n'
        '  eval "$(rewrite shell-init bash)"     # in ~/.bashrc\n'
        "  rewrite shell-init fish | source      # in ~/.config/fish/config.fish",
    )
    parser.add_argument("shell", nargs="?", metavar="SHELL", help="zsh, bash or fish")
    args = parser.parse_args(argv)
    if args.shell not in SHELLS:
        given = f"unknown shell {args.shell!r}" if args.shell else "name a shell"
        say(f"{given}: choose zsh, bash or fish")
        return ExitCode.USAGE
    try:
        text = snippet(args.shell)
    except OSError as error:
        say(f"the {args.shell} key bindings are missing from this installation ({error})")
        return ExitCode.USAGE
    write(text)
    return ExitCode.OK
