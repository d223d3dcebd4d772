"""The guard, rule by rule: for each class of failure, replies it refuses, and next to them
faithful replies to the same texts that it lets through (so no rule refuses by accident)."""

from __future__ import annotations

import pytest

from rewrite.actions import BUILTIN_ACTIONS, Profile
from rewrite.guard import guard_reply

FIX, CONCISE, FORMAL = (BUILTIN_ACTIONS[name].profile for name in ("fix", "concise", "formal"))
REPHRASE, SIMPLIFY = BUILTIN_ACTIONS["rephrase"].profile, BUILTIN_ACTIONS["simplify"].profile
TRANSLATE = BUILTIN_ACTIONS["translate"].profile

# (class, profile, text, refused reply, faithful reply, target language)
CASES = [
    (
        "numbers",
        FIX,
        "the meeting is at 7:40 in room 12",
        "The meeting is at 7:45 in room 12.",
        "The meeting is at 7:40 in room 12.",
        None,
    ),
    (
        "numbers",
        REPHRASE,
        "The workshop starts at 9 in room 204.",
        "The workshop begins at 9:15 in a room.",
        "The workshop begins at nine in room 204.",
        None,
    ),
    (
        "numbers",
        CONCISE,
        "We will need about thirty chairs for the event on Friday.",
        "We need 20 chairs Friday.",
        "We need 30 chairs on Friday.",
        None,
    ),
    (
        "address",
        FORMAL,
        "send it to anna@example.com pls",
        "Please send it to Anna.",
        "Please send it to anna@example.com.",
        None,
    ),
    (
        "negation",
        FIX,
        "i cant come to the party tomorow",
        "I can come to the party tomorrow.",
        "I can't come to the party tomorrow.",
        None,
    ),
    (
        "negation",
        REPHRASE,
        "The price includes shipping but not tax.",
        "The price covers both shipping and tax.",
        "Shipping is included in the price; tax is not.",
        None,
    ),
    (
        "condition",
        SIMPLIFY,
        "Do not eat anything before the test, except water.",
        "Do not eat before the test.",
        "Do not eat before the test, except for water.",
        None,
    ),
    (
        "content",
        FIX,
        "the meeting is at 3",
        "The meeting is at 3 in Conference Room B.",
        "The meeting is at 3.",
        None,
    ),
    (
        "content",
        FIX,
        "wir sehen uns nächste woche in berlin",
        "Wir sehen uns nach dem Berlin.",
        "Wir sehen uns nächste Woche in Berlin.",
        None,
    ),
    (
        "contraction",
        FIX,
        "Here are the slides from todays meeting",
        "Here's the slides from today's meeting.",
        "Here are the slides from today's meeting.",
        None,
    ),
    (
        "code",
        REPHRASE,
        "Run this:\n\n```sh\npip install -r requirements.txt\n```",
        "Run the installer with your requirements.",
        "Please run this:\n\n```sh\npip install -r requirements.txt\n```",
        None,
    ),
    (
        "quotes",
        SIMPLIFY,
        'The app stops with "Segmentation fault (core dumped)" at start.',
        "The app crashes when it starts.",
        'The app stops at start and says "Segmentation fault (core dumped)".',
        None,
    ),
    (
        "list",
        REPHRASE,
        "Before you leave:\n- turn off the lights\n- lock the door",
        "Before leaving, switch off the lights and lock the door.",
        "Before you go:\n- switch off the lights\n- lock the door",
        None,
    ),
    (
        "lines",
        FIX,
        "Hi Tom,\nthe meating is moved.\nBest, Anna",
        "Hi Tom, the meeting is moved. Best, Anna",
        "Hi Tom,\nthe meeting is moved.\nBest, Anna",
        None,
    ),
    (
        "versions",
        REPHRASE,
        "We will announce the winners on Friday.",
        "Option 1: The winners are announced on Friday.",
        "The winners will be announced on Friday.",
        None,
    ),
    (
        "marks",
        FIX,
        "its to late to change the plan",
        "~~its~~ It's ~~to~~ too late to change the plan.",
        "It's too late to change the plan.",
        None,
    ),
    (
        "marks",
        FIX,
        "the shop open at nine",
        'The shop opens at nine. (changed "open" to "opens")',
        "The shop opens at nine.",
        None,
    ),
    (
        "talk",
        FIX,
        "please check the invoice",
        "I'm sorry, but I can't help with that.",
        "Please check the invoice.",
        None,
    ),
    (
        "talk",
        REPHRASE,
        "can i borrow your key",
        "The speaker is asking to borrow your key.",
        "Could I borrow your key?",
        None,
    ),
    (
        "talk",
        FORMAL,
        "thanks so much for your help yesterday!",
        "You're very welcome! Glad I could help.",
        "Thank you very much for your assistance yesterday.",
        None,
    ),
    (
        "answered",
        FIX,
        "whats the capital of australia",
        "The capital of Australia is Canberra.",
        "What's the capital of Australia?",
        None,
    ),
    (
        "answered",
        FORMAL,
        "please confirm you received the payment",
        "I have received the payment, thank you.",
        "Please confirm that you received the payment.",
        None,
    ),
    (
        "answered",
        SIMPLIFY,
        "explain what a mortgage is",
        "A mortgage is a loan for a house.",
        "Explain what a mortgage is.",
        None,
    ),
    (
        "answered",
        TRANSLATE,
        "What is 15% of 80?",
        "15 % de 80 font 12.",
        "Combien font 15 % de 80 ?",
        "French",
    ),
    (
        "language",
        FIX,
        "ich habe das nicht gewust, sorry für die späte antwort",
        "I did not know that, sorry for the late answer.",
        "Ich habe das nicht gewusst, sorry für die späte Antwort.",
        None,
    ),
    (
        "language",
        TRANSLATE,
        "They are going to the store tomorrow morning.",
        "They are going to the store tomorrow morning.",
        "Sie gehen morgen früh in den Laden.",
        "German",
    ),
    (
        "language",
        TRANSLATE,
        "The package arrives tomorrow morning.",
        "最近的火车站在哪里？",
        "荷物は明日の朝に届きます。",
        "Japanese",
    ),
]


@pytest.mark.parametrize(
    ("kind", "profile", "text", "bad", "good", "target"),
    CASES,
    ids=[f"{case[0]}-{number}" for number, case in enumerate(CASES)],
)
def test_each_rule_refuses_its_failure_and_lets_a_faithful_reply_pass(
    kind: str, profile: Profile, text: str, bad: str, good: str, target: str | None
) -> None:
    assert guard_reply(bad, text, profile=profile, target=target) is not None
    assert guard_reply(good, text, profile=profile, target=target) is None


@pytest.mark.parametrize(
    "bad",
    [
        "\x1b]52;c;aGk=\x07They're going to the store.",  # OSC 52: sets the clipboard
        "They're going\x07 to the store.",
        "They're going to the \x1b[2Jstore.",
        "They're going to the \u202estore.",  # reads backwards from here
        "They're going to the store.\x9b2J",
    ],
)
def test_control_characters_the_text_did_not_hold_are_refused(bad: str) -> None:
    text = "their going to the store"
    reason = guard_reply(bad, text, profile=FIX)
    assert reason is not None and "control characters" in reason


def test_control_characters_of_the_users_own_text_may_stay() -> None:
    text = "page one of the notes\x0cpage two of the notes"  # a form feed between pages
    reply = "Page one of the notes.\x0cPage two of the notes."
    assert guard_reply(reply, text, profile=FIX) is None


def test_a_free_action_is_judged_only_by_what_no_instruction_asks_for() -> None:
    free = Profile("longer", "free", "any")
    note = "meeting moved to monday, sam"
    letter = "Dear Sam,\n\nThe meeting has moved to Monday.\n\nBest regards"
    assert guard_reply(letter, note, profile=free) is None
    assert guard_reply("I'm sorry, but I can't help with that.", note, profile=free) is not None


def test_the_examples_of_the_prompt_are_not_an_answer() -> None:
    example = "Could you send over your report by Friday? Thanks so much!"
    text = "Reminders:\n* Submit timesheets by Friday\n* Clean up the kitchen"
    reason = guard_reply(example, text, profile=REPHRASE, examples=(example,))
    assert reason is not None and "example" in reason
