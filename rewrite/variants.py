"""Ways to ask the same rewrite, for `rewrite bench` to compare: the shipped prompt, fewer
examples, a terse system prompt, and structured output (the answer as a JSON object whose
schema the server enforces, so no chatter can stand around the text).

    variant = VARIANTS["json"]
    messages = variant.messages(action, text, params)
    variant.format           # the JSON schema to send, or None

A structured answer is read back with `JsonText`, which pulls the text out of the JSON as
it streams.
"""

from __future__ import annotations

import json

from .actions import Action, Message, build_messages
from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT = "plain"
TEXT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}
_JSON_RULE = (
    '\n- Answer with a JSON object {"text": "..."} whose text is the rewritten text, '
    "and nothing else."
)


class Variant(Record):
    """One way of asking. `examples`: how many of the action's example turns to send (None:
    all); `terse`: a one-line system prompt instead of the rules; `structured`: answer as
    JSON under TEXT_SCHEMA."""

    __slots__ = ("description", "examples", "name", "structured", "terse")

    def __init__(
        self,
        name: str,
        description: str,
        examples: int | None = None,
        terse: bool = False,
        structured: bool = False,
    ) -> None:
        self.name = name
        self.description = description
        self.examples = examples
        self.terse = terse
        self.structured = structured

    @property
    def format(self) -> Mapping[str, Any] | None:
        return TEXT_SCHEMA if self.structured else None

    def messages(self, action: Action, text: str, params: Mapping[str, str]) -> list[Message]:
        """The messages this variant sends; the shipped prompt, changed as it says."""
        examples = action.examples if self.examples is None else action.examples[: self.examples]
        messages = build_messages(action.replace(examples=examples), text, params)
        system = messages[0]["content"]
        if self.terse:
            system = system.split("\n\n", 1)[0] + " Reply with the rewritten text only."
        if self.structured:
            system += _JSON_RULE
            messages[1:] = [_as_json(m) if m["role"] == "assistant" else m for m in messages[1:]]
        return [{"role": "system", "content": system}, *messages[1:]]


def _as_json(message: Message) -> Message:
    return {"role": "assistant", "content": json.dumps({"text": message["content"]})}


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant("plain", "the shipped prompt: instructions, rules, every example"),
        Variant(
            "json", "the shipped prompt, answered as JSON the server enforces", structured=True
        ),
        Variant("one-shot", "the shipped prompt with one example", examples=1),
        Variant("zero-shot", "the shipped prompt without examples", examples=0),
        Variant("terse", "one line of instructions, every example", terse=True),
    )
}


class JsonText:
    """The value of "text" in a JSON object that arrives piece by piece: `feed` returns the
    newly decoded characters; `text` is all of them, None when the reply was no such JSON."""

    def __init__(self) -> None:
        self._raw = ""
        self._emitted = 0

    def feed(self, piece: str) -> str:
        self._raw += piece
        decoded = _partial_text(self._raw)
        new, self._emitted = decoded[self._emitted :], max(self._emitted, len(decoded))
        return new

    @property
    def raw(self) -> str:
        return self._raw

    def text(self) -> str | None:
        try:
            value = json.loads(self._raw)
        except (ValueError, RecursionError):
            return None
        found = value.get("text") if isinstance(value, dict) else None
        return found if isinstance(found, str) else None


def _partial_text(raw: str) -> str:
    """The characters of the "text" string decoded so far (escapes only once complete)."""
    start = raw.find('"text"')
    colon = raw.find(":", start + 6) if start >= 0 else -1
    quote = raw.find('"', colon + 1) if colon >= 0 else -1
    if quote < 0 or raw[colon + 1 : quote].strip():
        return ""
    out: list[str] = []
    position = quote + 1
    while position < len(raw):
        char = raw[position]
        if char == '"':
            break
        if char != "\\":
            out.append(char)
            position += 1
            continue
        escape = raw[position : position + (12 if raw[position + 1 : position + 2] == "u" else 2)]
        decoded = _unescape(escape)
        if decoded is None:
            break  # not complete yet
        out.append(decoded[0])
        position += decoded[1]
    return "".join(out)


def _unescape(escape: str) -> tuple[str, int] | None:
    """One JSON escape at the start of `escape`: its character and its length; None while
    it is incomplete (or is no JSON escape: the reply is then read whole at the end)."""
    simple = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
    if len(escape) < 2:
        return None
    if escape[1] in simple:
        return simple[escape[1]], 2
    high = _hex(escape[2:6])
    if high is None:
        return None
    if not 0xD800 <= high < 0xDC00:
        return chr(high), 6
    low = _hex(escape[8:12]) if escape[6:8] == "\\u" else None  # both halves of a pair
    if low is None:
        return None
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)), 12


def _hex(digits: str) -> int | None:
    if len(digits) != 4:
        return None
    try:
        return int(digits, 16)
    except ValueError:
        return None
