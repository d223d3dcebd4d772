"""A pytest-lsp client for the rewrite language server, with the capabilities of real editors.

The presets for Neovim, VS Code and Emacs come with pytest-lsp; Helix and Zed are built by
hand from what their clients advertise. The client records every applyEdit it is sent and
applies it to its own copy of the document, like an editor.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Union

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

SERVER_COMMAND = [sys.executable, "-m", "rewrite_lsp"]


def _helix() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(
            position_encodings=[
                types.PositionEncodingKind.Utf8,
                types.PositionEncodingKind.Utf32,
                types.PositionEncodingKind.Utf16,
            ]
        ),
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(value_set=["", "refactor"])
                ),
                resolve_support=types.ClientCodeActionResolveOptions(
                    properties=["edit", "command"]
                ),
            )
        ),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            configuration=True,
            execute_command=types.ExecuteCommandClientCapabilities(),
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
        ),
    )


def _zed() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(value_set=["refactor"])
                ),
            )
        ),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
        ),
    )


def _bare() -> types.ClientCapabilities:
    """No progress, no configuration pull: what a minimal client advertises."""
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
        )
    )


def capabilities(name: str) -> types.ClientCapabilities:
    hand_built = {"helix": _helix, "zed": _zed, "bare": _bare}
    return hand_built[name]() if name in hand_built else client_capabilities(name)


CLIENTS = ["neovim", "visual_studio_code", "emacs", "helix", "zed"]


class Editor:
    """The client and the documents it holds, as an editor would."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.result = types.InitializeResult(capabilities=types.ServerCapabilities())

    def open(self, uri: str, text: str, language: str = "markdown") -> None:
        self.texts[uri] = text
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text))
        )

    def replace_all(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.texts[uri] = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(self.versions[uri], uri),
                [types.TextDocumentContentChangeWholeDocument(text)],
            )
        )


def make_client() -> LanguageClient:
    client = make_test_lsp_client()
    converter = client.protocol._converter

    def command_or_action(value: Any, _: Any) -> types.Command | types.CodeAction:
        # pytest-lsp's converter would turn every CodeAction into a Command; tell them apart.
        if isinstance(value.get("command"), str):
            return converter.structure(value, types.Command)  # type: ignore[no-any-return]
        return converter.structure(value, types.CodeAction)  # type: ignore[no-any-return]

    # typing.Union, not `|`: the hook must match the Union inside lsprotocol's own types.
    union = Union[types.Command, types.CodeAction]  # noqa: UP007
    converter.register_structure_hook(union, command_or_action)
    return client


def server_env(standin_url: str) -> dict[str, str]:
    return {**os.environ, "OLLAMA_HOST": standin_url}


async def start_editor(
    standin_url: str,
    client_name: str,
    options: Any = None,
    configuration: dict[str, Any] | None = None,
) -> Editor:
    client = make_client()
    editor = Editor(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        editor.edits.append(params)
        for change in params.edit.document_changes or ():
            assert isinstance(change, types.TextDocumentEdit)
            uri = change.text_document.uri
            assert change.text_document.version == editor.versions[uri]
            editor.texts[uri] = _apply(editor.texts[uri], change.edits, editor)
        return types.ApplyWorkspaceEditResult(applied=True)

    for section, value in (configuration or {}).items():
        client.set_configuration(value, section=section)
    await client.start_io(*SERVER_COMMAND, env=server_env(standin_url))
    editor.result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(client_name), initialization_options=options
        )
    )
    return editor


def _apply(text: str, edits: Any, editor: Editor) -> str:
    from rewrite_lsp.positions import range_to_span

    encoding = editor.result.capabilities.position_encoding or "utf-16"
    encoding = getattr(encoding, "value", encoding)
    for edit in sorted(
        edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
    ):
        start, end = range_to_span(
            text,
            (edit.range.start.line, edit.range.start.character),
            (edit.range.end.line, edit.range.end.character),
            encoding,
        )
        text = text[:start] + edit.new_text + text[end:]
    return text


def selection(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(types.Position(*start), types.Position(*end))


async def actions(editor: Editor, uri: str, rng: types.Range) -> list[types.CodeAction]:
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri), rng, types.CodeActionContext(diagnostics=[])
        )
    )
    assert result is not None
    assert all(isinstance(a, types.CodeAction) for a in result)
    return [a for a in result if isinstance(a, types.CodeAction)]


async def run(editor: Editor, action: types.CodeAction) -> None:
    assert action.command is not None
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(action.command.command, action.command.arguments)
    )
    assert result is None


async def until(condition: Any, seconds: float = 10.0) -> None:
    """Wait for `condition()` while the client keeps handling messages; fail after `seconds`."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), seconds)


def fix_of(offered: list[types.CodeAction]) -> types.CodeAction:
    return next(a for a in offered if a.command and a.command.arguments[0]["action"] == "fix")
