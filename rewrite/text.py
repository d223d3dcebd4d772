"""Text handling around the model: framing the user's text, cleaning and guarding replies.

- ``split_frame`` / ``restore_frame`` (from ``rewrite.frame``, re-exported): only the text
  between the leading and trailing whitespace goes to the model; the rest is put back.
- ``clean_reply`` / ``StreamCleaner``: remove the chatter small models add (reasoning blocks,
  lead-ins, wrapping quotes or fences, echoed labels, trailing offers of help and notes).
- ``guard_reply``: decide whether a cleaned reply may replace the user's text.

The streaming cleaner runs the very rules of ``clean_reply`` on everything received so far, in
a mode where each rule either decides for good or answers "undecided" (``None``), so whatever it
emits is a prefix of the final clean-up.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

from .actions import CANNOT_REWRITE as CANNOT_REWRITE
from .frame import Frame as Frame
from .frame import restore_frame as restore_frame
from .frame import split_frame as split_frame
from .frame import to_lf
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


# ------------------------------------------------------------------------------ clean-up


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
)
_WEAK = _words("i|this|the following")
_GO = _words("here you go|here it is|here you are|voilà|voila|bitte schön")
_PARTICIPLES = _words(
    "rewritten|corrected|revised|improved|edited|proofread|polished|translated|simplified"
    "|rephrased|paraphrased|reworded|shortened|korrigiert|überarbeitet|übersetzt"
)
_ADJECTIVES = _PARTICIPLES + _words(
    "updated|fixed|final|new|original|formal|friendly|professional|concise|casual|clearer"
    "|shorter|simpler|better|korrigierte|korrigierter|überarbeitete|überarbeiteter|neue|neuer"
)
_NOUNS = _words(
    "text|version|sentence|paragraph|output|result|translation|rewrite|answer|response"
    "|correction|input|message|revision|paraphrase|übersetzung|fassung|satz|ergebnis|ausgabe"
    "|antwort|eingabe"
)
_KEYWORDS = [*_PARTICIPLES, *_NOUNS, *_words("fixed|updated|corrections|wording|rewording")]
_DETERMINERS = _words("the|your|my|der|die|das")

_STRONG = rf"(?:{_alt(_OPENERS)})\b"
_WEAK_RE = re.compile(rf"(?:{_alt(_WEAK)})\b")
_KEY = rf"\b(?:{_alt(_KEYWORDS)}|{_alt(_GO)})\b"
_NOUN = rf"(?:{_alt(_NOUNS)})(?:\s+of\s+(?:the|your|my)\s+\w+)?"
_ADJ = rf"(?:(?:{_alt(_ADJECTIVES)}|more\s+\w+)\s+)"
_LABEL = (  # "Rewritten text", "Translation (German)", "The corrected text is"
    rf"(?:(?:{_alt(_DETERMINERS)})\s+)?(?:{_ADJ}{{0,3}}{_NOUN}|(?:{_alt(_PARTICIPLES)})"
    rf"|{_ADJ}{{1,3}}{_NOUN}\s+(?:is|would be|reads))(?:\s*\(.*\)|\s+(?:in|into|to)\s+\S+)?"
)
_ECHO_RE = re.compile(r"(?:the |your )?(?:original )?(?:text|input|sentence|message|eingabe)")
_BARE = rf"(?:(?:{_alt(_OPENERS)})[!.,]{{0,3}}\s*)?(?:(?:{_alt(_GO)})[!.]{{0,3}})?"
_OPENER_WORDS = frozenset(phrase.split()[0] for phrase in (*_OPENERS, *_WEAK))
_START_WORDS = frozenset(
    phrase.split()[0]
    for phrase in (*_OPENERS, *_WEAK, *_GO, *_DETERMINERS, *_ADJECTIVES, *_NOUNS, "more")
)
_MARKUP = re.compile(r"[*_#>`]+")
_SKIP_MARKUP = re.compile(r"[\s*_#>]*")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_WORDISH = re.compile(r"[^\W\d_]|['’]")
_COLON = re.compile(r"[:：][*_]*")
_MAX_HEAD = 120  # characters before the colon of a lead-in
_MAX_WORDS = 14

_FENCE_OPEN = re.compile(r"```[^\s`]*")
_FENCE_CLOSE = re.compile(r"[ \t]*```[ \t]*")
_FENCE_CLOSE_PREFIX = re.compile(r"[ \t]*(?:`{1,3}[ \t]*)?")
_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "»": "«", "„": "“”", "‚": "‘’",
          "「": "」", "『": "』"}  # fmt: skip
_HOLD_CHARS = frozenset(_PAIRS) | {"`"}

# Offers of help only count when they talk about the rewrite, so "Let me know when you arrive."
# at the end of a message survives; a source with a line like these turns trailer removal off.
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
    r"|ich hoffe,? (?:das|dies|es) hilft|hinweis\b|anmerkung\b|änderungen\s*:)"
)
_LIST_ITEM = re.compile(r"\s*(?:[-*•+]|\d+[.)])(?:\s|$)")

_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.I)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.I)
_THINK_PARTIAL = re.compile(r"<(?:t(?:h(?:i(?:n(?:k(?:i(?:n(?:g)?)?)?)?)?)?)?)?\Z", re.I)


class _Source(Record):
    """What the clean-up rules need to know about the text the model was given."""

    __slots__ = ("fenced", "has_trailer", "mentions_think", "quoted", "word")

    def __init__(
        self, word: str, has_trailer: bool, quoted: bool, fenced: bool, mentions_think: bool
    ) -> None:
        self.word = word  # its first word, lower case
        self.has_trailer = has_trailer  # a line that would count as chatter ending a reply
        self.quoted = quoted
        self.fenced = fenced
        self.mentions_think = mentions_think


@lru_cache(maxsize=16)  # the stream asks on every delta; the source may be long
def _facts(source: str) -> _Source:
    text = source.strip()
    return _Source(
        word=_first_word(text, True)[0],
        has_trailer=any(_is_trailer(line) for line in text.splitlines()),
        quoted=_is_quoted(text),
        fenced=text.startswith("```"),
        mentions_think="<think" in text.lower(),
    )


def _strip_think(text: str, source: str, final: bool) -> str:
    """Drop ``<think>`` blocks; an unclosed one swallows the rest (its end may still come)."""
    if _facts(source).mentions_think:
        return text
    kept, pos = [], 0
    while found := _THINK_OPEN.search(text, pos):
        kept.append(text[pos : found.start()])
        close = _THINK_CLOSE.search(text, found.end())
        if close is None:
            return "".join(kept)
        pos = close.end()
    rest = text[pos:]
    partial = None if final else _THINK_PARTIAL.search(rest, max(0, len(rest) - 9))
    return "".join(kept) + (rest[: partial.start()] if partial else rest)


def _first_word(line: str, complete: bool) -> tuple[str, bool]:
    """The first word of ``line`` (lower case, up to an apostrophe) and whether it is settled."""
    skipped = _SKIP_MARKUP.match(line)
    start = skipped.end() if skipped else 0
    if start == len(line):
        return "", complete
    found = _WORD.match(line, start)
    if found is None:
        return "", True
    end = found.end()
    done = complete or (end < len(line) and not _WORDISH.match(line[end]))
    return re.split(r"['’]", found.group().lower())[0], done


def _plain(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).split()).lower()


def _is_lead_in(head: str, word: str, ends_line: bool) -> bool:
    """Whether ``head`` (the text before a colon) introduces the answer rather than being it."""
    limit = _MAX_WORDS if word in _OPENER_WORDS else 7
    if len(head) > _MAX_HEAD or len(head.split()) > limit:
        return False
    text = _plain(head)
    if _rx(_LABEL).fullmatch(text):
        return True
    if _rx(_STRONG).match(text):
        return ends_line or bool(_rx(_KEY).search(text))
    return bool(_WEAK_RE.match(text) and _rx(_KEY).search(text))


def _lead_in_end(t: str, source: str, final: bool) -> int | None:
    """Length of the lead-in or label starting ``t`` (0: none), ``None`` while undecided."""
    nl = t.find("\n")
    line = t if nl < 0 else t[:nl]
    complete = final or nl >= 0
    has_next = nl >= 0 and bool(t[nl + 1 :].strip())
    next_known = final or has_next
    word, settled = _first_word(line, complete)
    if not settled:
        return 0 if len(line) > _MAX_HEAD else None
    if word not in _START_WORDS or word == _facts(source).word:
        return 0
    colon = _COLON.search(line)
    if colon:
        head, rest = line[: colon.start()], line[colon.end() :]
        if len(head) > _MAX_HEAD or len(head.split()) > _MAX_WORDS:
            return 0
        if not complete and not rest.strip():
            return None
        if _ECHO_RE.fullmatch(_plain(head)):  # "Text: <the source again>" echoes the input
            if not complete:
                return None
            if _plain(rest.strip(" \"'“”")) == _plain(source):
                return len(line) + 1
        if _is_lead_in(head, word, False):
            return colon.end()
        if rest.strip() or not _is_lead_in(head, word, True):
            return 0
        return (colon.end() if has_next else 0) if next_known else None
    if len(line) > _MAX_HEAD or len(line.split()) > _MAX_WORDS:
        return 0
    if not complete:
        return None
    if not _rx(_BARE).fullmatch(_plain(line)):
        return 0
    return (nl + 1 if has_next else 0) if next_known else None


def _fence_body(content: str, final: bool) -> tuple[str, bool]:
    """Cut ``content`` at its closing fence; the flag says whether the cut is for good."""
    pos = 0
    while (nl := content.find("\n", pos)) >= 0:
        if _FENCE_CLOSE.fullmatch(content[pos:nl]):
            return content[:pos], True
        pos = nl + 1
    last = content[pos:]
    if (_FENCE_CLOSE if final else _FENCE_CLOSE_PREFIX).fullmatch(last):
        return content[:pos], final
    return content, final


def _strip_head(t: str, source: str, final: bool) -> tuple[str, bool] | None:
    """Remove lead-ins, labels and an opening fence; returns the rest and the new ``final``."""
    while True:
        cut = _lead_in_end(t, source, final)
        if cut is None:
            return None
        if cut:
            t = t[cut:].lstrip()
            continue
        if not t.startswith("```") or _facts(source).fenced:
            return t, final
        nl = t.find("\n")
        if nl < 0 and not final:
            return None
        if not _FENCE_OPEN.fullmatch((t if nl < 0 else t[:nl]).rstrip()):
            return t, final
        body, closed = _fence_body("" if nl < 0 else t[nl + 1 :], final)
        t, final = body.lstrip(), final or closed


def _is_trailer(line: str) -> bool:
    return bool(_rx(_TRAILER).match(line.lower()))


def _trailer_start(lines: list[str], source: str) -> int | None:
    """Index of the first line of a trailing run of chatter that follows some content."""
    if _facts(source).has_trailer:
        return None
    k = len(lines)
    while k and (
        not lines[k - 1].strip() or _is_trailer(lines[k - 1]) or _LIST_ITEM.match(lines[k - 1])
    ):
        k -= 1
    for i in range(max(k, 1), len(lines)):
        if _is_trailer(lines[i]) and any(line.strip() for line in lines[:i]):
            return i
    return None


def _strip_tail(t: str, source: str, final: bool) -> str:
    """Drop a trailer; when not final, hold back whatever a later delta may still change."""
    lines = t.split("\n")
    if final:
        cut = _trailer_start(lines, source)
        return "\n".join(lines[:cut]).strip()
    last = len(lines) - 1  # the line still being written
    cut = _trailer_start(lines[:last], source)
    if cut is None:
        cut = last if last else len(lines)
    return "\n".join(lines[:cut]).rstrip()


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] in _PAIRS and text[-1] in _PAIRS[text[0]]


def _unwrap(t: str, source: str) -> str:
    """Remove quotes around the whole of ``t`` unless the source is quoted itself."""
    if not _is_quoted(t) or _facts(source).quoted:
        return t
    inner = t[1:-1]
    for i, ch in enumerate(inner):
        if ch in _PAIRS[t[0]] or ch == t[0]:
            apostrophe = ch in "'’" and 0 < i < len(inner) - 1
            if not (apostrophe and inner[i - 1].isalpha() and inner[i + 1].isalpha()):
                return t
    return inner.strip()


def _clean(text: str, source: str, final: bool) -> str:
    """Steps 2-5 of the clean-up; when not final, only the part no later delta can change."""
    t = text.lstrip()
    for _ in range(3):
        start = t
        head = _strip_head(t, source, final)
        if head is None:
            return ""
        t, final = head
        if not final and t[:1] in _HOLD_CHARS:
            return ""  # a wrapped answer is decided by its last character
        t = _strip_tail(t, source, final)
        if not final:
            return t
        t = _unwrap(t, source)
        if t == start:
            break
    return t


def clean_reply(reply: str, source: str) -> str:
    """The reply without the chatter small models add, stripped of surrounding whitespace."""
    return _clean(_strip_think(to_lf(reply), source, True), source, True)


class StreamCleaner:
    """``clean_reply`` for a streamed reply, emitting cleaned text as soon as it is settled."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._parts: list[str] = []
        self._emitted = ""

    def feed(self, delta: str) -> str:
        """Take the next piece of the reply; return newly settled cleaned text (maybe "")."""
        self._parts.append(delta)
        text = _strip_think(to_lf("".join(self._parts)), self._source, False)
        return self._advance(_clean(text, self._source, False))

    def finish(self) -> str:
        """Return the rest of the cleaned reply."""
        return self._advance(clean_reply("".join(self._parts), self._source))

    def _advance(self, settled: str) -> str:
        if len(settled) <= len(self._emitted) or not settled.startswith(self._emitted):
            return ""
        new, self._emitted = settled[len(self._emitted) :], settled
        return new


# ------------------------------------------------------------------------------- guarding

_SENTINEL = re.compile(r"\[\[\s*cannot\s+rewrite\s*\]\]", re.I)
_META = tuple(  # each matched against the lower-cased start of the reply and of the source
    r"[\s\"'“‘«„*_>]*(?:" + pattern + ")"
    for pattern in (
        r"(?:i['’]?m|i am) sorry\b(?!\s+(?:for|about|to hear))|i apologi[sz]e\b|as an ai\b"
        r"|as a (?:large )?language model|i (?:can['’]?t|cannot|can not|won['’]?t|am unable to"
        r"|['’]?m unable to) (?:help|assist|fulfil|comply|provide|rewrite|process|do that"
        r"|complete|answer|determine|understand|make sense|proceed|rephrase)",
        r"(?:the|this) (?:text|input|sentence|message|passage|paragraph|original)(?: you)?"
        r" (?:provided|you|appears|seems|is already|is (?:correct|fine|grammatically)|contains"
        r"|does not|doesn['’]t|looks|reads)|the (?:speaker|user|author|writer)(?:['’]s| is| was"
        r"| asks| wants| seems| expresses| mentions| says| describes| requests)\b"
        r"|it (?:seems|looks|appears)(?: like| that)? (?:you|your|the (?:text|input|message"
        r"|sentence)|there (?:is|are) no)",
        r"(?:could|can|would) you (?:please )?(?:provide|clarify|specify|share|give|tell|explain"
        r"|rephrase)\b|please (?:provide|clarify|specify|share)\b",
        r"here(?:['’]s| is| are)\b|(?:sure|certainly|of course|absolutely)(?:[!.,]*\s*$|[!.,]+\s+"
        r"(?:here|i['’]d be happy|i can help|let me|below))",
    )
)

_CJK = frozenset({"CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPHIC"})


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


def guard_reply(cleaned: str, source: str, *, translating: bool = False) -> str | None:
    """None when ``cleaned`` may replace ``source``; otherwise why not (lower case)."""
    reply = cleaned.strip()
    if not reply:
        return "the model returned nothing"
    if _SENTINEL.search(reply) and not _SENTINEL.search(source):
        return "the model said it cannot rewrite this text"
    if len(reply) > 3 * len(source) + 64:
        ratio = round(len(reply) / max(len(source), 1))
        return f"the reply is {ratio} times longer than the input"
    starts = reply[:200].lower(), source[:200].lower()
    if any(_rx(meta).match(starts[0]) and not _rx(meta).match(starts[1]) for meta in _META):
        return "the reply looks like a comment on the text, not a rewrite of it"
    if not translating:
        expected, got = _dominant_script(source), _dominant_script(reply)
        if expected and got and expected != got:
            return "the reply is in another script than the input"
    return None
