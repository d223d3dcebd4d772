"""Comment-aware prose: markers off before the rewrite, back on (and re-wrapped) after it."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewrite.prose import Prose, join_prose, marked_prose, split_prose

INDENTS = ("", " ", "    ", "\t", "  \t")
MARKERS = (
    *("#", "##", "//", "///", "//!", "--", ";", ";;", "%", ">", "> >", ">>", "*"),
    *("#!", "*/", "/**", "-", "# #", "**", "<!--", "#include"),
)
WORDS = ("word", "Grüße", "😀", "漢字", "e\u0301", "-", "1.", "*", "#", ">", "//", "```", "|")


@st.composite
def lines(draw: st.DrawFn, head: str) -> str:
    """One line: mostly the shared head, then maybe a space and some words or raw text."""
    if draw(st.integers(0, 9)) == 0:
        head = draw(st.sampled_from(INDENTS)) + draw(st.sampled_from(MARKERS))
    rest = draw(st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(" \t")), max_size=8))
    tail = draw(st.one_of(st.just(""), st.text(st.characters(blacklist_characters="\n"))))
    return head + draw(st.sampled_from(("", " ", " ", "  "))) + "".join(rest) + tail


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Text whose lines mostly share an indentation and a marker, with an optional final newline."""
    head = draw(st.sampled_from(INDENTS)) + draw(st.sampled_from(MARKERS))
    body = "\n".join(draw(st.lists(lines(head), min_size=1, max_size=8)))
    return body + draw(st.sampled_from(("", "", "\n", "\n\n")))


MARKED = (
    "# ",
    "    # ",
    "// ",
    "/// ",
    "-- ",
    "% ",
    "> ",
    "> > ",
    "\t * ",
    ";; ",
)
plain_words = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDÄÖÜßé,."), min_size=1)


@st.composite
def filled_texts(draw: st.DrawFn) -> str:
    """A comment filled to 40-100 columns, its words sometimes list items, code or fences."""
    prefix = draw(st.sampled_from(MARKED))
    words = draw(st.lists(st.one_of(plain_words, st.sampled_from(WORDS)), min_size=2))
    columns = draw(st.integers(40, 100))
    fill = textwrap.wrap(" ".join(words), columns - len(prefix), break_long_words=False)
    return "\n".join(prefix + line for line in fill or [""])


any_text = st.one_of(texts(), filled_texts(), st.text())
rewrites = st.one_of(
    st.text(),
    st.lists(st.one_of(plain_words, st.sampled_from((*WORDS, "\n", "\n", " ", "  ")))).map(
        " ".join
    ),
)


def rstrip(line: str) -> str:
    return line.rstrip(" \t")


def ends_in_blank(text: str) -> bool:
    return any(line != rstrip(line) for line in text.split("\n"))


# ------------------------------------------------------------------------------ properties


@given(any_text)
def test_prose_joined_back_unchanged_gives_the_text(text: str) -> None:
    prose = split_prose(text)
    unwrapped = join_prose(prose.replace(width=None), prose.text)
    # marker-only lines come back in one form: when "#" and "# " were mixed, both become "#"
    assert list(map(rstrip, unwrapped.split("\n"))) == list(map(rstrip, text.split("\n")))
    if not ends_in_blank(text):
        assert unwrapped == text
        if prose.width is None:
            assert join_prose(prose, prose.text) == text


@given(any_text)
def test_the_prose_is_the_lines_without_their_prefix(text: str) -> None:
    prose = split_prose(text)
    assert prose.bare_prefix in (prose.prefix, prose.prefix.rstrip(" "))
    if not prose.prefix:
        assert prose == Prose("", "", text, None)
        return
    assert prose.end == ("\n" if text.endswith("\n") else "")
    pairs = zip(text.removesuffix(prose.end).split("\n"), prose.text.split("\n"), strict=True)
    for line, words in pairs:
        assert not words.startswith(prose.prefix)
        assert line == prose.prefix + words or (not words and line == prose.prefix.rstrip(" "))


@given(any_text, rewrites)
def test_every_joined_line_starts_with_the_prefix(text: str, rewritten: str) -> None:
    prose = split_prose(text)
    joined = join_prose(prose, rewritten)
    assert joined.endswith(prose.end)
    for line in joined.removesuffix(prose.end).split("\n"):
        assert line.startswith(prose.prefix) or line == prose.bare_prefix


def measure(lines: list[str], prefix: str) -> int:
    """The longest line with two words or more (a lone long word may stick out)."""
    breakable = [line for line in lines if len(line.removeprefix(prefix).split()) > 1]
    return max(len(line.rstrip()) for line in breakable or lines)


@given(any_text)
def test_the_width_is_the_longest_line_that_could_be_broken(text: str) -> None:
    prose = split_prose(text)
    if prose.width is not None:
        assert prose.prefix
        assert prose.width == measure(text.removesuffix(prose.end).split("\n"), prose.prefix)


@given(
    st.sampled_from(MARKED),
    st.lists(plain_words, min_size=2, max_size=60),
    st.lists(plain_words, min_size=1, max_size=60),
    st.integers(40, 100),
)
def test_a_filled_comment_is_filled_again_after_the_rewrite(
    prefix: str, words: list[str], new_words: list[str], columns: int
) -> None:
    fill = textwrap.wrap(" ".join(words), columns, break_long_words=False)
    text = "\n".join(prefix + line for line in fill)
    prose = split_prose(text)
    assert prose.prefix == prefix
    assert prose.text == "\n".join(fill)
    width = measure([prefix + line for line in fill], prefix)
    if len(fill) < 2 or width - len(prefix) < 40:
        assert prose.width is None
        return
    assert prose.width == width
    assert join_prose(prose, prose.text) == text  # filled to its own width: unchanged
    assert join_prose(prose, " ".join(words)) == text  # one long line: filled the same way
    joined = join_prose(prose, " ".join(new_words))
    assert [line.removeprefix(prefix) for line in joined.split("\n")] == textwrap.wrap(
        " ".join(new_words), prose.width - len(prefix), break_long_words=False
    )
    for line in joined.split("\n"):
        assert len(line) <= prose.width or " " not in line.removeprefix(prefix)


# ------------------------------------------------------------------------------ examples

PY_COMMENT = """\
    # Parse the configuration file and return the settings it holds, falling
    # back to the defaults for every key that the file does not set. Unknown
    # keys are reported with their line number.
"""
PY_LONGER = (
    "Parse the configuration file and return the settings it holds. Every key the file"
    " leaves out falls back to its default, and each unknown key is reported together"
    " with its file name and line number."
)
PY_LONGER_JOINED = """\
    # Parse the configuration file and return the settings it holds. Every
    # key the file leaves out falls back to its default, and each unknown
    # key is reported together with its file name and line number.
"""
PY_SHORTER = "Parse the config file; defaults fill in missing keys."


def test_a_wrapped_python_comment_is_rewrapped_after_a_longer_rewrite() -> None:
    prose = split_prose(PY_COMMENT)
    assert prose.prefix == "    # "
    assert prose.bare_prefix == "    #"
    assert prose.width == 76
    assert prose.end == "\n"
    assert prose.text.startswith("Parse the configuration file")
    assert prose.text.count("\n") == 2
    assert join_prose(prose, PY_LONGER) == PY_LONGER_JOINED


def test_a_wrapped_python_comment_shrinks_after_a_shorter_rewrite() -> None:
    prose = split_prose(PY_COMMENT)
    assert join_prose(prose, PY_SHORTER) == f"    # {PY_SHORTER}\n"


def test_the_rewrite_keeps_its_paragraphs_and_lists() -> None:
    prose = split_prose(PY_COMMENT)
    rewritten = (
        "Parse the configuration file.\n\n"
        "Steps:\n"
        "- read the file and return the settings it holds, with defaults for the missing keys\n"
        "- report unknown keys\n"
        "2. done"
    )
    assert join_prose(prose, rewritten) == (
        "    # Parse the configuration file.\n"
        "    #\n"
        "    # Steps:\n"
        "    # - read the file and return the settings it holds, with defaults for\n"
        "    #   the missing keys\n"
        "    # - report unknown keys\n"
        "    # 2. done\n"
    )


def test_indented_code_inside_a_wrapped_comment_keeps_its_lines() -> None:
    prose = split_prose(PY_COMMENT)
    rewritten = "Example:\n\n    settings = load(path)\n    print(settings)"
    assert join_prose(prose, rewritten) == (
        "    # Example:\n    #\n    #     settings = load(path)\n    #     print(settings)\n"
    )


QUOTE = "> I think we should meet on Friday.\n>\n> Does that work for you?"


def test_a_markdown_quote_with_a_blank_line() -> None:
    prose = split_prose(QUOTE)
    assert prose == Prose(
        "> ", ">", "I think we should meet on Friday.\n\nDoes that work for you?", None
    )
    rewritten = "Let's meet on Friday.\n\nDoes that suit you?\nThanks."
    assert join_prose(prose, rewritten) == (
        "> Let's meet on Friday.\n>\n> Does that suit you?\n> Thanks."
    )


@pytest.mark.parametrize(
    ("text", "prefix", "bare", "prose", "rewritten", "joined"),
    [
        (
            "    // retrun the nuber of items\n    // in the cache",
            "    // ",
            "    //",
            "retrun the nuber of items\nin the cache",
            "Return the number of items\nin the cache.",
            "    // Return the number of items\n    // in the cache.",
        ),
        (
            "/// Adds two numbers.\n///\n/// Panics on overflow.\n",
            "/// ",
            "///",
            "Adds two numbers.\n\nPanics on overflow.",
            "Add two numbers.\n\nPanic on overflow.",
            "/// Add two numbers.\n///\n/// Panic on overflow.\n",
        ),
        (
            "     * Returns the user with this id.\n     *\n     * @param id the id",
            "     * ",
            "     *",
            "Returns the user with this id.\n\n@param id the id",
            "Return the user for this id.\n\n@param id the user's id",
            "     * Return the user for this id.\n     *\n     * @param id the user's id",
        ),
        (
            "  -- selects every order\n  -- of the last week",
            "  -- ",
            "  --",
            "selects every order\nof the last week",
            "Select every order from the last week.",
            "  -- Select every order from the last week.",
        ),
        (
            "% TODO: explane the proof\n% in more detail",
            "% ",
            "%",
            "TODO: explane the proof\nin more detail",
            "TODO: explain the proof in more detail.",
            "% TODO: explain the proof in more detail.",
        ),
        (
            ";; Return the list\n;; reversed.",
            ";; ",
            ";;",
            "Return the list\nreversed.",
            "Return the reversed list.",
            ";; Return the reversed list.",
        ),
        (
            "> > nested quote\n> > goes here",
            "> > ",
            "> >",
            "nested quote\ngoes here",
            "The nested quote goes here.",
            "> > The nested quote goes here.",
        ),
        (
            ">>older reply\n>>text",
            ">>",
            ">>",
            "older reply\ntext",
            "Older reply text.",
            ">>Older reply text.",
        ),
        (
            "# one-line comment with a typo in in it",
            "# ",
            "#",
            "one-line comment with a typo in in it",
            "One-line comment without a typo.",
            "# One-line comment without a typo.",
        ),
        (
            "# the first line\n#\n# \n# the last line",
            "# ",
            "#",
            "the first line\n\n\nthe last line",
            "The first line.\n\nThe last line.",
            "# The first line.\n#\n# The last line.",
        ),
        (
            "# # commented-out\n# # comment",
            "# # ",
            "# #",
            "commented-out\ncomment",
            "Commented-out comment.",
            "# # Commented-out comment.",
        ),
        (
            "#!/usr/bin/env python\n# comment",
            "#",
            "#",
            "!/usr/bin/env python\n comment",
            "!/usr/bin/env python\n Comment.",
            "#!/usr/bin/env python\n# Comment.",
        ),
    ],
)
def test_marked_examples(
    text: str, prefix: str, bare: str, prose: str, rewritten: str, joined: str
) -> None:
    split = split_prose(text)
    assert (split.prefix, split.bare_prefix, split.text) == (prefix, bare, prose)
    assert split.width is None
    assert join_prose(split, rewritten) == joined


def test_marker_only_lines_written_with_the_space_keep_it() -> None:
    prose = split_prose("# a\n# \n# b")
    assert (prose.prefix, prose.bare_prefix, prose.text) == ("# ", "# ", "a\n\nb")
    assert join_prose(prose, "A\n\nB") == "# A\n# \n# B"


COMMIT = """\
Fix the cache key for actions with a model

The key left out the model, so switching models returned the previous
model's rewrite from the cache.
"""


@pytest.mark.parametrize(
    "text",
    [
        COMMIT,
        "# a comment\n// another kind",
        "# a comment\nplain text",
        "    # indented\n  # less indented",
        "# one\n\n# two",
        "* item one\n* item two",
        "- item one\n- item two",
        "/**\n * Javadoc\n */",
        " * body\n */",
        "# a\n# # commented-out comment",
        "  ##a\n  ##  ##b",  # the prose would start with the prefix again
        "> quote\n> > nested",
        "",
        "\n",
        "plain",
    ],
)
def test_text_without_a_shared_marker_passes_through(text: str) -> None:
    prose = split_prose(text)
    assert prose == Prose("", "", text, None)
    assert join_prose(prose, "New text.\n\nSecond line") == "New text.\n\nSecond line"


@pytest.mark.parametrize(
    "text",
    [
        "# Open the file.\n# Then close it again.",  # the first line is the longest, but short
        "# A short first line.\n# And then a second line that is much longer than the first one.",
        "# short\n# The second line is long enough to hold the first words of the third one.\n"
        "# Third line.",
    ],
)
def test_lines_that_are_not_filled_are_not_hard_wrapped(text: str) -> None:
    assert split_prose(text).width is None


def test_a_long_url_does_not_widen_the_fill() -> None:
    text = (
        "# The settings are documented on the project's web site, at\n"
        "# https://example.org/rewrite/documentation/configuration/settings.html\n"
        "# with an example for every key."
    )
    prose = split_prose(text)
    assert prose.width == 59
    rewritten = prose.text.replace("\n", " ").replace("web site", "website")
    assert join_prose(prose, rewritten) == text.replace("web site", "website")


def test_a_list_in_the_original_does_not_count_as_filled() -> None:
    text = "# Steps to take before the release of the next version:\n# - a\n# - b"
    assert split_prose(text).width is None


def test_a_final_newline_is_not_a_line() -> None:
    prose = split_prose("# a\n# b\n")
    assert (prose.prefix, prose.text, prose.end) == ("# ", "a\nb", "\n")
    assert join_prose(prose, "A\nB") == "# A\n# B\n"
    assert join_prose(prose, "A\nB\n") == "# A\n# B\n#\n"


@pytest.mark.parametrize(
    ("text", "prose", "rewritten", "joined"),
    [
        ("# a\n#", "a\n", "A\n", "# A\n#"),
        ("# a\n#\n", "a\n", "A\n", "# A\n#\n"),
        ("#\n#", "\n", "\n", "#\n#"),
        (" * a\n *\n *", "a\n\n", "A\n\n", " * A\n *\n *"),
    ],
)
def test_marker_only_lines_at_the_end_are_kept(
    text: str, prose: str, rewritten: str, joined: str
) -> None:
    split = split_prose(text)
    assert split.text == prose
    assert join_prose(split, rewritten) == joined


def test_a_filled_comment_with_short_lines_counts_as_hard_wrapped() -> None:
    text = "# This comment has a first line that is long enough,\n# and a second one."
    prose = split_prose(text)
    assert prose.width == 52
    assert join_prose(prose, "This comment's first line is long enough, and so is its second.") == (
        "# This comment's first line is long enough, and so\n# is its second."
    )


@pytest.mark.parametrize(
    ("text", "prose"),
    [
        ("# their going\n# too the store\n", "their going\ntoo the store"),
        ("  // one\r\n  // two\r\n", "one\ntwo"),
        ("> quoted line\n", "quoted line"),
        ("#hashtag of the day\n", None),
        ("--verbose is not an option", None),
        ("plain words\n", None),
        ("\n\n", None),
    ],
)
def test_the_filter_takes_markers_off_only_for_real_comments(text: str, prose: str | None) -> None:
    marked = marked_prose(text)
    assert (marked.prose.text if marked else None) == prose
    if marked is not None:  # an unchanged rewrite comes back byte for byte
        assert marked.join(marked.prose.text) == text
