"""Preview, candidates and "again" in the language server, and clients that cannot be sent
edits (Vim's ALE), through pytest-lsp over stdio against the stand-in."""

from __future__ import annotations

import os
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp_client import SERVER_COMMAND, capabilities, make_client
from tests.standin import StandIn
from tests.test_lsp_hardening import Client, press, until

pytestmark = pytest.mark.asyncio(loop_scope="function")

URI = "file:///notes.md"
TEXT = "their going to the store\n"
LINE = types.Range(types.Position(0, 0), types.Position(0, 24))
WORDINGS = {  # the stand-in's answer for each seed: rephrasings a guard lets through
    None: "They are going to the store.",
    1: "They are going to the store.",
    2: "They're heading to the store.",
    3: "They are on their way to the store.",
    4: "They're going to the shop.",
    5: "They are off to the store.",
}


def by_seed(body: dict[str, Any]) -> str:
    return WORDINGS.get(body.get("options", {}).get("seed"), "They go to the store.")


class Watched(Client):
    """A client that also keeps rewrite's own notifications and answers message requests."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.previews: list[dict[str, Any]] = []
        self.finished: list[dict[str, Any]] = []  # rewrite/previewEnded
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.asked: list[types.ShowMessageRequestParams] = []
        self.pick = 0  # which action item to answer with

    def on_apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.applied.append(params)
        return super().on_apply(params)


async def start(url: str, caps: types.ClientCapabilities, lsp: dict[str, Any]) -> Watched:
    client = make_client()
    editor = Watched(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.on_apply(params)

    @client.feature("rewrite/preview")
    def preview(params: Any) -> None:
        editor.previews.append(_plain(params))

    @client.feature("rewrite/previewEnded")
    def ended(params: Any) -> None:
        editor.finished.append(_plain(params))

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def choose(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        editor.asked.append(params)
        return (params.actions or [])[editor.pick] if params.actions else None

    await client.start_io(*SERVER_COMMAND, env={**os.environ, "OLLAMA_HOST": url})
    await client.initialize_session(
        types.InitializeParams(capabilities=caps, initialization_options={"lsp": lsp})
    )
    return editor


def _plain(value: Any) -> Any:
    """pygls hands notifications of unknown methods over as named tuples: make them dicts."""
    if hasattr(value, "_asdict"):
        return {key: _plain(item) for key, item in value._asdict().items()}
    return [_plain(item) for item in value] if isinstance(value, list) else value


def preview_client() -> types.ClientCapabilities:
    caps = capabilities("neovim")
    caps.experimental = {"rewritePreview": True}
    return caps


async def command(editor: Client, title_part: str) -> Any:
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(URI), LINE, types.CodeActionContext(diagnostics=[])
        )
    )
    chosen = [a for a in result or [] if title_part in a.title]
    assert chosen, [a.title for a in result or []]
    assert chosen[0].command is not None
    return chosen[0].command.arguments[0]


async def execute(editor: Client, name: str, argument: Any) -> None:
    await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(name, [argument])
    )


# candidates


async def test_candidates_are_distinct_and_the_chosen_one_lands(standin: StandIn) -> None:
    standin.reply = by_seed
    editor = await start(standin.url, capabilities("neovim"), {"prefetch": False})
    try:
        editor.open(URI, TEXT)
        editor.pick = 1
        await press(editor, await command(editor, "(3 candidates)"), "c")
        assert await editor.ended("c") == "applied"
        (asked,) = editor.asked
        titles = [item.title for item in asked.actions or []]
        assert titles == [f"{n}. {WORDINGS[n]}" for n in (1, 2, 3)]
        assert editor.texts[URI] == WORDINGS[2] + "\n"
        seeds = [r.body["options"]["seed"] for r in standin.chat_requests() if r.body["messages"]]
        assert sorted(seeds) == [1, 2, 3]
    finally:
        await editor.client.shutdown_session()


async def test_identical_candidates_are_merged(standin: StandIn) -> None:
    standin.reply = "They are going to the store."
    editor = await start(standin.url, capabilities("neovim"), {"prefetch": False})
    try:
        editor.open(URI, TEXT)
        await press(editor, await command(editor, "(3 candidates)"), "c")
        assert await editor.ended("c") == "applied"
        assert editor.asked == []  # one distinct answer: nothing to choose
        assert editor.texts[URI] == "They are going to the store.\n"
    finally:
        await editor.client.shutdown_session()


async def test_the_same_request_again_soon_is_another_candidate(standin: StandIn) -> None:
    standin.reply = by_seed
    editor = await start(standin.url, capabilities("neovim"), {"prefetch": False})
    try:
        editor.open(URI, TEXT)
        first = await command(editor, "say it in other words")
        await press(editor, first, "one")
        assert await editor.ended("one") == "applied"
        editor.replace_all(URI, TEXT)  # undone by the user, and asked again
        await press(editor, await command(editor, "say it in other words"), "two")
        assert await editor.ended("two") == "applied"
        assert editor.texts[URI] == WORDINGS[1] + "\n"
        seeds = [r.body["options"].get("seed") for r in standin.chat_requests()]
        assert seeds[-2:] == [None, 1]
    finally:
        await editor.client.shutdown_session()


# preview through change annotations (VS Code)


@pytest.mark.parametrize("client", ["visual_studio_code", "neovim"])
async def test_an_annotation_asks_for_confirmation_only_where_supported(
    standin: StandIn, client: str
) -> None:
    standin.reply = by_seed
    caps = capabilities(client)
    annotations = bool(
        caps.workspace
        and caps.workspace.workspace_edit
        and caps.workspace.workspace_edit.change_annotation_support is not None
    )
    editor = await start(standin.url, caps, {"prefetch": False, "preview": True})
    try:
        editor.open(URI, TEXT)
        await press(editor, await command(editor, "fix spelling"), "f")
        assert await editor.ended("f") == "applied"
        (sent,) = editor.applied
        assert editor.texts[URI] == WORDINGS[None] + "\n"
        assert annotations == (client == "visual_studio_code")
        notes = sent.edit.change_annotations or {}
        assert [note.needs_confirmation for note in notes.values()] == (
            [True] if annotations else []
        )
    finally:
        await editor.client.shutdown_session()


# preview through rewrite's own clients


async def test_a_preview_is_accepted_as_one_versioned_edit(standin: StandIn) -> None:
    standin.reply = by_seed
    editor = await start(standin.url, preview_client(), {"prefetch": False, "preview": True})
    try:
        editor.open(URI, TEXT)
        await press(editor, await command(editor, "fix spelling"), "f")
        assert await editor.ended("f") == "shown for review"
        (shown,) = editor.previews
        assert (shown["original"], shown["replacement"]) == (TEXT.strip(), WORDINGS[None])
        assert editor.texts[URI] == TEXT and editor.edits == []  # nothing lands unasked
        await execute(editor, "rewrite-lsp.accept", {"id": shown["id"]})
        await until(lambda: editor.texts[URI] == WORDINGS[None] + "\n")
        assert len(editor.edits) == 1 and editor.finished[-1]["reason"] == "accepted"
    finally:
        await editor.client.shutdown_session()


async def test_again_shows_the_next_candidate_and_reject_ends_it(standin: StandIn) -> None:
    standin.reply = by_seed
    editor = await start(standin.url, preview_client(), {"prefetch": False, "preview": True})
    try:
        editor.open(URI, TEXT)
        await press(editor, await command(editor, "(3 candidates)"), "c")
        await until(lambda: len(editor.previews) == 1)
        first = editor.previews[0]
        assert (first["candidate"], first["candidates"]) == (1, 3)
        for expected in (2, 3, 4):  # the third is computed when asked for
            await execute(editor, "rewrite-lsp.again", {"id": first["id"]})
            await until(lambda expected=expected: editor.previews[-1]["candidate"] == expected)
        assert [p["replacement"] for p in editor.previews] == [WORDINGS[n] for n in (1, 2, 3, 4)]
        await execute(editor, "rewrite-lsp.reject", {"id": first["id"]})
        await until(lambda: editor.finished and editor.finished[-1]["reason"] == "rejected")
        assert editor.texts[URI] == TEXT and editor.edits == []
    finally:
        await editor.client.shutdown_session()


async def test_a_preview_ends_with_the_version_it_was_made_for(standin: StandIn) -> None:
    standin.reply = by_seed
    editor = await start(standin.url, preview_client(), {"prefetch": False, "preview": True})
    try:
        editor.open(URI, TEXT + "more text\n")
        await press(editor, await command(editor, "fix spelling"), "f")
        await until(lambda: len(editor.previews) == 1)
        editor.type(URI, ((1, 0), (1, 0), "x"))  # typing elsewhere: the preview is over
        await until(
            lambda: editor.finished and editor.finished[-1]["reason"] == "the document changed"
        )
        await execute(editor, "rewrite-lsp.accept", {"id": editor.previews[0]["id"]})
        await until(lambda: editor.shown("preview is over"))
        assert editor.edits == [] and editor.texts[URI].startswith(TEXT)
    finally:
        await editor.client.shutdown_session()


# clients that cannot be sent edits


def no_apply_edit() -> types.ClientCapabilities:
    caps = capabilities("bare")
    assert caps.workspace is not None
    caps.workspace.apply_edit = False
    return caps


async def test_a_client_without_apply_edit_gets_actions_that_carry_their_edit(
    standin: StandIn,
) -> None:
    standin.reply = by_seed
    editor = await start(standin.url, no_apply_edit(), {"prefetch": "fix"})
    try:
        editor.open(URI, TEXT)
        result = await editor.client.text_document_code_action_async(
            types.CodeActionParams(
                types.TextDocumentIdentifier(URI), LINE, types.CodeActionContext(diagnostics=[])
            )
        )
        assert result and isinstance(result[0], types.CodeAction)
        first = result[0]
        assert first.title == "Rewrite: fix spelling and grammar" and first.command is None
        assert first.edit is not None and first.edit.document_changes
        (change,) = first.edit.document_changes
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.version == 1
        (edit,) = change.edits  # whole lines: column 0 is column 0 in any unit
        assert edit.new_text == WORDINGS[None] + "\n"
        assert (edit.range.start.character, edit.range.end.character) == (0, 0)
        await until(lambda: editor.shown("does not let the server apply edits"))
        await editor.client.text_document_code_action_async(
            types.CodeActionParams(
                types.TextDocumentIdentifier(URI), LINE, types.CodeActionContext(diagnostics=[])
            )
        )
        assert len(editor.shown("does not let the server apply edits")) == 1  # told once
    finally:
        await editor.client.shutdown_session()
