"""Small value records without the dataclasses module.

`dataclasses` imports `inspect` (and with it ast, dis and tokenize), which costs the
command line about 20 ms of start-up; these records need only equality, a readable repr,
a copy with changes, and a plain-dict view. Each subclass names its fields in `__slots__`
and takes each of them as a keyword of its `__init__`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self


class Record:
    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Record)
            and type(other) is type(self)
            and self._values() == other._values()
        )

    __hash__ = None  # type: ignore[assignment]  # fields may be dicts: records are not keys

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: Any) -> Self:
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return type(self)(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            name: value.as_dict() if isinstance(value, Record) else value
            for name, value in zip(self.__slots__, self._values(), strict=True)
        }
