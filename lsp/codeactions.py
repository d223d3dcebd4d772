"""What the code-action menu offers: one command per rewrite action, computed at once.

Nothing here calls the model. Each command carries everything its execution needs: the
document and its version, the range, the action, and a hash of the selected text, so the
server can tell whether the document changed before it replaces anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from lsprotocol import types

from rewrite.actions import Action
from rewrite.record import Record

from .positions import (
    Points,
    is_cursor,
    paragraph_span,
    range_json,
    range_to_span,
    span_to_range,
)

COMMAND = "rewrite-lsp.rewrite"
KIND = "refactor.rewrite"


class Target(Record):
    """The text a rewrite would replace: the selection, or the paragraph at the cursor."""

    __slots__ = ("end", "paragraph", "start", "text", "uri", "version")

    def __init__(
        self, uri: str, version: int | None, start: int, end: int, text: str, paragraph: bool
    ) -> None:
        self.uri = uri
        self.version = version
        self.start = start
        self.end = end
        self.text = text
        self.paragraph = paragraph


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def find_target(
    uri: str, version: int | None, source: str, selection: types.Range, encoding: str
) -> Target | None:
    start, end = range_to_span(
        source,
        (selection.start.line, selection.start.character),
        (selection.end.line, selection.end.character),
        encoding,
    )
    paragraph = is_cursor(source, start, end)
    if paragraph:
        start, end = paragraph_span(source, start)
    text = source[start:end]
    if not text.strip():
        return None
    return Target(uri, version, start, end, text, paragraph)


def target_points(target: Target, source: str, encoding: str) -> Points:
    """The target's range in LSP positions, as the commands carry it."""
    return span_to_range(source, target.start, target.end, encoding)


def code_actions(
    target: Target,
    points: Points,
    actions: Mapping[str, Action],
    candidates: int = 1,
    candidate_actions: tuple[str, ...] = (),
) -> list[types.CodeAction]:
    """One command per action; and for each of `candidate_actions`, one that offers
    `candidates` different rewrites to choose from."""
    arguments: dict[str, Any] = {
        "uri": target.uri,
        "version": target.version,
        "range": range_json(points),
        "hash": text_hash(target.text),
        "paragraph": target.paragraph,
    }
    where = "Rewrite paragraph" if target.paragraph else "Rewrite"
    offered = []
    for name, action in actions.items():
        title = f"{where}: {lower_first(action.summary)}"
        command = types.Command(title, COMMAND, arguments=[{**arguments, "action": name}])
        offered.append(types.CodeAction(title, kind=KIND, command=command))
    for name in (n for n in candidate_actions if n in actions) if candidates > 1 else ():
        title = f"{where}: {lower_first(actions[name].summary)} ({candidates} candidates)"
        chosen = {**arguments, "action": name, "candidates": candidates}
        command = types.Command(title, COMMAND, arguments=[chosen])
        offered.append(types.CodeAction(title, kind=KIND, command=command))
    return offered


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
