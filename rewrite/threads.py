"""Blocking work on several servers at once: one thread each, all waited for."""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import TypeVar

    T = TypeVar("T")


def each_at_once(work: Callable[[T], object], items: Iterable[T]) -> None:
    """Run `work` on every item, each in a daemon thread of its own; return when all end."""
    threads = [threading.Thread(target=work, args=(item,), daemon=True) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
