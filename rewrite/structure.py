"""Does the reply keep the text's structure? Code blocks verbatim, lists as lists, its lines
and paragraphs, as the action's profile allows. Pure functions, called by the guard.

A fix keeps every line; other rewordings and translations keep the paragraphs and the list
items (a shorter one may merge them); nothing but a free action may touch a code block.
"""

from __future__ import annotations

import re
from itertools import pairwise

from .actions import Profile
from .align import tokens
from .lazy_re import LazyPattern

_CODE_BLOCK = LazyPattern(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)
_LIST_ITEM = LazyPattern(r"^[ \t]*(?:[-*•+]|\d+[.)])[ \t]+\S", re.M)
_PARAGRAPH_BREAK = LazyPattern(r"\n[ \t]*\n")
_OPENERS, _CLOSERS = "\"'“‘«„", "\"'”’»“"
_HARD_ENDS = tuple(".!?:;,)…。！？")
_QUOTED = LazyPattern(r"[\"“„«]([^\"”“»\n]+)[\"”“»]")


def structure(reply: str, source: str, profile: Profile) -> str | None:
    """Why `reply` does not keep `source`'s structure under `profile`, or None."""
    if profile.content == "free":
        return None
    return (
        _code(reply, source)
        or _wrapping_quotes(reply, source)
        or _quotes(reply, source, profile)
        or _lists(reply, source, profile)
        or _paragraphs(reply, source, profile)
        or _lines(reply, source, profile)
    )


def _code(reply: str, source: str) -> str | None:
    """Code stays as it is, unless the whole text is one fenced block: then it is prose the
    user fenced, and it is the text to rewrite."""
    text = source.strip()
    if text.startswith("```") and text.endswith("```") and text.count("```") == 2:
        return None
    for block in _CODE_BLOCK.findall(source):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        kept = [line for line in lines if line in reply]
        if len(kept) < len(lines):
            return "the reply changes the code in the text"
    return None


def _wrapping_quotes(reply: str, source: str) -> str | None:
    """Text the user put in quotes comes back in quotes."""
    text, said = source.strip(), reply.strip()
    quoted = len(text) > 1 and text[0] in _OPENERS and text[-1] in _CLOSERS
    if quoted and not (said[:1] in _OPENERS and said[-1:] in _CLOSERS):
        return "the reply drops the quotes around the text"
    return None


def _quotes(reply: str, source: str, profile: Profile) -> str | None:
    """Quoted words (a message, a title, an error) stay as they are in a rewording; a fix
    may correct them and a translation translate them."""
    if profile.content == "kept" or profile.language == "target":
        return None
    said = " ".join(tokens(reply))
    for quoted in _QUOTED.findall(source):
        words = tokens(quoted)
        if len(words) >= 2 and " ".join(words) not in said:
            return "the reply changes or drops the quoted words"
    return None


def _lists(reply: str, source: str, profile: Profile) -> str | None:
    had, has = len(_LIST_ITEM.findall(source)), len(_LIST_ITEM.findall(reply))
    if had < 2:
        return None
    if profile.length == "shorter":
        return None if has else "the reply turns the list into prose"
    if has != had:
        return f"the reply has {has} list items where the input has {had}"
    return None


def _paragraphs(reply: str, source: str, profile: Profile) -> str | None:
    had, has = _count_paragraphs(source), _count_paragraphs(reply)
    if has > had + (profile.language == "target"):
        return f"the reply has {has} paragraphs where the input has {had}"
    if has < had and profile.length != "shorter":
        return f"the reply has {has} paragraphs where the input has {had}"
    return None


def _count_paragraphs(text: str) -> int:
    return sum(1 for part in _PARAGRAPH_BREAK.split(text.strip()) if part.strip())


def _lines(reply: str, source: str, profile: Profile) -> str | None:
    """A fix keeps the lines (it may join a sentence wrapped over two); a rewording may
    split them but not join them, unless it shortens."""
    had, has = _count_lines(source), _count_lines(reply)
    fewest = had - _soft_wraps(source)
    if profile.content == "kept" and not fewest <= has <= had:
        return f"the reply has {has} lines where the input has {had}"
    if has < fewest and profile.length != "shorter" and profile.language != "target":
        return f"the reply has {has} lines where the input has {had}"
    if profile.language == "target" and has > had:
        return f"the reply has {has} lines where the input has {had}"
    if has > 2 * had + 2:
        return f"the reply has {has} lines where the input has {had}"
    return None


def _soft_wraps(text: str) -> int:
    """Line breaks inside a sentence: the line ends without punctuation, the next one goes
    on in lower case."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return sum(
        1
        for line, following in pairwise(lines)
        if not line.endswith(_HARD_ENDS) and following[:1].islower()
    )


def _count_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())
