"""Text handling around the model: framing the user's text, cleaning and guarding replies.

- ``split_frame`` / ``restore_frame`` (from ``rewrite.frame``, re-exported): only the text
  between the leading and trailing whitespace goes to the model; the rest is put back.
- ``clean_reply`` / ``StreamCleaner``: remove the chatter small models add (reasoning blocks,
  lead-ins, wrapping quotes or fences, echoed labels, trailing offers of help and notes).
- the guard (``rewrite.guard``) then decides whether a cleaned reply may replace the text.

The streaming cleaner runs the very rules of ``clean_reply`` on everything received so far, in
a mode where each rule either decides for good or answers "undecided" (``None``), so whatever it
emits is a prefix of the final clean-up.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .actions import CANNOT_REWRITE as CANNOT_REWRITE
from .align import InputWords, tokens
from .chatter import (
    _BARE,
    _COLON,
    _ECHO_RE,
    _EXCLAIMED,
    _FENCE_CLOSE,
    _FENCE_CLOSE_PREFIX,
    _FENCE_INNER,
    _FENCE_OPEN,
    _HOLD_CHARS,
    _KEY,
    _LABEL,
    _LIST_ITEM,
    _MARKUP,
    _MAX_HEAD,
    _MAX_HEADING_WORDS,
    _MAX_WORDS,
    _OPENER_WORDS,
    _PAIRS,
    _PARENTHESIZED,
    _QUOTED,
    _REASONING,
    _REASONING_STARTS,
    _REASONING_WINDOW,
    _RULE_LINE,
    _SECOND_VERSION,
    _SENTENCE_MARK,
    _SKIP_MARKUP,
    _START_WORDS,
    _STRONG,
    _THINK_CLOSE,
    _THINK_OPEN,
    _THINK_PARTIAL,
    _TRAILER,
    _WEAK_RE,
    _WORD,
    _rx,
)
from .frame import Frame as Frame
from .frame import restore_frame as restore_frame
from .frame import split_frame as split_frame
from .frame import to_lf
from .record import Record


class _Source(Record):
    """What the clean-up rules need to know about the text the model was given."""

    __slots__ = (
        "colon_first",
        "fenced",
        "has_fences",
        "lines",
        "mentions_think",
        "quoted",
        "rules",
        "text",
        "translating",
        "words",
    )

    def __init__(self, text: str, translating: bool) -> None:
        stripped = text.strip()
        lines = [line for line in stripped.splitlines() if line.strip()]
        self.text = stripped
        self.translating = translating  # its words are not the reply's: judge by structure
        self.words = InputWords(stripped)
        self.lines = len(lines)
        self.colon_first = bool(lines) and lines[0].rstrip(" *_").endswith((":", "："))
        self.quoted = _is_quoted(stripped)
        self.fenced = stripped.startswith("```")
        self.has_fences = "```" in stripped
        self.rules = any(_RULE_LINE.fullmatch(line) for line in lines)
        self.mentions_think = "<think" in stripped.lower()

    def is_users(self, part: str, rest: str) -> bool:
        """Whether `part` of the reply carries the user's own words (never removed)."""
        return not self.translating and self.words.is_users(part, rest)


@lru_cache(maxsize=16)  # the stream asks on every delta; the source may be long
def _facts(source: str, translating: bool) -> _Source:
    return _Source(source, translating)


def _strip_think(text: str, src: _Source, final: bool) -> str:
    """Drop ``<think>`` blocks; an unclosed one swallows the rest (its end may still come)."""
    if src.mentions_think:
        return text
    kept, pos = [], 0
    while found := _THINK_OPEN.search(text, pos):
        kept.append(text[pos : found.start()])
        close = _THINK_CLOSE.search(text, found.end())
        if close is None:
            return "".join(kept)
        pos = close.end()
    rest = text[pos:]
    reasoning = _opens_with_reasoning(rest, final) if not kept else False
    if reasoning is None:
        return ""  # the first line decides: hold it until it is known
    if reasoning:  # the template opened the block, not the reply
        close = _THINK_CLOSE.search(rest)
        if close is None:
            return rest if final else ""
        rest = rest[close.end() :]
    partial = None if final else _THINK_PARTIAL.search(rest, max(0, len(rest) - 9))
    return "".join(kept) + (rest[: partial.start()] if partial else rest)


def _opens_with_reasoning(text: str, final: bool) -> bool | None:
    """Whether the reply opens with reasoning (None: its first line has not said yet)."""
    head = text.lstrip()
    line = head.split("\n", 1)[0]
    window = line[:_REASONING_WINDOW].lower()
    if final or len(line) < len(head) or len(line) >= _REASONING_WINDOW:
        return bool(_REASONING.match(window))
    if any(re.match(rf"{s}\b", window) or s.startswith(window) for s in _REASONING_STARTS):
        return None
    return False


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
    # More text can only make the word longer while it reaches the end of what has arrived
    # (or a lone apostrophe after it does: "Sure'" may become "Sure's").
    growing = end == len(line) or (end == len(line) - 1 and line[end] in "'’")
    done = complete or not growing
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


def _lead_in_end(t: str, src: _Source, final: bool) -> int | None:
    """Length of the lead-in starting ``t`` (0: none), ``None`` while undecided. A lead-in
    that carries the user's own words is theirs: it stays."""
    cut = _lead_in_candidate(t, src, final)
    if not cut:
        return cut
    rest = t[cut:] if final else _complete_words(t[cut:])
    if not src.is_users(t[:cut], rest):
        return cut
    return 0 if final else None  # the rest may yet account for those words


def _complete_words(text: str) -> str:
    """``text`` without its last word while that may still grow ("th" is not yet "this")."""
    if not text or text[-1].isspace():
        return text
    return text[: len(text) - len(text.split()[-1])]


def _lead_in_candidate(t: str, src: _Source, final: bool) -> int | None:
    """Length of what looks like a lead-in or label starting ``t``, by its shape or its words."""
    nl = t.find("\n")
    line = t if nl < 0 else t[:nl]
    complete = final or nl >= 0
    has_next = nl >= 0 and bool(t[nl + 1 :].strip())
    next_known = final or has_next
    heading = _is_heading(line, src, complete)
    if heading is None or (heading and not next_known):
        return None  # a heading, if text follows it
    if heading and has_next:
        return nl + 1
    word, settled = _first_word(line, complete)
    if not settled:
        return 0 if len(line) > _MAX_HEAD else None
    if word not in _START_WORDS:
        return 0
    colon = _COLON.search(line)
    cut = _colon_lead_in(t, line, colon, word, src, complete, has_next, next_known) if colon else 0
    if cut != 0:
        return cut
    exclaimed = _rx(_EXCLAIMED).match(line)
    if exclaimed:  # "Sure! The new office opens ..." on one line
        return exclaimed.end()
    if colon:
        return 0
    if len(line) > _MAX_HEAD or len(line.split()) > _MAX_WORDS:
        return 0
    if not complete:
        return None
    if not _rx(_BARE).fullmatch(_plain(line)):
        return 0
    return (nl + 1 if has_next else 0) if next_known else None


def _is_heading(line: str, src: _Source, complete: bool) -> bool | None:
    """Whether ``line`` is a short line ending in a colon, in any language ("Voici le texte
    corrigé :"); None while it is still being written and could become one. A line that
    opens with the user's words, has a sentence's punctuation or runs long is no heading;
    nor is any line when the input itself opens with one."""
    text = line.strip().rstrip("*_ ")
    words = text.split()
    if src.colon_first or _SENTENCE_MARK.search(text):
        return False
    if len(words) > _MAX_HEADING_WORDS or len(text) > _MAX_HEAD:
        return False
    settled = words if complete or line[-1:].isspace() else words[:-1]
    if _carries_users_words(settled, complete and len(words) == 1, src):
        return False
    if not complete:
        return None
    return bool(words) and text.endswith((":", "："))


def _colon_lead_in(
    t: str,
    line: str,
    colon: re.Match[str],
    word: str,
    src: _Source,
    complete: bool,
    has_next: bool,
    next_known: bool,
) -> int | None:
    head, rest = line[: colon.start()], line[colon.end() :]
    if len(head) > _MAX_HEAD or len(head.split()) > _MAX_WORDS:
        return 0
    if not complete and not rest.strip():
        return None
    if _ECHO_RE.fullmatch(_plain(head)):  # "Text: <the source again>" echoes the input
        if not complete:
            return None
        if _plain(rest.strip(" \"'“”")) == _plain(src.text):
            return len(line) + 1
    if _is_lead_in(head, word, False):
        return colon.end()
    if rest.strip() or not _is_lead_in(head, word, True):
        return 0
    return (colon.end() if has_next else 0) if next_known else None


def _carries_users_words(settled: list[str], one_word_line: bool, src: _Source) -> bool:
    """Whether the line holds two of the user's words of three letters or more (or is the
    user's one word): then it is the user's text going on, decided as soon as those words
    are complete, so the stream need not wait for the line to end."""
    if src.translating or not settled:
        return False
    found = [
        word
        for word in tokens(" ".join(settled))
        if len(word) >= 3 and src.words.matched([word]) == [True]
    ]
    return len(found) >= 2 or (one_word_line and src.words.matched(tokens(settled[0])) == [True])


def _fence_body(content: str, final: bool, nested: bool) -> tuple[str, bool]:
    """Cut ``content`` at the fence that closes the wrapping one, past fenced blocks inside
    it (a Markdown answer with code); the flag says whether the cut is for good. ``nested``:
    the input has fenced blocks, so a bare fence inside may open one too; until another
    fence closes it, it may as well be the wrapper's end, and what follows it is held."""
    pos, depth, maybe_end = 0, 0, None
    while (nl := content.find("\n", pos)) >= 0:
        line = content[pos:nl]
        if _FENCE_CLOSE.fullmatch(line) and not depth:
            if not nested:
                return content[:pos], True
            maybe_end, depth = pos, 1  # the wrapper's end, or an inner block's start
        elif _FENCE_CLOSE.fullmatch(line):
            depth -= 1
            maybe_end = maybe_end if depth else None  # an inner block, closed again
        elif _FENCE_INNER.fullmatch(line):
            depth += 1
        pos = nl + 1
    last = content[pos:]
    if final and _FENCE_CLOSE.fullmatch(last):
        return content[:pos], True
    if maybe_end is not None and depth == 1:
        return content[:maybe_end], final  # text after the wrapper's end: the trailer's
    if not final and not depth and _FENCE_CLOSE_PREFIX.fullmatch(last):
        return content[:pos], False
    return content, final


def _strip_head(t: str, src: _Source, final: bool) -> tuple[str, bool] | None:
    """Remove lead-ins, labels and an opening fence; returns the rest and the new ``final``."""
    while True:
        cut = _lead_in_end(t, src, final)
        if cut is None:
            return None
        if cut:
            t = t[cut:].lstrip()
            continue
        if not t.startswith("```") or src.fenced:
            return t, final
        nl = t.find("\n")
        if nl < 0 and not final:
            return None
        if not _FENCE_OPEN.fullmatch((t if nl < 0 else t[:nl]).rstrip()):
            return t, final
        body, closed = _fence_body("" if nl < 0 else t[nl + 1 :], final, src.has_fences)
        t, final = body.lstrip(), final or closed


def _is_trailer(line: str) -> bool:
    return bool(_rx(_TRAILER).match(line.lower()))


def _opens_trailer(line: str, src: _Source) -> bool:
    """Whether ``line`` may begin the chatter after the answer: an offer, a note, a list of
    changes, a heading ending in a colon, a rule, a remark in parentheses."""
    return _is_trailer(line) or bool(_PARENTHESIZED.fullmatch(line)) or _sets_apart(line, src)


def _sets_apart(line: str, src: _Source) -> bool:
    """A line that sets what follows apart from the answer: a heading ending in a colon
    ("Explanation of changes:"), a rule, "Alternatively, ..."; all after it goes with it."""
    if _RULE_LINE.fullmatch(line):
        return not src.rules
    text = line.strip().rstrip("*_ ")
    heading = text.endswith((":", "：")) and 0 < len(text.split()) <= _MAX_HEADING_WORDS
    return heading or bool(_rx(_SECOND_VERSION).match(line.lower()))


def _trailer_start(lines: list[str], src: _Source) -> int | None:
    """Index of the first line of the chatter that ends the reply, after some content. The
    chatter opens with a line that owns none of the user's words; then either that line
    sets the rest apart, or every line after it is chatter too."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    for position, i in enumerate(content[1:], 1):
        if not _opens_trailer(lines[i], src):
            continue
        tail, before = lines[i:], "\n".join(lines[:i])
        if src.translating:
            if position >= src.lines and all(_chatter_line(line, src, None) for line in tail):
                return i
        elif not _owns_any(src, lines[i], before) and (
            _sets_apart(lines[i], src) or all(_chatter_line(x, src, before) for x in tail)
        ):
            return i
    return None


def _chatter_line(line: str, src: _Source, before: str | None) -> bool:
    """A blank line, an item of a list, chatter by its words, or (when ``before`` is known)
    a line owning none of the user's words."""
    if not line.strip() or _opens_trailer(line, src) or _LIST_ITEM.match(line):
        return True
    return before is not None and not _owns_any(src, line, before)


def _owns_any(src: _Source, line: str, before: str) -> bool:
    """Whether ``line`` carries the user's words (half or more of its own are input words
    that ``before`` does not account for); words it quotes are citations (a list of
    changes quotes the words it corrected)."""
    return src.words.is_users(_QUOTED.sub(" ", line), before)


def _strip_tail(t: str, src: _Source, final: bool) -> str:
    """Drop the trailer; when not final, hold back whatever a later delta may still change."""
    lines = t.split("\n")
    if final:
        return "\n".join(_without_trailers(lines, src)).strip()
    last = len(lines) - 1  # the line still being written
    kept = _without_trailers(lines[:last], src)
    if len(kept) == last:
        kept = lines[:last] if last else lines
    return "\n".join(kept).rstrip()


def _without_trailers(lines: list[str], src: _Source) -> list[str]:
    """Cut trailers until none is left: chatter that only looked like the user's because
    more chatter followed it is cut too."""
    while (cut := _trailer_start(lines, src)) is not None:
        lines = lines[:cut]
    return lines


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] in _PAIRS and text[-1] in _PAIRS[text[0]]


def _unwrap(t: str, src: _Source) -> str:
    """Remove quotes around the whole of ``t`` unless the source is quoted itself."""
    if not _is_quoted(t) or src.quoted:
        return t
    inner = t[1:-1]
    for i, ch in enumerate(inner):
        if ch in _PAIRS[t[0]] or ch == t[0]:
            apostrophe = ch in "'’" and 0 < i < len(inner) - 1
            if not (apostrophe and inner[i - 1].isalpha() and inner[i + 1].isalpha()):
                return t
    return inner.strip()


def _clean(text: str, src: _Source, final: bool) -> str:
    """Steps 2-5 of the clean-up; when not final, only the part no later delta can change."""
    t = text.lstrip()
    for _ in range(3):
        start = t
        head = _strip_head(t, src, final)
        if head is None:
            return ""
        t, final = head
        if not final and t[:1] in _HOLD_CHARS:
            return ""  # a wrapped answer is decided by its last character
        t = _strip_tail(t, src, final)
        if not final:
            return t
        t = _unwrap(t, src)
        if t == start:
            break
    return t


def clean_reply(reply: str, source: str, *, translating: bool = False) -> str:
    """The reply without the chatter small models add, stripped of surrounding whitespace.
    ``translating``: the reply is in another language, so its words are not the source's."""
    src = _facts(source, translating)
    return _clean(_strip_think(to_lf(reply), src, True), src, True)


class StreamCleaner:
    """``clean_reply`` for a streamed reply, emitting cleaned text as soon as it is settled."""

    def __init__(self, source: str, *, translating: bool = False) -> None:
        self._source = source
        self._translating = translating
        self._parts: list[str] = []
        self._emitted = ""

    def feed(self, delta: str) -> str:
        """Take the next piece of the reply; return newly settled cleaned text (maybe "")."""
        self._parts.append(delta)
        src = _facts(self._source, self._translating)
        text = _strip_think(to_lf("".join(self._parts)), src, False)
        return self._advance(_clean(text, src, False))

    def finish(self) -> str:
        """Return the rest of the cleaned reply."""
        reply = "".join(self._parts)
        return self._advance(clean_reply(reply, self._source, translating=self._translating))

    def _advance(self, settled: str) -> str:
        if len(settled) <= len(self._emitted) or not settled.startswith(self._emitted):
            return ""
        new, self._emitted = settled[len(self._emitted) :], settled
        return new
