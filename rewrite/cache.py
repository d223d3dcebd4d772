"""Rewrites remembered: a small LRU in memory, and an sqlite3 file shared by every process.

The file (`$XDG_CACHE_HOME/rewrite/cache.sqlite3`, mode 0600 in a 0700 folder, WAL mode so
readers never wait for writers) also remembers what each server said about each model
(capabilities and digest), so a cache hit needs no request at all.

The cache never fails a rewrite. A corrupt file is moved aside and started anew; a folder
that cannot be written turns the disk part off; each says so once, through `warn`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict

from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

FILE_NAME = "cache.sqlite3"
MEMORY_ENTRIES = 512
MODEL_INFO_SECONDS = 24 * 3600  # how long a server's word on a model's capabilities holds

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rewrites (
    key TEXT PRIMARY KEY, text TEXT NOT NULL, model TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    key TEXT PRIMARY KEY, capabilities TEXT NOT NULL, digest TEXT NOT NULL, checked REAL NOT NULL);
"""


class ModelInfo(Record):
    """What a server said about a model: its capabilities ("completion", "thinking", ...)
    and its digest (empty when unknown)."""

    __slots__ = ("capabilities", "digest")

    def __init__(self, capabilities: tuple[str, ...], digest: str = "") -> None:
        self.capabilities = capabilities
        self.digest = digest


class CacheStats(Record):
    __slots__ = ("entries", "max_entries", "models", "path", "size_bytes")

    def __init__(
        self, path: str, entries: int, size_bytes: int, max_entries: int, models: dict[str, int]
    ) -> None:
        self.path = path
        self.entries = entries
        self.size_bytes = size_bytes
        self.max_entries = max_entries
        self.models = models


class Cache:
    def __init__(
        self,
        folder: str,
        *,
        max_entries: int,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = os.path.join(folder, FILE_NAME)
        self.max_entries = max_entries
        self._warn = warn or (lambda message: None)
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._disk_off = False

    # -------------------------------------------------------------------- rewrites

    def get(self, key: str) -> str | None:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
            row = self._query("SELECT text FROM rewrites WHERE key = ?", (key,))
            if row is None or not isinstance(row[0], str):  # another writer's odd row: a miss
                return None
            self._remember(key, row[0])
            return row[0]

    def put(self, key: str, text: str, model: str) -> None:
        with self._lock:
            self._remember(key, text)
            self._write(
                "INSERT OR REPLACE INTO rewrites (key, text, model, created) VALUES (?, ?, ?, ?)",
                (key, text, model, time.time()),
            )
            # rowids only grow, so this keeps at most max_entries rows, dropping the oldest
            self._write(
                "DELETE FROM rewrites WHERE rowid <= (SELECT max(rowid) FROM rewrites) - ?",
                (self.max_entries,),
            )

    def clear(self) -> int:
        with self._lock:
            self._memory.clear()
            row = self._query("SELECT count(*) FROM rewrites", ())
            self._write("DELETE FROM rewrites", ())
            self._write("DELETE FROM models", ())
            return int(row[0]) if row else 0

    def stats(self) -> CacheStats:
        with self._lock:
            db = self._connection()
            models: dict[str, int] = {}
            if db is not None:
                rows = self._guarded(
                    lambda: db.execute(
                        "SELECT model, count(*) FROM rewrites GROUP BY model"
                    ).fetchall()
                )
                models = {str(model): int(count) for model, count in rows or ()}
            size = sum(
                os.path.getsize(self.path + suffix)
                for suffix in ("", "-wal", "-shm")
                if os.path.exists(self.path + suffix)
            )
            return CacheStats(self.path, sum(models.values()), size, self.max_entries, models)

    def _remember(self, key: str, text: str) -> None:
        self._memory[key] = text
        self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)

    # ------------------------------------------------------------ model information

    def model_info(self, key: str) -> ModelInfo | None:
        with self._lock:
            row = self._query(
                "SELECT capabilities, digest, checked FROM models WHERE key = ?", (key,)
            )
        if (
            row is None
            or not all(isinstance(value, str) for value in row[:2])
            or not isinstance(row[2], (int, float))
            or time.time() - row[2] > MODEL_INFO_SECONDS
        ):
            return None
        return ModelInfo(tuple(c for c in row[0].split(",") if c), row[1])

    def remember_model(self, key: str, info: ModelInfo) -> None:
        with self._lock:
            self._write(
                "INSERT OR REPLACE INTO models (key, capabilities, digest, checked) "
                "VALUES (?, ?, ?, ?)",
                (key, ",".join(info.capabilities), info.digest, time.time()),
            )

    def forget_model(self, key: str) -> None:
        with self._lock:
            self._write("DELETE FROM models WHERE key = ?", (key,))

    # ------------------------------------------------------------------ the file

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _query(self, sql: str, args: tuple[object, ...]) -> Any:
        """The first row, or None (also when the disk cache is off)."""
        db = self._connection()
        return None if db is None else self._guarded(lambda: db.execute(sql, args).fetchone())

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        db = self._connection()
        if db is not None:
            self._guarded(lambda: db.execute(sql, args))

    def _guarded(self, operation: Callable[[], Any]) -> Any:
        """Run one statement; on failure repair or turn off the disk cache, never raise."""
        try:
            return operation()
        except sqlite3.Error as error:
            self._failed(error)
            return None

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and not self._disk_off:
            try:
                self._db = self._open()
            except (sqlite3.Error, OSError) as error:
                self._failed(error)
        return self._db

    def _open(self) -> sqlite3.Connection:
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        if not os.path.exists(self.path):
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA synchronous = NORMAL")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _failed(self, error: BaseException) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if _is_corrupt(error) and os.path.exists(self.path):
            aside = f"{self.path}.corrupt-{int(time.time())}"
            try:
                os.replace(self.path, aside)
                for suffix in ("-wal", "-shm"):
                    if os.path.exists(self.path + suffix):
                        os.remove(self.path + suffix)
            except OSError:
                pass
            else:
                self._warn(f"the cache file was unreadable ({error}); moved it to {aside}")
                return
        self._disk_off = True
        self._warn(f"the cache at {self.path} cannot be used ({error}); caching on disk is off")


def _is_corrupt(error: BaseException) -> bool:
    """A damaged file, as opposed to one we may not open or write (OperationalError)."""
    if isinstance(error, sqlite3.OperationalError):  # text that is not UTF-8 is damage too
        return "malformed" in str(error) or "decode" in str(error)
    return isinstance(error, sqlite3.DatabaseError)
