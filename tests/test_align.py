"""The user's own words: the alignment of a reply against the input, and the promise built on
it: a rewrite that only echoes the user's text is never cut and never refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rewrite.actions import BUILTIN_ACTIONS
from rewrite.align import InputWords, normalize, similar, tokens
from rewrite.guard import guard_reply
from rewrite.text import clean_reply

# Lines people write that look like a model's chatter: lead-ins, offers, notes, labels.
CHATTY_LINES = [
    "Sure, let me check and get back to you.",
    "Here's the link to the new page.",
    "Here is the plan: we meet at five.",
    "Note: the office is closed on Monday.",
    "Let me know if you need anything else!",
    "If you need any help, call me at 555 0100.",
    "I've updated the text: see page 2.",
    "Okay!",
    "Thanks!",
    "I hope this helps.",
    "Feel free to bring snacks.",
    "Could you please provide the invoice number?",
    "It seems like you forgot the attachment.",
    "The text you sent me yesterday was perfect.",
    "Shopping list:",
    "- milk",
    "- eggs",
    "Changes made: none so far.",
    "Alternatively, we could meet on Friday.",
    "P.S. Bring your badge.",
    "Sorry for the late reply.",
    "Here you go, the keys are on the table.",
]
user_texts = st.lists(st.sampled_from(CHATTY_LINES), min_size=1, max_size=6).map("\n".join)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüéß'", min_size=1, max_size=12)


@given(user_texts)
def test_the_users_own_text_is_never_cut(text: str) -> None:
    assert clean_reply(text, text) == text


@given(user_texts, st.sampled_from(["fix", "rephrase", "formal", "friendly", "simplify"]))
def test_the_users_own_text_is_never_refused(text: str, action: str) -> None:
    assert guard_reply(text, text, profile=BUILTIN_ACTIONS[action].profile) is None


@given(words)
def test_normalizing_is_idempotent_and_case_blind(word: str) -> None:
    assert normalize(normalize(word)) == normalize(word)
    assert normalize(word.upper()) == normalize(word)


@given(words, words)
def test_similarity_is_symmetric_and_reflexive(a: str, b: str) -> None:
    x, y = normalize(a), normalize(b)
    assert similar(x, x)
    assert similar(x, y) == similar(y, x)


@given(st.text(max_size=80), st.text(max_size=80), st.text(max_size=80))
def test_a_part_owns_at_most_its_own_words(source: str, part: str, rest: str) -> None:
    owned = InputWords(source).owned(part, rest)
    assert 0 <= owned <= len(tokens(part))
    assert owned <= InputWords(source).owned(part, "")  # the rest only takes words away


def test_what_a_fix_changes_still_corresponds() -> None:
    words = InputWords("ive updated the txt, u can see it tmrw at 5")
    rewrite = "I've updated the text, you can see it tomorrow at 5."
    assert words.coverage(rewrite) == 1.0 and words.recall(rewrite) == 1.0


def test_opposites_and_other_numbers_do_not_correspond() -> None:
    words = InputWords("i cant come at 7:40")
    assert words.matched(tokens("can")) == [False]
    assert words.matched(tokens("7:45")) == [False, False] or words.matched(["745"]) == [False]
