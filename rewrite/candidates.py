"""Several different rewrites of one text, to choose from.

Each candidate is its own request with a seed of its own, sampled (`RewriteRequest.candidate`:
never from the cache), all at once; each is cleaned and guarded like any rewrite. Identical
results are merged, and so is a result identical to the text itself. Refused candidates are
left out; only when every one fails is the first failure raised.
"""

from __future__ import annotations

from .results import RewriteRequest, RewriteResult
from .settings import MOST_CANDIDATES
from .threads import each_at_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .engine import Engine


def candidates(
    engine: Engine, request: RewriteRequest, count: int, first: int = 1
) -> list[RewriteResult]:
    """Up to `count` distinct rewrites of `request`, seeds `first`, `first` + 1, ..."""
    count = max(1, min(count, MOST_CANDIDATES))
    found: list[RewriteResult | None] = [None] * count
    errors: list[BaseException] = []

    def ask(place: int) -> None:
        try:
            found[place] = engine.rewrite(request.replace(candidate=first + place))
        except Exception as error:
            errors.append(error)

    each_at_once(ask, range(count))
    distinct: list[RewriteResult] = []
    for result in found:
        if result is not None and result.text not in {request.text, *(d.text for d in distinct)}:
            distinct.append(result)
    if not distinct and errors:
        raise errors[0]
    return distinct
