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
        self._versions = dict.fromkeys(TABLES, 0)
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
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_seq ON {table}(seq)")  # MAX(seq) on insert

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
            self._db.execute(self._upsert(table), (doc["id"], scope, parent, json.dumps(doc, separators=(",", ":"))))
            self._versions[table] += 1
        return doc

    def put_many(self, table: str, docs: list[Doc], *, scope: str, parent: str | None = None) -> None:
        """`put` for many documents in one statement: a kick-all writes a row per participant."""
        rows = [(d["id"], scope, parent, json.dumps(d, separators=(",", ":"))) for d in docs]
        with self._lock:
            self._db.executemany(self._upsert(table), rows)
            self._versions[table] += 1

    @staticmethod
    def _upsert(table: str) -> str:
        # One statement: a new row takes the next seq, an existing one keeps its own.
        return (
            f"INSERT INTO {table} (id, scope, parent, seq, doc)"
            f" VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}), ?4)"
            " ON CONFLICT(id) DO UPDATE SET scope = excluded.scope, parent = excluded.parent, doc = excluded.doc"
        )

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
            self._versions[table] += 1

    def version(self, table: str) -> int:
        """Changes whenever the table is written: lets a reader cache what it derived from it."""
        return self._versions[table]

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

    def total(self, table: str, key: str, *, parent: str) -> float:
        """The sum of one numeric field over a parent's documents, added up inside SQLite."""
        with self._lock:
            row = self._db.execute(
                f"SELECT COALESCE(SUM(json_extract(doc, ?)), 0) FROM {table} WHERE parent = ?", (f"$.{key}", parent)
            ).fetchone()
        return float(row[0])

    def iter_all(self, table: str) -> Iterator[Doc]:
        yield from self.list(table)
