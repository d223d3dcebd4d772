"""The rewrite language server: code actions that replace the selection with its rewrite.

    rewrite-lsp            (or: rewrite lsp) speaks LSP over stdio

Handlers are thin: fetch the document, call a function elsewhere, send the result. Logs go
to the editor (window/logMessage), never to stdout, which carries the protocol.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Callable, Generator
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from rewrite import __version__
from rewrite.config import Overrides, Settings, load_settings
from rewrite.engine import Engine
from rewrite.errors import ConfigError
from rewrite.warm import KeepWarm

from .codeactions import (
    COMMAND,
    KIND,
    Target,
    code_actions,
    find_target,
    lower_first,
    target_points,
)
from .delivery import versioned_edit
from .documents import Document, Documents, Span
from .jobs import Jobs, parse_command
from .present import ACCEPT, AGAIN, REJECT, preview_id

log = logging.getLogger(__name__)
Handled = Generator[tuple[Any, tuple[Any, ...], None], Any, None]


class RewriteProtocol(LanguageServerProtocol):
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        _prefer_utf8(params.capabilities)
        return (yield from super().lsp_initialize(params))

    # The documents live in the server's own store (documents.py). pygls's workspace would
    # read a URI the client never opened from disk, and splits lines on more characters than
    # LSP does; these replace its handlers, which only fill that workspace.

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Handled:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Handled:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Handled:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CLOSE, params)

    def _user_handler(self, method: str, params: Any) -> Handled:
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        if callback == self._check_handler_result:
            # A notification. pygls 2.1.1 keeps each one's future forever (700 bytes per
            # didChange); forget it when it is done.
            check = callback

            def callback(future: Any) -> None:
                self._request_futures.pop(msg_id, None)
                check(future)

        super()._execute_handler(msg_id, handler, callback, args, kwargs)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        server = self._server
        if isinstance(server, RewriteServer):
            server.jobs.cancel_request(msg_id)


def _prefer_utf8(capabilities: types.ClientCapabilities) -> None:
    """Positions in UTF-8 when the client offers it (no conversion), else UTF-16 (the
    default every client supports)."""
    general = capabilities.general
    if general is not None and general.position_encodings is not None:
        offered = general.position_encodings
        utf8 = types.PositionEncodingKind.Utf8
        general.position_encodings = [utf8 if utf8 in offered else types.PositionEncodingKind.Utf16]


class RewriteServer(LanguageServer):
    def __init__(self, overrides: Overrides | None = None) -> None:
        super().__init__("rewrite-lsp", __version__, protocol_cls=RewriteProtocol)
        self.overrides = overrides or Overrides()  # --host, --model, --config: over any layer
        self.settings = Settings()
        self.engine = Engine(self.settings)
        self.keeper: KeepWarm | None = None
        self.documents = Documents()
        self.jobs = Jobs(self)
        self.layers: dict[str, Any] = {}
        self.told_no_edits = False  # the user heard once why the menu is shorter

    @property
    def encoding(self) -> str:
        encoding = self.server_capabilities.position_encoding or "utf-16"
        return str(getattr(encoding, "value", encoding))

    @property
    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    @property
    def supports_edits(self) -> bool:
        workspace = self.client_capabilities.workspace
        return bool(workspace and workspace.apply_edit)

    @property
    def supports_annotations(self) -> bool:
        workspace = self.client_capabilities.workspace
        edits = workspace.workspace_edit if workspace else None
        return bool(edits and edits.change_annotation_support is not None)

    @property
    def supports_previews(self) -> bool:
        experimental = self.client_capabilities.experimental
        return isinstance(experimental, dict) and experimental.get("rewritePreview") is True

    def notify(self, method: str, params: Any) -> None:
        self.protocol.notify(method, params)

    def configure(self, name: str, data: Any) -> None:
        """Merge `data` (the config file's keys) over the file; keep the old settings on error."""
        layers = {**self.layers, name: data}
        warnings: list[str] = []
        try:
            settings = load_settings(
                self.overrides, layers=list(layers.items()), warn=warnings.append
            )
        except ConfigError as error:
            self.tell(f"rewrite settings not applied: {error}", types.MessageType.Error)
            return
        unchanged = settings.replace(sources={}) == self.settings.replace(sources={})
        if unchanged and self.keeper is not None:
            self.layers = layers
            return  # Neovim repeats its settings after initialize: nothing to restart
        self.layers, self.settings = layers, settings
        for warning in warnings:
            self.tell(f"rewrite settings: {warning}", types.MessageType.Warning)
        self.engine.close()
        self.engine = Engine(settings, warn=self._from_any_thread(self._warn))
        self.keep_warm()

    def keep_warm(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
        on_change = self._from_any_thread(self._warmth_changed)
        self.keeper = KeepWarm(self.engine, on_change=on_change).start()

    def _from_any_thread(self, handler: Callable[[str], None]) -> Callable[[str], None]:
        """The engine and the keeper call back from worker threads; messages to the
        editor must be written from the event loop, or they could interleave on stdout."""
        loop = asyncio.get_running_loop()

        def call(message: str) -> None:
            loop.call_soon_threadsafe(handler, message)

        return call

    def _warn(self, message: str) -> None:
        self.tell(message, types.MessageType.Warning)

    def _warmth_changed(self, state: str) -> None:
        self.log(f"model {self.settings.model}: {state}")

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log(self, message: str) -> None:
        self.window_log_message(types.LogMessageParams(type=types.MessageType.Log, message=message))

    def log_rewrite(self, action: str, before: str, after: str, wall_ms: float) -> None:
        detail = f": {before!r} -> {after!r}" if self.settings.lsp.log_text else ""
        self.log(f"rewrite {action} in {wall_ms:.1f} ms{detail}")


def create_server(overrides: Overrides | None = None) -> RewriteServer:
    """A server with its handlers registered (one per process: it owns stdin and stdout)."""
    server = RewriteServer(overrides)

    @server.feature(types.INITIALIZE)
    def initialize(ls: RewriteServer, params: types.InitializeParams) -> None:
        ls.configure("initializationOptions", params.initialization_options)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[KIND], resolve_provider=False),
    )
    async def code_action(
        ls: RewriteServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        only = params.context.only
        if only is not None and not any(k == KIND or KIND.startswith(f"{k}.") for k in only):
            return None
        document = ls.documents.get(params.text_document.uri)
        if document is None:
            ls.log(f"no rewrite actions for {params.text_document.uri}: it is not open (didOpen)")
            return None
        target = find_target(
            document.uri, document.version, document.text, params.range, ls.encoding
        )
        if target is None:
            return None
        points = target_points(target, document.text, ls.encoding)
        document.offer(document.version, points, target.start, target.end)
        if not ls.supports_edits:
            return await _ready_actions(ls, document, target)
        prefetch = ls.settings.lsp.prefetch
        if prefetch is not None and prefetch in ls.settings.actions and not target.paragraph:
            ls.jobs.prefetch(target, prefetch)
        lsp = ls.settings.lsp
        return code_actions(
            target, points, ls.settings.actions, lsp.candidates, lsp.candidate_actions
        )

    @server.command(COMMAND)
    def execute(ls: RewriteServer, *arguments: Any) -> None:
        request = ls.protocol.msg_id
        try:
            command = parse_command(arguments)
        except ValueError as error:
            message = f"rewrite: bad command arguments ({error})"
            ls.jobs.refuse("?", request, message, "bad arguments")
            return
        if command.action not in ls.settings.actions:
            message = f"rewrite: unknown action '{command.action}'"
            ls.jobs.refuse(command.action, request, message, "unknown action")
            return
        ls.jobs.start(command, request)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RewriteServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.jobs.cancel_document(item.uri)  # opened again without a close: start afresh
        ls.documents.open(item.uri, item.text, item.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RewriteServer, params: types.DidChangeTextDocumentParams) -> None:
        document = ls.documents.get(params.text_document.uri)
        if document is None:
            ls.log(f"didChange ignored: {params.text_document.uri} is not open")
            return
        if document.change(params.text_document.version, params.content_changes, ls.encoding):
            ls.jobs.text_changed(document)
        if ls.jobs.presenter.previews:
            ls.jobs.presenter.document_changed(document)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RewriteServer, params: types.DidCloseTextDocumentParams) -> None:
        document = ls.documents.close(params.text_document.uri)
        ls.jobs.cancel_document(params.text_document.uri)
        if document is not None:
            ls.jobs.presenter.document_closed(document)

    @server.command(ACCEPT)
    async def accept(ls: RewriteServer, *arguments: Any) -> None:
        which = preview_id(arguments) or ""
        ls.log(f"preview {which}: {await ls.jobs.presenter.accept(which)}")

    @server.command(REJECT)
    def reject(ls: RewriteServer, *arguments: Any) -> None:
        which = preview_id(arguments) or ""
        ls.log(f"preview {which}: {ls.jobs.presenter.reject(which)}")

    @server.command(AGAIN)
    async def again(ls: RewriteServer, *arguments: Any) -> None:
        which = preview_id(arguments) or ""
        ls.log(f"preview {which}: {await ls.jobs.presenter.again(which)}")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: RewriteServer, params: types.DidChangeConfigurationParams
    ) -> None:
        settings = params.settings
        if isinstance(settings, dict) and "rewrite" in settings:
            settings = settings["rewrite"]
        if settings is None and _can_pull_configuration(ls):
            answer = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="rewrite")])
            )
            settings = answer[0] if answer else None
        ls.configure("workspace settings", settings)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: RewriteServer, *args: Any) -> None:
        ls.jobs.cancel_all()
        if ls.keeper is not None:
            ls.keeper.stop()

    return server


READY_WAIT_SECONDS = 2.0  # how long a menu may wait for the default action's rewrite
NO_EDITS_NOTE = (
    "rewrite: your editor does not let the server apply edits (workspace.applyEdit), so the "
    "menu offers only the rewrites ready when it opens: the {action} action, and any rewrite "
    "already in the cache; the rewrite command (a filter) does the others."
)
NOTHING_READY = "rewrite: no rewrite is ready for this text (is the server up?); nothing changed."
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


async def _ready_actions(
    ls: RewriteServer, document: Document, target: Target
) -> list[types.CodeAction]:
    """For a client that cannot be sent edits (Vim's ALE): code actions that carry their
    edit, for the rewrites ready now (the default action's, waited for a little)."""
    default = ls.settings.default_action
    ls.jobs.prefetch(target, default)
    ready = await ls.jobs.ready(target, READY_WAIT_SECONDS)
    if not ls.told_no_edits:
        ls.told_no_edits = True
        ls.tell(NO_EDITS_NOTE.format(action=default), types.MessageType.Warning)
    if document.version != target.version:
        return []  # changed while waiting: these edits would be stale
    if not ready:
        ls.tell(NOTHING_READY, types.MessageType.Warning)
        return []
    where = "Rewrite paragraph" if target.paragraph else "Rewrite"
    start, end = whole_lines(document.text, target.start, target.end)
    before, after = document.text[start : target.start], document.text[target.end : end]
    offered = []
    for name in sorted(ready, key=lambda name: name != default):
        title = f"{where}: {lower_first(ls.settings.actions[name].summary)}"
        text = before + ready[name] + after
        edit = versioned_edit(document, Span(start, end), text, ls.encoding)
        offered.append(types.CodeAction(title, kind=KIND, edit=edit))
    return offered


def whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the lines `start`..`end` touch, from the first's start to the next line's:
    an edit that starts and ends at column 0 lands right whatever unit the client counts
    columns in (ALE counts bytes where LSP says UTF-16)."""
    line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
    if end > start and text[end - 1] in "\r\n":
        return line_start, end
    found = _LINE_BREAK.search(text, end)
    return line_start, found.end() if found else len(text)


def _can_pull_configuration(ls: RewriteServer) -> bool:
    workspace = ls.client_capabilities.workspace
    return bool(workspace and workspace.configuration)


def main(argv: list[str] | None = None) -> int:
    from rewrite.cli_common import ExitCode, Parser, common_options, help_formatter, say
    from rewrite.errors import UsageError

    parser = Parser(
        prog="rewrite-lsp",
        description="The rewrite language server: speaks LSP over stdio. Configure your "
        "editor to start it; editor-configs/ has ready configurations. The flags win over "
        "the editor's settings and the config file.",
        formatter_class=help_formatter,
    )
    parser.add_argument("--version", action="version", version=f"rewrite-lsp {__version__}")
    common_options(parser)
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        say(str(error))
        return ExitCode.USAGE
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    create_server(Overrides(tuple(args.host), args.model, args.config)).start_io()
    return 0


def lsp_command(argv: list[str]) -> int:
    """`rewrite lsp`: the same server."""
    return main(argv)
