"""The smallest pygls server that does the language server's job, as a yardstick for it.

    python bench/minimal_lsp.py        (speaks LSP over stdio; OLLAMA_HOST says where Ollama is)

It keeps the open documents in pygls's workspace (pygls's own didOpen/didChange handlers),
answers textDocument/codeAction with one Command per built-in action, and on
workspace/executeCommand makes one blocking request to Ollama's /api/chat (no streaming, one
connection, stdlib http.client) and sends one versioned workspace/applyEdit replacing the
range with the reply. No cache, no guard, no clean-up, no checks: `bench/lsp_roundtrip.py`
measures the project's server against this one.
"""

from __future__ import annotations

import http.client
import json
import os
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

COMMAND = "minimal.rewrite"
MODEL = os.environ.get("MINIMAL_MODEL", "qwen2.5:1.5b")
ACTIONS = {
    "fix": "fix spelling and grammar",
    "rephrase": "say it in other words",
    "concise": "make it shorter",
    "formal": "make it formal",
    "friendly": "make it friendly",
    "simplify": "use simpler words",
    "translate": "translate into English",
}

server = LanguageServer("minimal-lsp", "0")


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite]),
)
def code_action(ls: LanguageServer, params: types.CodeActionParams) -> list[types.Command]:
    uri = params.text_document.uri
    version = ls.workspace.get_text_document(uri).version
    return [
        types.Command(
            f"Rewrite: {summary}", COMMAND, arguments=[uri, version, params.range, action]
        )
        for action, summary in ACTIONS.items()
    ]


@server.command(COMMAND)
def rewrite(ls: LanguageServer, *arguments: Any) -> None:
    uri, _, where, action = arguments
    document = ls.workspace.get_text_document(uri)
    start, end = where["start"], where["end"]
    selection = types.Range(
        types.Position(start["line"], start["character"]),
        types.Position(end["line"], end["character"]),
    )
    text = document.text_in_client_range(selection)
    reply = chat(f"Rewrite this text ({ACTIONS[action]}):\n\n{text}")
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri, document.version)
    edit = types.TextDocumentEdit(identifier, [types.TextEdit(selection, reply)])
    ls.workspace_apply_edit(
        types.ApplyWorkspaceEditParams(types.WorkspaceEdit(document_changes=[edit]))
    )


def chat(prompt: str) -> str:
    host = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434").split("://")[-1].rstrip("/")
    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "stream": False}
    connection = http.client.HTTPConnection(host, timeout=120)
    try:
        connection.request(
            "POST", "/api/chat", json.dumps(body), {"Content-Type": "application/json"}
        )
        return str(json.loads(connection.getresponse().read())["message"]["content"])
    finally:
        connection.close()


if __name__ == "__main__":
    server.start_io()
