"""Is the reply faithful to the text, as the action's profile allows? Its length, the
content it keeps and invents (words, numbers, addresses, negations), and its language.

Pure functions of the reply, the input and the profile, called by the guard.
"""

from __future__ import annotations

import re
import unicodedata

from .actions import Profile
from .align import InputWords, tokens
from .lazy_re import LazyPattern

# (factor, slack): the longest reply allowed is factor × the input's length + slack.
_LENGTH_LIMITS = {"shorter": (1.1, 8), "similar": (2.5, 40), "longer": (10.0, 400)}
_ROOM_FOR_CHATTER = 4000  # characters of lead-ins, notes and reasoning a reply may carry
_TRANSLATION_LIMIT = (2.0, 20)  # a translation is at most this much longer (in _width)
_KEEPS = 0.5  # content "kept": at least this share of the reply is input words, and back
_INVENTS_LITTLE = 0.5  # a shorter reply: at least this share of it is the input's words
_ADDED_WORDS = (1.25, 2)  # a fix has at most 1.25 × the input's words + 2
_LONG_WORD = 5  # letters: a fix makes up no word this long
# Four-letter words a fix may put for others (grammar); any other word of four letters or
# more in the input, a fix keeps.
_FUNCTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        "were have been does than then that this with from they them your what when will would"
        " could should shall into onto over some such very also just only here there where"
        " sind wird habe hast hatte dass wenn dann auch noch aber oder eine einen einem einer"
        " nicht sein seine ihre haben werden wurde their theyre youre whose thats whats lets"
        " dont cant wont isnt arent wasnt didnt doesnt",
    )
)
_CONTRACTION = LazyPattern(r"\b([a-z]+)['’](s|re|ve|ll|d|m|t)\b")
_EXPANSIONS = {
    "s": "is|are|has",
    "re": "are",
    "ve": "have",
    "ll": "will|shall",
    "d": "would|had",
    "m": "am",
    "t": "not",
}
_NOT_NAMES = frozenset(
    re.findall(
        r"\w+",
        "i i'm i've i'll i'd monday tuesday wednesday thursday friday saturday sunday january"
        " february march april may june july august september october november december"
        " english german french spanish mr mrs ms dr ok okay",
    )
)
_LONG_ENOUGH = 40  # characters: below this, a text is too short to judge by its length
_SHORTEST = {"target": 0.4, "similar": 0.3}  # the shortest reply, × the input's length
_NUMBER = LazyPattern(r"\d+(?:[.,:]\d+)*")
_NUMBER_WORDS = {
    word: str(value)
    for words in (
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty",
        "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn "
        "vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn zwanzig",
    )
    for value, word in enumerate(words.split())
} | {
    word: str(10 * tens)
    for tens, words in enumerate(
        ("", "", "", "thirty dreißig", "forty vierzig", "fifty fünfzig", "sixty sechzig",
         "seventy siebzig", "eighty achtzig", "ninety neunzig"),
    )
    for word in words.split()
}  # fmt: skip
_WORD = LazyPattern(r"[^\W\d_]+")
_ADDRESS = LazyPattern(r"(?i)\b(?:https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+)")
# Words that carry a "no"; a fix keeps every one, a rewording keeps at least one.
_NEGATIONS = (
    "not|no|never|nothing|nobody|none|nor|neither|cannot|cant|dont|doesnt|didnt|isnt|arent"
    "|wasnt|werent|wont|wouldnt|couldnt|shouldnt|havent|hasnt|hadnt|nicht|kein|keine|keinen"
    "|keiner|nie|niemals|nichts|niemand|pas|jamais|rien|personne|aucun|aucune|nunca|nada"
    "|nadie|ningun|ninguna|ninguno"
)
_NEGATION_WORDS = frozenset(_NEGATIONS.split("|"))
_CONDITION = LazyPattern(
    r"(?i)\b(?:except|excepting|unless|only (?:if|when)|apart from|other than|provided that"
    r"|außer|ausser|es sei denn|nur wenn|sauf|à moins|excepto|salvo|a menos que)\b"
)
_IDIOMS = LazyPattern(
    r"(?i)\bor not\b|\b(?:do not|don['’]?t|dont|never) forget\b|\bnicht vergessen\b"
    r"|\bvergiss (?:nicht|es nicht)\b|\bn['’]oublie(?:z)? pas\b|\bno (?:te )?olvides\b"
)
_NEGATION_HINTS = LazyPattern(
    r"\b(?:unable|without|impossible|unfortunately|regret|fail|lack|absent|refuse|decline"
    r"|unavailable|unlikely|uncertain|unsure|unclear|ohne|leider|sans|sin)\w*",
    re.I,
)
_SCRIPTS = {  # the script a language is written in, where it is not Latin
    "ja": ("HIRAGANA", "KATAKANA", "CJK"),
    "zh": ("CJK",),
    "ko": ("HANGUL",),
    "ru": ("CYRILLIC",),
    "uk": ("CYRILLIC",),
    "bg": ("CYRILLIC",),
    "sr": ("CYRILLIC",),
    "el": ("GREEK",),
    "ar": ("ARABIC",),
    "fa": ("ARABIC",),
    "he": ("HEBREW",),
    "hi": ("DEVANAGARI",),
    "th": ("THAI",),
}
_CJK = frozenset({"CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPHIC"})


def fidelity(
    reply: str, source: str, words: InputWords, profile: Profile, target: str | None
) -> str | None:
    """Why `reply` is not faithful to `source` under `profile`, or None."""
    from .structure import structure

    return (
        _length(reply, source, profile)
        or _language(reply, source, words, profile, target)
        or _kept_facts(reply, source, profile)
        or structure(reply, source, profile)
        or _content(reply, source, words, profile)
    )


def longest_reply(source: str, profile: Profile) -> int:
    """The most characters a reply may run to before it is cut off: the longest rewrite the
    guard would accept, and room for chatter and reasoning around it."""
    factor, slack = _LENGTH_LIMITS.get(profile.length, _LENGTH_LIMITS["similar"])
    return int(factor * len(source) + slack) + _ROOM_FOR_CHATTER


def _length(reply: str, source: str, profile: Profile) -> str | None:
    factor, slack = _LENGTH_LIMITS.get(profile.length, _LENGTH_LIMITS["similar"])
    if profile.language == "target" and profile.length == "similar":
        factor, slack = _TRANSLATION_LIMIT
    if len(reply) > factor * len(source) + slack:
        if profile.length == "shorter":
            return "the reply is longer than the input, and this action shortens"
        ratio = round(len(reply) / max(len(source), 1))
        return f"the reply is {ratio} times longer than the input"
    if profile.content == "free" or len(source) < _LONG_ENOUGH:
        return None
    if profile.length == "shorter" and len(reply) >= len(source):
        return "the reply is not shorter than the input"
    shortest = _SHORTEST.get(profile.language if profile.language == "target" else profile.length)
    if shortest and _width(reply) < shortest * _width(source):
        return "the reply is much shorter than the input: it leaves things out"
    return None


def _width(text: str) -> int:
    """Length in Latin letters' worth: a CJK or Hangul character says about what three do."""
    wide = sum(1 for ch in text if "\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    return len(text) + 2 * wide


def _kept_facts(reply: str, source: str, profile: Profile) -> str | None:
    """Numbers, addresses and negations a rewrite may not lose or make up."""
    if profile.content == "free":
        return None
    missing = [a for a in _ADDRESS.findall(source) if a.rstrip(".,;)") not in reply]
    if missing:
        return f"the reply loses {missing[0].rstrip('.,;)')}"
    exact = profile.content == "kept" or profile.length == "shorter"
    had, has = _numbers(source, exact), _numbers(reply, exact)
    if had - has:
        return f"the reply loses the number {sorted(had - has)[0]}"
    added = _numbers(reply, exact, words=False) - had  # a "two" put for "to" adds nothing
    if added:
        return f"the reply adds the number {sorted(added)[0]}"
    return _negation(reply, source, profile) or _condition(reply, source, profile)


def _condition(reply: str, source: str, profile: Profile) -> str | None:
    """An exception or a condition ("except ...", "unless ...") changes what the text says;
    a rewrite that drops every one of them says something else."""
    if profile.language == "target" or not _CONDITION.search(source):
        return None
    return None if _CONDITION.search(reply) else "the reply drops a condition or an exception"


def _numbers(text: str, every: bool, *, words: bool = True) -> set[str]:
    """The numbers of a text as their digits ("10:30" and "10.30" are one number, "thirty"
    is 30 unless not `words`); `every`: single digits too, which a rewording may spell out
    ("at nine")."""
    spell = _NUMBER_WORDS.get
    digits = _WORD.sub(lambda m: spell(m.group().lower(), m.group()), text) if words else text
    found = {re.sub(r"\D", "", number) for number in _NUMBER.findall(digits)}
    return {number for number in found if every or len(number) >= 2}


def _negation(reply: str, source: str, profile: Profile) -> str | None:
    if profile.language == "target":
        return None
    source, reply = _affirmed(source), _affirmed(reply)
    had, has = _negations(source), _negations(reply)
    if profile.content == "kept" and has < had:
        return "the reply drops a negation"
    if had and not has and not _NEGATION_HINTS.search(reply):
        return "the reply drops a negation"
    return None


def _negations(text: str) -> int:
    """How many words of `text` say "no" (its "n't" included: "don't" is "dont")."""
    return sum(1 for word in tokens(text) if word in _NEGATION_WORDS)


def _affirmed(text: str) -> str:
    """The text with negations that say something positive taken out ("whether or not",
    "don't forget" is "remember")."""
    return _IDIOMS.sub(" ", text)


def _content(reply: str, source: str, words: InputWords, profile: Profile) -> str | None:
    if profile.content == "free" or profile.language == "target" or not words.total:
        return None
    coverage, count = words.coverage(reply), len(tokens(reply))
    if profile.content == "kept" and _changes_content(reply, source, words, coverage, count):
        return "the reply changes more than spelling and grammar"
    if profile.length == "shorter":
        if coverage < _INVENTS_LITTLE:
            return "the reply says things the input does not"
        if _dropped_paragraph(reply, source):
            return "the reply leaves out a whole paragraph"
    if coverage == 0 and count >= 3:
        return "the reply has little to do with the input"
    return None


def _changes_content(
    reply: str, source: str, words: InputWords, coverage: float, count: int
) -> bool:
    """Whether a fix did more than fix: words of the input's own lost or new ones made up.
    Spelling and grammar move short words about (him/he, was/were); the long ones stay."""
    factor, slack = _ADDED_WORDS
    if coverage < _KEEPS or words.recall(reply) < _KEEPS or count > factor * words.total + slack:
        return True
    kept = [word for word in tokens(source) if len(word) >= 4 and word not in _FUNCTION_WORDS]
    long_out = [word for word in tokens(reply) if len(word) >= _LONG_WORD]
    allowed = len(kept) // 20
    lost = InputWords(reply).matched(kept).count(False)
    made_up = words.matched(long_out).count(False)
    return lost > allowed or made_up > allowed or _contracted(reply, source)


def _contracted(reply: str, source: str) -> bool:
    """Whether a fix contracted what the user wrote out ("Here are" as "Here's"): that is
    their wording, not a mistake."""
    origin = source.casefold()
    had = _CONTRACTION.findall(origin)
    for base, ending in _CONTRACTION.findall(reply.casefold()):
        if (base, ending) in had:
            had.remove((base, ending))  # the user's own contraction
            continue
        if ending == "t" and base.endswith("n"):
            written_out = rf"\b{re.escape(base[:-1])}\s+not\b"
        else:
            written_out = rf"\b{re.escape(base)}\s+(?:{_EXPANSIONS[ending]})\b"
        if re.search(written_out, origin):
            return True
    return False


def _dropped_paragraph(reply: str, source: str) -> bool:
    """Whether a paragraph of four or more words has not one content word in the reply
    (matched exactly: "Tuesday" is one typo away from "Thursday")."""
    said = {word for word in tokens(reply) if len(word) >= 4}
    paragraphs = [tokens(paragraph) for paragraph in re.split(r"\n\s*\n", source)]
    return any(len(words) >= 4 and not said & set(words) for words in paragraphs)


def _language(
    reply: str, source: str, words: InputWords, profile: Profile, target: str | None
) -> str | None:
    if profile.language == "any":
        return None
    if profile.language == "target":
        return _translated(reply, source, words, target)
    expected, got = _dominant_script(source), _dominant_script(reply)
    if expected and got and expected != got:
        return "the reply is in another script than the input"
    from .language import detect

    was, now = detect(source), detect(reply)
    if was and now and was != now:
        return f"the reply is in another language ({now}) than the input ({was})"
    return None


def _translated(reply: str, source: str, words: InputWords, target: str | None) -> str | None:
    from .language import code_for, detect

    wanted = code_for(target) if target else None
    was, now = detect(source), detect(reply)
    if was and was == wanted:
        return None  # already in the target language: any faithful reply will do
    lost = [name for name in _names(source, was) if name.casefold() not in reply.casefold()]
    if lost:
        return f"the reply loses the name {lost[0]}"
    if words.coverage(reply) >= 0.7 and len(tokens(reply)) >= 3:
        return "the reply is not translated"
    if wanted and now and now != wanted:
        return f"the reply is not in {target} (it reads as {now})"
    script = _dominant_script(reply)
    expected = _SCRIPTS.get(wanted or "", ("LATIN",))
    if wanted and script and script not in expected:
        return f"the reply is not in {target} (it is in {script.lower()} script)"
    if wanted == "ja" and script == "CJK" and not _has_kana(reply):
        return f"the reply is not in {target} (no kana: it reads as Chinese)"
    return None


def _names(text: str, language: str | None) -> list[str]:
    """Names in an English text: capitalized words inside a sentence ("Hi Tom, ..."),
    which a translation keeps. In German every noun is capitalized: no names are told."""
    if language not in (None, "en") or _dominant_script(text) not in (None, "LATIN"):
        return []
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        words = re.findall(r"[^\W\d_][\w'’-]*", sentence)
        found += [w for w in words[1:] if w[:1].isupper() and not _not_a_name(w)]
    return found


def _not_a_name(word: str) -> bool:
    folded = word.casefold()
    return folded in _NOT_NAMES or folded.removesuffix("s") in _NOT_NAMES  # "Sundays"


def _has_kana(text: str) -> bool:
    return any(unicodedata.name(ch, "").startswith(("HIRAGANA", "KATAKANA")) for ch in text)


def _dominant_script(text: str) -> str | None:
    """The script of at least 60% of the letters in ``text`` (None: too few or mixed)."""
    counts: dict[str, int] = {}
    for ch in filter(str.isalpha, text):
        words = unicodedata.name(ch, "OTHER").replace("FULLWIDTH ", "").replace("HALFWIDTH ", "")
        script = "CJK" if words.split()[0] in _CJK else words.split()[0]
        counts[script] = counts.get(script, 0) + 1
    total = sum(counts.values())
    if total < 4:
        return None
    script, count = max(counts.items(), key=lambda item: item[1])
    return script if count >= 0.6 * total else None
