"""What a model or a server says, made safe for a terminal.

A reply or an error body can hold escape sequences: OSC 52 sets the clipboard, ESC[2J
clears the screen, OSC 8 makes links. On a terminal (and always in the one line of an
error) control characters other than tab, newline and carriage return are shown as
symbols instead of being obeyed.
"""

from __future__ import annotations

import re

_KEEP = "\t\n\r"
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
_LONGEST_MESSAGE = 300  # characters of one error line; a proxy's HTML page is cut short


def _visible_table() -> dict[int, str]:
    table = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in _KEEP}
    table[0x7F] = "\u2421"  # DEL
    table.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})  # C1, CSI among them
    return table


_VISIBLE = _visible_table()


def visible(text: str) -> str:
    """`text` with its control characters shown (␛ for ESC) rather than obeyed."""
    return text.translate(_VISIBLE)


def one_line(message: str) -> str:
    """A message as one safe line: line breaks become spaces, long ones are cut."""
    flat = _LINE_BREAKS.sub(" ", visible(message).strip())
    if len(flat) > _LONGEST_MESSAGE:
        flat = flat[: _LONGEST_MESSAGE - 1].rstrip() + "…"
    return flat
