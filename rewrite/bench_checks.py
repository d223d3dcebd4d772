"""The bench's own idea of a good rewrite: the shipped samples and the checks on a result.

Deliberately independent of the product's clean-up and guard (it imports nothing else from
the package), so that `rewrite bench` can count the guard's mistakes instead of repeating them.

A sample is a text exactly as a user would pipe it, the action to run on it, and the checks
that any acceptable result satisfies. ``failures(sample, result)`` lists, as short reasons,
every check the result fails; on top of the sample's own checks, a result that is empty or
reads like assistant talk the text did not contain (an apology, a refusal, a "Here is the
rewritten text:" lead-in, an offer of further help) always fails.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

import pycld2
import yaml

SAMPLES_FILE = "bench_samples.yaml"
ACTIONS = frozenset({"fix", "rephrase", "concise", "formal", "friendly", "simplify", "translate"})
CHECK_NAMES = frozenset(
    {
        "keep",
        "drop",
        "language",
        "question",
        "max_ratio",
        "min_ratio",
        "lines",
        "indent",
        "starts_with",
        "ends_with",
        "contains_code",
    }
)
SAMPLE_KEYS = frozenset({"id", "action", "params", "text", "checks"})
LANGUAGE_NAMES: dict[str, str] = {code: name.title() for name, code in pycld2.LANGUAGES}
MIN_LETTERS = 20  # below this, the language of a text is not judged

T = TypeVar("T")


@dataclass(frozen=True)
class Checks:
    """What any acceptable result of a sample satisfies; None or () means "not checked"."""

    keep: tuple[str, ...] = ()  # whole words/phrases it contains (any case, curly or straight ')
    drop: tuple[str, ...] = ()  # phrases it does not contain (any case)
    language: str | None = None  # its CLD2 language, when it has enough letters to tell
    question: bool | None = None  # True: ends with ? (still a question); False: does not
    max_ratio: float | None = None  # its length / the text's, both without their frame
    min_ratio: float | None = None
    lines: str | None = None  # "same": as many non-empty lines as the text
    indent: str | None = None  # "same": the same leading whitespace as the text
    starts_with: str | None = None  # its start, trimmed, any case
    ends_with: str | None = None  # its raw end (the frame: "\n", "\r\n", a quote)
    contains_code: tuple[str, ...] = ()  # verbatim substrings (code lines)

    def names(self) -> frozenset[str]:
        """The names of the checks this sample sets."""
        return frozenset(name for name in CHECK_NAMES if getattr(self, name) not in (None, ()))


@dataclass(frozen=True)
class Sample:
    id: str
    action: str
    params: Mapping[str, str]
    text: str
    checks: Checks


# ------------------------------------------------------------------------------ loading


def load_samples(path: str | None = None) -> list[Sample]:
    """The samples in a YAML file (default: the shipped set), validated."""
    source = Path(path).read_text(encoding="utf-8") if path else _shipped_samples()
    raw = yaml.safe_load(source)
    if not isinstance(raw, list):
        raise ValueError(f"{path or SAMPLES_FILE}: expected a list of samples")
    samples = [_parse_sample(entry, index) for index, entry in enumerate(raw)]
    seen: set[str] = set()
    for sample in samples:
        if sample.id in seen:
            raise ValueError(f"sample {sample.id}: the id is used twice")
        seen.add(sample.id)
    return samples


def _shipped_samples() -> str:
    if __package__:
        return resources.files(__package__).joinpath(SAMPLES_FILE).read_text(encoding="utf-8")
    return Path(__file__).with_name(SAMPLES_FILE).read_text(encoding="utf-8")


def _parse_sample(entry: object, index: int) -> Sample:
    if not isinstance(entry, dict):
        raise ValueError(f"sample #{index + 1}: expected a mapping")
    sample_id = entry.get("id")
    if not isinstance(sample_id, str) or not sample_id:
        raise ValueError(f"sample #{index + 1}: 'id' must be a non-empty string")
    unknown = sorted(set(map(str, entry)) - SAMPLE_KEYS)
    if unknown:
        raise ValueError(f"sample {sample_id}: unknown key '{unknown[0]}'")
    action = entry.get("action")
    if action not in ACTIONS:
        raise ValueError(f"sample {sample_id}: unknown action {action!r}")
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"sample {sample_id}: 'text' must be a non-empty string")
    params = _parse_params(sample_id, action, entry.get("params", {}))
    return Sample(sample_id, action, params, text, _parse_checks(sample_id, entry.get("checks")))


def _parse_params(sample_id: str, action: str, raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(f"sample {sample_id}: 'params' must map names to strings")
    allowed = {"to"} if action == "translate" else set()
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"sample {sample_id}: action {action} takes no parameter '{unknown[0]}'")
    return dict(raw)


def _parse_checks(sample_id: str, raw: object) -> Checks:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"sample {sample_id}: 'checks' must be a non-empty mapping")
    unknown = sorted(set(map(str, raw)) - CHECK_NAMES)
    if unknown:
        raise ValueError(f"sample {sample_id}: unknown check '{unknown[0]}'")
    return Checks(
        keep=_strings(sample_id, raw, "keep"),
        drop=_strings(sample_id, raw, "drop"),
        language=_language(sample_id, raw.get("language")),
        question=_optional(sample_id, raw, "question", bool, "true or false"),
        max_ratio=_ratio(sample_id, raw, "max_ratio"),
        min_ratio=_ratio(sample_id, raw, "min_ratio"),
        lines=_same(sample_id, raw, "lines"),
        indent=_same(sample_id, raw, "indent"),
        starts_with=_optional(sample_id, raw, "starts_with", str, "a non-empty string"),
        ends_with=_optional(sample_id, raw, "ends_with", str, "a non-empty string"),
        contains_code=_strings(sample_id, raw, "contains_code"),
    )


def _strings(sample_id: str, raw: dict[object, object], name: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(
            f"sample {sample_id}: check '{name}' must be a list of non-empty strings "
            "(quote numbers and yes/no)"
        )
    return tuple(value)


def _optional(
    sample_id: str, raw: dict[object, object], name: str, kind: type[T], expected: str
) -> T | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or value == "":
        raise ValueError(f"sample {sample_id}: check '{name}' must be {expected}")
    return value


def _ratio(sample_id: str, raw: dict[object, object], name: str) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"sample {sample_id}: check '{name}' must be a positive number")
    return float(value)


def _same(sample_id: str, raw: dict[object, object], name: str) -> str | None:
    value = raw.get(name)
    if value not in (None, "same"):
        raise ValueError(f"sample {sample_id}: check '{name}' must be 'same'")
    return None if value is None else "same"


def _language(sample_id: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in LANGUAGE_NAMES:
        raise ValueError(
            f"sample {sample_id}: check 'language' must be an ISO 639-1 code, not {value!r}"
        )
    return value


# ------------------------------------------------------------------------------ checking


GOOD, MISSED, GARBAGE = "good", "missed", "garbage"


def verdict(sample: Sample, result: str) -> tuple[str, list[str]]:
    """GOOD; MISSED when every failure is a correction left undone (the user's own typo
    still there, as they wrote it: the text is no worse); else GARBAGE. With the reasons."""
    reasons = failures(sample, result)
    if not reasons:
        return GOOD, []
    missed = set(_missed_corrections(sample, result))
    return (MISSED if set(reasons) <= missed else GARBAGE), reasons


def _missed_corrections(sample: Sample, result: str) -> list[str]:
    """The failures that only say a correction was not made."""
    missed = [
        f"still contains '{phrase}'"
        for phrase in sample.checks.drop
        if fold(phrase) in fold(result) and fold(phrase) in fold(sample.text)
    ]
    if sample.checks.question and _same_words(sample.text, result):
        missed.append("no longer a question (answered instead of rewritten?)")  # never was one
    for phrase in sample.checks.keep:
        if contains_phrase(sample.text, phrase):
            continue  # the text had it right: losing it loses content
        misspelled = _close_words(phrase, sample.text)
        if any(contains_phrase(result, word) for word in misspelled):
            missed.append(f"misses '{phrase}'")
    return missed


def _same_words(text: str, result: str) -> bool:
    """Whether the result is the text with no word changed (case and punctuation aside)."""
    return re.findall(r"\w+", fold(text)) == re.findall(r"\w+", fold(result))


def _close_words(phrase: str, text: str) -> list[str]:
    """Words of the text that look like `phrase` misspelled."""
    from difflib import get_close_matches

    words = re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)*", text)
    return get_close_matches(phrase, words, n=3, cutoff=0.7) + get_close_matches(
        phrase.lower(), [word.lower() for word in words], n=3, cutoff=0.7
    )


def failures(sample: Sample, result: str) -> list[str]:
    """Every check the result fails, as short reasons; an empty list means a good result."""
    if not result.strip():
        return ["empty result"]
    reasons = assistant_talk(sample.text, result)
    for check in _CHECKS:
        reasons.extend(check(sample.checks, sample.text, result))
    return reasons


_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"'})


def _fold_chars(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()


def fold(text: str) -> str:
    """Case, Unicode width and curly quotes folded, runs of whitespace made one space."""
    return " ".join(_fold_chars(text).split())


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the text holds the phrase as whole words (case-insensitive)."""
    pattern = r"(?<!\w)" + re.escape(fold(phrase)).replace(r"\ ", r"\s+") + r"(?!\w)"
    return re.search(pattern, fold(text)) is not None


def _check_keep(checks: Checks, text: str, result: str) -> list[str]:
    return [f"misses '{phrase}'" for phrase in checks.keep if not contains_phrase(result, phrase)]


def _check_drop(checks: Checks, text: str, result: str) -> list[str]:
    return [f"still contains '{phrase}'" for phrase in checks.drop if fold(phrase) in fold(result)]


def _check_language(checks: Checks, text: str, result: str) -> list[str]:
    found = detect_language(result)
    if checks.language is None or found is None or _base(found) == _base(checks.language):
        return []
    return [f"not in {language_name(checks.language)} (looks {language_name(found)})"]


def _base(code: str) -> str:
    return code.split("-")[0]


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`|\bhttps?://\S+", re.DOTALL)


def detect_language(text: str) -> str | None:
    """CLD2's language code for the text, or None when it has too few letters or CLD2 is unsure.

    Code (fenced blocks, inline code) and URLs are left out: they would read as English.
    """
    prose = _CODE.sub(" ", text)
    prose = "".join(c if c.isprintable() or c in "\n\t" else " " for c in prose)
    if sum(unicodedata.category(c).startswith("L") for c in prose) < MIN_LETTERS:
        return None
    try:
        reliable, _, details = pycld2.detect(prose, bestEffort=True)
    except (pycld2.error, UnicodeError):
        return None
    code = str(details[0][1])
    return code if reliable and code != "un" else None


_CLOSERS = "\"'”’»)]*_ \t\r\n"


def _asks(result: str) -> bool:
    return result.strip().rstrip(_CLOSERS).endswith(("?", "？"))


def _check_question(checks: Checks, text: str, result: str) -> list[str]:
    if checks.question is True and not _asks(result):
        return ["no longer a question (answered instead of rewritten?)"]
    if checks.question is False and _asks(result):
        return ["turned into a question"]
    return []


def _check_ratio(checks: Checks, text: str, result: str) -> list[str]:
    ratio = len(result.strip()) / len(text.strip())
    if checks.max_ratio is not None and ratio > checks.max_ratio:
        return [f"too long ({ratio:.2f}× the text, at most {checks.max_ratio:g}×)"]
    if checks.min_ratio is not None and ratio < checks.min_ratio:
        return [f"too short ({ratio:.2f}× the text, at least {checks.min_ratio:g}×)"]
    return []


def _line_count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def _check_lines(checks: Checks, text: str, result: str) -> list[str]:
    want, got = _line_count(text), _line_count(result)
    if checks.lines is None or want == got:
        return []
    return [f"has {got} non-empty lines, the text has {want}"]


def _indentation(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def _check_indent(checks: Checks, text: str, result: str) -> list[str]:
    if checks.indent is None or _indentation(result) == _indentation(text):
        return []
    return [f"leading whitespace {_indentation(result)!r}, the text has {_indentation(text)!r}"]


def _check_ends(checks: Checks, text: str, result: str) -> list[str]:
    reasons = []
    start = checks.starts_with
    if start is not None and not fold(result).startswith(fold(start)):
        reasons.append(f"does not start with '{start}'")
    if checks.ends_with is not None and not result.endswith(checks.ends_with):
        reasons.append(f"does not end with {checks.ends_with!r}")
    return reasons


def _check_code(checks: Checks, text: str, result: str) -> list[str]:
    return [f"code changed: misses '{code}'" for code in checks.contains_code if code not in result]


_CHECKS: tuple[Callable[[Checks, str, str], list[str]], ...] = (
    _check_keep,
    _check_drop,
    _check_language,
    _check_question,
    _check_ratio,
    _check_lines,
    _check_indent,
    _check_ends,
    _check_code,
)

# ------------------------------------------------------------------------------ assistant talk

_CANT = r"i(?: can'?t| cannot| can not|'?m unable to| am unable to|'?m not able to| am not able to)"
_AFFIRM = r"(?:sure|certainly|of course|absolutely)"
_HERE = r"here(?: is|'?s| are)"
_DONE = (
    r"(?:rewritten|corrected|revised|translated|translation|rephrased|simplified|shortened"
    r"|polished|improved|edited|proofread|concise|formal|friendly|simpler|shorter)"
)

# What it is, the pattern in the result (^: at its start), the pattern in the text that excuses
# it. Short and obvious on purpose: a safety net under the sample's checks, not the guard.
TALK: tuple[tuple[str, str, str], ...] = (
    ("an apology", r"^(?:i'?m|i am) sorry\b", r"\bsorry\b"),
    (
        "a refusal",
        rf"\b{_CANT} (?:assist|comply|fulfill?|help with (?:that|this|your request|such))\b",
        r"\b(?:can'?t|cannot|can not|unable to|not able to) (?:assist|comply|fulfill?|help)\b",
    ),
    ("'As an AI'", r"\bas an ai\b", r"\bas an ai\b"),
    ("a lead-in", rf"^{_AFFIRM}\W{{0,3}}(?:{_HERE}\b|i(?:'d| would) be (?:happy|glad)\b)", _AFFIRM),
    (
        "a lead-in",
        rf"^{_HERE}\b[^\n]{{0,40}}\b(?:text|version|rewrite|sentence|paragraph)\b[^\n]*:",
        rf"\b{_HERE}\b",
    ),
    (
        "a lead-in",
        rf"^(?:{_AFFIRM}\W{{0,3}})?{_HERE} (?:the|your|a|an) (?:\w+ )?{_DONE}\b",
        rf"\b{_HERE}\b",
    ),
    (
        "a lead-in",
        rf"^(?:the )?{_DONE} (?:text|version|sentence|message)\s*:",
        rf"\b{_DONE} (?:text|version|sentence|message)\s*:",
    ),
    (
        "a request for the text",
        r"^(?:could|can|would) you (?:please )?(?:provide|share|paste|clarify|specify)\b"
        r"[^\n]{0,40}\b(?:text|sentence|passage|context|what you)\b",
        r"\b(?:provide|share|paste|clarify|specify)\b",
    ),
    (
        "an offer of further help",
        r"\blet me know if\b[^\n.!?]{0,40}(?:anything else|further|other changes|any changes"
        r"|adjust|modif|assist)",
        r"\b(?:let me know|tell me)\b",
    ),
    (
        "an offer of further help",
        r"\bi hope (?:this|that) helps\b",
        r"\bhope (?:this|that) helps\b",
    ),
    ("leaked reasoning", r"<think>", r"<think>"),
)


def assistant_talk(text: str, result: str) -> list[str]:
    """Reasons the result reads like an assistant's reply that the text itself did not contain."""
    start = _fold_chars(result).lstrip("\"'*#> \t\r\n")
    folded_text = _fold_chars(text)
    reasons: list[str] = []
    for what, pattern, excuse in TALK:
        if re.search(pattern, start) and not re.search(excuse, folded_text):
            reason = f"reads like assistant talk ({what})"
            if reason not in reasons:
                reasons.append(reason)
    return reasons
