"""Where a reply's tokens come from, and the timing of one generation.

A TokenSource yields Pieces of text: a ScriptedTokens replays a reply chosen in advance (a
queued reply, StandIn.reply, or the echo of the user's text), while a real generator
(llama.py) produces them with a model. A Generation wraps either one with the clocks Ollama
reports (load, prompt evaluation, evaluation, total) and ends in a GenerationRecord.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

TOKEN_RE = re.compile(r"\s*\S+|\s+")
THINKING_TEXT = "Okay, the user wants this rewritten. Keep the meaning."
_PREAMBLE_BREAK = re.compile(r"\r?\n[ \t]*\r?\n")


def echo_text(text: str) -> str:
    """The echo-mode reply: `text`, minus a leading "Instructions:" paragraph."""
    found = _PREAMBLE_BREAK.search(text)
    if found and text[: found.start()].rstrip().endswith(":"):
        return text[found.end() :]
    return text


class Piece(NamedTuple):
    """A token's text: reply content, or thinking when `thinking` is set."""

    text: str
    thinking: bool = False


class TokenSource(Protocol):
    """The tokens of one reply. The counts and times are final once iteration has ended."""

    known_count: int | None  # pieces known in advance (then the last is known); None if live
    prompt_tokens: int  # the prompt's length in tokens
    cached_tokens: int  # prompt tokens reused from the cache instead of evaluated
    produced: int  # tokens produced so far (a token may yield no text of its own)
    done_reason: str  # "stop" or "length", when the source ran to its end
    prompt_started_ns: int | None  # perf_counter_ns when prompt evaluation began; None: at load
    eval_started_ns: int | None  # perf_counter_ns when token generation began
    token_ids: list[int]  # the prompt's and the reply's token ids, when they are real

    def __iter__(self) -> Iterator[Piece]: ...

    def close(self) -> None: ...


class ScriptedTokens:
    """A reply chosen in advance, replayed word by word (each word with its leading space)."""

    def __init__(self, pieces: list[Piece], prompt_tokens: int, done_reason: str) -> None:
        self.pieces = pieces
        self.known_count: int | None = len(pieces)
        self.prompt_tokens = prompt_tokens
        self.cached_tokens = 0
        self.produced = 0
        self.done_reason = done_reason
        self.prompt_started_ns: int | None = None  # the prompt is "evaluated" by the load
        self.eval_started_ns: int | None = None
        self.token_ids: list[int] = []  # made-up replies have no real token ids

    @classmethod
    def of(
        cls, reply: str, *, thinks: bool, limit: int | None, prompt_tokens: int
    ) -> ScriptedTokens:
        """`reply`'s words, after some thinking when `thinks`; `limit` tokens at most."""
        thinking = [Piece(word, True) for word in TOKEN_RE.findall(THINKING_TEXT)] if thinks else []
        pieces = thinking + [Piece(word) for word in TOKEN_RE.findall(reply)]
        if limit is not None and limit <= len(pieces):
            return cls(pieces[:limit], prompt_tokens, "length")
        return cls(pieces, prompt_tokens, "stop")

    def __iter__(self) -> Iterator[Piece]:
        self.eval_started_ns = time.perf_counter_ns()
        for piece in self.pieces:
            self.produced += 1
            yield piece

    def close(self) -> None:
        """Nothing to stop: the reply was never being computed."""


@dataclass(frozen=True)
class GenerationRecord:
    """How one request's generation ended (StandIn.generations keeps them in order)."""

    path: str
    model: str
    prompt_tokens: int
    tokens: int  # tokens produced (eval_count when it finished)
    done_reason: str | None  # "stop" or "length"; None when cut short (hang-up, fault, stop())


class Generation:
    """One request's tokens with Ollama's clocks: request received, slot taken, model ready,
    prompt evaluated, tokens generated. `finish()` marks the end the client is about to see.

    The wait for a slot counts in the total only, as a wait for one of Ollama's parallel
    sequences does; the load counts from the slot on.
    """

    def __init__(
        self,
        source: TokenSource,
        times_ns: tuple[int, int, int],
        on_done: Callable[[], None],
    ) -> None:
        self.source = source
        self.started_ns, self.slot_ns, self.loaded_ns = times_ns  # received, slot, model ready
        self.finished = False
        self._ended_ns: int | None = None
        self._on_done: Callable[[], None] | None = on_done

    def pieces(self, pause: Callable[[], None]) -> Iterator[tuple[Piece, bool]]:
        """Each piece after `pause()`, with whether it is the last (known when scripted)."""
        total = self.source.known_count
        for index, piece in enumerate(self.source):
            pause()
            yield piece, total is not None and index == total - 1

    def finish(self) -> None:
        """The end is reached: the model is free before the client can see the end."""
        self.finished = True
        self._ended_ns = time.perf_counter_ns()
        if self._on_done is not None:
            on_done, self._on_done = self._on_done, None
            on_done()

    @property
    def done_reason(self) -> str:
        return self.source.done_reason

    @property
    def eval_count(self) -> int:
        return self.source.produced

    def durations_ns(self) -> dict[str, int]:
        """total, load, prompt_eval and eval durations (each at least 1 ns but the total)."""
        now = self._ended_ns or time.perf_counter_ns()
        prompt_started = self.source.prompt_started_ns or self.loaded_ns
        eval_started = self.source.eval_started_ns or now
        return {
            "total_duration": now - self.started_ns,
            "load_duration": max(1, self.loaded_ns - self.slot_ns),
            "prompt_eval_duration": max(1, eval_started - prompt_started),
            "eval_duration": max(1, now - eval_started),
        }

    def record(self, path: str, model: str) -> GenerationRecord:
        reason = self.source.done_reason if self.finished else None
        return GenerationRecord(
            path, model, self.source.prompt_tokens, self.source.produced, reason
        )

    def close(self) -> None:
        """Stop producing tokens now (a real model stops computing)."""
        self.source.close()
