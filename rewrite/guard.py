"""The guard: may this cleaned reply replace the user's text? Judged against the action's
profile (see `actions.Profile`) and the input, never against a list of good sentences.

Whatever the action, a reply is refused when it is empty or the "cannot rewrite" sentinel,
offers several versions or marks its changes inside the text, is assistant talk (a refusal,
an apology, an offer, a question back to the user, a description of the text, the
instructions repeated), or answers a question or request that was to be rewritten. Then
`fidelity` holds it to the profile: length, content kept or invented, language. Talk the
user's own text contains is the user's: "Sure, let me check" is a fine rewrite of "sure
let me check".
"""

from __future__ import annotations

import functools
import re
from functools import cache

from .actions import CANNOT_REWRITE, Profile
from .align import InputWords, tokens
from .lazy_re import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .actions import Action


@cache
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_SENTINEL = r"\[\[\s*cannot\s+rewrite\s*\]\]"
_QUOTES = r"[\s\"'“‘«„*_>]*"
_CANT = (
    r"i (?:can['’]?t|cannot|can not|won['’]?t|am unable to|['’]?m unable to|am not able to"
    r"|['’]?m not able to)"
)
_ASSISTANT_VERBS = (
    r"(?:help|assist|fulfil|comply|provide|rewrite|process|do that|complete|answer|determine"
    r"|understand|make sense|proceed|rephrase|translate|correct|fix|set|remind|browse|access"
    r"|create|write|generate|offer|perform|schedule|give|share|check|look up|search)"
)
# Assistant talk that opens a reply, matched against its lower-cased start; keyed by the
# words it may start with, so that only the patterns a reply could match are compiled.
_OPENINGS: dict[tuple[str, ...], str] = {
    ("i", "i'm", "i’m", "as"): (
        rf"(?:i['’]?m|i am) sorry\b|i apologi[sz]e\b|as an ai\b|as a (?:large )?language model"
        rf"|{_CANT} {_ASSISTANT_VERBS}|(?:i['’]?m|i am|i['’]?d be) (?:so )?(?:ready|here|happy"
        r"|glad|delighted) to help|i (?:can|could|will|would be happy to) help"
        r"|(?:i['’]?m|i am) (?:so )?glad i could help|(?:i['’]?m|i am) (?:so |very )?sorry to hear"
    ),
    ("the", "this", "your", "it"): (
        r"(?:the|this|your) (?:text|input|sentence|message|passage|paragraph|original)(?: you)?"
        r" (?:provided|you|appears|seems|is already|is (?:correct|fine|grammatically)|contains"
        r"|does not|doesn['’]t|looks|reads|is an? \w+|was an? \w+)"
        r"|the (?:speaker|user|author|writer)(?:['’]s| is| was"
        r"| asks| wants| seems| expresses| mentions| says| describes| requests)\b"
        r"|it (?:seems|looks|appears)(?: like| that)? (?:you|your|the (?:text|input|message"
        r"|sentence)|there (?:is|are) no)"
    ),
    ("could", "can", "would", "please"): (
        r"(?:could|can|would) you (?:please )?(?:provide|clarify|specify|share|give|tell|explain"
        r"|rephrase|paste)\b|please (?:provide|clarify|specify|share|paste)\b"
    ),
    ("here", "here's", "here’s", "sure", "certainly", "of", "absolutely"): (
        r"here(?:['’]s| is| are)\b|(?:sure|certainly|of course|absolutely)(?:[!.,]*\s*$|[!.,]+\s+"
        r"(?:here|i['’]d be happy|i can help|let me|below))"
    ),
    ("we", "we're", "we’re", "how", "you're", "you’re", "thank", "thanks"): (
        r"we (?:can|could|will|would be happy to) help|how can i (?:help|assist)"
        r"|you['’]re (?:very |so |most )?welcome\b|thanks? (?:you )?(?:so much |very much )?for"
        r" (?:your|the|sharing) (?:feedback|message|question|input|kind words|thoughts)"
        r"|(?:we['’]re|we are) (?:so |very )?sorry to hear"
    ),
    # the same refusals in the languages people write to these models in
    ("es", "je", "désolé", "désolée", "lo", "申", "抱", "对", "對"): (
        r"es tut mir leid,? (?:aber )?ich kann|(?:je suis )?désolée?,? (?:mais )?je ne (?:peux"
        r"|suis pas en mesure)|lo siento,? (?:pero )?no (?:puedo|es posible)|申し訳(?:ありません"
        r"|ございません)が|(?:抱歉|对不起|對不起)[，,]?我(?:无法|不能|無法)"
    ),
}
_FIRST_WORD = LazyPattern(r"[\s\"'“‘«„*_>]*([^\W\d_]+(?:['’][^\W\d_]+)?|\S)")
# Talk that gives a reply away wherever it stands.
_ANYWHERE = (
    r"\b(?:you(?:['’]d| would) like me to|(?:would|do) you want me to"
    r"|how can i (?:help|assist)|i['’]?m (?:ready|here) to help|as an ai\b"
    r"|(?:text|sentence|message|passage) (?:you(?:['’]d| would) like|you want)"
    r"|i (?:can['’]?t|cannot) (?:help|assist) with)"
)
_ANYWHERE_HINTS = ("me to", "help", "assist", "as an ai", "you'd like", "you would", "you want")
_QUESTION_WORDS = (  # at the start of the input; "what a day" and "how nice" exclaim
    r"(?!what an?\b|how (?:nice|great|good|cool|kind|sweet|lovely|awful|sad|strange|funny"
    r"|wonderful|beautiful|bad)\b)"
    r"(?:what|whats|what's|where|wheres|when|who|whos|why|how|which|whose|wie|was|wo|wann"
    r"|warum|wer|welche[rs]?|que|qué|quoi|où|quand|pourquoi|qui|comment|dónde|cuándo|por qué"
    r"|quién|cómo|cuál)\b"
)
_REQUEST_WORDS = (
    r"\b(?:please|kindly|tell me|let me know|i (?:would like|wonder|want) to know|bitte"
    r"|sag mir|dites-moi|dime)\b"
)
# A request to the reader ("please confirm ...", "can you ..."), and a reply that carries it
# out in the first person instead of rewriting it ("I have received ...").
_REQUEST = r"(?:please|pls|plz|kindly|can (?:you|u)|could (?:you|u)|would (?:you|u))\b"
_DONE_IT = (
    r"(?:i(?:['’]ve| have| had)|i(?:['’]ll| will)|i can(?!['’]?t|not)|yes\b|no\b|sure\b"
    r"|of course\b|done\b)"
)
_SEVERAL = (  # versions offered to choose from, rather than one rewrite
    r"(?im)^[\s*_#]*(?:option|version|variant|alternative|variante|möglichkeit)\s*\d+\b"
    r"|\b(?:here are|below are) (?:a few|some|several|two|three|\d+) (?:options|versions"
    r"|alternatives|ways|variations|suggestions)\b"
    r"|^[\s*_]*(?:or|oder|ou|o)[\s*_:]*$"
    r"|^[\"“][^\n]+[\"”][.!]?\s+or\s+[\"“][^\n]+[\"”][.!]?$"
)
_SEVERAL_HINTS: tuple[str, ...] = ("option", "version", "variant", "alternativ", "möglichkeit")
_SEVERAL_HINTS += (" are ", " or ")
_SEVERAL_HINTS += ("\nor", "\noder", "\nou", "\no")
_CHANGE_MARKS = (
    r"~~|[\[(](?:corrected|changed|fixed|was|originally|added|removed|replaced|deleted)\b"
    r"[^\])]*[\])]"
)
# A request for a text or an explanation; a reply that dropped the request answered it.
_TASK = (
    r"(?:please |pls |can (?:you|u) |could (?:you|u) )?(?:explain|describe|write|list|summari[sz]e"
    r"|define|compose|draft|create|suggest|recommend|tell me|give me|show me|help me)\b"
)
# C0 and C1 controls but tab and line breaks, and the bidirectional overrides that make text
# read differently from what it holds: in a rewrite they are garbage, or an attack
_CONTROL = LazyPattern(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_INSTRUCTIONS = 0.7  # this share of a reply from the instructions means they were repeated


def review(
    reply: str, body: str, action: Action, params: Mapping[str, str], instructions: str
) -> str:
    """The model's `reply` cleaned, when it may replace `body` (the text without its frame);
    RejectedReply when it may not."""
    from .errors import RejectedReply
    from .text import clean_reply

    cleaned = clean_reply(reply, body, translating=action.translating)
    reason = guard_reply(
        cleaned,
        body,
        profile=action.profile,
        target={**action.params, **params}.get("to"),
        instructions=instructions,
        raw=reply,
        examples=tuple(example.output for example in action.examples),
    )
    if reason is not None:
        raise RejectedReply(reason, reply=reply)
    return cleaned


def guard_reply(
    cleaned: str,
    source: str,
    *,
    profile: Profile | None = None,
    target: str | None = None,
    instructions: str = "",
    raw: str | None = None,
    examples: tuple[str, ...] = (),
) -> str | None:
    """None when `cleaned` may replace `source`; otherwise why not (lower case, no final
    period). `target` names the language a translation must be in; `instructions` is what
    the model was told, which a reply must not repeat back, nor any of the `examples`'
    rewrites; `raw` is the reply before the clean-up, which tells whether it offered
    several versions."""
    from .fidelity import fidelity

    profile = profile or Profile()
    reply = cleaned.strip()
    words = InputWords(source)
    checks: list[Callable[[], str | None]] = [
        lambda: _basics(reply, source),
        lambda: _shape(reply, source, raw if raw is not None else reply),
        lambda: _talk(reply, source, words, profile),
        lambda: _repeats_instructions(reply, words, instructions),
        lambda: _copies_an_example(reply, words, examples),
        lambda: _answers(reply, source, profile),
        lambda: fidelity(reply, source, words, profile, target),
    ]
    return next((reason for check in checks if (reason := check()) is not None), None)


def _basics(reply: str, source: str) -> str | None:
    if not reply:
        return "the model returned nothing"
    if set(_CONTROL.findall(reply)) - set(source):
        return "the reply holds control characters (terminal escapes or direction overrides)"
    sentinel = _rx(_SENTINEL)
    if sentinel.search(reply.lower()) and not sentinel.search(source.lower()):
        return "the model said it cannot rewrite this text"
    return None


def _shape(reply: str, source: str, raw: str) -> str | None:
    """Several versions to choose from, or changes marked inside the text."""
    lowered = raw.lower()
    hinted = any(hint in lowered for hint in _SEVERAL_HINTS)
    if hinted and _rx(_SEVERAL).search(raw) and not _rx(_SEVERAL).search(source):
        return "the reply offers several versions instead of one rewrite"
    answer = re.split(r"(?i)</think(?:ing)?>", raw)[-1]  # reasoning may quote its answer
    if len(reply) >= 20 and answer.count(reply) >= 2 and source.count(reply) < 2:
        return "the reply gives the rewrite twice, around other text"
    marks = _rx(_CHANGE_MARKS)
    if marks.search(reply) and not marks.search(source):
        return "the reply marks its changes inside the text"
    if "**" in reply and "**" not in source:  # bold words: the ones it changed
        return "the reply marks its changes inside the text"
    if re.search(r"</?think", reply, re.I) and not re.search(r"</?think", source, re.I):
        return "the reply still holds the model's reasoning"
    return None


def _talk(reply: str, source: str, words: InputWords, profile: Profile) -> str | None:
    """Assistant talk that the user's text does not account for."""
    start, origin = reply[:200].lower(), source[:200].lower()
    first = _FIRST_WORD.match(start)
    for starts, pattern in _OPENINGS.items():
        if first is None or (first.group(1) not in starts and first.group(1)[:1] not in starts):
            continue
        found = _rx(_QUOTES + "(?:" + pattern + ")").match(start)
        if found and not _rx(_QUOTES + "(?:" + pattern + ")").match(origin):
            said = reply[: found.end()]
            if not words.is_users(said, reply[found.end() :]):
                return "the reply looks like a comment on the text, not a rewrite of it"
    if profile.language == "target":
        return None  # the input's words are in another language: no telling talk from text
    lowered = reply.lower()
    if not any(hint in lowered for hint in _ANYWHERE_HINTS):
        return None
    found = _rx(_ANYWHERE).search(lowered)
    if found and not _rx(_ANYWHERE).search(source.lower()):
        return "the reply talks to the user instead of rewriting the text"
    return None


def _repeats_instructions(reply: str, words: InputWords, instructions: str) -> str | None:
    if not instructions.strip() or not tokens(reply) or words.coverage(reply) >= 0.5:
        return None  # a reply made of the text's own words repeats nothing else
    if _instruction_words(instructions).coverage(reply) >= _INSTRUCTIONS:
        return "the reply repeats the instructions instead of rewriting the text"
    return None


@functools.lru_cache(maxsize=32)
def _instruction_words(instructions: str) -> InputWords:
    """The words of an action's instructions: the same text for every rewrite with it."""
    return InputWords(instructions)


def _copies_an_example(reply: str, words: InputWords, examples: tuple[str, ...]) -> str | None:
    """A small model sometimes answers with one of the prompt's example rewrites."""
    if words.coverage(reply) >= 0.5:
        return None  # it is the text's
    for example in examples:
        shown = InputWords(example)
        if shown.coverage(reply) >= 0.8 and shown.recall(reply) >= 0.8:
            return "the reply copies an example from the prompt instead of the text"
    return None


def _answers(reply: str, source: str, profile: Profile) -> str | None:
    """A question or request to be rewritten that came back answered or done."""
    if profile.content == "free":
        return None
    asked = source.rstrip().endswith(("?", "？", "؟"))
    if profile.language != "target":
        asked = asked or bool(_rx(_QUESTION_WORDS).match(source.lower()))
    still_asks = any(mark in reply for mark in "?？؟")
    if asked and not still_asks and not _rx(_REQUEST_WORDS).search(reply.lower()):
        return "the reply answers the question instead of rewriting it"
    if profile.language != "target" and _carried_out(reply, source):
        return "the reply carries out the request instead of rewriting it"
    return None


def _carried_out(reply: str, source: str) -> bool:
    """A request answered in the first person ("I have received it"), or a task done
    ("explain X" came back as the explanation) instead of rewritten."""
    text, origin = reply.lower().lstrip(" \"'“*"), source.lower().lstrip(" \"'“*")
    if _rx(_REQUEST).match(origin) and _rx(_DONE_IT).match(text):
        return not _rx(_DONE_IT).match(origin)
    task = _rx(_TASK).match(origin)
    if task is None:
        return False
    verb = tokens(task.group().split()[-1])
    return not any(word in tokens(text) for word in verb)


__all__ = ["CANNOT_REWRITE", "guard_reply", "review"]
