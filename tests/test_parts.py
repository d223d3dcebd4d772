"""A long text in parts: cut at paragraph breaks, code blocks whole, put back byte-exact."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewrite.parts import Part, join_parts, sendable, split_parts

BREAK = re.compile(r"\r\n?|\n")
OPENING = re.compile(r"[ \t]*(?:`{3,}[^`]*|~{3,}.*)")
SEPARATORS = ("\n\n", "\r\n\r\n", "\n \n\t\n", "\r\r", "\n\n\n")
NEWLINES = ("\n", "\r\n", "\r")
FRAGMENTS = (
    *NEWLINES,
    *(" ", "\t", "  ", "\ufeff", "\u2028", "\x85", "\x0c", "\u00a0"),
    *("#", "# ", "##", ">", "> ", "> >", "//", "--", "---", ";", "%", " * ", "*", "*/"),
    *("```", "~~~", "````", "`", "~", "```py", "~~~ x `"),
    *("a", "word", "Grüße", "😀", "漢字", "1.", "-", "."),
)

any_text = st.one_of(st.text(), st.lists(st.sampled_from(FRAGMENTS)).map("".join))
line_rest = st.text(st.characters(blacklist_characters="\r\n"), max_size=12)


def lines_of(text: str) -> list[str]:
    return BREAK.split(text)


@st.composite
def paragraphs(draw: st.DrawFn) -> str:
    """A paragraph: lines that start (after some indentation) with a letter or digit."""
    lines = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("", " ", "\t", "    ")), st.sampled_from("aZß漢7"), line_rest
            ),
            min_size=1,
            max_size=4,
        )
    )
    text = "".join(indent + first + rest for indent, first, rest in lines[:1])
    for indent, first, rest in lines[1:]:
        text += draw(st.sampled_from(NEWLINES)) + indent + first + rest
    return text


@st.composite
def fences(draw: st.DrawFn) -> str:
    """A fenced code block, closed, with blank lines and paragraph-like lines inside."""
    char = draw(st.sampled_from("`~"))
    size = draw(st.integers(3, 5))
    info = draw(st.sampled_from(("", "python", " sh {.x}")))
    code_line = st.one_of(
        st.sampled_from(("", "  ", "\t", "#", ">", "word", "# x", "```x", "~~~x")),
        st.tuples(st.sampled_from("x#>=(;%/a"), line_rest).map("".join),
    )
    code = draw(st.lists(st.tuples(st.sampled_from(NEWLINES), code_line), max_size=6))
    indent = draw(st.sampled_from(("", "  ", "   ")))
    closing = draw(st.sampled_from(("", "  "))) + char * draw(st.integers(size, size + 2))
    body = "".join(newline + line for newline, line in code)
    newline = draw(st.sampled_from(NEWLINES))
    return indent + char * size + info + body + newline + closing + draw(st.sampled_from(("", " ")))


@st.composite
def documents(draw: st.DrawFn, with_code: bool) -> list[Part]:
    """The parts a document is made of; the document is their text and separators joined."""
    lead = draw(st.sampled_from(("", "\n", " \n\n", "\r\n\t\r\n", "\r"))) if with_code else ""
    kinds = st.sampled_from(("text", "text", "code")) if with_code else st.just("text")
    blocks = draw(st.lists(kinds, min_size=1, max_size=8))
    texts = [draw(fences() if kind == "code" else paragraphs()) for kind in blocks]
    separators = []
    for kind, after in pairwise(blocks):
        touches_code = "code" in (kind, after)
        separators.append(draw(st.sampled_from(SEPARATORS + NEWLINES * touches_code)))
    separators.append(draw(st.sampled_from(("", "\n", "\r\n", "\n\n \t", "\r\r\n"))) * with_code)
    parts = [Part("", lead, send=False)] if lead else []
    for kind, text, separator in zip(blocks, texts, separators, strict=True):
        parts.append(Part(text, separator, send=kind == "text"))
    return parts


def joined(parts: list[Part]) -> str:
    return "".join(part.text + part.separator for part in parts)


# ------------------------------------------------------------------------------ properties


@settings(max_examples=500)
@given(any_text)
def test_the_parts_join_back_into_any_text(text: str) -> None:
    parts = split_parts(text)
    assert joined(parts) == text
    assert join_parts(parts, {}) == text
    assert join_parts(parts, [None] * len(parts)) == text


@settings(max_examples=500)
@given(any_text)
def test_no_part_starts_or_ends_with_a_line_break(text: str) -> None:
    for part in split_parts(text):
        assert not part.text.startswith(("\r", "\n"))
        assert not part.text.endswith(("\r", "\n"))


@settings(max_examples=500)
@given(any_text)
def test_a_sendable_part_holds_no_blank_line_and_no_fence(text: str) -> None:
    for part in split_parts(text):
        if part.send:
            assert all(line.strip() for line in lines_of(part.text))
            assert not any(OPENING.fullmatch(line) for line in lines_of(part.text))


@settings(max_examples=500)
@given(any_text)
def test_only_the_first_part_is_empty_and_separators_are_breaks_and_markers(text: str) -> None:
    parts = split_parts(text)
    assert all(part.text for part in parts[1:])
    for part in parts:
        if part.text and part.separator:
            assert part.separator.startswith(("\r", "\n"))
        for line in lines_of(part.separator):
            assert not line.strip().strip(" \t#>/!-;%*")


@settings(max_examples=500)
@given(any_text)
def test_every_part_split_again_is_that_part_alone(text: str) -> None:
    for part in split_parts(text):
        if part.text:
            assert split_parts(part.text) == [Part(part.text, "", send=part.send)]


@settings(max_examples=300)
@given(documents(with_code=False))
def test_the_sendable_parts_are_the_paragraphs_and_the_separators_those_between(
    parts: list[Part],
) -> None:
    assert split_parts(joined(parts)) == parts
    assert sendable(split_parts(joined(parts))) == list(range(len(parts)))


@settings(max_examples=300)
@given(documents(with_code=True))
def test_code_blocks_are_parts_of_their_own_and_never_sent(parts: list[Part]) -> None:
    assert split_parts(joined(parts)) == parts


@settings(max_examples=300)
@given(st.data(), documents(with_code=True))
def test_each_rewrite_lands_in_its_place_between_the_same_separators(
    data: st.DataObject, parts: list[Part]
) -> None:
    found = split_parts(joined(parts))
    rewrites = {i: data.draw(st.text(), label=f"part {i}") for i in sendable(found)}
    expected = "".join(rewrites.get(i, part.text) + part.separator for i, part in enumerate(parts))
    assert join_parts(found, rewrites) == expected
    assert join_parts(found, [rewrites.get(i) for i in range(len(found))]) == expected


@st.composite
def comments(draw: st.DrawFn) -> list[Part]:
    """A comment whose paragraphs are parted by lines holding only the marker."""
    head = draw(st.sampled_from(("#", "//", "--", ";", "%", ">", " *", "    #", "> >")))
    newline = draw(st.sampled_from(NEWLINES))
    count = draw(st.integers(1, 6))
    parts = []
    for number in range(count):
        rest = draw(st.lists(st.tuples(st.sampled_from("aZß7"), line_rest), min_size=1, max_size=3))
        text = newline.join(f"{head} {first}{tail}" for first, tail in rest)
        bare = draw(st.lists(st.sampled_from(("", " ", "  \t")), min_size=1, max_size=2))
        last = number == count - 1
        separator = "" if last else "".join(newline + head + spaces for spaces in bare) + newline
        parts.append(Part(text, separator, send=True))
    return parts


@settings(max_examples=300)
@given(comments())
def test_a_line_holding_only_the_marker_parts_a_comment_like_a_blank_line(
    parts: list[Part],
) -> None:
    assert split_parts(joined(parts)) == parts


# ------------------------------------------------------------------------------ examples


def parts_of(text: str) -> list[tuple[str, str, bool]]:
    return [(part.text, part.separator, part.send) for part in split_parts(text)]


def test_nothing_gives_no_parts_and_whitespace_gives_one_unsent_part() -> None:
    assert split_parts("") == []
    assert parts_of(" \n\t\r\n") == [("", " \n\t\r\n", False)]
    assert parts_of("\n") == [("", "\n", False)]


def test_paragraphs_keep_their_indentation_and_trailing_blanks() -> None:
    text = "  One line\nand two.  \n\n\tTwo.\n"
    assert parts_of(text) == [("  One line\nand two.  ", "\n\n", True), ("\tTwo.", "\n", True)]


def test_blank_lines_before_the_first_paragraph_are_a_part_with_empty_text() -> None:
    assert parts_of("\n \n  Text\n\nMore") == [
        ("", "\n \n", False),
        ("  Text", "\n\n", True),
        ("More", "", True),
    ]


def test_crlf_cr_and_mixed_line_endings() -> None:
    assert parts_of("a\r\nb\r\n\r\nc\r\n") == [("a\r\nb", "\r\n\r\n", True), ("c", "\r\n", True)]
    assert parts_of("a\rb\r\rc") == [("a\rb", "\r\r", True), ("c", "", True)]
    assert parts_of("a\r\n\nb\r \r\nc") == [
        ("a", "\r\n\n", True),
        ("b", "\r \r\n", True),
        ("c", "", True),
    ]


def test_a_fenced_block_with_blank_lines_is_one_unsent_part() -> None:
    code = "```python\nx = 1\n\n\ny = 2\n```"
    assert parts_of(f"Intro.\n\n{code}\n\nOutro.") == [
        ("Intro.", "\n\n", True),
        (code, "\n\n", False),
        ("Outro.", "", True),
    ]


def test_a_fence_is_its_own_part_without_blank_lines_around_it() -> None:
    assert parts_of("Say:\n~~~\nhi\n\nthere\n~~~\nDone.") == [
        ("Say:", "\n", True),
        ("~~~\nhi\n\nthere\n~~~", "\n", False),
        ("Done.", "", True),
    ]


def test_an_unclosed_fence_runs_to_the_end_but_not_its_blank_lines() -> None:
    assert parts_of("Text.\n\n```\ncode\n\nmore code\n\n \n") == [
        ("Text.", "\n\n", True),
        ("```\ncode\n\nmore code", "\n\n \n", False),
    ]


def test_only_a_fence_of_the_same_kind_and_at_least_as_long_closes() -> None:
    code = "````\n```\n\n~~~~~\n\n````"
    assert parts_of(f"{code}\n\nAfter.") == [(code, "\n\n", False), ("After.", "", True)]
    tildes = "~~~~ info\n~~~\n\n````\n\n~~~~~~  "
    assert parts_of(f"{tildes}\n\nAfter.") == [(tildes, "\n\n", False), ("After.", "", True)]


def test_backticks_with_a_backtick_after_them_are_no_fence() -> None:
    assert parts_of("``` a ` b\n\nText") == [("``` a ` b", "\n\n", True), ("Text", "", True)]


def test_an_indented_fence_in_a_list_item_is_code() -> None:
    text = "- Item:\n\n    ```\n    a\n\n    b\n    ```\n\n- Next"
    assert parts_of(text) == [
        ("- Item:", "\n\n", True),
        ("    ```\n    a\n\n    b\n    ```", "\n\n", False),
        ("- Next", "", True),
    ]


def test_a_fence_in_a_quote_ends_with_the_quote() -> None:
    text = "> Look:\n>\n> ```\n> x\n>\n> y\n> ```\n>\n> After."
    assert parts_of(text) == [
        ("> Look:", "\n>\n", True),
        ("> ```\n> x\n>\n> y\n> ```", "\n>\n", False),
        ("> After.", "", True),
    ]
    assert parts_of("> ```\n> x\n>\n\nText") == [
        ("> ```\n> x\n>", "\n\n", False),
        ("Text", "", True),
    ]


def test_bare_markers_part_comment_paragraphs() -> None:
    assert parts_of("# One\n# two.\n#  \n# Three.\n") == [
        ("# One\n# two.", "\n#  \n", True),
        ("# Three.", "\n", True),
    ]
    assert parts_of("// a\n//\n//\n// b") == [("// a", "\n//\n//\n", True), ("// b", "", True)]
    assert parts_of("-- a\r\n--\r\n-- b") == [("-- a", "\r\n--\r\n", True), ("-- b", "", True)]
    assert parts_of("/**\n * a\n *\n * b\n */") == [
        ("/**\n * a", "\n *\n", True),
        (" * b\n */", "", True),
    ]


def test_a_bare_marker_outside_a_run_of_its_marker_is_text() -> None:
    assert parts_of("# a\n//\n# b") == [("# a\n//\n# b", "", True)]
    assert parts_of("Text\n>\nmore") == [("Text\n>\nmore", "", True)]
    assert parts_of("* a\n*\n* b") == [("* a\n*\n* b", "", True)]  # a Markdown list
    assert parts_of("a\n\n#\n\nb") == [("a", "\n\n", True), ("#", "\n\n", False), ("b", "", True)]


def test_a_heading_is_a_paragraph_when_a_blank_line_follows_it() -> None:
    assert parts_of("# Title\n\nBody.") == [("# Title", "\n\n", True), ("Body.", "", True)]
    assert parts_of("# Title\nBody.") == [("# Title\nBody.", "", True)]
    assert parts_of("Title\n---\n\nBody.") == [("Title\n---", "\n\n", True), ("Body.", "", True)]


def test_parts_without_words_are_not_sent() -> None:
    assert parts_of("a\n\n---\n\n* * *\n\nb") == [
        ("a", "\n\n", True),
        ("---", "\n\n", False),
        ("* * *", "\n\n", False),
        ("b", "", True),
    ]


def test_a_thirty_paragraph_document() -> None:
    paragraphs = [f"Paragraph {n} says\nsomething {n}." for n in range(30)]
    separators = [SEPARATORS[n % len(SEPARATORS)] for n in range(29)] + ["\n"]
    text = "".join(p + s for p, s in zip(paragraphs, separators, strict=True))
    parts = split_parts(text)
    assert [part.text for part in parts] == paragraphs
    assert [part.separator for part in parts] == separators
    assert sendable(parts) == list(range(30))
    rewrites = {i: part.text.upper() for i, part in enumerate(parts) if i % 3}
    expected = "".join(
        (p.upper() if n % 3 else p) + s
        for n, (p, s) in enumerate(zip(paragraphs, separators, strict=True))
    )
    assert join_parts(parts, rewrites) == expected


def test_join_puts_rewrites_in_place_and_keeps_code() -> None:
    parts = split_parts("One.\r\n\r\n```\nx\n```\n\nTwo.\n")
    assert sendable(parts) == [0, 2]
    assert join_parts(parts, {0: "Uno.", 2: "Dos."}) == "Uno.\r\n\r\n```\nx\n```\n\nDos.\n"
    assert join_parts(parts, ["Uno.", None, None]) == "Uno.\r\n\r\n```\nx\n```\n\nTwo.\n"
    assert join_parts(parts, ["Uno.", "```\nx\n```", "Dos."]) == "Uno.\r\n\r\n```\nx\n```\n\nDos.\n"


def test_join_refuses_rewrites_that_do_not_fit_the_parts() -> None:
    parts = split_parts("One.\n\n```\nx\n```")
    with pytest.raises(ValueError, match="not sent"):
        join_parts(parts, {1: "```\ny\n```"})
    with pytest.raises(ValueError, match="part 2 of 2"):
        join_parts(parts, {2: "Three."})
    with pytest.raises(ValueError, match="1 rewrites for 2 parts"):
        join_parts(parts, ["Uno."])
    with pytest.raises(TypeError):
        join_parts(parts, "Uno.")


@pytest.mark.parametrize(
    "unit",
    [
        "Some words here.\n\n",
        "# a\n#\n",
        "> ```\n",
        "```\n",
        "~~~\n\n",
        "\n",
        "x",
        "# # # ",
        "\r\n \r\n",
    ],
)
def test_worst_cases_of_the_input_bound_split_and_join(unit: str) -> None:
    # How long they take is measured by bench/hosts.py (split of a 200,000-character text).
    text = unit * (200_000 // len(unit))
    assert joined(split_parts(text)) == text
