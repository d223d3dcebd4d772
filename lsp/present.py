"""How a finished rewrite reaches the user: applied at once, shown for confirmation, or
offered as candidates to choose from.

- `lsp.preview` off, one rewrite: one versioned edit (`delivery.deliver`).
- Several candidates, no preview: `window/showMessageRequest` lists them (Neovim and Emacs
  show a list); the chosen one is applied.
- `lsp.preview` on, a client that supports change annotations (VS Code): the edit carries
  an annotation that needs confirmation, so the editor shows its refactor preview.
- `lsp.preview` on, rewrite's own client (`rewrite.lua`, `rewrite.el`, which advertise
  `experimental.rewritePreview`): a `rewrite/preview` notification with the original and
  the candidate; the client shows the difference and answers with one of the commands
  `rewrite-lsp.accept`, `rewrite-lsp.reject`, `rewrite-lsp.again` (the next candidate). A
  preview ends with `rewrite/previewEnded`: when it is accepted or rejected, and when the
  document changes (a preview never outlives the version it was made for).
- Any other client: applied at once, as without preview.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from .codeactions import text_hash
from .delivery import deliver
from .positions import range_json, span_to_range

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .documents import Document, Span
    from .host import Host
    from .jobs import Job

    Another = Callable[[int], Awaitable[str | None]]  # the candidate of a seed, or None

PREVIEW = "rewrite/preview"
PREVIEW_ENDED = "rewrite/previewEnded"
ACCEPT, REJECT, AGAIN = "rewrite-lsp.accept", "rewrite-lsp.reject", "rewrite-lsp.again"
MOST_TRIES = 5  # seeds tried for a candidate unlike those shown before
_ids = itertools.count(1)


class Preview:
    """A rewrite shown to the user and not applied yet; what `deliver` needs of a job."""

    __slots__ = (
        "action",
        "another",
        "document",
        "hash",
        "id",
        "index",
        "original",
        "seed",
        "sending",
        "span",
        "texts",
    )

    def __init__(self, job: Job, texts: list[str], another: Another, seed: int) -> None:
        self.id = f"preview-{next(_ids)}"
        self.action = job.action
        self.document: Document = job.document
        self.span: Span = job.document.track(*job.span.bounds)
        self.hash = job.hash
        self.original = job.text
        self.texts = texts  # the candidates so far; `index` is the one shown
        self.index = 0
        self.another = another
        self.seed = seed  # the last seed asked for
        self.sending = False


class Presenter:
    """The previews waiting for the user, and the way each rewrite is shown."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.previews: dict[str, Preview] = {}

    async def present(self, job: Job, texts: list[str], another: Another, seed: int) -> str:
        """Show or apply the candidates `texts` of `job`; the outcome, for the log."""
        lsp = self.host.settings.lsp
        if lsp.preview and self.host.supports_previews:
            self._show(Preview(job, texts, another, seed))
            return "shown for review"
        if lsp.preview and self.host.supports_annotations:
            chosen = texts[0] if len(texts) == 1 else await self._choose(job, texts)
            label = f"Rewrite: {job.action}"
            return (
                "not applied: no candidate chosen"
                if chosen is None
                else (await deliver(self.host, job, chosen, confirm=label))
            )
        chosen = texts[0] if len(texts) == 1 else await self._choose(job, texts)
        if chosen is None:
            return "not applied: no candidate chosen"
        return await deliver(self.host, job, chosen)

    async def _choose(self, job: Job, texts: list[str]) -> str | None:
        """Ask the user which candidate (a list in Neovim and Emacs)."""
        titles = [f"{n}. {_one_line(text)}" for n, text in enumerate(texts, 1)]
        params = types.ShowMessageRequestParams(
            types.MessageType.Info,
            f"Rewrite: {job.action}: {len(texts)} candidates. Which one?",
            [types.MessageActionItem(title) for title in titles],
        )
        answer = await self.host.window_show_message_request_async(params)
        if answer is None or answer.title not in titles:
            return None
        return texts[titles.index(answer.title)]

    # ------------------------------------------------------------------ rewrite's own clients

    def _show(self, preview: Preview) -> None:
        self.previews[preview.id] = preview
        document, span = preview.document, preview.span
        points = span_to_range(document.text, span.start, span.end, self.host.encoding)
        self.host.notify(
            PREVIEW,
            {
                "id": preview.id,
                "uri": document.uri,
                "version": document.version,
                "range": range_json(points),
                "action": preview.action,
                "original": preview.original,
                "replacement": preview.texts[preview.index],
                "candidate": preview.index + 1,
                "candidates": len(preview.texts),
            },
        )

    def _end(self, preview: Preview, reason: str) -> None:
        self.previews.pop(preview.id, None)
        preview.document.untrack(preview.span)
        self.host.notify(PREVIEW_ENDED, {"id": preview.id, "reason": reason})

    async def accept(self, preview_id: str) -> str:
        preview = self.previews.get(preview_id)
        if preview is None:
            self.host.tell("The preview is over (the text changed); nothing was replaced.")
            return "not applied: the preview was over"
        self._end(preview, "accepted")  # no change came since it was shown: it would have ended
        document, bounds = preview.document, preview.span.bounds
        if text_hash(document.text[bounds[0] : bounds[1]]) != preview.hash:
            self.host.tell("The text changed since the preview; nothing was replaced.")
            return "not applied: the text changed"
        preview.span = document.track(*bounds)
        try:
            return await deliver(self.host, preview, preview.texts[preview.index])  # type: ignore[arg-type]
        finally:
            preview.document.untrack(preview.span)

    def reject(self, preview_id: str) -> str:
        preview = self.previews.get(preview_id)
        if preview is None:
            return "the preview was over already"
        self._end(preview, "rejected")
        return "rejected"

    async def again(self, preview_id: str) -> str:
        """The next candidate: one already made, or a new one (other seeds)."""
        preview = self.previews.get(preview_id)
        if preview is None:
            return "the preview was over already"
        if preview.index + 1 < len(preview.texts):
            preview.index += 1
        else:
            found = await self._another(preview)
            if found is None:
                message = f"Rewrite: {preview.action}: no other wording came back."
                self.host.tell(message, types.MessageType.Info)
                return "no other candidate"
            if preview.id not in self.previews:
                return "the preview was over meanwhile"
            preview.texts.append(found)
            preview.index = len(preview.texts) - 1
        self._show(preview)
        return f"candidate {preview.index + 1} shown"

    async def _another(self, preview: Preview) -> str | None:
        for _ in range(MOST_TRIES):
            preview.seed += 1
            text = await preview.another(preview.seed)
            if text is not None and text not in (preview.original, *preview.texts):
                return text
        return None

    def document_changed(self, document: Document) -> None:
        """A change to a document ends its previews: they were made for the old version."""
        for preview in [p for p in self.previews.values() if p.document is document]:
            self._end(preview, "the document changed")

    def document_closed(self, document: Document) -> None:
        for preview in [p for p in self.previews.values() if p.document is document]:
            self._end(preview, "the document was closed")


def _one_line(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def preview_id(arguments: tuple[Any, ...]) -> str | None:
    """The id an accept, reject or again command carries."""
    if len(arguments) == 1 and isinstance(arguments[0], dict):
        value = arguments[0].get("id")
        return value if isinstance(value, str) else None
    return None
