"""Comment-aware prose: only the words after the comment or quote markers go to the model.

When every line of a text starts with the same indentation and marker (``#``, ``//``, ``--``,
``;``, ``%``, ``>``, or the `` * `` of a block comment's body), ``split_prose`` takes the
markers off and ``join_prose`` puts them back on every line of the rewrite. When the original
was hard-wrapped, the rewrite is re-wrapped to the original's width first, so a comment block
stays a comment block of the same shape whatever the model made longer or shorter.

Text without a shared marker passes through unchanged. A final line ending is not a line: it
is kept off the prose (``end``) and put back after the last line. Lines that are only the
marker are empty lines in the prose (paragraph breaks) and come back as ``bare_prefix``.
"""

from __future__ import annotations

import re
from itertools import pairwise

from .frame import to_lf
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class Prose(Record):
    """A text split into the marker every line starts with and the prose after it."""

    __slots__ = ("bare_prefix", "end", "prefix", "text", "width")

    def __init__(
        self, prefix: str, bare_prefix: str, text: str, width: int | None, end: str = ""
    ) -> None:
        self.prefix = prefix
        self.bare_prefix = bare_prefix
        self.text = text
        self.width = width
        self.end = end


# Indentation, then one marker; a marker repeated after optional blanks (nested quotes
# "> >", a commented-out comment "# #") is one marker. Any run of ">" is a quote level; the
# other markers repeat only when the repetition stands alone (so "# #123" keeps "#123").
MARK = re.compile(  # indentation, then one comment or quote marker (repeated: one)
    r"([ \t]*)"
    r"(>(?:[ \t]*>)*"
    r"|(?P<t>#+|//+!?|-{2,}|;+|%+|\*+(?![*/]))(?:[ \t]*(?P=t)(?=[ \t]|$))*)"
)
# A list item: bullet or number, then blanks, then its text.
_ITEM = re.compile(r"([ \t]*)(?:[-*+•]|\d{1,9}[.)])[ \t]+(?=\S)")
# Lines whose breaks a re-wrap must keep: indented (code, continuations), fences, tables.
_VERBATIM = re.compile(r"[ \t]|```|~~~|\|")
# Hard wraps narrower than this many columns of prose are too rare to tell from short lines.
_NARROWEST = 40


def _head(lines: list[str]) -> str | None:
    """The indentation and marker every line starts with, or None when they do not share one."""
    found = []
    for line in lines:
        match = MARK.match(line)
        if match is None:  # also an empty line: it has no marker
            return None
        found.append(match)
    if len({match.group() for match in found}) != 1:
        return None
    indent, marker = found[0].group(1, 2)
    if marker.startswith("*") and not indent:
        return None  # "* item" at the margin is a Markdown list, not a block comment's body
    return found[0].group()


def split_prose(text: str) -> Prose:
    """Split ``text`` (``\\n`` line endings only) into its common marker prefix and its prose."""
    end = "\n" if text.endswith("\n") else ""
    lines = text.removesuffix(end).split("\n")
    head = _head(lines)
    if head is None:
        return Prose("", "", text, None)
    rests = [line[len(head) :] for line in lines]
    prefix = head + " " if all(rest.startswith(" ") for rest in rests if rest) else head
    prose = [line[len(prefix) :] for line in lines]
    if any(line.startswith(prefix) for line in prose):
        return Prose("", "", text, None)  # a doubled prefix: the marker is part of the prose
    blanks = [line for line, words in zip(lines, prose, strict=True) if not words]
    bare = prefix if blanks and all(line == prefix for line in blanks) else head
    width = _fill_width(len(prefix), prose)
    return Prose(prefix, bare, "\n".join(prose), width, end)


def _is_blank(line: str) -> bool:
    return not line.strip()


def _blocks(lines: list[str]) -> Iterator[list[str]]:
    """Group prose lines: each blank line alone, the others in runs that a list item starts."""
    block: list[str] = []
    for line in lines:
        if _is_blank(line) or _ITEM.match(line):
            if block:
                yield block
            block = []
            if _is_blank(line):
                yield [line]
                continue
        block.append(line)
    if block:
        yield block


def _wrappable(block: list[str]) -> bool:
    """True for a paragraph or list item that may be re-wrapped (not code, fences or tables)."""
    first, rest = block[0], block[1:]
    if _is_blank(first):
        return False
    if _ITEM.match(first):
        return not any(line.lstrip().startswith(("```", "~~~", "|")) for line in rest)
    return not any(_VERBATIM.match(line) for line in block)


def _fill_width(prefix_len: int, prose: list[str]) -> int | None:
    """The longest line's length when some paragraph of two or more lines was filled to it.

    A line is filled when the next line's first word would not have fitted after it. A line
    of one word (a long URL) may stick out past the fill width: it is not measured unless
    all lines are single words. The longest line always passes the test, so two short lines
    ("# Open it.\\n# Then close.") would look filled: below ``_NARROWEST`` columns of prose
    nothing counts as hard-wrapped.
    """
    lines = [line.rstrip() for line in prose]
    breakable = [line for line in lines if len(line.split()) > 1]
    width = prefix_len + max(map(len, breakable or lines))
    if width - prefix_len < _NARROWEST:
        return None
    for block in _blocks(prose):
        if len(block) < 2 or not _wrappable(block):
            continue
        if all(
            prefix_len + len(line.rstrip()) + 1 + len(after.split()[0]) > width
            for line, after in pairwise(block)
        ):
            return width
    return None


def _wrap(block: list[str], width: int) -> list[str]:
    """Fill one paragraph or list item to ``width`` columns (list items with a hanging indent)."""
    import textwrap  # only a hard-wrapped original needs it

    item = _ITEM.match(block[0])
    indent = item.group(1) if item else ""
    hanging = indent + " " * (len(item.group()) - len(indent)) if item else ""
    return textwrap.wrap(
        " ".join(line.strip() for line in block),
        width=max(1, width),
        initial_indent=indent,
        subsequent_indent=hanging,
        expand_tabs=False,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _rewrap(lines: list[str], width: int) -> list[str]:
    wrapped: list[str] = []
    for block in _blocks(lines):
        if _is_blank(block[0]):
            wrapped.append("")
        elif _wrappable(block):
            wrapped.extend(_wrap(block, width))
        else:
            wrapped.extend(block)
    return wrapped


def join_prose(prose: Prose, rewritten: str) -> str:
    """Put the markers of ``prose`` back on every line of ``rewritten`` (re-wrapped if need be)."""
    lines = rewritten.split("\n")
    if prose.width is not None:
        lines = _rewrap(lines, prose.width - len(prose.prefix))
    marked = (prose.prefix + line if line else prose.bare_prefix for line in lines)
    return "\n".join(marked) + prose.end


class Marked(Record):
    """A text whose every line carries one marker: its prose, and how to put it back."""

    __slots__ = ("newline", "prose")

    def __init__(self, prose: Prose, newline: str) -> None:
        self.prose = prose
        self.newline = newline

    def join(self, rewritten: str) -> str:
        """The rewrite of the prose, with the markers and the text's own line endings."""
        return join_prose(self.prose, to_lf(rewritten)).replace("\n", self.newline)


def marked_prose(text: str) -> Marked | None:
    """`text` (any line endings) as prose when every line starts with the same comment or
    quote marker and a blank after it (`# note`, not `#hashtag` or `--verbose`), else None."""
    if not text.strip():
        return None
    newline = "\r\n" if "\r\n" in text else "\r" if "\r" in text else "\n"
    prose = split_prose(to_lf(text))
    return Marked(prose, newline) if prose.prefix.endswith((" ", "\t")) else None
