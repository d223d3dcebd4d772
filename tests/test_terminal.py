"""Text from a model or a server, made safe for a terminal (pure functions)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from rewrite.terminal import one_line, visible


def obeyed(text: str) -> list[str]:
    """Characters a terminal would act on rather than print (tab and line breaks aside)."""
    return [c for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r"]


@given(st.text())
def test_visible_leaves_nothing_a_terminal_obeys(text: str) -> None:
    assert obeyed(visible(text)) == []


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc",))))
def test_visible_keeps_printable_text_as_it_is(text: str) -> None:
    assert visible(text) == text


def test_escape_sequences_are_shown_not_obeyed() -> None:
    assert visible("\x1b]52;c;aGk=\x07\x1b[2J") == "␛]52;c;aGk=␇␛[2J"
    assert visible("\x9b2J") == "\\x9b2J"


@given(st.text())
def test_one_line_is_one_short_line_that_obeys_nothing(text: str) -> None:
    line = one_line(text)
    assert not any(c in line for c in "\r\n\u2028\u2029")
    assert obeyed(line) == []
    assert len(line) <= 300


def test_one_line_joins_lines_and_keeps_the_spacing_within_them() -> None:
    assert one_line("pulling 0123456789ab  986 MB\n") == "pulling 0123456789ab  986 MB"
    assert one_line("<html>\n  <body>\n    Bad Gateway\n") == "<html> <body> Bad Gateway"


def test_a_long_message_is_cut_with_an_ellipsis() -> None:
    line = one_line("x" * 1000)
    assert len(line) == 300 and line.endswith("…")
