"""A long text in parts: each paragraph its own model request, the whole put back byte-exact.

A text too long for one request is cut at its paragraph breaks. A part is one paragraph
(consecutive lines that are not blank), one fenced code block, or, first of all and only when
the text starts with blank lines, a part with empty text whose separator holds them. Each
part carries the exact text that followed it, its ``separator``: the line break ending its
last line and the blank lines after it, byte for byte (``\\r\\n``, ``\\r``, trailing
blanks), or nothing at the text's end. Joining every part's text and separator gives back
the input, whatever it holds.

Paragraphs are the unit because a rewrite keeps them anyway (the guard counts them), because
each one is small enough for one request on any server and the requests can run side by
side, and because the cache then works per paragraph: editing one paragraph of a long text
re-sends only that one.

What splits, and what does not:

- A blank line (whitespace only) ends a paragraph; so do several in a row.
- In a run of lines that share a comment or quote marker (``#``, ``//``, ``--``, ``;``,
  ``%``, ``>``, or the `` *`` of a block comment, as in prose.py), a line holding only that
  marker is a blank line too, when some line of the run holds more than the marker.
- A fenced code block (three or more backticks or tildes, closed by a fence of the same
  character at least as long, or running to the end of the text) is never split, even at
  blank lines inside it, is a part of its own even without blank lines around it, and is not
  sent: code stays verbatim. Its fence may be indented any amount (more than CommonMark's
  three spaces, so fences in list items count), or follow a comment or quote marker (a fence
  in a Markdown quote, ``> ~~~``): such a fence also ends where the marked lines end.
- A Markdown heading is a line like any other: with a blank line after it, it is a paragraph
  of its own; without one it belongs to the paragraph below it.
- Not sent: the leading blank lines (the part with empty text), fenced code, and parts
  without a letter or digit (a rule ``---``, a lone marker): the model has nothing to do there.

Line breaks are ``\\n``, ``\\r\\n`` and ``\\r``, as in frame.py. The work is linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import groupby

from .prose import MARK as _MARK
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


class Part(Record):
    """A paragraph, a fenced code block or the leading blank lines, and the text after it."""

    __slots__ = ("send", "separator", "text")

    def __init__(self, text: str, separator: str, send: bool) -> None:
        self.text = text
        self.separator = separator
        self.send = send


_BREAK = re.compile(r"\r\n?|\n")
# A fence opening a code block, and its info string: after backticks it holds no backtick.
_OPENING = re.compile(r"[ \t]*(?:(`{3,})[^`]*|(~{3,}).*)")
_CLOSING = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _lines(text: str) -> tuple[list[str], list[int]]:
    """Each line of ``text`` without its line break, and the offset where it starts."""
    lines, starts, pos = [], [], 0
    for found in _BREAK.finditer(text):
        lines.append(text[pos : found.start()])
        starts.append(pos)
        pos = found.end()
    if pos < len(text):
        lines.append(text[pos:])
        starts.append(pos)
    return lines, starts


def _head(line: str) -> str:
    """The indentation and comment or quote marker ``line`` starts with, or ""."""
    found = _MARK.match(line)
    if found is None or (found.group(2).startswith("*") and not found.group(1)):
        return ""  # "*" at the margin is a Markdown list, not a block comment's body
    return found.group()


def _gaps(lines: list[str], heads: list[str]) -> list[bool]:
    """Which lines part paragraphs: blank ones, and bare markers among marked lines with words."""
    gaps = [_is_blank(line) for line in lines]
    for head, run in groupby(range(len(lines)), key=heads.__getitem__):
        if not head:
            continue
        indices = list(run)
        bare = [i for i in indices if _is_blank(lines[i][len(head) :])]
        if len(bare) < len(indices):
            for i in bare:
                gaps[i] = True
    return gaps


def _fence_end(lines: list[str], heads: list[str], first: int) -> int | None:
    """The last line of the fenced code block opening on line ``first``, or None."""
    head = ""
    opening = _OPENING.fullmatch(lines[first])
    if opening is None and heads[first]:
        head = heads[first]
        opening = _OPENING.fullmatch(lines[first], len(head))
    if opening is None:
        return None
    fence = opening.group(1) or opening.group(2)
    last = first
    for i in range(first + 1, len(lines)):
        if not lines[i].startswith(head):
            break  # the marked lines end, and the fence with them
        closing = _CLOSING.fullmatch(lines[i], len(head))
        if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
            return i
        last = i
    while last > first and _is_blank(lines[last]):
        last -= 1  # an unclosed fence: the blank lines at the end are not code
    return last


def _blocks(lines: list[str], heads: list[str], gaps: list[bool]) -> list[tuple[int, int, bool]]:
    """First line, last line and whether it is code, for each paragraph and code block."""
    blocks: list[tuple[int, int, bool]] = []
    i = 0
    while i < len(lines):
        last = _fence_end(lines, heads, i)
        if last is not None:
            blocks.append((i, last, True))
            i = last + 1
            continue
        if not gaps[i]:
            if blocks and blocks[-1][1] == i - 1 and not blocks[-1][2]:
                blocks[-1] = (blocks[-1][0], i, False)
            else:
                blocks.append((i, i, False))
        i += 1
    return blocks


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def split_parts(text: str) -> list[Part]:
    """``text`` in parts: ``"".join(p.text + p.separator for p in parts) == text``."""
    if not text:
        return []
    lines, starts = _lines(text)
    heads = [_head(line) for line in lines]
    spans = [
        (starts[first], starts[last] + len(lines[last]), code)
        for first, last, code in _blocks(lines, heads, _gaps(lines, heads))
    ]
    lead = spans[0][0] if spans else len(text)
    parts = [Part("", text[:lead], send=False)] if lead else []
    for k, (start, stop, code) in enumerate(spans):
        following = spans[k + 1][0] if k + 1 < len(spans) else len(text)
        body = text[start:stop]
        parts.append(Part(body, text[stop:following], send=not code and _has_words(body)))
    return parts


def sendable(parts: Sequence[Part]) -> list[int]:
    """The indices of the parts that go to the model."""
    return [i for i, part in enumerate(parts) if part.send]


def _rewrites(
    parts: Sequence[Part], rewritten: Mapping[int, str] | Sequence[str | None]
) -> dict[int, str]:
    """``rewritten`` as a mapping from part index to text, checked against ``parts``."""
    if isinstance(rewritten, str):
        raise TypeError("rewritten holds one text per part, it is not one text")
    if isinstance(rewritten, Mapping):
        found = dict(rewritten)
    elif len(rewritten) != len(parts):
        raise ValueError(f"{len(rewritten)} rewrites for {len(parts)} parts")
    else:
        found = {i: text for i, text in enumerate(rewritten) if text is not None}
    for i, text in found.items():
        if not 0 <= i < len(parts):
            raise ValueError(f"a rewrite for part {i} of {len(parts)}")
        if not parts[i].send and text != parts[i].text:
            raise ValueError(f"a rewrite for part {i}, which is not sent")
    return found


def join_parts(parts: Sequence[Part], rewritten: Mapping[int, str] | Sequence[str | None]) -> str:
    """The text of ``parts`` with each sendable part replaced by its rewrite.

    ``rewritten`` maps part indices to rewrites, or holds one rewrite (or None) per part. A
    sendable part without a rewrite keeps its own text; an unsent part may only be given its
    own text. Every separator and every unsent part comes back byte-exact.
    """
    found = _rewrites(parts, rewritten)
    pieces: list[str] = []
    for i, part in enumerate(parts):
        pieces.append(found.get(i, part.text))
        pieces.append(part.separator)
    return "".join(pieces)
