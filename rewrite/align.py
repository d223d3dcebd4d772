"""Which words of a reply are the user's own: a word-level correspondence between the reply
and the input that tolerates what a rewrite changes (case, accents, apostrophes, typos
fixed, textspeak spelled out).

    words = InputWords("ive updated the text: see page 2")
    words.owned("I've updated the text", rest="see page 2")   # 4: the user's own words
    words.owned("Here is the corrected text", rest=...)       # 0 when the rest has them all

`owned(part, rest)` counts the words of `part` that match input words the `rest` of the reply
does not already account for: a lead-in or a closing line that says nothing of the input
owns nothing and may go; a line that carries the user's words owns them and must stay.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

from .lazy_re import LazyPattern

_TOKEN = LazyPattern(r"[^\W_]+(?:['’-][^\W_]+)*")
_APOSTROPHES = str.maketrans("", "", "'’-")  # "Wi-Fi" is "wifi", "don't" is "dont"
# Textspeak that `fix` spells out; both sides are normalized through it. (Contractions need
# nothing: without their apostrophes "don't" and "dont" are one word already.)
_TEXTSPEAK = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "y": "why",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thanks",
    "tmrw": "tomorrow",
    "2moro": "tomorrow",
    "b4": "before",
    "msg": "message",
    "ppl": "people",
    "thru": "through",
    "nite": "night",
    "2nite": "tonight",
    "gonna": "going",
    "wanna": "want",
    "bday": "birthday",
    "dept": "department",
    "pic": "picture",
    "pics": "pictures",
    "convo": "conversation",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "abt": "about",
    "w": "with",
}


# Words a fix puts for one another: each group is one word here.
_CONFUSABLES = {
    word: group.split("|")[0]
    for group in (
        "their|there|theyre",
        "your|youre",
        "then|than",
        "to|too",
        "were|where|wear",
        "whose|whos",
        "affect|effect",
        "loose|lose",
        "accept|except",
        "weather|whether",
        "quite|quiet",
        "until|till|til",
        "das|dass",
        "seid|seit",
        "wider|wieder",
    )
    for word in group.split("|")
}


@lru_cache(maxsize=4096)
def normalize(token: str) -> str:
    """A word as rewrites leave it comparable: case-folded, accents and apostrophes gone,
    textspeak spelled out, words a fix confuses taken as one."""
    folded = unicodedata.normalize("NFKD", token.casefold().translate(_APOSTROPHES))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    plain = _TEXTSPEAK.get(plain, plain)
    return _CONFUSABLES.get(plain, plain)


def tokens(text: str) -> list[str]:
    """The words and numbers of `text`, normalized."""
    return [normalize(found) for found in _TOKEN.findall(text)]


def similar(a: str, b: str) -> bool:
    """Whether two normalized words are one word, spelled right and wrong."""
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    if longer in (shorter + "t", shorter + "nt"):  # "can" and "cant" say opposite things
        return False
    if len(shorter) < 3:  # "to" and "too", "of" and "off"; not "is" and "it"
        return len(shorter) == 2 and len(longer) == 3 and longer.startswith(shorter)
    if a.isdigit() or b.isdigit():
        return False
    longest = max(len(a), len(b))
    allowed = 1 if longest <= 5 else 2 if longest <= 9 else 3
    if a[0] != b[0]:  # "affect" and "effect"; more than one change is another word
        allowed = 1 if longest >= 5 else 0
    return abs(len(a) - len(b)) <= allowed and 0 < allowed >= _distance(a, b, allowed)


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, given up once it exceeds `limit`."""
    previous = list(range(len(b) + 1))
    for i, ch in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            replace = previous[j - 1] + (ch != other)
            current.append(min(previous[j] + 1, current[j - 1] + 1, replace))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


class InputWords:
    """The input's words, ready to be matched against parts of a reply."""

    def __init__(self, text: str) -> None:
        self.counts = Counter(tokens(text))
        self.total = sum(self.counts.values())
        self._by_initial: dict[str, list[str]] = {}
        for word in self.counts:
            self._by_initial.setdefault(word[0], []).append(word)

    def matched(self, words: list[str], available: Counter[str] | None = None) -> list[bool]:
        """For each word, whether it takes up one of the `available` input words (by default
        all of them); `available` is used up as words match."""
        pool = Counter(self.counts) if available is None else available
        found = []
        for word in words:
            key = word if pool[word] > 0 else self._fuzzy(word, pool)
            if key is not None:
                pool[key] -= 1
            found.append(key is not None)
        return found

    def _fuzzy(self, word: str, pool: Counter[str]) -> str | None:
        candidates = self._by_initial.get(word[0], ())
        return next((key for key in candidates if pool[key] > 0 and similar(word, key)), None)

    def owned(self, part: str, rest: str) -> int:
        """How many words of `part` are input words that `rest` does not account for."""
        pool = Counter(self.counts)
        self.matched(tokens(rest), pool)
        return sum(self.matched(tokens(part), pool))

    def is_users(self, part: str, rest: str) -> bool:
        """Whether `part` carries the user's words: most of its words are input words the rest
        of the reply does not account for."""
        words = tokens(part)
        if not words:
            return False
        owned = self.owned(part, rest)
        return owned >= 1 and owned * 2 >= len(words)

    def coverage(self, text: str) -> float:
        """The share of `text`'s words that are input words (1.0 for a text without words)."""
        words = tokens(text)
        return sum(self.matched(words)) / len(words) if words else 1.0

    def recall(self, text: str) -> float:
        """The share of the input's words that `text` keeps (1.0 for an input without words)."""
        if not self.total:
            return 1.0
        return sum(self.matched(tokens(text))) / self.total
