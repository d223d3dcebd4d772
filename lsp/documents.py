"""The documents the editor has open, with their text and version as the editor holds them.

Text comes only from didOpen and didChange. A URI the client never opened, or has closed, is
not served: nothing here reads the file system (pygls's workspace reads an unknown URI from
disk, which would send a crafted file's content to the model, block on a FIFO, or read
/dev/zero until memory runs out). Changes are applied with the project's own positions
(`positions.py`: lines split only on ``\\n``, ``\\r\\n``, ``\\r``; the negotiated encoding).

Each document also keeps what delivering a rewrite needs:

- spans that follow its edits (`tracking.py`): the range of each rewrite in flight, and the
  last ranges offered in code actions, so a command still finds its text after typing
  elsewhere;
- `spent`: the version an edit was sent for, until the client's next change (a second edit
  for that version would be stale);
- `lock`: the final check and the applyEdit round trip, one rewrite at a time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from lsprotocol import types

from .positions import Points, range_to_span
from .tracking import changed_part, follow

OFFERS_KEPT = 8  # code-action ranges remembered per document (a menu is rarely older)


class Span:
    """A range of a document that follows its edits until one touches it (then it is lost)."""

    __slots__ = ("end", "lost", "start")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.lost = False

    @property
    def bounds(self) -> tuple[int, int]:
        return self.start, self.end


class Document:
    def __init__(self, uri: str, text: str, version: int) -> None:
        self.uri = uri
        self.text = text
        self.version = version
        self.spent: int | None = None
        self.closed = False
        self.lock = asyncio.Lock()
        self._spans: set[Span] = set()
        self._offers: deque[tuple[int, Points, Span]] = deque()
        self._wake: asyncio.Event | None = None

    # ------------------------------------------------------------------ spans

    def track(self, start: int, end: int) -> Span:
        span = Span(start, end)
        self._spans.add(span)
        return span

    def untrack(self, span: Span) -> None:
        self._spans.discard(span)

    def offer(self, version: int, points: Points, start: int, end: int) -> None:
        """Remember a range offered in code actions at `version`, and follow it."""
        if any(v == version and p == points for v, p, _ in self._offers):
            return
        self._offers.append((version, points, self.track(start, end)))
        if len(self._offers) > OFFERS_KEPT:
            self.untrack(self._offers.popleft()[2])

    def locate(self, version: int | None, points: Points, encoding: str) -> tuple[int, int] | None:
        """Where a command's range, given at `version`, is now; None if no longer known."""
        if version is None or version == self.version:
            return range_to_span(self.text, *points, encoding)
        for offered, where, span in self._offers:
            if offered == version and where == points and not span.lost:
                return span.bounds
        return None

    # ------------------------------------------------------------------ changes

    def change(
        self, version: int, changes: Sequence[types.TextDocumentContentChangeEvent], encoding: str
    ) -> bool:
        """Apply a didChange; move the spans it did not touch. True if any span was lost."""
        lost = False
        for change in changes:
            old = self.text
            if isinstance(change, types.TextDocumentContentChangePartial):
                where = change.range
                cut = range_to_span(
                    old,
                    (where.start.line, where.start.character),
                    (where.end.line, where.end.character),
                    encoding,
                )
                self.text = old[: cut[0]] + change.text + old[cut[1] :]
            else:
                self.text = change.text
                cut = changed_part(old, self.text)
            whole = not isinstance(change, types.TextDocumentContentChangePartial)
            for span in list(self._spans):
                moved = follow(span.bounds, old, self.text, cut, whole)
                if moved is None:
                    span.lost, lost = True, True
                    self._spans.discard(span)
                else:
                    span.start, span.end = moved
        self.version = version
        self._notify()
        return lost

    def refund(self, version: int) -> None:
        """The edit sent for `version` was not applied: the version may be edited again."""
        if self.spent == version:
            self.spent = None
            self._notify()

    @property
    def is_spent(self) -> bool:
        """An edit was sent for the current version: wait for the client's change."""
        return self.spent == self.version

    def close(self) -> None:
        self.closed = True
        for span in self._spans:
            span.lost = True
        self._spans.clear()
        self._offers.clear()
        self._notify()

    async def next_change(self) -> None:
        """Wait for the next change, close or refund."""
        if self._wake is None:
            self._wake = asyncio.Event()
        await self._wake.wait()

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = None


class Documents:
    """The open documents by URI (exactly as the client spells it)."""

    def __init__(self) -> None:
        self._open: dict[str, Document] = {}

    def get(self, uri: str) -> Document | None:
        return self._open.get(uri)

    def open(self, uri: str, text: str, version: int) -> Document:
        self.close(uri)  # opened again without a close: the old copy is gone
        document = self._open[uri] = Document(uri, text, version)
        return document

    def close(self, uri: str) -> Document | None:
        document = self._open.pop(uri, None)
        if document is not None:
            document.close()
        return document

    def __len__(self) -> int:
        return len(self._open)
