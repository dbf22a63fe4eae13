"""SQLite persistence: every resource is one JSON document in its own table.

Each write is committed before the caller answers anyone, so nothing acknowledged to a
client is lost across a restart. The data set of a reference server is small, so lists
filter in Python; `scope` (account/app) and `parent` (meeting, webhook…) are indexed columns
because every lookup goes through them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Doc = dict[str, Any]

TABLES = (
    "meetings",
    "presets",
    "participants",
    "tokens",
    "sessions",
    "peers",
    "recordings",
    "webhooks",
    "outbox",
    "server_keys",
)


class Storage:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        for table in TABLES:
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ("
                " id TEXT PRIMARY KEY, scope TEXT NOT NULL, parent TEXT, seq INTEGER NOT NULL,"
                " doc TEXT NOT NULL)"
            )
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_scope ON {table}(scope, parent)")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes as one transaction: one commit (one fsync) instead of one per write."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, table: str, doc: Doc, *, scope: str, parent: str | None = None) -> Doc:
        """Insert or replace; `seq` keeps creation order stable across updates."""
        with self._lock:
            row = self._db.execute(f"SELECT seq FROM {table} WHERE id = ?", (doc["id"],)).fetchone()
            seq = row[0] if row else self._db.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()[0]
            self._db.execute(
                f"INSERT OR REPLACE INTO {table} (id, scope, parent, seq, doc) VALUES (?, ?, ?, ?, ?)",
                (doc["id"], scope, parent, seq, json.dumps(doc, separators=(",", ":"))),
            )
        return doc

    def get(self, table: str, id_: str, *, scope: str | None = None) -> Doc | None:
        sql = f"SELECT doc FROM {table} WHERE id = ?"
        args: tuple[Any, ...] = (id_,)
        if scope is not None:
            sql += " AND scope = ?"
            args += (scope,)
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return json.loads(row[0]) if row else None

    def delete(self, table: str, id_: str) -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {table} WHERE id = ?", (id_,))

    def list(
        self,
        table: str,
        *,
        scope: str | None = None,
        parent: str | None = None,
        where: Callable[[Doc], bool] | None = None,
    ) -> list[Doc]:
        sql = f"SELECT doc FROM {table}"
        clauses, args = [], []
        if scope is not None:
            clauses.append("scope = ?")
            args.append(scope)
        if parent is not None:
            clauses.append("parent = ?")
            args.append(parent)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY seq"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        docs = (json.loads(r[0]) for r in rows)
        return [d for d in docs if where is None or where(d)]

    def iter_all(self, table: str) -> Iterator[Doc]:
        yield from self.list(table)
