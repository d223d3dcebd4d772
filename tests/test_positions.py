"""LSP positions over plain strings: line splitting, the three encodings, snapping, paragraphs."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from rewrite_lsp.positions import (
    ENCODINGS,
    is_cursor,
    line_starts,
    newline_of,
    paragraph_span,
    range_to_span,
    span_to_range,
    split_lines,
    to_index,
    to_position,
)

CODECS = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}
PIECES = (
    *"ab .é",
    "😀",
    "👍🏽",
    "🇩🇪",
    "漢字",
    "e\u0301",
    "\n",
    "\r\n",
    "\r",
    "\f",
    "\v",
    "\x1c",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
    "\t",
    "  ",
)
NOT_BREAKS = "\f\v\x1c\x1d\x1e\x85\u2028\u2029"

texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=25).map("".join)
encodings = st.sampled_from(ENCODINGS)


def units(text: str, encoding: str) -> int:
    """The length of ``text`` in code units of ``encoding``, by the codec itself."""
    codec, size = CODECS[encoding]
    return len(text.encode(codec)) // size


def oracle_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def inside_crlf(text: str, index: int) -> bool:
    return 0 < index < len(text) and text[index - 1 : index + 1] == "\r\n"


# ------------------------------------------------------------------------------ lines


@given(texts)
def test_split_lines_splits_only_on_the_three_line_endings(text: str) -> None:
    lines = split_lines(text)
    assert lines == oracle_lines(text)
    assert not any(ch in line for line in lines for ch in "\r\n")
    assert len(line_starts(text)) == len(lines)
    for start, line in zip(line_starts(text), lines, strict=True):
        assert text[start : start + len(line)] == line


@pytest.mark.parametrize("char", NOT_BREAKS)
def test_characters_splitlines_would_split_on_stay_inside_the_line(char: str) -> None:
    text = f"a{char}b\nc"
    assert len(text.splitlines()) == 3
    assert split_lines(text) == [f"a{char}b", "c"]


@pytest.mark.parametrize(
    ("text", "lines", "starts"),
    [
        ("", [""], [0]),
        ("a\n", ["a", ""], [0, 2]),
        ("a\r\nb\r\n", ["a", "b", ""], [0, 3, 6]),
        ("a\rb\nc", ["a", "b", "c"], [0, 2, 4]),
        ("\n\r\n\r", ["", "", "", ""], [0, 1, 3, 4]),
        ("a\n\rb", ["a", "", "b"], [0, 2, 3]),
    ],
)
def test_line_examples(text: str, lines: list[str], starts: list[int]) -> None:
    assert split_lines(text) == lines
    assert line_starts(text) == starts


@pytest.mark.parametrize(
    ("text", "newline"),
    [("a\r\nb\nc", "\r\n"), ("a\rb\r\n", "\r"), ("a\nb\r\n", "\n"), ("abc", "\n"), ("a\fb", "\n")],
)
def test_newline_of_is_the_first_line_ending(text: str, newline: str) -> None:
    assert newline_of(text) == newline


# ------------------------------------------------------------------------------ positions


@given(texts, encodings, st.data())
def test_index_to_position_and_back(text: str, encoding: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(text)))
    assume(not inside_crlf(text, index))
    line, character = to_position(text, index, encoding)
    start = line_starts(text)[line]
    assert start <= index
    assert character == units(text[start:index], encoding)
    assert to_index(text, line, character, encoding) == index
    assert to_index(text, line, character, encoding, side="end") == index


@given(texts, encodings, st.data())
def test_an_offset_inside_a_character_snaps_to_its_edges(
    text: str, encoding: str, data: st.DataObject
) -> None:
    wide = [i for i, ch in enumerate(text) if units(ch, encoding) > 1]
    assume(wide)
    index = data.draw(st.sampled_from(wide))
    line, character = to_position(text, index, encoding)
    inside = character + data.draw(st.integers(1, units(text[index], encoding) - 1))
    assert to_index(text, line, inside, encoding, side="start") == index
    assert to_index(text, line, inside, encoding, side="end") == index + 1
    span = range_to_span(text, (line, inside), (line, inside), encoding)
    assert span == (index, index + 1)


@given(texts, encodings, st.integers(0, 40), st.integers(0, 200))
def test_any_position_lands_on_a_boundary_of_its_line(
    text: str, encoding: str, line: int, character: int
) -> None:
    lines = split_lines(text)
    for side in ("start", "end"):
        index = to_index(text, line, character, encoding, side)
        assert 0 <= index <= len(text)
        if line >= len(lines):
            assert index == len(text)
            continue
        start = line_starts(text)[line]
        assert start <= index <= start + len(lines[line])
        if character >= units(lines[line], encoding):
            assert index == start + len(lines[line])


@pytest.mark.parametrize(
    ("encoding", "columns"),
    [
        ("utf-8", [0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13]),
        ("utf-16", list(range(12))),
        ("utf-32", list(range(12))),
    ],
)
def test_accented_columns(encoding: str, columns: list[int]) -> None:
    text = "héllo wörld"
    assert [to_position(text, i, encoding)[1] for i in range(len(text) + 1)] == columns
    assert [to_index(text, 0, c, encoding) for c in columns] == list(range(len(text) + 1))


@pytest.mark.parametrize(
    ("encoding", "columns", "starts", "ends"),
    [
        ("utf-8", [0, 1, 5, 6], [0, 1, 1, 1, 1, 2, 3, 3], [0, 1, 2, 2, 2, 2, 3, 3]),
        ("utf-16", [0, 1, 3, 4], [0, 1, 1, 2, 3, 3, 3, 3], [0, 1, 2, 2, 3, 3, 3, 3]),
        ("utf-32", [0, 1, 2, 3], [0, 1, 2, 3, 3, 3, 3, 3], [0, 1, 2, 3, 3, 3, 3, 3]),
    ],
)
def test_emoji_columns_in_all_three_encodings(
    encoding: str, columns: list[int], starts: list[int], ends: list[int]
) -> None:
    text = "a😀b"
    assert [to_position(text, i, encoding) for i in range(4)] == [(0, c) for c in columns]
    assert [to_index(text, 0, c, encoding) for c in range(8)] == starts
    assert [to_index(text, 0, c, encoding, side="end") for c in range(8)] == ends


def test_a_crlf_document() -> None:
    text = "one\r\ntwo 😀\r\n\r\nthree"
    assert to_position(text, text.index("two"), "utf-16") == (1, 0)
    assert to_position(text, text.index("three"), "utf-16") == (3, 0)
    assert to_position(text, 4, "utf-16") == (0, 3)  # between "\r" and "\n": end of line 0
    assert to_index(text, 0, 99, "utf-16") == 3  # never into the line ending
    assert to_index(text, 1, 99, "utf-8") == text.index("\r\n", 5)
    assert to_index(text, 2, 0, "utf-16") == text.index("\r\n\r\nthree") + 2
    assert to_index(text, 9, 0, "utf-16") == len(text)
    span = range_to_span(text, (1, 6), (0, 1), "utf-16")
    assert span == (1, text.index("\r\n", 5))
    assert span_to_range(text, *span, "utf-16") == ((0, 1), (1, 6))
    assert span_to_range(text, span[1], span[0], "utf-8") == ((0, 1), (1, 8))


def test_a_range_ending_inside_a_character_takes_the_whole_character() -> None:
    text = "über 😀"
    assert range_to_span(text, (0, 0), (0, 1), "utf-8") == (0, 1)  # inside "ü": up to its end
    assert range_to_span(text, (0, 1), (0, 6), "utf-8") == (0, 5)  # start snapped down
    assert range_to_span(text, (0, 9), (0, 7), "utf-8") == (5, 6)  # reversed, then snapped


@pytest.mark.parametrize("encoding", ["utf8", "UTF-16", "latin-1", ""])
def test_an_unknown_encoding_is_refused(encoding: str) -> None:
    with pytest.raises(ValueError, match="encoding"):
        to_index("abc", 0, 1, encoding)
    with pytest.raises(ValueError, match="encoding"):
        to_position("abc", 1, encoding)


def test_an_unknown_side_is_refused() -> None:
    with pytest.raises(ValueError, match="side"):
        to_index("abc", 0, 1, "utf-16", side="middle")


# ------------------------------------------------------------------------------ paragraphs

PARAGRAPH_PIECES = ("word", "x y", "\n", "\n", "\r\n", "\r", "  ", "\t", "\f", "\u2028", "😀")
paragraph_texts = st.lists(st.sampled_from(PARAGRAPH_PIECES), max_size=20).map("".join)


@given(paragraph_texts, st.data())
def test_paragraph_span_is_a_whole_paragraph(text: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(text)))
    start, end = paragraph_span(text, index)
    assert 0 <= start <= end <= len(text)
    if start == end:
        assert all(not line.strip() for line in split_lines(text))
        return
    lines = split_lines(text[start:end])
    assert lines[0].strip() and lines[-1].strip()
    assert all(line.strip() for line in lines)
    starts = line_starts(text)
    assert start in starts
    assert end == len(text) or text[end] in "\r\n"
    whole = split_lines(text)
    first = starts.index(start)
    last = first + len(lines) - 1
    assert first == 0 or not whole[first - 1].strip()
    assert last == len(whole) - 1 or not whole[last + 1].strip()
    here = len([s for s in starts if s <= index]) - 1
    if not inside_crlf(text, index) and whole[here].strip():
        assert first <= here <= last


PARAGRAPHS = "One.\nStill one.\n\n  \nTwo.\r\nTwo again.\n\n"


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, "One.\nStill one."),
        (7, "One.\nStill one."),
        (15, "One.\nStill one."),  # end of the first paragraph's last line
        (16, "Two.\r\nTwo again."),  # on a blank line: the paragraph below
        (19, "Two.\r\nTwo again."),  # on a line of spaces: still blank
        (len(PARAGRAPHS), "Two.\r\nTwo again."),  # nothing below: the one above
    ],
)
def test_paragraph_examples(index: int, expected: str) -> None:
    start, end = paragraph_span(PARAGRAPHS, index)
    assert PARAGRAPHS[start:end] == expected


@pytest.mark.parametrize("text", ["", "\n\n", " \t\r\n  "])
def test_no_paragraph_gives_an_empty_span_at_the_cursor(text: str) -> None:
    assert paragraph_span(text, len(text) // 2) == (len(text) // 2, len(text) // 2)


def test_form_feed_and_line_separator_do_not_end_a_paragraph() -> None:
    text = "a\fb\u2028c\n\nd"
    assert paragraph_span(text, 0) == (0, 5)


# ------------------------------------------------------------------------------ cursors


@pytest.mark.parametrize(
    ("text", "start", "end", "cursor"),
    [
        ("hello", 2, 2, True),  # Neovim normal mode
        ("hello", 2, 3, True),  # Helix's bare cursor
        ("hello", 3, 2, True),
        ("hello", 1, 3, False),
        ("a😀b", 1, 2, True),  # one code point, two UTF-16 units
        ("e\u0301x", 0, 2, True),  # e and a combining accent
        ("👍🏽!", 0, 2, True),  # emoji and skin tone
        ("🇩🇪", 0, 2, True),  # a flag
        ("👩\u200d💻", 0, 3, True),  # a ZWJ sequence
        ("a\r\nb", 1, 3, True),  # Helix's cursor on a CRLF line end
        ("ab\nc", 1, 3, False),
        ("ex", 0, 2, False),
        ("😀😀", 0, 2, False),
        ("🇩🇪🇫🇷", 0, 3, False),
    ],
)
def test_is_cursor(text: str, start: int, end: int, cursor: bool) -> None:
    assert is_cursor(text, start, end) is cursor


@given(texts, st.data())
def test_two_plain_letters_are_never_a_cursor(text: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(text)))
    padded = text[:index] + "xy" + text[index:]
    assert not is_cursor(padded, index, index + 2)
    assert is_cursor(padded, index, index + 1)
    assert is_cursor(padded, index, index)


@given(st.text(alphabet="ab é\r\n", max_size=30), st.data())
def test_whole_lines_start_and_end_at_line_breaks(text: str, data: st.DataObject) -> None:
    from rewrite_lsp.server import whole_lines

    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    first, last = whole_lines(text, start, end)
    assert first <= start <= end <= last
    assert first == 0 or text[first - 1] in "\r\n"
    assert last == len(text) or text[last - 1] in "\r\n"
