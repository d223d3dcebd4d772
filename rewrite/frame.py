"""The whitespace frame around a text: only what is inside goes to the model.

Leading and trailing whitespace, the first line's indentation (and indentation every line
shares), and the line-ending style are split off before a rewrite and put back after it.
Kept apart from the clean-up rules so a cache hit need not load those.
"""

from __future__ import annotations

import re

from .record import Record


class Frame(Record):
    """The whitespace around a text, and the text itself as the model should see it."""

    __slots__ = ("body", "indent", "lead", "newline", "trail")

    def __init__(self, lead: str, trail: str, indent: str, newline: str, body: str) -> None:
        self.lead = lead
        self.trail = trail
        self.indent = indent
        self.newline = newline
        self.body = body


def _is_ws(ch: str) -> bool:
    return ch.isspace() or ch == "\ufeff"


def _has_content(line: str) -> bool:
    return not all(map(_is_ws, line))


def to_lf(text: str) -> str:
    """The text with every line ending (CRLF, CR) turned into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _bounds(text: str) -> tuple[int, int]:
    """Start and end of ``text`` without surrounding whitespace (BOM counted as whitespace)."""
    start, end = 0, len(text)
    while start < end and _is_ws(text[start]):
        start += 1
    while end > start and _is_ws(text[end - 1]):
        end -= 1
    return start, end


_BREAK = re.compile(r"\r\n?|\n")


def split_frame(text: str) -> Frame:
    """Split ``text`` into the part for the model and the frame around it."""
    found = _BREAK.search(text)
    newline = found.group() if found else "\n"
    start, end = _bounds(text)
    if start == end:
        return Frame(lead=text, trail="", indent="", newline=newline, body="")
    lead = text[:start]
    first_line = lead[max(lead.rfind("\n"), lead.rfind("\r")) + 1 :]
    cut = len(first_line)
    while cut and first_line[cut - 1].isspace():
        cut -= 1
    indent = first_line[cut:]
    lines = to_lf(text[start:end]).split("\n")
    rest = [line for line in lines[1:] if _has_content(line)]
    if not all(line.startswith(indent) for line in rest):
        indent = ""
    if indent:
        lines[1:] = [line[len(indent) :] if _has_content(line) else line for line in lines[1:]]
    return Frame(lead, text[end:], indent, newline, "\n".join(lines))


def restore_frame(frame: Frame, rewritten: str) -> str:
    """Put the model's text back into the frame of the original text."""
    start, end = _bounds(rewritten)
    lines = to_lf(rewritten[start:end]).split("\n")
    if frame.indent:
        lines[1:] = [frame.indent + line if _has_content(line) else line for line in lines[1:]]
    return frame.lead + frame.newline.join(lines) + frame.trail
