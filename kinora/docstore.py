"""A small document store with two backends: SQLite (embedded mode) and Redis (production).

Documents are JSON objects grouped by kind ("jobs", "keys", "workers"), keyed by a time-ordered id and
optionally by owner. ``update`` is an atomic read-modify-write, so the gateway (cancel) and a worker
(progress, completion) never overwrite each other.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

Doc = dict[str, Any]
Mutation = Callable[[Doc], Doc | None]


class StoreUnavailable(Exception):
    """The backing store cannot be reached."""


class DocStore(Protocol):
    def put(self, kind: str, id: str, doc: Doc, owner: str | None = None, ttl_s: int | None = None) -> None: ...
    def get(self, kind: str, id: str) -> Doc | None: ...
    def put_new(self, kind: str, id: str, doc: Doc, ttl_s: int | None = None) -> bool:
        """Store ``doc`` only if no live document has this id; True when it was stored (an atomic claim)."""
        ...
    def update(self, kind: str, id: str, mutate: Mutation) -> Doc | None:
        """Apply ``mutate`` atomically; it returns the new document or None to leave it. Returns what was written."""
        ...
    def delete(self, kind: str, id: str) -> None: ...
    def list(self, kind: str, owner: str | None = None, limit: int = 100, after: str | None = None,
             ascending: bool = False) -> list[Doc]:
        """Newest first (ids descending), or oldest first when ``ascending``; ``after`` is an exclusive cursor
        in that order."""
        ...
    def count(self, kind: str, before: str) -> int:
        """How many documents of ``kind`` have ids sorting before ``before``."""
        ...
    def ping(self) -> None: ...


class SqliteDocStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, id TEXT NOT NULL, owner TEXT,"
                " expires REAL, body TEXT NOT NULL, PRIMARY KEY (kind, id))"
            )
            db.execute("CREATE INDEX IF NOT EXISTS docs_owner ON docs (kind, owner, id)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30, isolation_level=None)

    def put(self, kind: str, id: str, doc: Doc, owner: str | None = None, ttl_s: int | None = None) -> None:
        expires = time.time() + ttl_s if ttl_s else None
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?)",
                       (kind, id, owner, expires, json.dumps(doc)))

    def put_new(self, kind: str, id: str, doc: Doc, ttl_s: int | None = None) -> bool:
        now = time.time()
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM docs WHERE kind=? AND id=? AND expires<=?", (kind, id, now))
                stored = db.execute("INSERT OR IGNORE INTO docs VALUES (?, ?, NULL, ?, ?)",
                                    (kind, id, now + ttl_s if ttl_s else None, json.dumps(doc))).rowcount == 1
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return stored

    def get(self, kind: str, id: str) -> Doc | None:
        with self._lock, self._connect() as db:
            row = db.execute("SELECT body FROM docs WHERE kind=? AND id=? AND (expires IS NULL OR expires>?)",
                             (kind, id, time.time())).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, kind: str, id: str, mutate: Mutation) -> Doc | None:
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT body FROM docs WHERE kind=? AND id=?", (kind, id)).fetchone()
                new = mutate(json.loads(row[0])) if row else None
                if new is not None:
                    db.execute("UPDATE docs SET body=? WHERE kind=? AND id=?", (json.dumps(new), kind, id))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return new

    def delete(self, kind: str, id: str) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM docs WHERE kind=? AND id=?", (kind, id))

    def list(self, kind: str, owner: str | None = None, limit: int = 100, after: str | None = None,
             ascending: bool = False) -> list[Doc]:
        sql = "SELECT body FROM docs WHERE kind=? AND (expires IS NULL OR expires>?)"
        args: list[Any] = [kind, time.time()]
        if owner is not None:
            sql += " AND owner=?"
            args.append(owner)
        if after is not None:
            sql += " AND id>?" if ascending else " AND id<?"
            args.append(after)
        sql += f" ORDER BY id {'ASC' if ascending else 'DESC'} LIMIT ?"
        args.append(limit)
        with self._lock, self._connect() as db:
            return [json.loads(r[0]) for r in db.execute(sql, args)]

    def count(self, kind: str, before: str) -> int:
        with self._lock, self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM docs WHERE kind=? AND id<? AND (expires IS NULL OR expires>?)",
                              (kind, before, time.time())).fetchone()[0]

    def ping(self) -> None:
        with self._lock, self._connect() as db:
            db.execute("SELECT 1").fetchone()


class RedisDocStore:
    """One JSON string per document plus lexicographically sorted sets as indexes (all members score 0)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._r = client
        self._p = prefix

    def _key(self, kind: str, id: str) -> str:
        return f"{self._p}:{kind}:{id}"

    def _index(self, kind: str, owner: str | None) -> str:
        return f"{self._p}:{kind}:index" + (f":{owner}" if owner is not None else "")

    def _guard(self, fn: Callable[[], Any]) -> Any:
        import redis

        try:
            return fn()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    def put(self, kind: str, id: str, doc: Doc, owner: str | None = None, ttl_s: int | None = None) -> None:
        def run() -> None:
            pipe = self._r.pipeline()
            pipe.set(self._key(kind, id), json.dumps(doc), ex=ttl_s)
            pipe.zadd(self._index(kind, None), {id: 0})
            if owner is not None:
                pipe.zadd(self._index(kind, owner), {id: 0})
            pipe.execute()

        self._guard(run)

    def put_new(self, kind: str, id: str, doc: Doc, ttl_s: int | None = None) -> bool:
        return bool(self._guard(lambda: self._r.set(self._key(kind, id), json.dumps(doc), ex=ttl_s, nx=True)))

    def get(self, kind: str, id: str) -> Doc | None:
        raw = self._guard(lambda: self._r.get(self._key(kind, id)))
        return json.loads(raw) if raw else None

    def update(self, kind: str, id: str, mutate: Mutation) -> Doc | None:
        import redis

        key = self._key(kind, id)

        def run() -> Doc | None:
            with self._r.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(key)
                        raw = pipe.get(key)
                        new = mutate(json.loads(raw)) if raw else None
                        if new is None:
                            pipe.unwatch()
                            return None
                        pipe.multi()
                        pipe.set(key, json.dumps(new), keepttl=True)
                        pipe.execute()
                        return new
                    except redis.WatchError:
                        continue

        return self._guard(run)

    def delete(self, kind: str, id: str) -> None:
        def run() -> None:
            pipe = self._r.pipeline()
            pipe.delete(self._key(kind, id))
            pipe.zrem(self._index(kind, None), id)
            pipe.execute()

        self._guard(run)

    def count(self, kind: str, before: str) -> int:
        return int(self._guard(lambda: self._r.zlexcount(self._index(kind, None), "-", f"({before}")))

    def list(self, kind: str, owner: str | None = None, limit: int = 100, after: str | None = None,
             ascending: bool = False) -> list[Doc]:
        index = self._index(kind, owner)

        def run() -> list[Doc]:
            docs: list[Doc] = []
            cursor = f"({after}" if after else ("-" if ascending else "+")
            # Entries whose document expired are skipped and pruned, so pages may need a second read.
            while len(docs) < limit:
                if ascending:
                    ids = self._r.zrangebylex(index, cursor, "+", start=0, num=limit - len(docs))
                else:
                    ids = self._r.zrevrangebylex(index, cursor, "-", start=0, num=limit - len(docs))
                if not ids:
                    break
                raws = self._r.mget([self._key(kind, i.decode()) for i in ids])
                stale = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
                if stale:
                    self._r.zrem(index, *stale)
                docs += [json.loads(raw) for raw in raws if raw is not None]
                cursor = f"({ids[-1].decode()}"
            return docs

        return self._guard(run)

    def ping(self) -> None:
        self._guard(self._r.ping)


def open_docstore(settings: Any) -> DocStore:
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3)
        return RedisDocStore(client, settings.redis_prefix)
    return SqliteDocStore(Path(settings.data_dir) / "kinora.db")
