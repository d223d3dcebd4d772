"""A text too long for one request, rewritten paragraph by paragraph, all at once.

When the input does not fit the model's context with its prompt and reply, it is split at
paragraph and block boundaries (`parts`). Each paragraph is its own request, sent
concurrently, so several hosts (and several slots of one) share the work; the fixed prompt
comes first in every one of them, so a server's prompt cache serves them all. Each request
goes through the engine as any other: cached per paragraph (editing one paragraph of a long
text re-sends only that one), cleaned and guarded on its own. The answers are put back
between the input's separators, byte for byte. One paragraph refused or failed means the
whole rewrite fails: the input is given back, never half a rewritten text.
"""

from __future__ import annotations

import queue
import threading
import time

from .errors import Cancelled, InputError
from .parts import Part, join_parts, sendable, split_parts
from .results import RewriteRequest, RewriteResult, Timings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from .engine import Engine, RewriteStream

MOST_AT_ONCE = 16  # requests in flight for one text, whatever the number of hosts
PER_HOST = 4  # requests per host at once: its slots, and one more waiting in each


def split_for_requests(text: str) -> list[Part] | None:
    """The parts of `text` when it has at least two paragraphs to send, else None."""
    parts = split_parts(text)
    return parts if len(sendable(parts)) > 1 else None


class PartsStream:
    """The engine's stream for a long text: iterate for the rewritten text in document
    order as its paragraphs come back; `result` once iteration ends."""

    def __init__(self, engine: Engine, request: RewriteRequest, parts: list[Part]) -> None:
        self._engine = engine
        self._request = request
        self._parts = parts
        self._lock = threading.Lock()
        self._streams: list[RewriteStream | PartsStream] = []
        self._cancelled = False
        self.result: RewriteResult | None = None
        self.raw_reply: str | None = None  # one reply per paragraph: no single raw reply
        self.pieces = 0
        self.restartable = False  # each paragraph starts over elsewhere if it must

    def close(self) -> None:
        """Cancel every paragraph's request. Safe from any thread."""
        with self._lock:
            self._cancelled = True
            streams = list(self._streams)
        for stream in streams:
            stream.close()

    def __iter__(self) -> Iterator[str]:
        started = time.perf_counter()
        indices = sendable(self._parts)
        done: queue.Queue[tuple[int, RewriteResult | None, BaseException | None]] = queue.Queue()
        todo: queue.Queue[int] = queue.Queue()
        for index in indices:
            todo.put(index)
        workers = min(len(indices), MOST_AT_ONCE, PER_HOST * len(self._engine.settings.hosts))
        for _ in range(workers):
            threading.Thread(target=self._work, args=(todo, done), daemon=True).start()
        results: dict[int, RewriteResult] = {}
        failure: BaseException | None = None
        shown = 0  # parts already yielded, in order
        for _ in indices:
            index, result, error = done.get()
            if error is not None:
                if failure is None:
                    failure = error
                    self.close()  # the other paragraphs stop: the whole text is given back
                continue
            assert result is not None
            results[index] = result
            if failure is None:
                ready = self._ready(shown, results)
                shown += len(ready)
                if text := "".join(ready):
                    self.pieces += 1
                    yield text
        if failure is not None:
            raise failure
        self.result = self._result(results, started)

    def _work(
        self,
        todo: queue.Queue[int],
        done: queue.Queue[tuple[int, RewriteResult | None, BaseException | None]],
    ) -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            done.put((index, *self._rewrite(index)))

    def _rewrite(self, index: int) -> tuple[RewriteResult | None, BaseException | None]:
        request = self._request.replace(text=self._parts[index].text)
        try:
            stream = self._engine.stream(request)
        except BaseException as error:
            return None, _paragraph_error(error, self._parts[index])
        stream.restartable = True
        with self._lock:
            if self._cancelled:
                return None, Cancelled("the rewrite was cancelled")
            self._streams.append(stream)
        try:
            for _ in stream:
                pass
        except BaseException as error:
            return None, error
        return stream.result, None

    def _ready(self, shown: int, results: dict[int, RewriteResult]) -> list[str]:
        """The text of the parts after the first `shown` that can be shown now (every part
        before them is done), with the input's own separators."""
        texts: list[str] = []
        for position in range(shown, len(self._parts)):
            part = self._parts[position]
            if part.send and position not in results:
                break
            texts.append((results[position].text if part.send else part.text) + part.separator)
        return texts

    def _result(self, results: dict[int, RewriteResult], started: float) -> RewriteResult:
        rewritten = {index: result.text for index, result in results.items()}
        first = next(iter(results.values()))
        hosts = sorted({result.host for result in results.values() if result.host})
        firsts = [r.timings.first_token_ms for r in results.values() if r.timings.first_token_ms]
        wall_ms = round((time.perf_counter() - started) * 1000, 3)
        return RewriteResult(
            join_parts(self._parts, rewritten),
            first.model,
            first.action,
            ", ".join(hosts) or None,
            cached=all(result.cached for result in results.values()),
            timings=Timings(
                wall_ms=wall_ms,
                first_token_ms=min(firsts) if firsts else None,
                prompt_tokens=_total(results, "prompt_tokens"),
                output_tokens=_total(results, "output_tokens"),
                cached_tokens=None,
            ),
        )


def _total(results: dict[int, RewriteResult], name: str) -> int:
    return sum(getattr(result.timings, name) or 0 for result in results.values())


def _paragraph_error(error: BaseException, part: Part) -> BaseException:
    if isinstance(error, InputError) and "context" in str(error):
        return InputError(
            f"a paragraph of {len(part.text):,} characters is too long for the model's "
            "context on its own; raise options.num_ctx in the config or split the paragraph"
        )
    return error
