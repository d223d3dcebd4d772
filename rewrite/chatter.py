"""The words and shapes of chatter: what small models put around a rewrite, in the
languages people write to them in. Used by the clean-up (`text.py`); compiled on first use,
because compiling these vocabularies at import would cost the command line ~20 ms.
"""

from __future__ import annotations

import re
from functools import cache

from .lazy_re import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


@cache
def _rx(pattern: str) -> re.Pattern[str]:
    """Compile on first use: compiling the vocabularies below costs ~20 ms, too much at import."""
    return re.compile(pattern)


def _words(spec: str) -> list[str]:
    return spec.split("|")


def _alt(words: Iterable[str]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len)[::-1])


_OPENERS = _words(
    "sure|sure thing|certainly|of course|okay|ok|alright|all right|absolutely|great|no problem"
    "|got it|gladly|happy to help|here|heres|below|hier|gerne|gern|natürlich|klar|sicher"
    "|voici|voilà|voila|bien sûr|d'accord|aquí|aqui|claro|por supuesto|desde luego|aquí tienes"
)
_WEAK = _words("i|this|the following")
_GO = _words("here you go|here it is|here you are|voilà|voila|bitte schön")
_PARTICIPLES = _words(
    "rewritten|corrected|revised|improved|edited|proofread|polished|translated|simplified"
    "|rephrased|paraphrased|reworded|shortened|korrigiert|überarbeitet|übersetzt"
    "|corrigé|corrigée|révisé|traduit|traduite|reformulé|corregido|corregida|revisado|traducido"
)
_ADJECTIVES = _PARTICIPLES + _words(
    "updated|fixed|final|new|original|formal|friendly|professional|concise|casual|clearer"
    "|shorter|simpler|better|korrigierte|korrigierter|überarbeitete|überarbeiteter|neue|neuer"
)
_NOUNS = _words(
    "text|version|sentence|paragraph|output|result|translation|rewrite|answer|response"
    "|correction|input|message|revision|paraphrase|übersetzung|fassung|satz|ergebnis|ausgabe"
    "|antwort|eingabe|texte|traduction|phrase|texto|traducción|versión|frase|resultado"
)
_KEYWORDS = [*_PARTICIPLES, *_NOUNS, *_words("fixed|updated|corrections|wording|rewording")]
_DETERMINERS = _words("the|your|my|der|die|das|le|la|el|votre|tu|su")

_STRONG = rf"(?:{_alt(_OPENERS)})\b"
_WEAK_RE = LazyPattern(rf"(?:{_alt(_WEAK)})\b")
_KEY = rf"\b(?:{_alt(_KEYWORDS)}|{_alt(_GO)})\b"
_NOUN = rf"(?:{_alt(_NOUNS)})(?:\s+of\s+(?:the|your|my)\s+\w+)?"
_ADJ = rf"(?:(?:{_alt(_ADJECTIVES)}|more\s+\w+)\s+)"
_LABEL = (  # "Rewritten text", "Translation (German)", "The corrected text is"
    rf"(?:(?:{_alt(_DETERMINERS)})\s+)?(?:{_ADJ}{{0,3}}{_NOUN}|(?:{_alt(_PARTICIPLES)})"
    rf"|{_ADJ}{{1,3}}{_NOUN}\s+(?:is|would be|reads))(?:\s*\(.*\)|\s+(?:in|into|to)\s+\S+)?"
)
_ECHO_RE = LazyPattern(r"(?:the |your )?(?:original )?(?:text|input|sentence|message|eingabe)")
_EXCLAIMED = (  # an opener said and done before the answer on the same line
    r"(?i)[\s*_]*(?:"
    + _alt(w for w in _OPENERS if w not in ("here", "heres", "below", "hier", "aquí", "aqui"))
    + r")[!.]+[\s*_]+(?=\S)"
)
_BARE = rf"(?:(?:{_alt(_OPENERS)})[!.,]{{0,3}}\s*)?(?:(?:{_alt(_GO)})[!.]{{0,3}})?"
_OPENER_WORDS = frozenset(phrase.split()[0] for phrase in (*_OPENERS, *_WEAK))
_START_WORDS = frozenset(
    phrase.split()[0]
    for phrase in (*_OPENERS, *_WEAK, *_GO, *_DETERMINERS, *_ADJECTIVES, *_NOUNS, "more")
)
_MARKUP = LazyPattern(r"[*_#>`]+")
_SKIP_MARKUP = LazyPattern(r"[\s*_#>]*")
_WORD = LazyPattern(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_COLON = LazyPattern(r"[:：][*_]*")
_MAX_HEAD = 120  # characters before the colon of a lead-in
_MAX_WORDS = 14
_MAX_HEADING_WORDS = 10  # a line ending in a colon, in any language, taken for a heading
_SENTENCE_MARK = LazyPattern(r"[.!?。！？]")

_FENCE_OPEN = LazyPattern(r"```[^\s`]*")
_FENCE_INNER = LazyPattern(r"[ \t]*```[^\s`]+.*")  # a fence with an info string opens a block
_FENCE_CLOSE = LazyPattern(r"[ \t]*```[ \t]*")
_FENCE_CLOSE_PREFIX = LazyPattern(r"[ \t]*(?:`{1,3}[ \t]*)?")
_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "»": "«", "„": "“”", "‚": "‘’",
          "「": "」", "『": "』"}  # fmt: skip
_HOLD_CHARS = frozenset(_PAIRS) | {"`"}

# Offers of help only count when they talk about the rewrite, so "Let me know when you arrive."
# at the end of a message survives; and a line that carries the user's words always stays.
_TRAILER = (  # matched against lower-cased lines
    r"[\s(*_>]*(?:(?:please )?(?:let me know|feel free|if you|would you like|do you want"
    r"|(?:don['’]t|do not) hesitate|is there anything)\b.*\b(?:anything else|further|changes"
    r"|adjust|modif|tweak|help|assist|edits?\b|revis|version|tone|rewrit|rephras|me to\b)"
    r"|(?:i )?hope (?:this|that|it) helps|(?:happy|glad) to help|i['’]?d be happy|note\b|nb\b"
    r"|p\.?s\.?\b|(?:the )?(?:main |key )?(?:changes|corrections|edits|explanation"
    r"|modifications)(?: made)?\s*:|summary of (?:the )?changes|what i changed"
    r"|i(?:['’]ve| have)? (?:corrected|fixed|changed|replaced|rephrased|reworded|rewrote|revised"
    r"|adjusted|removed|added|made)\b.*(?:spelling|grammar|punctuation|typo|capitali|word"
    r"|sentence|text|tone|phrasing|error|mistake|changes|edits|correction|[\"“'‘]|clarity)"
    r"|(?:this|in this) (?:version|rewrite|revision|revised)\b"
    r"|alternatively\b|alternativ\b|another (?:option|version|way)\b|or,? (?:more|if you)\b"
    r"|(?:here['’]?s|here is) (?:a |the )?(?:breakdown|summary|list|explanation)\b"
    r"|(?:i )?hope (?:this|that|it) (?:meets|works|is (?:helpful|what))"
    r"|(?:this|the) (?:sentence|text|version|message|paragraph) (?:is now|now reads|has been"
    r"|should now)\b"
    r"|ich hoffe,? (?:das|dies|es) hilft|hinweis\b|anmerkung\b|änderungen\s*:"
    r"|(?:lass|lassen sie) (?:mich|es mich) wissen|melde dich gerne|sag (?:mir )?bescheid"
    r"|j['’]espère que cela|remarque\b|n['’]hésitez pas|espero que (?:esto|te) ayude"
    r"|no dudes en|(?:ご参考|お役に立て|参考になれば)|希望(?:这|這)(?:对|對)你有(?:帮助|幫助))"
)
_RULE_LINE = LazyPattern(r"\s*(?:-{3,}|\*{3,}|_{3,})\s*")
_PARENTHESIZED = LazyPattern(r"\s*[(（\[].*[)）\]][.!]?\s*")
_SECOND_VERSION = (
    r"[\s*_>]*(?:alternatively|alternativ|another (?:option|version|way)|or,? (?:more|if you)"
    r"|(?:here['’]?s|here is) (?:a |the )?(?:breakdown|summary|list|explanation))\b"
)
_QUOTED = LazyPattern(r"[\"“„«‘][^\"”“»’\n]*[\"”“»’]")
_LIST_ITEM = LazyPattern(r"\s*(?:[-*•+]|\d+[.)])(?:\s|$)")

_THINK_OPEN = LazyPattern(r"<think(?:ing)?>", re.I)
_THINK_CLOSE = LazyPattern(r"</think(?:ing)?>", re.I)
# How reasoning opens when a chat template put the <think> tag in the prompt for the model;
# judged on the reply's first line, up to _REASONING_WINDOW characters of it.
_REASONING_STARTS: tuple[str, ...] = ("okay", "ok", "alright", "hmm", "well", "so", "first")
_REASONING_STARTS += ("let me", "let's", "i need", "i should", "i'll", "i will", "the user")
_REASONING = LazyPattern(
    rf"(?:{'|'.join(_REASONING_STARTS)})\b[^\n<]*\b(?:need|want|ask|should|think|fix"
    r"|rewrite|correct|translate|means?|check|look)",
    re.I,
)
_REASONING_WINDOW = 60
_THINK_PARTIAL = LazyPattern(r"<(?:t(?:h(?:i(?:n(?:k(?:i(?:n(?:g)?)?)?)?)?)?)?)?\Z", re.I)
