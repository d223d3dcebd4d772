"""The format of tests/corpus/replies.yaml, the corpus of model replies and their outcomes.

Only the format is checked here: keys, names, counts, and that every expected output keeps
the input's whitespace frame. Whether the product meets the corpus is another test's job,
so nothing from rewrite/ is imported.
"""

from __future__ import annotations

import collections
import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

CORPUS = Path(__file__).parent / "corpus" / "replies.yaml"

ACTIONS = {"fix", "rephrase", "concise", "formal", "friendly", "simplify", "translate"}
CLASSES = {
    "lead-in",
    "wrapper",
    "trailer",
    "think",
    "users-words",
    "refusal",
    "assistant-talk",
    "answered",
    "wrong-language",
    "content",
    "clean",
}
# Every one of these families must have cases; a model name is "family:tag".
FAMILIES = ("qwen2.5", "qwen3", "llama3.2", "gemma3", "phi", "smollm2")
REQUIRED = {"id", "model", "action", "input", "reply", "class"}
OPTIONAL = {"params", "expect", "refused", "note"}
STRING_FIELDS = ("input", "reply", "expect")
MIN_CASES = 160
MIN_PER_CLASS = 8
ID_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")
_BREAK = re.compile(r"\r\n|\r|\n")


@functools.lru_cache(maxsize=1)
def load() -> list[dict[str, Any]]:
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    assert isinstance(data, list), "the corpus is a YAML list"
    assert all(isinstance(case, dict) for case in data), "every case is a mapping"
    return data


def case_ids() -> list[str]:
    return [str(case.get("id")) for case in load()]


def shipped() -> list[dict[str, Any]]:
    return [case for case in load() if "expect" in case]


def leading(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def trailing(text: str) -> str:
    return text[len(text.rstrip()) :]


def newline_style(text: str) -> str:
    found = _BREAK.search(text)
    return found.group() if found else "\n"


def shared_indent(text: str) -> str:
    """The first line's indentation when every line with content shares it, else ''."""
    lead = leading(text)
    indent = _BREAK.split(lead)[-1]
    lines = _BREAK.split(text.strip())
    if all(line.startswith(indent) for line in lines[1:] if line.strip()):
        return indent
    return ""


def test_the_corpus_is_big_enough() -> None:
    assert len(load()) >= MIN_CASES


def test_ids_are_unique_and_well_formed() -> None:
    ids = case_ids()
    repeated = [name for name, count in collections.Counter(ids).items() if count > 1]
    assert not repeated, f"ids used more than once: {repeated}"
    malformed = [name for name in ids if not ID_PATTERN.fullmatch(name)]
    assert not malformed, f"ids not in the form family-action-class-nn: {malformed}"


@pytest.mark.parametrize("case", load(), ids=case_ids())
def test_keys_and_names(case: dict[str, Any]) -> None:
    missing = REQUIRED - case.keys()
    assert not missing, f"missing keys {sorted(missing)}"
    unknown = case.keys() - REQUIRED - OPTIONAL
    assert not unknown, f"unknown keys {sorted(unknown)}"
    assert ("expect" in case) != ("refused" in case), "exactly one of expect and refused"
    if "refused" in case:
        assert case["refused"] is True, "refused is only ever true"
    for field in (*STRING_FIELDS, "id", "model", "note"):
        if field in case:
            assert isinstance(case[field], str), f"{field} is a string"
    assert case["action"] in ACTIONS
    assert case["class"] in CLASSES
    assert ":" in case["model"], "a model is named family:tag"
    assert case["input"].strip(), "the input has text in it"
    assert case["reply"], "the reply is not empty"
    if "params" in case:
        assert case["action"] == "translate", "params only for translate"
        params = case["params"]
        assert isinstance(params, dict), "params is a mapping"
        assert set(params) == {"to"}, "translate takes only 'to'"
        assert isinstance(params["to"], str), "the target language is a string"
        assert params["to"].strip()


@pytest.mark.parametrize("case", shipped(), ids=[case["id"] for case in shipped()])
def test_expect_keeps_the_input_frame(case: dict[str, Any]) -> None:
    text, expect = case["input"], case["expect"]
    assert expect.strip(), "an expected output has text in it"
    assert leading(expect) == leading(text), "same leading whitespace as the input"
    assert trailing(expect) == trailing(text), "same trailing whitespace and final newlines"
    style = newline_style(text)
    breaks = set(_BREAK.findall(expect))
    assert breaks <= {style}, f"line breaks {sorted(breaks)!r}, the input uses {style!r}"
    indent = shared_indent(text)
    if indent:
        lines = _BREAK.split(expect.strip())
        bare = [line for line in lines[1:] if line.strip() and not line.startswith(indent)]
        assert not bare, f"lines without the input's indentation {indent!r}: {bare}"


def test_every_class_has_enough_cases() -> None:
    counts = collections.Counter(case.get("class") for case in load())
    thin = {name: counts[name] for name in sorted(CLASSES) if counts[name] < MIN_PER_CLASS}
    assert not thin, f"classes with fewer than {MIN_PER_CLASS} cases: {thin}"


def test_every_model_family_is_present() -> None:
    models = {str(case.get("model")) for case in load()}
    absent = [family for family in FAMILIES if not any(m.startswith(family) for m in models)]
    assert not absent, f"no cases for {absent}"


def test_shipped_and_refused_are_roughly_even() -> None:
    share = len(shipped()) / len(load())
    assert 0.35 <= share <= 0.65, f"{share:.0%} of the cases are shipped"


def test_strings_are_double_quoted() -> None:
    """Whitespace must be exact, so input, reply and expect are always double-quoted."""
    field = re.compile(r"^\s*-?\s*(input|reply|expect):(.*)$")
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        found = field.match(line)
        if found:
            assert found.group(2).startswith(' "'), f"line {number}: {found.group(1)} unquoted"
