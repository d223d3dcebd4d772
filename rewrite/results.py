"""What a door asks the engine for, and what it gets back."""

from __future__ import annotations

from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

_NS_PER_MS = 1_000_000


class RewriteRequest(Record):
    """What a door asks for: `instruction`, when given, is an ad-hoc action that wins
    over `action`; `use_cache` False neither reads nor writes the cache; `variant` asks the
    model another way (`rewrite bench` compares them); `candidate` above 0 asks for another
    candidate than the usual answer (sampled with that seed, never from the cache)."""

    __slots__ = (
        "action",
        "candidate",
        "instruction",
        "model",
        "params",
        "text",
        "use_cache",
        "variant",
    )

    def __init__(
        self,
        text: str,
        action: str = "fix",
        instruction: str | None = None,
        params: Mapping[str, str] | None = None,
        model: str | None = None,
        use_cache: bool = True,
        variant: str | None = None,
        candidate: int = 0,
    ) -> None:
        self.text = text
        self.candidate = candidate
        self.use_cache = use_cache
        self.action = action
        self.instruction = instruction
        self.params: Mapping[str, str] = params or {}
        self.model = model
        self.variant = variant  # a way of asking from rewrite.variants (None: the shipped one)


class Timings(Record):
    """Milliseconds and token counts. wall and first_token are measured by the client; the
    rest come from the server, where it reports them (0 where it does not)."""

    __slots__ = (
        "cached_tokens",
        "eval_ms",
        "first_token_ms",
        "load_ms",
        "output_tokens",
        "prompt_eval_ms",
        "prompt_tokens",
        "total_ms",
        "wall_ms",
    )

    def __init__(
        self,
        wall_ms: float = 0.0,
        first_token_ms: float | None = None,
        load_ms: float = 0.0,
        prompt_eval_ms: float = 0.0,
        eval_ms: float = 0.0,
        total_ms: float = 0.0,
        prompt_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int | None = None,
    ) -> None:
        self.wall_ms = wall_ms
        self.first_token_ms = first_token_ms
        self.load_ms = load_ms
        self.prompt_eval_ms = prompt_eval_ms
        self.eval_ms = eval_ms
        self.total_ms = total_ms
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.cached_tokens = cached_tokens  # prompt tokens the server reused; None: not said

    @classmethod
    def from_final_chunk(cls, chunk: dict[str, Any]) -> Timings:
        """The figures of Ollama's last line; a field missing or of another kind counts 0."""

        def count(key: str) -> float:
            value = chunk.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return 0.0
            return float(value) if 0 <= value < 1e18 else 0.0

        def ms(key: str) -> float:
            return round(count(key) / _NS_PER_MS, 3)

        return cls(
            load_ms=ms("load_duration"),
            prompt_eval_ms=ms("prompt_eval_duration"),
            eval_ms=ms("eval_duration"),
            total_ms=ms("total_duration"),
            prompt_tokens=int(count("prompt_eval_count")),
            output_tokens=int(count("eval_count")),
        )


class RewriteResult(Record):
    __slots__ = ("action", "cached", "host", "model", "text", "timings")

    def __init__(
        self,
        text: str,
        model: str,
        action: str,
        host: str | None = None,
        cached: bool = False,
        timings: Timings | None = None,
    ) -> None:
        self.text = text
        self.model = model
        self.action = action
        self.host = host
        self.cached = cached
        self.timings = timings or Timings()

    def to_json(self) -> dict[str, Any]:
        return self.as_dict()
