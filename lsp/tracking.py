"""Where a range of a document is after an edit, or that the edit touched it (pure functions).

A span is a ``[start, end)`` pair of string indices into a document's text. An edit (a "cut")
replaces ``[cut_start, cut_end)`` of the old text with ``inserted`` characters. A span the edit
does not touch moves with the text before it; a span it touches is lost (``None``). An edit
that ends where the span starts, or starts where it ends, does not touch it: typing right
before or right after a selection leaves the selected text as it was.

A client that sends the whole document instead of the change it made is answered the same
way: the cut is the part between the longest common start and the longest common end of the
old and the new text. If that part touches the span, the span's old text is looked for in the
new text and followed only where it occurs exactly once.
"""

from __future__ import annotations

Span = tuple[int, int]


def shift(span: Span, cut: Span, inserted: int) -> Span | None:
    """``span`` after ``cut`` was replaced by ``inserted`` characters; None if it touched it."""
    start, end = span
    cut_start, cut_end = cut
    if cut_end <= start:
        delta = inserted - (cut_end - cut_start)
        return start + delta, end + delta
    if cut_start >= end:
        return span
    return None


def changed_part(old: str, new: str) -> Span:
    """The cut of ``old`` that turns it into ``new``: what lies between their common ends."""
    prefix = _common_prefix(old, new)
    suffix = _common_suffix(old, new, min(len(old), len(new)) - prefix)
    return prefix, len(old) - suffix


def find_once(text: str, part: str) -> Span | None:
    """Where ``part`` is in ``text`` if it occurs there exactly once (overlaps counted)."""
    found = text.find(part)
    if not part or found < 0 or text.find(part, found + 1) >= 0:
        return None
    return found, found + len(part)


def follow(span: Span, old: str, new: str, cut: Span, whole: bool) -> Span | None:
    """``span`` of ``old`` in ``new``, which is ``old`` with ``cut`` replaced; None when lost.

    ``whole`` says the client sent the whole new text (``cut`` is then ``changed_part``), so
    a span the cut touches may still be found again by its text.
    """
    inserted = len(new) - len(old) + (cut[1] - cut[0])
    moved = shift(span, cut, inserted)
    if moved is not None or not whole:
        return moved
    return find_once(new, old[span[0] : span[1]])


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common start (binary search over C-speed comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """The length of the longest common end, at most ``limit``."""
    low, high = 0, max(limit, 0)
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle : len(a) - low] == b[len(b) - middle : len(b) - low]:
            low = middle
        else:
            high = middle - 1
    return low
