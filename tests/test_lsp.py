"""The language server end to end: pytest-lsp over stdio, the Ollama stand-in over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types

from tests.lsp_client import (
    CLIENTS,
    Editor,
    actions,
    fix_of,
    run,
    selection,
    start_editor,
    until,
)
from tests.standin import ModelSpec, StandIn, echo_text, unused_url

pytestmark = pytest.mark.asyncio(loop_scope="function")
URI = "file:///notes/draft.md"


@pytest_asyncio.fixture
async def running() -> AsyncIterator[list[Editor]]:
    """Editors started by a test; each is shut down after it."""
    editors: list[Editor] = []
    yield editors
    for editor in editors:
        await editor.client.shutdown_session()


def fixed_up(body: dict[str, Any]) -> str:
    """A fix of whatever the text is: it comes back capitalized, with a full stop."""
    return echo_text(body["messages"][-1]["content"]).capitalize() + "."


def rewrites(standin: StandIn) -> list[Any]:
    """Chat requests that carry text (the warm-up sends none)."""
    return [r for r in standin.chat_requests() if r.body and r.body.get("messages")]


@pytest.mark.parametrize("client_name", CLIENTS)
async def test_a_selection_is_rewritten_in_place(
    standin: StandIn, running: list[Editor], client_name: str
) -> None:
    standin.reply = "They're going to the store."
    editor = await start_editor(standin.url, client_name, {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "# Notes\n\ntheir going too the store\n\nBye.\n")
    offered = await actions(editor, URI, selection((2, 0), (2, 25)))
    assert {a.kind for a in offered} == {"refactor.rewrite"}
    assert "Rewrite: fix spelling and grammar" in [a.title for a in offered]
    assert rewrites(standin) == []  # offering actions never asks the model
    await run(editor, fix_of(offered))
    await until(lambda: editor.edits)
    assert editor.texts[URI] == "# Notes\n\nThey're going to the store.\n\nBye.\n"
    (edit,) = editor.edits
    assert edit.edit.document_changes is not None and len(edit.edit.document_changes) == 1
    change = edit.edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit) and len(change.edits) == 1


async def test_capabilities_are_commands_without_resolve(
    standin: StandIn, running: list[Editor]
) -> None:
    editor = await start_editor(standin.url, "neovim")
    running.append(editor)
    capabilities_ = editor.result.capabilities
    assert capabilities_.execute_command_provider is not None
    assert set(capabilities_.execute_command_provider.commands) == {
        "rewrite-lsp.rewrite",
        "rewrite-lsp.accept",
        "rewrite-lsp.reject",
        "rewrite-lsp.again",
    }
    provider = capabilities_.code_action_provider
    assert isinstance(provider, types.CodeActionOptions) and not provider.resolve_provider
    assert capabilities_.position_encoding == types.PositionEncodingKind.Utf8


@pytest.mark.parametrize(
    ("client_name", "encoding"),
    [
        ("neovim", "utf-8"),
        ("visual_studio_code", "utf-16"),
        ("emacs", "utf-8"),
        ("helix", "utf-8"),
        ("zed", "utf-16"),
    ],
)
async def test_positions_use_the_negotiated_encoding(
    standin: StandIn, running: list[Editor], client_name: str, encoding: str
) -> None:
    from rewrite_lsp.positions import to_position

    standin.reply = "Straße, ça va?"
    editor = await start_editor(standin.url, client_name, {"lsp": {"prefetch": False}})
    running.append(editor)
    assert editor.result.capabilities.position_encoding in (encoding, None)
    line = "😀 日本 e\u0301 \f strasse ca va"
    editor.open(URI, f"{line}\r\nnext line\r\n")
    start = to_position(editor.texts[URI], line.index("strasse"), encoding)
    end = to_position(editor.texts[URI], len(line), encoding)
    await run(editor, fix_of(await actions(editor, URI, selection(start, end))))
    await until(lambda: editor.edits)
    assert editor.texts[URI] == "😀 日本 e\u0301 \f Straße, ça va?\r\nnext line\r\n"


async def test_an_empty_range_rewrites_the_paragraph_at_the_cursor(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.reply = "This is the first paragraph,\nwrapped over two lines."
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "Title\n\nthis is teh first paragraph,\nwraped over two lines.\n\nEnd.\n")
    offered = await actions(editor, URI, selection((3, 4), (3, 4)))
    assert all(a.title.startswith("Rewrite paragraph: ") for a in offered)
    await run(editor, fix_of(offered))
    await until(lambda: editor.edits)
    assert editor.texts[URI] == (
        "Title\n\nThis is the first paragraph,\nwrapped over two lines.\n\nEnd.\n"
    )


async def test_helix_one_character_range_means_the_paragraph(
    standin: StandIn, running: list[Editor]
) -> None:
    editor = await start_editor(standin.url, "helix", {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "one\n\ntwo words here\n")
    offered = await actions(editor, URI, selection((2, 4), (2, 5)))
    assert offered[0].title.startswith("Rewrite paragraph: ")
    assert offered[0].command is not None
    assert offered[0].command.arguments[0]["range"] == {
        "start": {"line": 2, "character": 0},
        "end": {"line": 2, "character": 14},
    }


async def test_comment_markers_are_kept_and_the_text_rewrapped(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.reply = (
        "This function returns the number of items that are currently waiting in the "
        "queue, or zero when it is empty."
    )
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)
    comment = [
        "    # this function return the number of item that are currently waiting",
        "    # in the queue, or zero when it is empty",
    ]
    editor.open(URI, "\n".join(["def size():", *comment, "    return 0", ""]), "python")
    await run(editor, fix_of(await actions(editor, URI, selection((1, 0), (2, len(comment[1]))))))
    await until(lambda: editor.edits)
    sent = rewrites(standin)[-1].body["messages"][-1]["content"]
    assert "#" not in sent
    lines = editor.texts[URI].splitlines()
    assert lines[0] == "def size():" and lines[-1] == "    return 0"
    rewrapped = lines[1:-1]
    assert len(rewrapped) >= 2 and all(line.startswith("    # ") for line in rewrapped)
    assert max(len(line) for line in rewrapped) <= len(comment[0])
    assert " ".join(line[6:] for line in rewrapped) == standin.reply


async def test_a_stale_version_is_not_applied(standin: StandIn, running: list[Editor]) -> None:
    standin.reply = "They're going."
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "their going\n")
    offered = await actions(editor, URI, selection((0, 0), (0, 11)))
    editor.replace_all(URI, "there going\n")  # over the offered text (elsewhere: moved)
    await run(editor, fix_of(offered))
    await until(lambda: editor.client.messages)
    assert "changed" in editor.client.messages[-1].message
    assert editor.edits == []


async def test_a_change_during_the_rewrite_discards_it(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.reply = "They are going to the store today."
    standin.token_delay = 0.05
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "their going to the store today\n")
    await run(editor, fix_of(await actions(editor, URI, selection((0, 0), (0, 30)))))
    await until(lambda: any(r.chunks_sent > 0 for r in rewrites(standin)))
    editor.replace_all(URI, "something else entirely\n")
    await until(lambda: editor.client.messages)
    assert "changed during the rewrite" in editor.client.messages[-1].message
    assert editor.edits == []


@pytest.mark.parametrize(
    ("setup", "mentions"),
    [
        ("down", "no Ollama server answers"),
        ("missing", "rewrite pull"),
        ("garbage", "rejected"),
    ],
)
async def test_errors_are_shown_and_the_document_untouched(
    standin: StandIn, running: list[Editor], setup: str, mentions: str
) -> None:
    url = unused_url() if setup == "down" else standin.url
    options: dict[str, Any] = {"lsp": {"prefetch": False}}
    if setup == "missing":
        options["model"] = "nosuch:1b"
    standin.reply = "" if setup == "garbage" else "Fine."
    editor = await start_editor(url, "neovim", options)
    running.append(editor)
    editor.open(URI, "fine\n")
    await run(editor, fix_of(await actions(editor, URI, selection((0, 0), (0, 4)))))
    await until(lambda: any(mentions in m.message for m in editor.client.messages))
    assert editor.edits == []
    assert editor.texts[URI] == "fine\n"


async def test_progress_only_for_clients_that_advertise_it(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.reply = fixed_up
    with_progress = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    without = await start_editor(standin.url, "bare", {"lsp": {"prefetch": False}})
    running.extend([with_progress, without])
    for editor in (with_progress, without):
        editor.open(URI, "fine text\n")
        await run(editor, fix_of(await actions(editor, URI, selection((0, 0), (0, 9)))))
        await until(lambda editor=editor: editor.edits)
    reports = list(with_progress.client.progress_reports.values())
    assert len(reports) == 1
    kinds = [type(value).__name__ for value in reports[0]]
    assert kinds == ["WorkDoneProgressBegin", "WorkDoneProgressEnd"]
    assert reports[0][0].cancellable is True
    assert without.client.progress_reports == {}


async def cancel_scenario(standin: StandIn, editor: Editor, cancel: Any) -> None:
    standin.reply = " ".join(["word"] * 60)
    standin.token_delay = 0.05
    editor.open(URI, "word word word\n")
    await run(editor, fix_of(await actions(editor, URI, selection((0, 0), (0, 14)))))
    await until(lambda: any(r.chunks_sent > 1 for r in rewrites(standin)))
    await cancel()
    await until(lambda: rewrites(standin)[-1].disconnected)
    assert editor.edits == []


async def test_progress_cancel_closes_the_stream(standin: StandIn, running: list[Editor]) -> None:
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)

    async def cancel() -> None:
        await until(lambda: editor.client.progress_reports)
        token = next(iter(editor.client.progress_reports))
        editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token))

    await cancel_scenario(standin, editor, cancel)


async def test_cancel_request_for_the_command_closes_the_stream(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.reply = " ".join(["word"] * 60)
    standin.token_delay = 0.05
    editor = await start_editor(standin.url, "zed", {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "word word word\n")
    command = fix_of(await actions(editor, URI, selection((0, 0), (0, 14)))).command
    assert command is not None
    params = types.ExecuteCommandParams(command.command, command.arguments)
    await editor.client.protocol.send_request_async(
        types.WORKSPACE_EXECUTE_COMMAND, params, msg_id="exec-1"
    )
    await until(lambda: any(r.chunks_sent > 1 for r in rewrites(standin)))
    editor.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="exec-1"))
    await until(lambda: rewrites(standin)[-1].disconnected)
    assert editor.edits == []


async def test_did_close_closes_the_stream(standin: StandIn, running: list[Editor]) -> None:
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)

    async def cancel() -> None:
        editor.client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI))
        )

    await cancel_scenario(standin, editor, cancel)


async def test_a_newer_rewrite_of_the_same_range_replaces_the_older(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.queue_replies(" ".join(["word"] * 60), "Fresh words.")
    standin.token_delay = 0.05
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "word word word\n")
    offered = await actions(editor, URI, selection((0, 0), (0, 14)))
    await run(editor, fix_of(offered))
    await until(lambda: any(r.chunks_sent > 1 for r in rewrites(standin)))
    rephrase = next(
        a for a in offered if a.command and a.command.arguments[0]["action"] == "rephrase"
    )
    await run(editor, rephrase)
    await until(lambda: rewrites(standin)[0].disconnected)
    await until(lambda: editor.edits)
    assert editor.texts[URI] == "Fresh words.\n"
    assert len(editor.edits) == 1


async def test_prefetch_makes_the_default_action_instant(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.reply = "They're going."
    editor = await start_editor(standin.url, "neovim")
    running.append(editor)
    editor.open(URI, "their going\n")
    offered = await actions(editor, URI, selection((0, 0), (0, 11)))
    await until(lambda: any(r.completed for r in rewrites(standin)))
    await run(editor, fix_of(offered))
    await until(lambda: editor.edits)
    assert editor.texts[URI] == "They're going.\n"
    assert len(rewrites(standin)) == 1  # the command was answered by the prefetch


async def test_a_new_selection_cancels_the_old_prefetch(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.reply = " ".join(["word"] * 60)
    standin.token_delay = 0.05
    editor = await start_editor(standin.url, "neovim")
    running.append(editor)
    editor.open(URI, "first part. second part.\n")
    await actions(editor, URI, selection((0, 0), (0, 11)))
    await until(lambda: any(r.chunks_sent > 1 for r in rewrites(standin)))
    await actions(editor, URI, selection((0, 12), (0, 24)))
    await until(lambda: rewrites(standin)[0].disconnected)
    await until(lambda: len(rewrites(standin)) == 2)


async def test_initialization_options_and_pulled_configuration(
    standin: StandIn, running: list[Editor]
) -> None:
    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.add_model(ModelSpec("qwen2.5:3b"))
    standin.reply = fixed_up
    editor = await start_editor(
        standin.url,
        "visual_studio_code",
        {"model": "llama3.2:3b", "lsp": {"prefetch": False}},
        configuration={"rewrite": {"model": "qwen2.5:3b"}},
    )
    running.append(editor)
    editor.open(URI, "fine one\n")
    await run(editor, fix_of(await actions(editor, URI, selection((0, 0), (0, 8)))))
    await until(lambda: editor.edits)
    assert rewrites(standin)[-1].body["model"] == "llama3.2:3b"
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    editor.replace_all(URI, "fine two\n")
    await until(lambda: any("qwen2.5:3b" in m.message for m in editor.client.log_messages))
    await run(editor, fix_of(await actions(editor, URI, selection((0, 0), (0, 8)))))
    await until(lambda: len(editor.edits) == 2)
    assert rewrites(standin)[-1].body["model"] == "qwen2.5:3b"


async def test_an_empty_lua_table_is_an_empty_mapping(
    standin: StandIn, running: list[Editor]
) -> None:
    editor = await start_editor(standin.url, "neovim", [])
    running.append(editor)
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=[])
    )
    editor.open(URI, "fine\n")
    assert await actions(editor, URI, selection((0, 0), (0, 4)))
    assert not [m for m in editor.client.messages if "not applied" in m.message]


async def test_the_text_is_not_logged_unless_asked(standin: StandIn, running: list[Editor]) -> None:
    standin.reply = "Secret plans, fixed."
    editor = await start_editor(standin.url, "neovim", {"lsp": {"prefetch": False}})
    running.append(editor)
    editor.open(URI, "secret plans fixd\n")
    await run(editor, fix_of(await actions(editor, URI, selection((0, 0), (0, 17)))))
    await until(lambda: editor.edits)
    await until(lambda: any("rewrite fix in" in m.message for m in editor.client.log_messages))
    assert not any("ecret" in m.message for m in editor.client.log_messages)
