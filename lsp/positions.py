"""LSP positions and ranges over plain strings.

A position is ``(line, character)``: lines are split only on ``\\n``, ``\\r\\n`` and ``\\r``
(never on form feed, ``\\x85`` or ``\\u2028``, which ``str.splitlines`` would split on), and the
character offset counts code units of the negotiated encoding: ``"utf-16"`` (the LSP default),
``"utf-8"`` or ``"utf-32"`` (code points). A string index here is a Python ``str`` index.

An offset inside a character (inside a surrogate pair, inside a UTF-8 sequence, as Neovim's
visual mode can send) snaps to the start of that character at a range's start and to its end
at a range's end, so a range never cuts a character in two. An offset past the end of a line
means the end of that line (never its line ending); a line past the end means the end of text.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)

_BREAK = re.compile(r"\r\n|\r|\n")

Position = tuple[int, int]
Points = tuple[Position, Position]  # an LSP range: start and end


def range_json(points: Points) -> dict[str, dict[str, int]]:
    """An LSP range as JSON, as command arguments and notifications carry it."""
    (start_line, start_char), (end_line, end_char) = points
    return {
        "start": {"line": start_line, "character": start_char},
        "end": {"line": end_line, "character": end_char},
    }


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` without their endings: ``"a\\n"`` gives ``["a", ""]``."""
    return _BREAK.split(text)


def line_starts(text: str) -> list[int]:
    """The index where each line starts."""
    return [0, *(found.end() for found in _BREAK.finditer(text))]


def newline_of(text: str) -> str:
    """The document's line ending: the first one in it, ``"\\n"`` when it has none."""
    found = _BREAK.search(text)
    return found.group() if found else "\n"


def _units(char: str, encoding: str) -> int:
    """How many code units of ``encoding`` one code point takes."""
    code = ord(char)
    if encoding == UTF16:
        return 2 if code > 0xFFFF else 1
    if encoding == UTF8:
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    if encoding == UTF32:
        return 1
    raise ValueError(f"unknown position encoding {encoding!r}: expected one of {ENCODINGS}")


def _line_bounds(text: str, starts: list[int], line: int) -> tuple[int, int]:
    """Start and end (before its line ending) of line ``line``, which must exist."""
    start = starts[line]
    found = _BREAK.search(text, start)
    return start, found.start() if found else len(text)


def to_index(text: str, line: int, character: int, encoding: str, side: str = "start") -> int:
    """The string index of an LSP position; ``side`` ("start" or "end") says how to snap."""
    if side not in ("start", "end"):
        raise ValueError(f"side must be 'start' or 'end', not {side!r}")
    _units("a", encoding)  # reject an unknown encoding even on an empty line
    starts = line_starts(text)
    if line >= len(starts):
        return len(text)
    index, end = _line_bounds(text, starts, max(line, 0))
    column = 0
    while index < end and column < character:
        width = _units(text[index], encoding)
        if column + width > character:
            return index + 1 if side == "end" else index
        column += width
        index += 1
    return index


def to_position(text: str, index: int, encoding: str) -> Position:
    """The LSP position of a string index (inside a ``\\r\\n`` pair: the end of that line)."""
    index = min(max(index, 0), len(text))
    starts = line_starts(text)
    line = bisect_right(starts, index) - 1
    start, end = _line_bounds(text, starts, line)
    return line, sum(_units(char, encoding) for char in text[start : min(index, end)])


def range_to_span(text: str, start: Position, end: Position, encoding: str) -> tuple[int, int]:
    """The string span ``[start, end)`` of an LSP range, snapped outwards, in order."""
    if end < start:
        start, end = end, start
    return to_index(text, *start, encoding, "start"), to_index(text, *end, encoding, "end")


def span_to_range(text: str, start: int, end: int, encoding: str) -> tuple[Position, Position]:
    """The LSP range of the string span ``[start, end)``, in order."""
    if end < start:
        start, end = end, start
    return to_position(text, start, encoding), to_position(text, end, encoding)


def _is_blank(line: str) -> bool:
    return not line.strip()


def paragraph_span(text: str, index: int) -> tuple[int, int]:
    """The blank-line-delimited paragraph at ``index``, without the final line ending.

    On a blank line: the next paragraph below, else the one above, else the empty span at
    ``index``.
    """
    index = min(max(index, 0), len(text))
    lines = split_lines(text)
    starts = line_starts(text)
    here = bisect_right(starts, index) - 1
    below = (n for n in range(here, len(lines)) if not _is_blank(lines[n]))
    above = (n for n in range(here, -1, -1) if not _is_blank(lines[n]))
    found = next(below, next(above, None))
    if found is None:
        return index, index
    first = last = found
    while first > 0 and not _is_blank(lines[first - 1]):
        first -= 1
    while last + 1 < len(lines) and not _is_blank(lines[last + 1]):
        last += 1
    return starts[first], starts[last] + len(lines[last])


def _extends(char: str) -> bool:
    """True for a code point that joins the one before it into one user-perceived character."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences
        or code == 0x200D  # zero-width joiner
    )


def _one_grapheme(chars: str) -> bool:
    """A rough test for one user-perceived character (what Helix's bare cursor covers)."""
    if chars == "\r\n" or len(chars) <= 1:
        return True
    if len(chars) == 2 and all(0x1F1E6 <= ord(char) <= 0x1F1FF for char in chars):
        return True  # a flag
    previous = chars[0]
    for char in chars[1:]:
        if previous != "\u200d" and not _extends(char):
            return False
        previous = char
    return True


def is_cursor(text: str, start: int, end: int) -> bool:
    """True when the span ``[start, end)`` is a bare cursor: empty or one character wide.

    One character is one code point, or one cluster of them that an editor shows as one
    character (``e`` with a combining accent, an emoji with a skin tone, ``\\r\\n``): Helix's
    cursor covers a whole grapheme.
    """
    if end < start:
        start, end = end, start
    return _one_grapheme(text[start:end])
