"""Rewrites running in the background of the language server, and their cancellation.

`workspace/executeCommand` returns at once; the rewrite runs as an asyncio task and its
result arrives as `workspace/applyEdit`. A task is cancelled (which closes the HTTP stream,
so Ollama stops generating) by a newer rewrite of the same range, `didClose`, a progress
cancel, `$/cancelRequest` for its command, or its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from rewrite.aio import rewrite_async
from rewrite.errors import RewriteError
from rewrite.frame import to_lf
from rewrite.prose import join_prose, split_prose
from rewrite.record import Record
from rewrite.results import RewriteRequest

from .codeactions import Target, text_hash
from .positions import newline_of, range_to_span

if TYPE_CHECKING:
    from .server import RewriteServer

log = logging.getLogger(__name__)
DEADLINE_SECONDS = 120.0


class Job(Record):
    """One executeCommand: what to rewrite, checked against the document before and after."""

    __slots__ = ("action", "end", "hash", "start", "uri", "version")

    def __init__(
        self, uri: str, version: int | None, start: int, end: int, action: str, hash: str
    ) -> None:
        self.uri = uri
        self.version = version
        self.start = start
        self.end = end
        self.action = action
        self.hash = hash


def parse_job(server: RewriteServer, arguments: tuple[Any, ...]) -> Job:
    """The command's one argument, as the code action made it; ValueError when it is not."""
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        raise ValueError("expected one object argument")
    given = arguments[0]
    try:
        uri, action, digest = str(given["uri"]), str(given["action"]), str(given["hash"])
        version = given.get("version")
        start = given["range"]["start"]
        end = given["range"]["end"]
        points = ((start["line"], start["character"]), (end["line"], end["character"]))
    except (KeyError, TypeError) as error:
        raise ValueError(f"missing {error}") from None
    source = server.workspace.get_text_document(uri).source
    span = range_to_span(source, points[0], points[1], server.encoding)
    return Job(uri, version if isinstance(version, int) else None, *span, action, digest)


class Jobs:
    def __init__(self, server: RewriteServer) -> None:
        self.server = server
        self.running: dict[tuple[str, int, int], asyncio.Task[None]] = {}
        self.by_request: dict[Any, asyncio.Task[None]] = {}
        self.prefetches: dict[str, tuple[tuple[Any, ...], asyncio.Task[None]]] = {}

    # ------------------------------------------------------------------ rewrites

    def start(self, job: Job, request_id: Any) -> None:
        key = (job.uri, job.start, job.end)
        if (older := self.running.get(key)) is not None:
            older.cancel()
        task = asyncio.get_running_loop().create_task(self._run(job))
        self.running[key] = task
        self.by_request[request_id] = task
        task.add_done_callback(lambda done: self._forget(key, request_id, done))

    def _forget(self, key: tuple[str, int, int], request_id: Any, task: asyncio.Task[None]) -> None:
        if self.running.get(key) is task:
            del self.running[key]
        self.by_request.pop(request_id, None)

    def cancel_request(self, request_id: Any) -> None:
        if (task := self.by_request.get(request_id)) is not None:
            task.cancel()

    def cancel_document(self, uri: str) -> None:
        for (owner, _, _), task in list(self.running.items()):
            if owner == uri:
                task.cancel()
        if (prefetch := self.prefetches.pop(uri, None)) is not None:
            prefetch[1].cancel()

    def cancel_all(self) -> None:
        for task in [*self.running.values(), *(t for _, t in self.prefetches.values())]:
            task.cancel()

    async def _run(self, job: Job) -> None:
        progress = Progress(self.server, job.action) if self.server.supports_progress else None
        try:
            if progress is not None:
                await progress.begin(asyncio.current_task())
            await asyncio.wait_for(self._rewrite(job), DEADLINE_SECONDS)
        except asyncio.TimeoutError:
            self.server.tell(
                f"The rewrite took longer than {DEADLINE_SECONDS:.0f} s; nothing changed."
            )
        except asyncio.CancelledError:
            log.info("rewrite of %s cancelled", job.uri)
        except RewriteError as error:
            self.server.tell(f"Rewrite failed, the text is unchanged: {error}")
        except Exception as error:  # e.g. the editor answered applyEdit with an error
            log.exception("rewrite of %s failed", job.uri)
            self.server.tell(f"Rewrite failed, the text is unchanged: {error!r}")
        finally:
            if progress is not None:
                progress.end()

    async def _rewrite(self, job: Job) -> None:
        selected = self._current_text(job)
        if selected is None:
            self.server.tell("The document changed since the action was offered; try again.")
            return
        self._adopt_prefetch(job)
        source = self.server.workspace.get_text_document(job.uri).source
        newline = newline_of(source)
        prose = split_prose(to_lf(selected))
        request = RewriteRequest(prose.text, job.action)
        result = await rewrite_async(self.server.engine, request)
        replacement = join_prose(prose, result.text).replace("\n", newline)
        self.server.log_rewrite(job.action, selected, replacement, result.timings.wall_ms)
        if self._current_text(job) != selected:
            self.server.tell("The document changed during the rewrite; nothing was replaced.")
            return
        if replacement != selected:
            await self.server.apply(job, source, replacement)

    def _current_text(self, job: Job) -> str | None:
        """The job's text if the document still has the version and text it was offered for."""
        document = self.server.workspace.get_text_document(job.uri)
        if job.version is not None and document.version != job.version:
            return None
        text = document.source[job.start : job.end]
        return text if text_hash(text) == job.hash else None

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
            request = RewriteRequest(split_prose(to_lf(text)).text, action)
            await rewrite_async(self.server.engine, request)

    def _adopt_prefetch(self, job: Job) -> None:
        """A prefetch of this very rewrite now belongs to the job: a new selection must not
        cancel it (the job waits for its result through the engine's single flight)."""
        current = self.prefetches.get(job.uri)
        if current is not None and current[0][1:] == (job.start, job.end, job.action, job.hash):
            del self.prefetches[job.uri]


class Progress:
    """Work-done progress for one job, created only for clients that advertise it."""

    def __init__(self, server: RewriteServer, action: str) -> None:
        self.server = server
        self.action = action
        self.token = f"rewrite-{uuid.uuid4()}"
        self.begun = False

    async def begin(self, task: asyncio.Task[Any] | None) -> None:
        progress = self.server.work_done_progress
        # Shielded: cancelling while awaiting a client reply crashes pygls 2.1.1 (issue 621).
        await asyncio.shield(progress.create_async(self.token))
        title = f"Rewrite: {self.action}"
        progress.begin(self.token, types.WorkDoneProgressBegin(title=title, cancellable=True))
        self.begun = True
        cancel = progress.tokens.get(self.token)
        if cancel is not None and task is not None:
            cancel.add_done_callback(lambda future: task.cancel() if future.cancelled() else None)

    def end(self) -> None:
        progress = self.server.work_done_progress
        if self.begun:
            progress.end(self.token, types.WorkDoneProgressEnd())
        progress.tokens.pop(self.token, None)  # pygls keeps them forever otherwise
