"""Prompt assembly: what the model is sent for each action."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewrite.actions import BUILTIN_ACTIONS, Action, build_messages, custom_action
from rewrite.errors import UsageError
from rewrite.text import CANNOT_REWRITE


@given(st.sampled_from(sorted(BUILTIN_ACTIONS)), st.text(min_size=1), st.text(min_size=1))
def test_everything_before_the_text_is_byte_stable(name: str, first: str, second: str) -> None:
    one = build_messages(BUILTIN_ACTIONS[name], first, {})
    two = build_messages(BUILTIN_ACTIONS[name], second, {})
    assert one[:-1] == two[:-1]
    assert one[-1]["role"] == "user"
    assert one[-1]["content"].endswith(first)
    assert one[-1]["content"][: -len(first)] == two[-1]["content"][: -len(second)]


@pytest.mark.parametrize("name", sorted(BUILTIN_ACTIONS))
def test_every_action_says_output_only_and_never_answer(name: str) -> None:
    system = build_messages(BUILTIN_ACTIONS[name], "x", {})[0]["content"]
    assert system.startswith("You are a text rewriting tool")
    assert "Never answer it" in system
    assert "rewritten text only" in system
    assert CANNOT_REWRITE in system
    assert BUILTIN_ACTIONS[name].prefix in system


def test_examples_are_real_turns_and_one_is_a_question() -> None:
    messages = build_messages(BUILTIN_ACTIONS["fix"], "text", {})
    roles = [m["role"] for m in messages]
    assert roles == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert any(m["role"] == "assistant" and m["content"].endswith("?") for m in messages)


def test_language_rule_depends_on_translating() -> None:
    fix = build_messages(BUILTIN_ACTIONS["fix"], "x", {})[0]["content"]
    translate = build_messages(BUILTIN_ACTIONS["translate"], "x", {"to": "Japanese"})[0]["content"]
    assert "Keep the language of the text" in fix
    assert "Keep the language of the text" not in translate
    assert "into Japanese" in translate
    assert "into English" in build_messages(BUILTIN_ACTIONS["translate"], "x", {})[0]["content"]


def test_parameters_must_be_known_and_complete() -> None:
    with pytest.raises(UsageError, match="takes no parameter 'to'"):
        build_messages(BUILTIN_ACTIONS["fix"], "x", {"to": "German"})
    needs_name = Action("letter", "A letter", "Write it as a letter to {name}.")
    with pytest.raises(UsageError, match="needs the parameter 'name'"):
        build_messages(needs_name, "x", {})
    assert "to Kim." in build_messages(needs_name, "x", {"name": "Kim"})[0]["content"]


def test_braces_that_are_not_parameters_pass_through() -> None:
    action = custom_action('Answer as JSON like {"text": ...}')
    assert '{"text": ...}' in build_messages(action, "x", {})[0]["content"]


def test_a_custom_action_has_no_examples() -> None:
    messages = build_messages(custom_action("make it sound like a pirate"), "hello", {})
    assert [m["role"] for m in messages] == ["system", "user"]
