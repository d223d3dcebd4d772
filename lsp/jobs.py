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
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from rewrite.aio import candidates_async, rewrite_async
from rewrite.errors import RewriteError
from rewrite.frame import to_lf
from rewrite.prose import join_prose, split_prose
from rewrite.record import Record
from rewrite.results import RewriteRequest
from rewrite.settings import MOST_CANDIDATES

from .codeactions import Target, text_hash
from .delivery import CHANGED_DURING
from .positions import Points, newline_of
from .present import Presenter

if TYPE_CHECKING:
    from .documents import Document, Span
    from .host import Host

log = logging.getLogger(__name__)
DEADLINE_SECONDS = 120.0
AGAIN_SECONDS = 30.0  # the same rewrite asked for again this soon wants another candidate


class Command(Record):
    """One executeCommand's argument, as the code action made it."""

    __slots__ = ("action", "candidates", "hash", "points", "uri", "version")

    def __init__(
        self,
        uri: str,
        version: int | None,
        points: Points,
        action: str,
        hash: str,
        candidates: int = 1,
    ) -> None:
        self.uri = uri
        self.version = version
        self.points = points
        self.action = action
        self.hash = hash
        self.candidates = candidates  # more than 1: the user picks one


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
        count = given.get("candidates", 1)
        count = min(int(count), MOST_CANDIDATES) if isinstance(count, int) and count > 1 else 1
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"missing or wrong {error}") from None
    version = version if isinstance(version, int) else None
    return Command(uri, version, points, action, digest, count)


class Job:
    """One rewrite in flight: its text, the span that follows the document's edits, its task."""

    __slots__ = (
        "action",
        "candidate",
        "candidates",
        "document",
        "hash",
        "outcome",
        "request",
        "sending",
        "span",
        "task",
        "text",
    )

    def __init__(
        self, command: Command, request: Any, document: Document, span: Span, candidate: int = 0
    ) -> None:
        self.action = command.action
        self.candidates = command.candidates
        self.candidate = candidate  # above 0: the user asked again; not the cached answer
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
    def __init__(self, server: Host) -> None:
        self.server = server
        self.live: set[Job] = set()
        self.by_request: dict[Any, Job] = {}
        self.prefetches: dict[str, tuple[tuple[Any, ...], asyncio.Task[None]]] = {}
        self.presenter = Presenter(server)
        self.asked: dict[tuple[str, str, str], tuple[float, int]] = {}  # for "again"

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
        job = Job(command, request, document, document.track(*bounds), self._candidate(command))
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

    def _candidate(self, command: Command) -> int:
        """0 for a first request; the next candidate when the same text is asked for again
        with the same action within AGAIN_SECONDS (the cached answer was not wanted)."""
        now = time.monotonic()
        key = (command.uri, command.hash, command.action)
        last = self.asked.get(key)
        candidate = last[1] + command.candidates if last and now - last[0] < AGAIN_SECONDS else 0
        self.asked = {k: v for k, v in self.asked.items() if now - v[0] < AGAIN_SECONDS}
        self.asked[key] = (now, candidate)
        return candidate

    async def _rewrite(self, job: Job) -> None:
        if job.candidate == 0:
            self._adopt_prefetch(job)
        newline = newline_of(job.document.text)
        prose = split_prose(to_lf(job.text))
        request = RewriteRequest(
            prose.text, job.action, model=self.server.overrides.model, candidate=job.candidate
        )

        def framed(text: str) -> str:
            return join_prose(prose, text).replace("\n", newline)

        async def another(seed: int) -> str | None:
            try:
                found = await rewrite_async(self.server.engine, request.replace(candidate=seed))
            except RewriteError:
                return None
            return framed(found.text)

        if job.candidates > 1:
            first = job.candidate + 1
            results = await candidates_async(self.server.engine, request, job.candidates, first)
            seed = first + job.candidates - 1
        else:
            results, seed = [await rewrite_async(self.server.engine, request)], job.candidate
        texts = list(dict.fromkeys(framed(result.text) for result in results))
        texts = [text for text in texts if text != job.text]
        if results:
            shown = texts[0] if texts else job.text
            self.server.log_rewrite(job.action, job.text, shown, results[0].timings.wall_ms)
        if not texts:
            job.outcome = "unchanged: the rewrite is the text itself"
            return
        job.outcome = await self.presenter.present(job, texts, another, seed)

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

    async def ready(self, target: Target, wait: float) -> dict[str, str]:
        """The rewrites of `target` that are ready: the prefetched default action, waited
        for at most `wait` seconds, and any other action the cache already holds."""
        current = self.prefetches.get(target.uri)
        if current is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(current[1]), wait)
        newline = newline_of(target.text)
        prose = split_prose(to_lf(target.text))
        found: dict[str, str] = {}
        for action in self.server.settings.actions:
            request = RewriteRequest(prose.text, action, model=self.server.overrides.model)
            result = self.server.engine.cached(request)
            if result is not None:
                text = join_prose(prose, result.text).replace("\n", newline)
                if text != target.text:
                    found[action] = text
        return found

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

    def __init__(self, server: Host, action: str) -> None:
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
