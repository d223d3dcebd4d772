"""The last step of a rewrite: check the text once more and send it as one versioned edit.

Per document, one rewrite at a time (the document's lock) checks that its span is still there
with the text it started from, sends `workspace/applyEdit` for the current version and waits
for the answer. Sending marks the version spent: until the client's didChange arrives (or it
answers `applied: false`), no second edit goes out for that version, which the client would
drop as stale or, if it does not check versions, apply to the wrong text. A rewrite that finds
the version spent waits for that change, which moves its span past the first edit.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lsprotocol import types

from .codeactions import text_hash
from .positions import span_to_range

if TYPE_CHECKING:
    from .documents import Document, Span
    from .host import Host
    from .jobs import Job

CHANGED_DURING = "The document changed during the rewrite; nothing was replaced."


async def deliver(server: Host, job: Job, replacement: str, confirm: str | None = None) -> str:
    """Apply `replacement` over the job's span when it is safe; the outcome, for the log.
    `confirm`: a label, and the edit asks the editor to have the user confirm it first."""
    document = job.document
    while not document.closed:
        if document.is_spent:
            await document.next_change()
            continue
        async with document.lock:
            if not (document.is_spent or document.closed):
                return await _check_and_send(server, job, replacement, confirm)
    return "not applied: the document was closed"


async def _check_and_send(server: Host, job: Job, replacement: str, confirm: str | None) -> str:
    document, span = job.document, job.span
    if span.lost or text_hash(document.text[span.start : span.end]) != job.hash:
        server.tell(CHANGED_DURING)
        return "not applied: the text changed"
    edit = versioned_edit(document, span, replacement, server.encoding, confirm)
    document.untrack(span)  # the edit itself must not count as a change over the span
    job.sending = True
    document.spent = document.version
    # Shielded: cancelling while awaiting a client reply crashes pygls 2.1.1 (issue 621), and
    # the answer must be seen to know whether the version is spent.
    answer = await asyncio.shield(_send(server, document, edit))
    if answer.applied:
        return "applied"
    reason = f": {answer.failure_reason}" if answer.failure_reason else ""
    server.tell(f"The editor did not apply the rewrite{reason}.")
    return "not applied by the editor"


async def _send(
    server: Host, document: Document, edit: types.WorkspaceEdit
) -> types.ApplyWorkspaceEditResult:
    version = document.version
    answer = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit, label="Rewrite")
    )
    if not answer.applied:
        document.refund(version)  # an error answer leaves it spent: it may have been applied
    return answer


def versioned_edit(
    document: Document, span: Span, replacement: str, encoding: str, confirm: str | None = None
) -> types.WorkspaceEdit:
    """One TextDocumentEdit for the document's current version, with one TextEdit; with
    `confirm`, an annotated one the editor shows for the user to accept first."""
    (sl, sc), (el, ec) = span_to_range(document.text, span.start, span.end, encoding)
    where = types.Range(types.Position(sl, sc), types.Position(el, ec))
    identifier = types.OptionalVersionedTextDocumentIdentifier(document.uri, document.version)
    if confirm is None:
        edit = types.TextEdit(where, replacement)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(identifier, [edit])])
    annotated = types.AnnotatedTextEdit(ANNOTATION, where, replacement)
    note = types.ChangeAnnotation(confirm, needs_confirmation=True, description=PREVIEW_NOTE)
    return types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(identifier, [annotated])],
        change_annotations={ANNOTATION: note},
    )


ANNOTATION = "rewrite"
PREVIEW_NOTE = "The rewrite replaces the selected text; nothing changes until you accept it."
