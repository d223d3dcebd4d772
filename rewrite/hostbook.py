"""What every rewrite process knows of the hosts: one small record they share.

CLI runs, the shell and the language server keep it together in `hosts.sqlite3` in the
cache directory, so that a host one run found down is skipped by the next without a
connect timeout, requests in flight are counted across processes, and which host has a
model loaded (or lacks it) and how fast each host starts answering are known to all.

Everything in it is a hint: it lives without fsync, and a file that cannot be opened is
replaced by a record of this process alone. Times are wall-clock seconds (shared between
processes).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

FIRST_COOLDOWN = 2.0  # seconds a host is skipped after its first failure; doubled after each
LONGEST_COOLDOWN = 60.0
LOADED_SECONDS = 300.0  # how long "the model is loaded there" is believed without news
MISSING_SECONDS = 600.0  # how long a host's 404 for a model keeps it out of that model's way
STALE_FLIGHT_SECONDS = 600.0  # a flight older than this ended without saying so
FIRST_TOKENS_KEPT = 50  # recent first-token times per host
PLACEMENTS_KEPT = 100  # the last requests placed, of which each host's share is known

_SCHEMA = """
CREATE TABLE IF NOT EXISTS health (
    url TEXT PRIMARY KEY, down_until REAL NOT NULL, failures INTEGER NOT NULL,
    last_error TEXT NOT NULL, changed REAL NOT NULL);
CREATE TABLE IF NOT EXISTS flights (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, pid INTEGER NOT NULL, started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    url TEXT NOT NULL, model TEXT NOT NULL, state TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (url, model));
CREATE TABLE IF NOT EXISTS first_tokens (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, ms REAL NOT NULL);
CREATE TABLE IF NOT EXISTS placements (id INTEGER PRIMARY KEY, url TEXT NOT NULL);
"""
LOADED, MISSING = "loaded", "missing"


class HostView(Record):
    """One host as the record knows it now."""

    __slots__ = (
        "down_until",
        "failures",
        "first_tokens",
        "in_flight",
        "last_error",
        "loaded",
        "missing",
        "recent",
        "url",
    )

    def __init__(
        self,
        url: str,
        down_until: float = 0.0,
        failures: int = 0,
        last_error: str = "",
        in_flight: int = 0,
        loaded: frozenset[str] = frozenset(),
        missing: frozenset[str] = frozenset(),
        first_tokens: tuple[float, ...] = (),
        recent: int = 0,
    ) -> None:
        self.url = url
        self.down_until = down_until
        self.failures = failures
        self.last_error = last_error
        self.in_flight = in_flight
        self.loaded = loaded  # models known to be in its memory (lower case)
        self.missing = missing  # models it answered 404 for (lower case)
        self.first_tokens = first_tokens  # recent times to the first token, ms, oldest first
        self.recent = recent  # how many of the last PLACEMENTS_KEPT requests went to it

    def is_down(self, now: float | None = None) -> bool:
        return self.down_until > (time.time() if now is None else now)

    def first_token_ms(self, share: float) -> float | None:
        """The recent first-token time below which `share` (0.5: the median) of them fall."""
        if not self.first_tokens:
            return None
        ordered = sorted(self.first_tokens)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class HostBook:
    """The shared record; every method is safe from any thread and never raises."""

    def __init__(self, folder: str | None) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._db = _open(folder)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def views(self, urls: Sequence[str]) -> dict[str, HostView]:
        """What is known of each of `urls` now."""
        with self._lock:
            try:
                with self._db:
                    return self._views(urls)
            except sqlite3.Error:
                return {url: HostView(url) for url in urls}

    def place(
        self, urls: Sequence[str], choose: Callable[[dict[str, HostView]], list[str]]
    ) -> tuple[list[str], int]:
        """In one step no other process can split: read the views of `urls`, let `choose`
        order them, and record a request to the first. The order, and the flight to end."""
        now = time.time()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")  # writers wait: no two pick on one view
                try:
                    ordered = choose(self._views(urls))
                    flight = 0
                    if ordered:
                        self._db.execute(
                            "DELETE FROM flights WHERE started < ?", (now - STALE_FLIGHT_SECONDS,)
                        )
                        placed = (
                            self._db.execute(
                                "INSERT INTO placements (url) VALUES (?)", (ordered[0],)
                            ).lastrowid
                            or 0
                        )
                        self._db.execute(
                            "DELETE FROM placements WHERE id <= ?", (placed - PLACEMENTS_KEPT,)
                        )
                        flight = (
                            self._db.execute(
                                "INSERT INTO flights (url, pid, started) VALUES (?, ?, ?)",
                                (ordered[0], self._pid, now),
                            ).lastrowid
                            or 0
                        )
                    self._db.execute("COMMIT")
                    return ordered, flight
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error:
                return choose({url: HostView(url) for url in urls}), 0

    def _views(self, urls: Sequence[str]) -> dict[str, HostView]:
        now = time.time()
        found = {url: _Gathered() for url in urls}
        execute = self._db.execute
        for url, down_until, failures, error in execute(
            "SELECT url, down_until, failures, last_error FROM health"
        ):
            if url in found:
                found[url].health = (down_until, failures, error)
        alive = _Alive(self._pid)
        for url, pid in execute(
            "SELECT url, pid FROM flights WHERE started > ?", (now - STALE_FLIGHT_SECONDS,)
        ):
            if url in found and alive(pid):
                found[url].in_flight += 1
        for url, model, state, seen in execute("SELECT url, model, state, seen FROM models"):
            lasts = LOADED_SECONDS if state == LOADED else MISSING_SECONDS
            if url in found and seen > now - lasts:
                (found[url].loaded if state == LOADED else found[url].missing).add(model)
        for url, ms in execute("SELECT url, ms FROM first_tokens ORDER BY id"):
            if url in found:
                found[url].first_tokens.append(ms)
        for url, count in execute("SELECT url, count(*) FROM placements GROUP BY url"):
            if url in found:
                found[url].recent = count
        return {url: gathered.view(url) for url, gathered in found.items()}

    # ------------------------------------------------------------------ requests

    def begin(self, url: str) -> int:
        """A request to `url` starts; the number to end it with."""
        return self.place([url], lambda views: [url])[1]

    def end(self, flight: int) -> None:
        self._write([("DELETE FROM flights WHERE id = ?", (flight,))])

    def answered(self, url: str, model: str, first_token_ms: float | None) -> None:
        """`url` answered for `model`: it is up, and the model is loaded there now."""
        statements: list[tuple[str, tuple[object, ...]]] = [
            ("DELETE FROM health WHERE url = ?", (url,)),
            (
                "INSERT OR REPLACE INTO models (url, model, state, seen) VALUES (?, ?, ?, ?)",
                (url, model.lower(), LOADED, time.time()),
            ),
        ]
        if first_token_ms is not None:
            statements += [
                ("INSERT INTO first_tokens (url, ms) VALUES (?, ?)", (url, first_token_ms)),
                (
                    "DELETE FROM first_tokens WHERE url = ? AND id NOT IN (SELECT id FROM "
                    "first_tokens WHERE url = ? ORDER BY id DESC LIMIT ?)",
                    (url, url, FIRST_TOKENS_KEPT),
                ),
            ]
        self._write(statements)

    def failed(self, url: str, error: str) -> float:
        """`url` refused, timed out or failed: skip it for a cooldown that doubles with each
        failure in a row. Requests that fail while it is down already (they were under way)
        count as the same failure. Returns the time it is down until."""
        now = time.time()
        with self._lock:
            try:
                with self._db:
                    row = self._db.execute(
                        "SELECT failures, down_until FROM health WHERE url = ?", (url,)
                    ).fetchone()
                    if row and row[1] > now:
                        return float(row[1])
                    failures = int(row[0] if row else 0) + 1
                    cooldown = min(LONGEST_COOLDOWN, FIRST_COOLDOWN * 2.0 ** min(failures - 1, 16))
                    self._db.execute(
                        "INSERT OR REPLACE INTO health VALUES (?, ?, ?, ?, ?)",
                        (url, now + cooldown, failures, error[:300], now),
                    )
                    return now + cooldown
            except sqlite3.Error:
                return now

    def recovered(self, url: str) -> None:
        """`url` answers again (a probe found it up)."""
        self._write([("DELETE FROM health WHERE url = ?", (url,))])

    def lacks(self, url: str, model: str) -> None:
        """`url` answered 404 for `model`: other models still go there."""
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO models (url, model, state, seen) VALUES (?, ?, ?, ?)",
                    (url, model.lower(), MISSING, time.time()),
                )
            ]
        )

    def has_loaded(self, url: str, models: Iterable[str]) -> None:
        """What `url` has in memory now (Ollama's /api/ps): the rest is not loaded there."""
        now = time.time()
        statements: list[tuple[str, tuple[object, ...]]] = [
            ("DELETE FROM models WHERE url = ? AND state = ?", (url, LOADED))
        ]
        statements += [
            (
                "INSERT OR REPLACE INTO models (url, model, state, seen) VALUES (?, ?, ?, ?)",
                (url, model.lower(), LOADED, now),
            )
            for model in models
        ]
        self._write(statements)

    # ------------------------------------------------------------------ sqlite

    def _write(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        with self._lock:
            try:
                with self._db:
                    for sql, args in statements:
                        self._db.execute(sql, args)
            except sqlite3.Error:
                pass


class NullBook(HostBook):
    """The record of a single host: there is no other to choose, so nothing to remember."""

    def __init__(self) -> None:
        pass

    def close(self) -> None:
        pass

    def views(self, urls: Sequence[str]) -> dict[str, HostView]:
        return {url: HostView(url) for url in urls}

    def place(
        self, urls: Sequence[str], choose: Callable[[dict[str, HostView]], list[str]]
    ) -> tuple[list[str], int]:
        return choose({url: HostView(url) for url in urls}), 0

    def begin(self, url: str) -> int:
        return 0

    def end(self, flight: int) -> None:
        pass

    def answered(self, url: str, model: str, first_token_ms: float | None) -> None:
        pass

    def failed(self, url: str, error: str) -> float:
        return 0.0

    def recovered(self, url: str) -> None:
        pass

    def lacks(self, url: str, model: str) -> None:
        pass

    def has_loaded(self, url: str, models: Iterable[str]) -> None:
        pass


class _Gathered:
    def __init__(self) -> None:
        self.health: tuple[float, int, str] = (0.0, 0, "")
        self.in_flight = 0
        self.loaded: set[str] = set()
        self.missing: set[str] = set()
        self.first_tokens: list[float] = []
        self.recent = 0

    def view(self, url: str) -> HostView:
        down_until, failures, error = self.health
        return HostView(
            url,
            down_until,
            failures,
            error,
            self.in_flight,
            frozenset(self.loaded),
            frozenset(self.missing),
            tuple(self.first_tokens),
            self.recent,
        )


class _Alive:
    """Whether a process that recorded a flight still runs (asked once per pid)."""

    def __init__(self, own: int) -> None:
        self._known = {own: True}

    def __call__(self, pid: int) -> bool:
        if pid not in self._known:
            try:
                os.kill(pid, 0)
                self._known[pid] = True
            except ProcessLookupError:
                self._known[pid] = False
            except OSError:  # it exists, under another user
                self._known[pid] = True
        return self._known[pid]


def _open(folder: str | None) -> sqlite3.Connection:
    """The shared file, or a record of this process alone when it cannot be used."""
    if folder is not None:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            return _prepared(os.path.join(folder, "hosts.sqlite3"))
        except (OSError, sqlite3.Error):
            pass
    return _prepared(":memory:")


def _prepared(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=2.0, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # hints only: losing the last write is harmless
        db.executescript(_SCHEMA)
        db.isolation_level = "DEFERRED"  # transactions again, one per `with db:`
    except sqlite3.Error:
        db.close()
        raise
    return db
