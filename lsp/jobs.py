"""Rewrites running in the background of the language server, and their cancellation.

`workspace/executeCommand` returns at once; the rewrite runs as an asyncio task and its
result arrives as `workspace/applyEdit` (`delivery.py`). The rewrite's range follows the
document's edits (`documents.py`): typing elsewhere moves it, a change over it drops the
rewrite at once. A task is cancelled (which closes the HTTP stream, so Ollama stops
generating) by a newer rewrite of the same range, a change over its text, `didClose`, a
progress cancel, `$/cancelRequest` for its command, or its deadline; never once its edit is
on its way. Every job ends with one log line: `rewrite ACTION [REQUEST ID]: OUTCOME`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from rewrite.aio import rewrite_async
from rewrite.errors import RewriteError
from rewrite.frame import to_lf
from rewrite.prose import join_prose, split_prose
from rewrite.record import Record
from rewrite.results import RewriteRequest

from .codeactions import Target, text_hash
from .delivery import CHANGED_DURING, deliver
from .positions import Points, newline_of

if TYPE_CHECKING:
    from .documents import Document, Span
    from .server import RewriteServer

log = logging.getLogger(__name__)
DEADLINE_SECONDS = 120.0


class Command(Record):
    """One executeCommand's argument, as the code action made it."""

    __slots__ = ("action", "hash", "points", "uri", "version")

    def __init__(
        self, uri: str, version: int | None, points: Points, action: str, hash: str
    ) -> None:
        self.uri = uri
        self.version = version
        self.points = points
        self.action = action
        self.hash = hash


def parse_command(arguments: tuple[Any, ...]) -> Command:
    """The command's one argument; ValueError when it is not what a code action carries."""
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        raise ValueError("expected one object argument")
    given = arguments[0]
    try:
        uri, action, digest = str(given["uri"]), str(given["action"]), str(given["hash"])
        version = given.get("version")
        start, end = given["range"]["start"], given["range"]["end"]
        points = (
            (int(start["line"]), int(start["character"])),
            (int(end["line"]), int(end["character"])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"missing or wrong {error}") from None
    return Command(uri, version if isinstance(version, int) else None, points, action, digest)


class Job:
    """One rewrite in flight: its text, the span that follows the document's edits, its task."""

    __slots__ = (
        "action",
        "document",
        "hash",
        "outcome",
        "request",
        "sending",
        "span",
        "task",
        "text",
    )

    def __init__(self, command: Command, request: Any, document: Document, span: Span) -> None:
        self.action = command.action
        self.hash = command.hash
        self.request = request  # the executeCommand's id
        self.document = document
        self.span = span
        self.text = document.text[span.start : span.end]
        self.outcome = "cancelled"
        self.sending = False  # the edit is on its way: the answer decides, not a cancel
        self.task: asyncio.Task[None] | None = None

    @property
    def uri(self) -> str:
        return self.document.uri


class Jobs:
    def __init__(self, server: RewriteServer) -> None:
        self.server = server
        self.live: set[Job] = set()
        self.by_request: dict[Any, Job] = {}
        self.prefetches: dict[str, tuple[tuple[Any, ...], asyncio.Task[None]]] = {}

    # ------------------------------------------------------------------ rewrites

    def start(self, command: Command, request: Any) -> None:
        """Start the command's rewrite, or say why not (one message)."""
        document = self.server.documents.get(command.uri)
        if document is None:
            message = f"rewrite: {command.uri} is not open in the editor; nothing changed."
            self.refuse(command.action, request, message, "the document is not open")
            return
        bounds = document.locate(command.version, command.points, self.server.encoding)
        if bounds is None or text_hash(document.text[bounds[0] : bounds[1]]) != command.hash:
            message = "The document changed since the action was offered; try again."
            self.refuse(command.action, request, message, "the text changed since the offer")
            return
        for older in [j for j in self.live if j.document is document and j.span.bounds == bounds]:
            self.stop(older, "cancelled: a newer rewrite of the same text")
        job = Job(command, request, document, document.track(*bounds))
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        self.live.add(job)
        self.by_request[request] = job
        job.task.add_done_callback(lambda _: self._forget(job))

    def refuse(self, action: str, request: Any, message: str, reason: str) -> None:
        """A command that starts no rewrite: one message, and its log line."""
        self.server.tell(message)
        self.server.log(f"rewrite {action} [{request}]: not started: {reason}")

    def _forget(self, job: Job) -> None:
        self.live.discard(job)
        if self.by_request.get(job.request) is job:
            del self.by_request[job.request]
        job.document.untrack(job.span)
        self.server.log(f"rewrite {job.action} [{job.request}]: {job.outcome}")

    def stop(self, job: Job, outcome: str) -> None:
        """Cancel a job (closing its HTTP stream), unless its edit is already on its way."""
        if job.sending or job.task is None or job.task.done():
            return
        job.outcome = outcome
        job.task.cancel()

    def cancel_request(self, request: Any) -> None:
        if (job := self.by_request.get(request)) is not None:
            self.stop(job, "cancelled by the editor ($/cancelRequest)")

    def text_changed(self, document: Document) -> None:
        """A change touched the text of some rewrites: they can no longer be applied."""
        for job in [j for j in self.live if j.document is document and j.span.lost]:
            if not job.sending:
                self.server.tell(CHANGED_DURING)
                self.stop(job, "not applied: the text changed")

    def cancel_document(self, uri: str) -> None:
        for job in [j for j in self.live if j.uri == uri]:
            self.stop(job, "cancelled: the document was closed")
        if (prefetch := self.prefetches.pop(uri, None)) is not None:
            prefetch[1].cancel()

    def cancel_all(self) -> None:
        for job in list(self.live):
            self.stop(job, "cancelled: the server is shutting down")
        for _, task in self.prefetches.values():
            task.cancel()

    async def _run(self, job: Job) -> None:
        progress = Progress(self.server, job.action) if self.server.supports_progress else None
        try:
            if progress is not None:
                await progress.begin(lambda: self.stop(job, "cancelled in the editor (progress)"))
            await asyncio.wait_for(self._rewrite(job), DEADLINE_SECONDS)
        except asyncio.TimeoutError:
            job.outcome = "timed out"
            self.server.tell(
                f"The rewrite took longer than {DEADLINE_SECONDS:.0f} s; nothing changed."
            )
        except asyncio.CancelledError:
            log.info("rewrite of %s cancelled", job.uri)
        except RewriteError as error:
            job.outcome = f"failed: {error}"
            self.server.tell(f"Rewrite failed, the text is unchanged: {error}")
        except Exception as error:  # e.g. the editor answered applyEdit with an error
            log.exception("rewrite of %s failed", job.uri)
            job.outcome = f"failed: {error!r}"
            self.server.tell(f"Rewrite failed, the text is unchanged: {error!r}")
        finally:
            if progress is not None:
                progress.end()

    async def _rewrite(self, job: Job) -> None:
        self._adopt_prefetch(job)
        newline = newline_of(job.document.text)
        prose = split_prose(to_lf(job.text))
        request = RewriteRequest(prose.text, job.action, model=self.server.overrides.model)
        result = await rewrite_async(self.server.engine, request)
        replacement = join_prose(prose, result.text).replace("\n", newline)
        self.server.log_rewrite(job.action, job.text, replacement, result.timings.wall_ms)
        if replacement == job.text:
            job.outcome = "unchanged: the rewrite is the text itself"
            return
        job.outcome = await deliver(self.server, job, replacement)

    # ------------------------------------------------------------------ prefetch

    def prefetch(self, target: Target, action: str) -> None:
        """Start `action` on a fresh selection, so choosing it is instant (through the cache)."""
        key = (target.version, target.start, target.end, action, text_hash(target.text))
        current = self.prefetches.get(target.uri)
        if current is not None:
            if current[0] == key:
                return
            current[1].cancel()
        task = asyncio.get_running_loop().create_task(self._prefetch(target.text, action))
        self.prefetches[target.uri] = (key, task)
        task.add_done_callback(lambda done: self._drop_prefetch(target.uri, done))

    def _drop_prefetch(self, uri: str, task: asyncio.Task[None]) -> None:
        current = self.prefetches.get(uri)
        if current is not None and current[1] is task:
            del self.prefetches[uri]

    async def _prefetch(self, text: str, action: str) -> None:
        # A prefetch is only a guess: the real request reports its own errors.
        with contextlib.suppress(RewriteError, asyncio.CancelledError):
            request = RewriteRequest(
                split_prose(to_lf(text)).text, action, model=self.server.overrides.model
            )
            await rewrite_async(self.server.engine, request)

    def _adopt_prefetch(self, job: Job) -> None:
        """A prefetch of this very rewrite (same text, same action) now belongs to the job: a
        new selection must not cancel it (the job waits for it through the single flight)."""
        current = self.prefetches.get(job.uri)
        if current is not None and current[0][3:] == (job.action, job.hash):
            del self.prefetches[job.uri]


class Progress:
    """Work-done progress for one job, created only for clients that advertise it."""

    def __init__(self, server: RewriteServer, action: str) -> None:
        self.server = server
        self.action = action
        self.token = f"rewrite-{uuid.uuid4()}"
        self.begun = False

    async def begin(self, on_cancel: Callable[[], None]) -> None:
        progress = self.server.work_done_progress
        # Shielded: cancelling while awaiting a client reply crashes pygls 2.1.1 (issue 621).
        await asyncio.shield(progress.create_async(self.token))
        title = f"Rewrite: {self.action}"
        progress.begin(self.token, types.WorkDoneProgressBegin(title=title, cancellable=True))
        self.begun = True
        cancel = progress.tokens.get(self.token)
        if cancel is not None:
            cancel.add_done_callback(lambda future: on_cancel() if future.cancelled() else None)

    def end(self) -> None:
        progress = self.server.work_done_progress
        if self.begun:
            progress.end(self.token, types.WorkDoneProgressEnd())
        progress.tokens.pop(self.token, None)  # pygls keeps them forever otherwise
