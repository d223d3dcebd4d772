"""The engine for asyncio doors (the shell, the language server).

The engine itself is synchronous (asyncio alone would cost the CLI about 50 ms of
start-up); here each rewrite runs in a worker thread and its pieces are handed to the
event loop. Cancelling the awaiting task, or closing the stream, closes the HTTP
connection, which makes Ollama stop generating.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading

from .engine import Engine, RewriteRequest, RewriteResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .engine import AnyStream


class _Done:
    """The end of a stream, with the error that ended it, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class AsyncRewriteStream:
    """`async for piece in stream` for the cleaned text; `result` once it is done."""

    def __init__(self, stream: AnyStream) -> None:
        self._stream = stream

    @property
    def result(self) -> RewriteResult | None:
        return self._stream.result

    def close(self) -> None:
        """Cancel the rewrite; safe to call at any time, from any thread."""
        self._stream.close()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | _Done] = asyncio.Queue()

        def hand_over(item: str | _Done) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone; nobody is listening any more
                self._stream.close()

        def pump() -> None:
            try:
                for piece in self._stream:
                    hand_over(piece)
            except BaseException as error:
                hand_over(_Done(error))
            else:
                hand_over(_Done())

        threading.Thread(target=pump, name="rewrite", daemon=True).start()
        try:
            while not isinstance(item := await queue.get(), _Done):
                yield item
            if item.error is not None:
                raise item.error
        finally:
            self._stream.close()


def stream_async(engine: Engine, request: RewriteRequest) -> AsyncRewriteStream:
    """Start nothing yet: the rewrite begins when iteration does."""
    return AsyncRewriteStream(engine.stream(request))


MOST_REWRITES_AT_ONCE = 64  # a thread each waits on a server; asyncio's default pool has 6 here


@functools.cache
def _workers() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(MOST_REWRITES_AT_ONCE, "rewrite")


async def rewrite_async(engine: Engine, request: RewriteRequest) -> RewriteResult:
    """The whole rewrite from a pooled worker thread: one hand-over instead of one per piece.
    Cancelling the awaiting task closes the HTTP stream, which ends the worker's wait."""
    stream = engine.stream(request)
    stream.restartable = True  # nothing is shown before the end: a failure may start over
    try:
        return await asyncio.get_running_loop().run_in_executor(_workers(), _drain, stream)
    except asyncio.CancelledError:
        stream.close()
        raise


def _drain(stream: AnyStream) -> RewriteResult:
    for _ in stream:
        pass
    assert stream.result is not None
    return stream.result


async def candidates_async(
    engine: Engine, request: RewriteRequest, count: int, first: int = 1
) -> list[RewriteResult]:
    """`rewrite.candidates.candidates` from a worker thread."""
    from .candidates import candidates

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_workers(), candidates, engine, request, count, first)
