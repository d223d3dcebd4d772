"""The language server's hardening, end to end: pytest-lsp over stdio, the stand-in over HTTP.

1. One edit per document version: the final check and applyEdit are serialised per document,
   and a version an edit was sent for is spent until the client reports its change.
2. Only documents the client opened are served: nothing is read from disk.
3. A rewrite whose text was not touched survives typing elsewhere, moved with the edits.
4. The engine's single flight through the server: a cancelled leader takes no joiner down.
5. The soak (bench/lsp_soak.py), bounded: no stale edit, no unanswered request, no edit on
   changed text.

Every wait is on a condition: the stand-in's request log, or the server's one log line per
command (`rewrite ACTION [ID]: OUTCOME`).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient
from rewrite_lsp.codeactions import text_hash
from rewrite_lsp.positions import range_to_span, to_position

from tests.lsp_client import (
    SERVER_COMMAND,
    capabilities,
    fix_of,
    make_client,
    selection,
    server_env,
    until,
)
from tests.standin import StandIn, echo_text

pytestmark = pytest.mark.asyncio(loop_scope="function")
URI = "file:///notes/draft.md"
OTHER = "file:///notes/copy.md"
NO_PREFETCH = {"lsp": {"prefetch": False}}


def capitalized(body: dict[str, Any]) -> str:
    """A fix of whatever the text is: its first letter capitalized, a full stop added."""
    text = echo_text(body["messages"][-1]["content"])
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class Client:
    """An editor's side: its copy of each document, and what it does with an applyEdit.

    By default an edit for the current version is applied and reported with didChange, as an
    editor does; `hold` keeps the didChange back (Neovim debounces it), `refuse` answers
    `applied: false`. Edits for another version are refused and recorded in `stale`.
    """

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.encoding = "utf-16"
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.edits: list[tuple[str, int, types.Range, str]] = []
        self.stale: list[tuple[str, int, int]] = []  # uri, edit's version, client's version
        self.held: list[tuple[str, int, list[Any]]] = []  # didChanges not sent yet
        self.hold = False
        self.refuse: Callable[[str], bool] = lambda uri: False

    def open(self, uri: str, text: str) -> None:
        self.texts[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "markdown", 1, text))
        )

    def type(self, uri: str, *changes: tuple[tuple[int, int], tuple[int, int], str]) -> None:
        """One didChange of incremental changes (start, end, new text), applied in order."""
        self.release()
        events = []
        for start, end, text in changes:
            self._splice(uri, selection(start, end), text)
            events.append(types.TextDocumentContentChangePartial(selection(start, end), text))
        self._report(uri, events)

    def replace_all(self, uri: str, text: str) -> None:
        self.release()
        self.texts[uri] = text
        self._report(uri, [types.TextDocumentContentChangeWholeDocument(text)])

    def release(self) -> None:
        """Send the didChange of each held edit."""
        held, self.held = self.held, []
        for uri, version, events in held:
            self._send(uri, version, events)

    def on_apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        (change,) = params.edit.document_changes or ()
        assert isinstance(change, types.TextDocumentEdit)
        uri, version = change.text_document.uri, change.text_document.version
        (edit,) = change.edits
        assert isinstance(edit, types.TextEdit | types.AnnotatedTextEdit) and version is not None
        self.edits.append((uri, version, edit.range, edit.new_text))
        if version != self.versions.get(uri):
            self.stale.append((uri, version, self.versions.get(uri, -1)))
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="stale")
        if self.refuse(uri):
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="refused")
        self._splice(uri, edit.range, edit.new_text)
        events: list[Any] = [types.TextDocumentContentChangePartial(edit.range, edit.new_text)]
        if self.hold:
            self.versions[uri] += 1  # changed here; the server hears of it on release()
            self.held.append((uri, self.versions[uri], events))
        else:
            self._report(uri, events)
        return types.ApplyWorkspaceEditResult(applied=True)

    def text_at(self, uri: str, where: types.Range) -> str:
        start, end = self._span(uri, where)
        return self.texts[uri][start:end]

    def _span(self, uri: str, where: types.Range) -> tuple[int, int]:
        start, end = where.start, where.end
        points = ((start.line, start.character), (end.line, end.character))
        return range_to_span(self.texts[uri], *points, self.encoding)

    def _splice(self, uri: str, where: types.Range, text: str) -> None:
        start, end = self._span(uri, where)
        self.texts[uri] = self.texts[uri][:start] + text + self.texts[uri][end:]

    def end_of(self, uri: str, line: int) -> tuple[int, int]:
        """The position of the end of `line`, in the negotiated encoding."""
        text = self.texts[uri]
        index = sum(len(row) + 1 for row in text.split("\n")[:line]) + len(text.split("\n")[line])
        return to_position(text, index, self.encoding)

    def _report(self, uri: str, events: list[Any]) -> None:
        self.versions[uri] += 1
        self._send(uri, self.versions[uri], events)

    def _send(self, uri: str, version: int, events: list[Any]) -> None:
        identifier = types.VersionedTextDocumentIdentifier(version, uri)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, events))

    # the server's side of the conversation

    def outcome(self, request: str) -> str | None:
        pattern = re.compile(rf"rewrite \S+ \[{re.escape(request)}\]: (.*)")
        for message in self.client.log_messages:
            if found := pattern.fullmatch(message.message):
                return found.group(1)
        return None

    async def ended(self, request: str) -> str:
        """Wait for the command's log line; its outcome."""
        await until(lambda: self.outcome(request) is not None)
        return self.outcome(request) or ""

    def shown(self, words: str) -> list[str]:
        return [m.message for m in self.client.messages if words in m.message]


async def start(url: str, client_name: str = "neovim", options: Any = NO_PREFETCH) -> Client:
    client = make_client()
    editor = Client(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.on_apply(params)

    await client.start_io(*SERVER_COMMAND, env=server_env(url))
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(client_name), initialization_options=options
        )
    )
    encoding = result.capabilities.position_encoding or "utf-16"
    editor.encoding = str(getattr(encoding, "value", encoding))
    return editor


@pytest_asyncio.fixture
async def running() -> AsyncIterator[list[Client]]:
    editors: list[Client] = []
    yield editors
    for editor in editors:
        await editor.client.shutdown_session()


async def offered(editor: Client, uri: str, where: types.Range) -> Any:
    """The fix command offered for `where`, as the code action carries it."""
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri), where, types.CodeActionContext(diagnostics=[])
        )
    )
    assert result
    command = fix_of([a for a in result if isinstance(a, types.CodeAction)]).command
    assert command is not None
    return command.arguments[0]


async def press(editor: Client, argument: Any, request: str) -> None:
    """executeCommand with a known id, as a key press sends it."""
    params = types.ExecuteCommandParams("rewrite-lsp.rewrite", [argument])
    answer = await editor.client.protocol.send_request_async(
        types.WORKSPACE_EXECUTE_COMMAND, params, msg_id=request
    )
    assert answer is None


def rewrites(standin: StandIn) -> list[Any]:
    return [r for r in standin.chat_requests() if r.body and r.body.get("messages")]


def streaming(standin: StandIn, count: int = 1) -> Callable[[], bool]:
    return lambda: sum(r.chunks_sent > 0 for r in rewrites(standin)) >= count


# ---------------------------------------------------------------- 1. stale edits


async def test_a_spent_version_gets_no_second_edit(standin: StandIn, running: list[Client]) -> None:
    """Two rewrites end together; the client answers the first `applied: true` but reports
    the change later (as Neovim's debounce does). The second edit waits for that change and
    goes out for the new version, at its moved range."""
    standin.reply = capitalized
    editor = await start(standin.url)
    running.append(editor)
    editor.open(URI, "first line of text\nsecond line of text\n")
    one = await offered(editor, URI, selection((0, 0), (0, 18)))
    two = await offered(editor, URI, selection((1, 0), (1, 19)))
    editor.hold = True
    await press(editor, one, "one")
    await press(editor, two, "two")
    engine_done = re.compile(r"rewrite fix in [\d.]+ ms")
    await until(
        lambda: sum(bool(engine_done.match(m.message)) for m in editor.client.log_messages) == 2
    )
    first = await until_any(editor, "one", "two")
    assert first == "applied"
    assert len(editor.edits) == 1 and editor.stale == []
    editor.hold = False
    editor.release()
    assert await editor.ended("one") == await editor.ended("two") == "applied"
    assert [version for _, version, _, _ in editor.edits] == [1, 2]
    assert editor.stale == []
    assert editor.texts[URI] == "First line of text.\nSecond line of text.\n"


async def until_any(editor: Client, *requests: str) -> str:
    await until(lambda: any(editor.outcome(r) for r in requests))
    return next(o for r in requests if (o := editor.outcome(r)))


async def test_a_refused_edit_leaves_the_version_free(
    standin: StandIn, running: list[Client]
) -> None:
    standin.reply = capitalized
    editor = await start(standin.url)
    running.append(editor)
    editor.open(URI, "first line of text\nsecond line of text\n")
    one = await offered(editor, URI, selection((0, 0), (0, 18)))
    two = await offered(editor, URI, selection((1, 0), (1, 19)))
    refusals = iter([True])
    editor.refuse = lambda uri: next(refusals, False)
    await press(editor, one, "one")
    await press(editor, two, "two")
    outcomes = sorted([await editor.ended("one"), await editor.ended("two")])
    assert outcomes == ["applied", "not applied by the editor"]
    assert [version for _, version, _, _ in editor.edits] == [1, 1]
    assert editor.shown("did not apply the rewrite: refused")
    assert editor.stale == []


# ---------------------------------------------------------------- 2. files it was never given


async def test_a_file_never_opened_is_not_read(
    standin: StandIn, running: list[Client], tmp_path: Path
) -> None:
    """Not from disk, not a FIFO (which would block), not /dev/zero (which never ends), and no
    prefetch: the code action answers nothing and the log says why."""
    secret = tmp_path / "passwd"
    secret.write_text("root secret words to keep\n", encoding="utf-8")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    standin.reply = capitalized
    editor = await start(standin.url, options=None)  # the default prefetch is on
    running.append(editor)
    for uri in (secret.as_uri(), fifo.as_uri(), "file:///dev/zero"):
        answer = await asyncio.wait_for(
            editor.client.text_document_code_action_async(
                types.CodeActionParams(
                    types.TextDocumentIdentifier(uri),
                    selection((0, 0), (0, 20)),
                    types.CodeActionContext(diagnostics=[]),
                )
            ),
            10,
        )
        assert answer is None
        assert any(uri in m.message and "not open" in m.message for m in editor.client.log_messages)
    crafted = {
        "uri": secret.as_uri(),
        "version": 1,
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 25}},
        "action": "fix",
        "hash": text_hash("root secret words to keep"),
    }
    await press(editor, crafted, "crafted")
    assert await editor.ended("crafted") == "not started: the document is not open"
    assert len(editor.shown("not open")) == 1
    editor.open(URI, "fine words here\n")  # still serving what it was given
    await press(editor, await offered(editor, URI, selection((0, 0), (0, 15))), "fine")
    assert await editor.ended("fine") == "applied"
    assert not any("secret" in str(r.body) for r in standin.chat_requests())


async def test_a_closed_document_is_no_longer_served(
    standin: StandIn, running: list[Client]
) -> None:
    editor = await start(standin.url)
    running.append(editor)
    editor.open(URI, "some words here\n")
    argument = await offered(editor, URI, selection((0, 0), (0, 15)))
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI))
    )
    editor.type(URI, ((0, 0), (0, 0), "x"))  # a change for a closed document: ignored
    answer = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(URI),
            selection((0, 0), (0, 15)),
            types.CodeActionContext(diagnostics=[]),
        )
    )
    assert answer is None
    await press(editor, argument, "after-close")
    assert await editor.ended("after-close") == "not started: the document is not open"
    assert rewrites(standin) == [] and editor.edits == []


# ---------------------------------------------------------------- 3. typing elsewhere


@pytest.mark.parametrize("client_name", ["neovim", "visual_studio_code"])
async def test_typing_elsewhere_moves_the_rewrite(
    standin: StandIn, running: list[Client], client_name: str
) -> None:
    standin.reply = capitalized
    standin.token_delay = 0.05
    editor = await start(standin.url, client_name)
    running.append(editor)
    editor.open(URI, "intro\nnote: their going too the store\nend\n")
    argument = await offered(editor, URI, selection((1, 6), (1, 31)))
    await press(editor, argument, "moved")
    await standin_wait(standin, streaming(standin))
    editor.type(URI, ((0, 0), (0, 0), "😀 new first line\n"))  # a line above
    editor.type(URI, ((2, 0), (2, 0), "é😀 "))  # before it on its line
    editor.type(URI, (editor.end_of(URI, 2), editor.end_of(URI, 2), " and more"))  # after it
    editor.type(URI, ((3, 3), (3, 3), " of it"), ((3, 0), (3, 0), "the "))  # two, below
    assert await editor.ended("moved") == "applied"
    assert editor.texts[URI] == (
        "😀 new first line\nintro\né😀 note: Their going too the store. and more\nthe end of it\n"
    )
    assert editor.stale == []


async def standin_wait(standin: StandIn, condition: Callable[[], bool]) -> None:
    assert await asyncio.to_thread(standin.wait_for, condition, 10.0)


async def test_a_change_over_the_text_drops_the_rewrite_at_once(
    standin: StandIn, running: list[Client]
) -> None:
    standin.reply = " ".join(["word"] * 60)
    standin.token_delay = 0.05
    editor = await start(standin.url)
    running.append(editor)
    editor.open(URI, "intro\nword word word\n")
    await press(editor, await offered(editor, URI, selection((1, 0), (1, 14))), "over")
    await standin_wait(standin, streaming(standin))
    editor.type(URI, ((1, 5), (1, 9), "bird"))
    assert await editor.ended("over") == "not applied: the text changed"
    assert editor.shown("changed during the rewrite")
    await standin_wait(standin, lambda: rewrites(standin)[-1].disconnected)
    assert editor.edits == []


@pytest.mark.parametrize(
    ("after", "outcome"),
    [
        # only above the rewrite's text: found by what the two texts share at their ends
        ("new line\nintro\ntheir going\nend\n", "applied"),
        # above and below, the text once in the document: found again by its text
        ("INTRO\ntheir going\nEND\n", "applied"),
        # above and below, the text twice: which one was meant is unknown
        ("INTRO\ntheir going\ntheir going\nEND\n", "not applied: the text changed"),
    ],
)
async def test_a_whole_document_change(
    standin: StandIn, running: list[Client], after: str, outcome: str
) -> None:
    standin.reply = capitalized
    standin.token_delay = 0.05
    editor = await start(standin.url)
    running.append(editor)
    editor.open(URI, "intro\ntheir going\nend\n")
    await press(editor, await offered(editor, URI, selection((1, 0), (1, 11))), "whole")
    await standin_wait(standin, streaming(standin))
    editor.replace_all(URI, after)
    assert await editor.ended("whole") == outcome
    landed = after.replace("their going", "Their going.") if outcome == "applied" else after
    assert editor.texts[URI] == landed


async def test_a_command_offered_before_typing_elsewhere_still_lands(
    standin: StandIn, running: list[Client]
) -> None:
    standin.reply = capitalized
    editor = await start(standin.url)
    running.append(editor)
    editor.open(URI, "intro\ntheir going\n")
    argument = await offered(editor, URI, selection((1, 0), (1, 11)))
    editor.type(URI, ((0, 0), (0, 0), "more\n"))
    await press(editor, argument, "gap")
    assert await editor.ended("gap") == "applied"
    assert editor.texts[URI] == "more\nintro\nTheir going.\n"


# ---------------------------------------------------------------- 4. the single flight


async def test_a_double_press_lands_once(standin: StandIn, running: list[Client]) -> None:
    """The second press of the same action on the same text replaces the first, whether it
    comes at once or while the first is streaming: one edit, the second's, and no error.
    (Whether the second joins the first's flight in the engine depends on threads; the test
    below makes the join certain.)"""
    standin.reply = capitalized
    standin.token_delay = 0.02
    editor = await start(standin.url)
    running.append(editor)
    lines = [f"line number {n} to be fixed" for n in range(6)]
    editor.open(URI, "\n".join(lines) + "\n")
    for n, line in enumerate(lines):
        argument = await offered(editor, URI, selection((n, 0), (n, len(line))))
        if n % 2:
            before = len(rewrites(standin))
            await press(editor, argument, f"{n}a")
            await standin_wait(standin, lambda before=before: rewrites(standin)[before].chunks_sent)
            await press(editor, argument, f"{n}b")
        else:
            await asyncio.gather(press(editor, argument, f"{n}a"), press(editor, argument, f"{n}b"))
        assert await editor.ended(f"{n}b") == "applied"
        assert await editor.ended(f"{n}a") == "cancelled: a newer rewrite of the same text"
    assert editor.texts[URI] == "".join(f"{line[:1].upper()}{line[1:]}.\n" for line in lines)
    assert len(editor.edits) == len(lines) and editor.stale == []
    assert editor.shown("failed") == []


async def test_a_cancelled_leader_does_not_fail_its_joiner(
    standin: StandIn, running: list[Client]
) -> None:
    """The same text in two documents is one request to the model: the second command waits
    for the first's (the first stalls, so the second has joined before the cancel). Cancelling
    the first ($/cancelRequest) must not fail the second: it asks again and lands. Before the
    engine's fix (ad87c13) the second failed with "the rewrite was cancelled"."""
    standin.reply = capitalized
    editor = await start(standin.url)
    running.append(editor)
    await standin_wait(standin, lambda: standin.chat_requests()[0].completed)  # the warm-up
    standin.fault("stall", after_chunks=1)  # the next request hangs until it is closed
    editor.open(URI, "same words here\n")
    editor.open(OTHER, "same words here\n")
    leader = await offered(editor, URI, selection((0, 0), (0, 15)))
    joiner = await offered(editor, OTHER, selection((0, 0), (0, 15)))
    await press(editor, leader, "leader")
    await standin_wait(standin, streaming(standin))
    await press(editor, joiner, "joiner")
    await until(lambda: len(editor.client.progress_reports) == 2)
    editor.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="leader"))
    assert await editor.ended("joiner") == "applied"
    assert await editor.ended("leader") == "cancelled by the editor ($/cancelRequest)"
    assert editor.texts == {URI: "same words here\n", OTHER: "Same words here.\n"}
    assert editor.shown("failed") == []


# ---------------------------------------------------------------- 5. the soak, bounded


async def test_a_bounded_soak_sends_no_stale_edit(standin: StandIn, tmp_path: Path) -> None:
    """150 rewrites of the soak's seeded mix (duplicate presses, cancels, typing elsewhere and
    over the text, whole-document changes, close and open, edits refused): every count of a
    fault is zero. The soak waits on conditions only (its end: one log line per command)."""
    from bench.lsp_soak import PROTOCOL_ERRORS, ZEROS, fix_reply, soak

    standin.reply = fix_reply
    standin.token_delay = 0.002
    result = await soak(7, 150, standin.url, tmp_path / "stderr")
    counts, outcomes = result["counts"], result["outcomes"]
    faults = (*ZEROS, *PROTOCOL_ERRORS)
    assert {name: counts[name] for name in faults} == dict.fromkeys(faults, 0), counts
    assert counts["rewrites"] == 150 and counts["duplicate presses"] and counts["cancels"]
    assert outcomes["applied"] and outcomes["not applied: the text changed"], outcomes
