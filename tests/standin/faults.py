"""The misbehaviours a test plans (StandIn.fault), checked when planned; http.py carries them
out on the wire."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

FAULT_KINDS = frozenset(
    {"status", "error_midstream", "error_event", "truncate", "malformed", "stall"}
    | {"stall_headers", "die", "raw"}
)


@dataclass
class Fault:
    """A misbehaviour planned for the next `times` requests to `path` (see StandIn.fault)."""

    kind: str
    status: int | None
    message: str | None
    after_chunks: int
    path: str
    times: int
    seconds: float
    retry_after: int | None = None
    raw: Callable[[], Iterable[bytes]] | None = None  # the whole response, written verbatim

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; choose from {sorted(FAULT_KINDS)}")
        if self.after_chunks < 0 or self.times == 0:
            raise ValueError("after_chunks must be >= 0 and times non-zero")
        if self.kind == "error_event" and not self.path.startswith("/v1/"):
            raise ValueError("error_event is a server-sent event: only /v1/ paths have them")
        if self.retry_after is not None and self.kind != "status":
            raise ValueError("retry_after goes with a status fault")
        if (self.raw is None) == (self.kind == "raw"):
            raise ValueError("raw goes with a raw fault, and a raw fault needs it")
