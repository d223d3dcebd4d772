"""The corpus of realistic replies (tests/corpus/replies.yaml): for every case, the exact
text a rewrite prints, or a refusal with the input given back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rewrite.actions import BUILTIN_ACTIONS, build_messages
from rewrite.errors import RejectedReply
from rewrite.guard import review
from rewrite.text import restore_frame, split_frame

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "corpus" / "replies.yaml").read_text(encoding="utf-8")
)


def outcome(case: dict[str, Any]) -> str | None:
    """What the product prints for the case's reply, or None when it refuses it."""
    action, params = BUILTIN_ACTIONS[case["action"]], case.get("params") or {}
    frame = split_frame(case["input"])
    instructions = build_messages(action, frame.body, params)[0]["content"]
    try:
        return restore_frame(frame, review(case["reply"], frame.body, action, params, instructions))
    except RejectedReply:
        return None


# What the guard cannot tell without understanding the words: a rewording that swaps one
# fact for another. Strict: the day one of these is caught, the test says so.
KNOWN_MISSES = {
    "phi3-simplify-content-01": "simplify adds 'and fire damage' to what the insurance covers",
    "gemma3-formal-content-03": "formal drops 'the delivery note' from a request for two things",
}


def marked(case: dict[str, Any]) -> Any:
    miss = KNOWN_MISSES.get(case["id"])
    marks = [pytest.mark.xfail(strict=True, reason=miss)] if miss else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [marked(case) for case in CASES])
def test_every_reply_gets_exactly_its_outcome(case: dict[str, Any]) -> None:
    got = outcome(case)
    if case.get("refused"):
        assert got is None, f"shipped: {got!r}"
    else:
        assert got == case["expect"]


def test_the_corpus_tally() -> None:
    """The count the project reports: every case but the known misses gets its outcome."""
    shipped = sum(1 for case in CASES if not case.get("refused"))
    exact = [c for c in CASES if (outcome(c) is None) == bool(c.get("refused"))]
    exact = [c for c in exact if c.get("refused") or outcome(c) == c["expect"]]
    print(f"corpus: {len(CASES)} cases ({shipped} to ship, {len(CASES) - shipped} to refuse); ")
    print(f"{len(exact)} get exactly their outcome; known misses: {sorted(KNOWN_MISSES)}")
    assert len(exact) == len(CASES) - len(KNOWN_MISSES)
