"""Framing the user's text, cleaning the model's reply (whole and streamed), guarding it."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewrite.actions import Profile
from rewrite.guard import guard_reply
from rewrite.text import (
    CANNOT_REWRITE,
    Frame,
    StreamCleaner,
    clean_reply,
    restore_frame,
    split_frame,
)

# ------------------------------------------------------------------------------ framing

NEWLINES = ("\n", "\r\n", "\r")
PIECES = (
    *' \t\f\v\ufeff\u00a0\u3000Äß.-:"x',
    "  ",
    "Grüße",
    "😀",
    "👍🏽",
    "漢字",
    "かな",
    "e\u0301",
    "```",
)


def is_space(ch: str) -> bool:
    return ch.isspace() or ch == "\ufeff"


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Text in one line-ending style, rich in the whitespace a frame has to keep."""
    newline = draw(st.sampled_from(NEWLINES))
    parts = draw(
        st.lists(
            st.one_of(
                st.none(),
                st.sampled_from(PIECES),
                st.text(st.characters(blacklist_characters="\r\n"), max_size=4),
            ),
            max_size=30,
        )
    )
    return "".join(newline if part is None else part for part in parts)


def line_breaks(text: str) -> list[str]:
    return re.findall(r"\r\n|\r|\n", text)


@given(texts())
def test_split_then_restore_gives_the_text_back(text: str) -> None:
    frame = split_frame(text)
    assert restore_frame(frame, frame.body) == text


@given(texts())
def test_the_body_has_no_surrounding_whitespace_and_only_lf(text: str) -> None:
    frame = split_frame(text)
    assert "\r" not in frame.body
    if frame.body:
        assert not is_space(frame.body[0]) and not is_space(frame.body[-1])
    assert text.startswith(frame.lead)
    assert text.endswith(frame.trail)
    assert bool(frame.body) == any(not is_space(ch) for ch in text)
    assert frame.newline == (line_breaks(text) or ["\n"])[0]


@given(texts(), st.text())
def test_restore_keeps_the_frame_and_the_line_ending_style(text: str, reply: str) -> None:
    frame = split_frame(text)
    restored = restore_frame(frame, reply)
    assert restored.startswith(frame.lead)
    assert restored.endswith(frame.trail)
    assert len(restored) >= len(frame.lead) + len(frame.trail)
    between = restored[len(frame.lead) : len(restored) - len(frame.trail)]
    if line_breaks(text):
        assert set(line_breaks(between)) <= {frame.newline}
        assert "\r" not in between.replace(frame.newline, "")
        assert "\n" not in between.replace(frame.newline, "")


@pytest.mark.parametrize("text", ["", " ", "\n", "\n\n", " \t\r\n", "\r\r", "\ufeff", "\f \u3000"])
def test_empty_and_blank_input_has_an_empty_body(text: str) -> None:
    frame = split_frame(text)
    assert frame.body == ""
    assert frame.lead + frame.trail == text


@pytest.mark.parametrize(
    ("text", "frame"),
    [
        ("hello", Frame("", "", "", "\n", "hello")),
        ("hello\n\n", Frame("", "\n\n", "", "\n", "hello")),
        ("\n  Hello\n  world.  \n", Frame("\n  ", "  \n", "  ", "\n", "Hello\nworld.")),
        ("    a\n\n    b\n", Frame("    ", "\n", "    ", "\n", "a\n\nb")),
        ("    a\n  b\n", Frame("    ", "\n", "", "\n", "a\n  b")),
        ("\ta\n\t\tb", Frame("\t", "", "\t", "\n", "a\n\tb")),
        ("Dear Bob,\r\n\r\nthanks.\r\n", Frame("", "\r\n", "", "\r\n", "Dear Bob,\n\nthanks.")),
        ("one\rtwo\r", Frame("", "\r", "", "\r", "one\ntwo")),
        ("\ufeff  hi\n", Frame("\ufeff  ", "\n", "  ", "\n", "hi")),
    ],
)
def test_split_frame_examples(text: str, frame: Frame) -> None:
    assert split_frame(text) == frame


@pytest.mark.parametrize(
    ("text", "reply", "expected"),
    [
        (
            "  their going\n  too the store\n",
            "They're going\nto the store.",
            "  They're going\n  to the store.\n",
        ),
        ("Dear Bob,\r\n\r\nthanks.\r\n", "Dear Bob,\n\nThanks!\n", "Dear Bob,\r\n\r\nThanks!\r\n"),
        ("one\rtwo\r", "One\r\nTwo.", "One\rTwo.\r"),
        ("no final newline", "  No final newline.\n\n", "No final newline."),
        ("two final newlines\n\n", "Two final newlines.", "Two final newlines.\n\n"),
        ("\ufeff  hi\n", "Hi,\nthere.", "\ufeff  Hi,\n  there.\n"),
        ("    a\n\n    b\n", "A.\n\nB.", "    A.\n\n    B.\n"),
    ],
)
def test_restore_frame_examples(text: str, reply: str, expected: str) -> None:
    assert restore_frame(split_frame(text), reply) == expected


# ------------------------------------------------------------------------------ clean-up

SOURCE = "their going too the store"
GOING = "They're going to the store."
DE_SOURCE = "grüsse aus münchen, das wetter ist schön"
GRUSS = "Grüße aus München, das Wetter ist schön."

CLEANED = [
    (f"Sure! Here's the corrected text:\n\n{GOING}", SOURCE, GOING),
    (f"Here is the rewritten version: {GOING}", SOURCE, GOING),
    (f"Certainly! Here you go: {GOING}", SOURCE, GOING),
    (f"Rewritten text: {GOING}", SOURCE, GOING),
    (f"Corrected sentence:\n{GOING}", SOURCE, GOING),
    (f"Output: {GOING}", SOURCE, GOING),
    ("Translation: Das Wetter ist schön.", "the weather is nice", "Das Wetter ist schön."),
    (f"Sure!\n{GOING}", SOURCE, GOING),
    (f"Of course!\n\n{GOING}", SOURCE, GOING),
    (f"**Corrected text:**\n{GOING}", SOURCE, GOING),
    (
        "Sure! Here's a more professional version of your text:\n\nPlease send the report.",
        "send report",
        "Please send the report.",
    ),
    (f'"{GOING}"', SOURCE, GOING),
    ("'It's going to rain.'", "its going to rain", "It's going to rain."),
    ("“They’re going.”", SOURCE, "They’re going."),
    ("«Ils vont au magasin.»", "ils vont au magasin", "Ils vont au magasin."),
    ("„Grüße aus München!“", DE_SOURCE, "Grüße aus München!"),
    (f"```\n{GOING}\n```", SOURCE, GOING),
    (f"```text\n{GOING}\n```", SOURCE, GOING),
    ("```markdown\nThey're going\nto the store.", SOURCE, "They're going\nto the store."),
    (f"<think>\nThe user wants grammar fixed.\n</think>\n\n{GOING}", SOURCE, GOING),
    ("<think>Let me think about their and they're", SOURCE, ""),
    (f"{GOING}\n\nLet me know if you need anything else!", SOURCE, GOING),
    (f"{GOING}\nI hope this helps.", SOURCE, GOING),
    (f"{GOING}\n\nFeel free to ask for further changes.", SOURCE, GOING),
    (f"{GOING}\n\nIs there anything else I can help with?", SOURCE, GOING),
    (f"{GOING}\n\nWould you like me to make it more formal?", SOURCE, GOING),
    (f"{GOING}\n\n(Note: I kept the informal tone.)", SOURCE, GOING),
    (f"{GOING}\n\nNote: I fixed the spelling.", SOURCE, GOING),
    (f'{GOING}\n\nChanges made:\n- "their" → "they\'re"\n- "too" → "to"', SOURCE, GOING),
    (f'{GOING}\n\nI\'ve fixed the spelling of "their".', SOURCE, GOING),
    (f"Text:\n{GOING}", SOURCE, GOING),
    (f"Input: {GOING}", SOURCE, GOING),
    (
        f'Sure! Here\'s the corrected text:\n\n"{GOING}"\n\nLet me know if you need anything else!',
        SOURCE,
        GOING,
    ),
    (
        f"<think>fix it</think>\nHere is the corrected text:\n```\n{GOING}\n```\nHope it helps!",
        SOURCE,
        GOING,
    ),
    (f"Here's the rewritten text:\n\n“{GRUSS} ☀️”", DE_SOURCE, f"{GRUSS} ☀️"),
    (f"Hier ist der korrigierte Text:\n{GRUSS}", DE_SOURCE, GRUSS),
    (
        "Sure! 😊 Here's the rewritten text: We're thrilled to see you! 🎉",
        "were happy to see u",
        "We're thrilled to see you! 🎉",
    ),
    (f'"Here is the corrected text: {GOING}"', SOURCE, GOING),
    (f"Sure!\nHere is the corrected text:\n{GOING}", SOURCE, GOING),
    (f"The corrected text is: {GOING}", SOURCE, GOING),
    (f"Text: {SOURCE}\nCorrected: {GOING}", SOURCE, GOING),
    (f'Input: "{SOURCE}"\nOutput: "{GOING}"', SOURCE, GOING),
    (f"  \n\n{GOING}  \n\n", SOURCE, GOING),
    (f"{GOING}\r\n\r\nHope this helps!\r\n", SOURCE, GOING),
]


@pytest.mark.parametrize(("reply", "source", "expected"), CLEANED)
def test_clean_reply_removes_chatter(reply: str, source: str, expected: str) -> None:
    assert clean_reply(reply, source) == expected


SURVIVORS = [
    ("Here is the plan: we meet at five.", "here is the plan: we meet at 5"),
    ("Here is the plan: we meet at five.", "plan: meet at 5"),
    ("Sure, I can come tomorrow at five.", "sure i can come tmrw at 5"),
    ("Sure thing! I can come tomorrow.", "sure thing i can come tmrw"),
    ('He said "hi" to me and left.', 'he said "hi" to me and left'),
    ('"Hello," she said, "see you tomorrow."', "hello she said see you tomorrow"),
    ("“Hi,” he said. “Bye,” she replied.", "hi he said bye she replied"),
    ('"Hello there."', '"hello there"'),
    ("```\nprint('hello')\n```", "```\nprint('helo')\n```"),
    ("Note: the office is closed on Friday.", "Note: the office is closed on friday"),
    ("The office is closed.\nNote: bring your badge.", "office closed\nNote: bring badge"),
    ("Let me know when you arrive.", "let me know when u arrive"),
    ("Thanks!\nLet me know if you need anything else!", "thx\nlet me know if u need anything else"),
    ("Translation: the act of translating text.", "translation: the act of translating text"),
    ("I have three things to say:\n1. Yes\n2. No", "i have 3 things to say: 1 yes 2 no"),
    ("The meeting: moved to Monday.", "meeting: moved to monday"),
    (
        "Grüße aus München 😀 – 東京でも会いましょう！",
        "grüsse aus münchen 😀 – 東京でも会いましょう",
    ),
    ("Feel free to bring snacks.\nThe party starts at 8.", "feel free to bring snacks. party at 8"),
    ("<think> is an HTML-like tag.", "<think> is a html like tag"),
    ("Shopping list:\n- milk\n- eggs", "shopping list - milk - eggs"),
    ("Hi Anna,\nthe party starts at 8.\nFeel free to bring snacks.", "hi anna party at 8. snacks?"),
    ("The car is ready.\nI fixed the brakes yesterday.", "car is ready. fixed brakes yday"),
    ("Call me later.\nIf you need me, I'm at home.", "call me later. im at home if u need me"),
]


@pytest.mark.parametrize(("reply", "source"), SURVIVORS)
def test_legitimate_rewrites_survive(reply: str, source: str) -> None:
    assert clean_reply(reply, source) == reply


# --------------------------------------------------------------------------- streaming

THINKS = (
    "",
    "<think>\nThe user wants a fix.\n</think>\n\n",
    "<think></think>",
    "<THINKING>x</THINKING>",
)
LEAD_INS = (
    "",
    "Sure! Here's the corrected text:\n\n",
    "Here is the rewritten version:\n",
    "Certainly! Here you go: ",
    "Rewritten text: ",
    "Sure!\n",
    "Output:\n",
    "**Corrected text:**\n",
    "Of course!\n\nHere is the translation:\n",
    "The corrected text is: ",
    f"Text: {SOURCE}\nRewritten: ",
    "Text: ",
    "Here you go:\n",
    "Here",
)
BODIES = (
    "Their going to the store.",
    "They're going to the store.\nSee you there!",
    'He said "hi" to me.',
    "Here is the plan: we meet at five.",
    "Grüße aus München 😀",
    "会議は午後五時に始まります。",
    "Shopping:\n- milk\n- eggs",
    "Note: bring your ID.",
    "I can't come tomorrow.",
    "Sure, I can come at 5:30.",
    "Dear Anna,\n\nthanks!\n\nBest,\nBob",
    "Let me know when you arrive.",
    "The end",
    "'Tis the season.",
    "```",
    "It's fine.\n```",
)
WRAPS = (
    ("", ""),
    ('"', '"'),
    ("“", "”"),
    ("'", "'"),
    ("«", "»"),
    ("```\n", "\n```"),
    ("```text\n", "\n```"),
    ("```\n", ""),
    ('"', ""),
)
TRAILERS = (
    "",
    "\n\nLet me know if you need anything else!",
    "\n\nChanges made:\n- spelling\n- grammar",
    "\n(Note: I kept your tone.)",
    "\nI hope this helps.",
    "\n\nI corrected the spelling.",
    "\n\nFeel free to ask for more changes.",
    "\nThe end",
)
SOURCES = (
    SOURCE,
    "here is the plan: we meet at 5",
    '"hello there"',
    "```\nprint(1)\n```",
    "Note: bring ID",
    "sure i can come",
    "let me know when you arrive",
    "i cant come tmrw",
    "<think> tags",
)
ENDINGS = ("", "\n", "  \n\n", " ", "\r\n")
TOKENS = tuple(
    {piece for group in (THINKS, LEAD_INS, BODIES, TRAILERS) for piece in group}
    | set("\n \t:\"'`“”*-<>!.\r")
    | {"```", "<think>", "</think>", "<thi", "Sure", "Here", "here", "Note", "text", "I ", "Text"}
)


@st.composite
def realistic_replies(draw: st.DrawFn) -> str:
    """A reply as small models write them: reasoning, lead-in, wrapped answer, trailer."""
    opening, closing = draw(st.sampled_from(WRAPS))
    pieces = [
        draw(st.sampled_from(THINKS)),
        draw(st.sampled_from(LEAD_INS)),
        opening,
        draw(st.sampled_from(BODIES)),
        closing,
        draw(st.sampled_from(TRAILERS)),
        draw(st.sampled_from(ENDINGS)),
    ]
    return "".join(pieces)


replies = st.one_of(
    realistic_replies(), st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)
)


@st.composite
def chunked(draw: st.DrawFn, reply: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(reply)), max_size=25)))
    bounds = [0, *cuts, len(reply)]
    return [reply[a:b] for a, b in pairwise(bounds)]


def streamed(chunks: list[str], source: str) -> list[str]:
    cleaner = StreamCleaner(source)
    return [cleaner.feed(chunk) for chunk in chunks] + [cleaner.finish()]


@settings(max_examples=600, deadline=None)
@given(st.data(), replies, st.sampled_from(SOURCES))
def test_streaming_gives_the_same_text_as_cleaning_the_whole_reply(
    data: st.DataObject, reply: str, source: str
) -> None:
    chunks = data.draw(chunked(reply))
    assert "".join(streamed(chunks, source)) == clean_reply(reply, source)


@pytest.mark.parametrize(("reply", "source", "expected"), CLEANED)
def test_streaming_the_table_character_by_character(reply: str, source: str, expected: str) -> None:
    assert "".join(streamed(list(reply), source)) == expected


def test_a_plain_reply_streamed_word_by_word_is_emitted_before_finish() -> None:
    words = ["Their", " going", " to", " the", " store."]
    cleaner = StreamCleaner(SOURCE)
    seen = []
    for word in words:
        seen.append(cleaner.feed(word))
    # Once its first two words are known to be the user's, the line is no heading: it flows.
    assert seen[2] != ""
    assert "".join(seen) == "Their going to the store."
    assert cleaner.finish() == ""


def test_a_lead_in_is_never_emitted_and_the_answer_streams_after_it() -> None:
    cleaner = StreamCleaner(SOURCE)
    pieces = ["Sure! ", "Here's ", "the ", "corrected ", "text:", " They're", " going", " to"]
    pieces += [" the", " store."]
    seen = [cleaner.feed(piece) for piece in pieces]
    assert seen[:5] == [""] * 5
    # Once two of the user's words are in, the line is no heading: it flows.
    assert "".join(seen[:8]) == "They're going to"
    assert "".join(seen) + cleaner.finish() == "They're going to the store."


def test_a_quoted_answer_is_held_until_the_end() -> None:
    cleaner = StreamCleaner(SOURCE)
    assert [cleaner.feed(piece) for piece in ['"They', "'re", ' going."']] == ["", "", ""]
    assert cleaner.finish() == "They're going."


def test_a_possible_trailer_line_is_held_back() -> None:
    cleaner = StreamCleaner(SOURCE)
    assert cleaner.feed("They're going.\n\nLet me") == "They're going."
    assert cleaner.feed(" know if you need anything else!") == ""
    assert cleaner.finish() == ""


# ------------------------------------------------------------------------------ guarding

GUARD_SOURCE = "their going too the store"


@pytest.mark.parametrize(
    ("reply", "source", "reason"),
    [
        ("", GUARD_SOURCE, "the model returned nothing"),
        ("  \n\t", GUARD_SOURCE, "the model returned nothing"),
        (CANNOT_REWRITE, "asdf qwer zxcv", "the model said it cannot rewrite this text"),
        (f'"{CANNOT_REWRITE}."', "asdf qwer zxcv", "the model said it cannot rewrite this text"),
        ("I'm sorry, but I can't help with that request.", GUARD_SOURCE, "comment"),
        ("I cannot rewrite this text because it is unclear.", GUARD_SOURCE, "comment"),
        ("As an AI language model, I do not go to stores.", GUARD_SOURCE, "comment"),
        ("The text you provided is already correct.", GUARD_SOURCE, "comment"),
        ("This text is grammatically fine.", GUARD_SOURCE, "comment"),
        ("The speaker is asking for the key to the office.", "where is the key", "comment"),
        ("The user wants to know where the key is.", "where is the key", "comment"),
        ("It seems like you want me to rewrite this.", GUARD_SOURCE, "comment"),
        ("It looks like the text is missing.", GUARD_SOURCE, "comment"),
        ("Could you please provide more context?", GUARD_SOURCE, "comment"),
        ("Please provide the text you want me to rewrite.", GUARD_SOURCE, "comment"),
        ("Here's what I came up with: they go.", GUARD_SOURCE, "comment"),
        ("Sure!", GUARD_SOURCE, "comment"),
        ("Certainly! Here it is.", GUARD_SOURCE, "comment"),
        ("彼らは店に行きます。", GUARD_SOURCE, "the reply is in another script than the input"),
        ("Они идут в магазин.", GUARD_SOURCE, "the reply is in another script than the input"),
        ("إنهم ذاهبون إلى المتجر", GUARD_SOURCE, "the reply is in another script than the input"),
        ("They're going to the store.", "彼らは店に行きます", "another script"),
    ],
)
def test_guard_rejects(reply: str, source: str, reason: str) -> None:
    got = guard_reply(reply, source)
    assert got is not None
    assert reason in got
    assert got == got.lower() and not got.endswith(".")


def test_guard_rejects_a_reply_many_times_longer() -> None:
    source = "fix this"
    limit = 2.5 * len(source) + 40
    free = Profile(content="free")  # no content check: only the length is judged here
    assert guard_reply("x" * int(limit), source, profile=free) is None
    reason = guard_reply("x" * (int(limit) + 1), source, profile=free)
    assert reason is not None
    count = re.fullmatch(r"the reply is (\d+) times longer than the input", reason)
    assert count is not None
    assert int(count.group(1)) == round((int(limit) + 1) / len(source))


@pytest.mark.parametrize(
    ("reply", "source", "translating"),
    [
        ("They're going to the store.", GUARD_SOURCE, False),
        ("Sie gehen in den Laden.", GUARD_SOURCE, True),
        ("彼らは店に行きます。", GUARD_SOURCE, True),
        (GRUSS, DE_SOURCE, False),
        ("会議は午後五時です。", "会議は午後5時です", False),
        ("I can't come tomorrow, sorry.", "i cant come tmrw sorry", False),
        ("Sorry for the late reply.", "sry for late reply", False),
        ("Could you send me the file?", "can u send me the file", False),
        ("Here is the plan: we meet at five.", "here is the plan: we meet at 5", False),
        ("The text message arrived late.", "txt msg arrived late", False),
        ("It seems fine to me.", "seems fine to me", False),
        ("Sure, I can come tomorrow.", "sure i can come tmrw", False),
        ("The API 文档 is ready.", "the API 文档 is redy", False),
        ("OK 👍", "ok 👍", False),
    ],
)
def test_guard_accepts(reply: str, source: str, translating: bool) -> None:
    profile = Profile(language="target") if translating else Profile()
    assert guard_reply(reply, source, profile=profile) is None


def test_a_shorter_action_may_say_much_less() -> None:
    source = "so what i wanted to say is that we will probably meet friday " * 4
    assert guard_reply("We will probably meet Friday.", source, profile=Profile("shorter")) is None
    assert guard_reply("We will probably meet Friday.", source) is not None  # "similar" length


def test_guard_accepts_the_sentinel_when_the_source_holds_it() -> None:
    source = f"the prompt says to answer {CANNOT_REWRITE} for gibberish"
    assert guard_reply(f"The prompt says to answer {CANNOT_REWRITE} for gibberish.", source) is None
