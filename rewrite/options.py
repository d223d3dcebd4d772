"""The model options Ollama knows: the kind of value each takes, and its range.

`parse_option` turns a value from the config into one the server can use, or raises
`OptionError` saying what was expected. Options Ollama does not know pass unchecked
(beyond being plain data); `close_option` names the known option a typo probably meant.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    Bound = int | float | None
    Parser = Callable[[object, Bound, Bound], object]

WHOLE = "whole"
NUMBER = "number"
FLAG = "flag"
STOP = "stop"
_INT64 = (-(2**63), 2**63 - 1)  # Ollama reads whole-number options into Go's int

# name: (kind, lowest, highest); None where any value is fine.
MODEL_OPTIONS: Mapping[str, tuple[str, Bound, Bound]] = {
    "num_ctx": (WHOLE, 1, None),
    "num_batch": (WHOLE, 1, None),
    "num_gpu": (WHOLE, None, None),
    "main_gpu": (WHOLE, 0, None),
    "num_thread": (WHOLE, 0, None),
    "num_predict": (WHOLE, -2, None),  # -1: until the model stops; -2: fill the context
    "num_keep": (WHOLE, None, None),
    "seed": (WHOLE, None, None),
    "top_k": (WHOLE, 0, None),
    "repeat_last_n": (WHOLE, -1, None),  # -1: the whole context
    "mirostat": (WHOLE, 0, 2),
    "draft_num_predict": (WHOLE, 0, None),
    "temperature": (NUMBER, 0, None),
    "top_p": (NUMBER, 0, 1),
    "min_p": (NUMBER, 0, 1),
    "typical_p": (NUMBER, 0, 1),
    "repeat_penalty": (NUMBER, 0, None),
    "presence_penalty": (NUMBER, None, None),
    "frequency_penalty": (NUMBER, None, None),
    "mirostat_tau": (NUMBER, 0, None),
    "mirostat_eta": (NUMBER, 0, None),
    "tfs_z": (NUMBER, 0, None),
    "use_mmap": (FLAG, None, None),
    "numa": (FLAG, None, None),
    "penalize_newline": (FLAG, None, None),
    "shift": (FLAG, None, None),
    "low_vram": (FLAG, None, None),
    "f16_kv": (FLAG, None, None),
    "vocab_only": (FLAG, None, None),
    "use_mlock": (FLAG, None, None),
    "stop": (STOP, None, None),
}


class OptionError(ValueError):
    """A model option's value the server could not use; the message says what was expected."""


def parse_option(name: str, value: object) -> object:
    """The value to send for option `name`: checked against its kind and range when Ollama
    knows the option (a whole float becomes an int), checked only for plain data when not."""
    spec = MODEL_OPTIONS.get(name)
    if spec is None:
        return _plain_data(value)
    kind, low, high = spec
    return _PARSERS[kind](value, low, high)


def close_option(name: str) -> str | None:
    """The known option `name` was probably meant to be, if any."""
    import difflib

    close = difflib.get_close_matches(name, list(MODEL_OPTIONS), n=1)
    return close[0] if close else None


def shown(value: object, limit: int = 40) -> str:
    """A value as an error message shows it: short, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    kinds = {dict: "a mapping", list: "a list", type(None): "nothing"}
    if type(value) in kinds:
        return kinds[type(value)]
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _whole(value: object, low: Bound, high: Bound) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"expected a whole number, got {shown(value)}")
    if not _INT64[0] <= value <= _INT64[1]:
        raise OptionError(f"expected a whole number that fits in 64 bits, got {shown(value)}")
    _check_range("a whole number", value, low, high)
    return value


def _number(value: object, low: Bound, high: Bound) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(f"expected a number, got {shown(value)}")
    if not math.isfinite(value):
        raise OptionError(f"expected a finite number, got {shown(value)}")
    _check_range("a number", value, low, high)
    return value


def _flag(value: object, low: Bound, high: Bound) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"expected true or false, got {shown(value)}")
    return value


def _stop(value: object, low: Bound, high: Bound) -> str | list[str]:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        return value
    raise OptionError(f"expected a string or a list of strings, none empty, got {shown(value)}")


def _plain_data(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        raise OptionError(f"expected a finite number, got {shown(value)}")
    if isinstance(value, (str, int, float)):  # bool is an int
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise OptionError(f"expected a number, string or list of strings, got {shown(value)}")


def _check_range(kind: str, value: float, low: Bound, high: Bound) -> None:
    if (low is None or value >= low) and (high is None or value <= high):
        return
    if low is not None and high is not None:
        wanted = f"from {low} to {high}"
    else:
        wanted = f"of at least {low}" if low is not None else f"of at most {high}"
    raise OptionError(f"expected {kind} {wanted}, got {shown(value)}")


_PARSERS: Mapping[str, Parser] = {WHOLE: _whole, NUMBER: _number, FLAG: _flag, STOP: _stop}
