"""What the rewrites running in the language server need from it: a narrow interface, so
that `jobs`, `present` and `delivery` can be read and tested without the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from lsprotocol import types

    from rewrite.config import Overrides, Settings
    from rewrite.engine import Engine

    from .documents import Documents


class Host(Protocol):
    """The server, as the jobs see it."""

    documents: Documents
    engine: Engine
    settings: Settings
    overrides: Overrides

    @property
    def encoding(self) -> str: ...

    @property
    def supports_progress(self) -> bool: ...

    @property
    def supports_annotations(self) -> bool:
        """The client shows an edit that needs confirmation before applying it."""
        ...

    @property
    def supports_previews(self) -> bool:
        """The client is rewrite's own (rewrite.lua, rewrite.el): it shows `rewrite/preview`."""
        ...

    @property
    def work_done_progress(self) -> Any: ...

    def tell(self, message: str, kind: types.MessageType = ...) -> None: ...

    def log(self, message: str) -> None: ...

    def log_rewrite(self, action: str, before: str, after: str, wall_ms: float) -> None: ...

    def notify(self, method: str, params: Any) -> None:
        """Send the client a notification of rewrite's own."""
        ...

    def workspace_apply_edit_async(
        self, params: types.ApplyWorkspaceEditParams
    ) -> Awaitable[types.ApplyWorkspaceEditResult]: ...

    def window_show_message_request_async(
        self, params: types.ShowMessageRequestParams
    ) -> Awaitable[types.MessageActionItem | None]: ...
