"""Both document-store backends, the same assertions: SQLite (embedded) and a real Redis (production)."""

import threading
import time

import pytest
import redis

from kinora.docstore import RedisDocStore, SqliteDocStore


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SqliteDocStore(tmp_path / "s.db")
    url = request.getfixturevalue("redis_url")
    return RedisDocStore(redis.Redis.from_url(url), request.getfixturevalue("redis_prefix"))


def test_put_get_delete(store):
    store.put("jobs", "a", {"x": 1}, owner="o")
    assert store.get("jobs", "a") == {"x": 1}
    assert store.get("jobs", "missing") is None
    store.delete("jobs", "a")
    assert store.get("jobs", "a") is None


def test_list_is_newest_first_per_owner_with_an_exclusive_cursor(store):
    for i in range(7):
        store.put("jobs", f"id{i}", {"i": i}, owner="alice" if i % 2 == 0 else "bob")
    assert [d["i"] for d in store.list("jobs", owner="alice", limit=10)] == [6, 4, 2, 0]
    assert [d["i"] for d in store.list("jobs", owner="alice", limit=2)] == [6, 4]
    assert [d["i"] for d in store.list("jobs", owner="alice", limit=2, after="id4")] == [2, 0]
    assert [d["i"] for d in store.list("jobs", owner="alice", limit=2, ascending=True)] == [0, 2]
    assert [d["i"] for d in store.list("jobs", owner="alice", limit=2, after="id2", ascending=True)] == [4, 6]
    assert [d["i"] for d in store.list("jobs", limit=3)] == [6, 5, 4]
    assert store.list("jobs", owner="carol", limit=5) == []


def test_update_is_atomic_under_concurrent_writers(store):
    store.put("jobs", "c", {"n": 0})

    def bump():
        for _ in range(25):
            store.update("jobs", "c", lambda d: {"n": d["n"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("jobs", "c") == {"n": 100}


def test_update_can_decline_and_missing_documents_stay_missing(store):
    store.put("jobs", "d", {"n": 1})
    assert store.update("jobs", "d", lambda d: None) is None
    assert store.get("jobs", "d") == {"n": 1}
    assert store.update("jobs", "nope", lambda d: {"n": 2}) is None
    assert store.get("jobs", "nope") is None


def test_documents_with_a_ttl_expire(store):
    store.put("workers", "w1", {"model": "m"}, ttl_s=1)
    store.put("workers", "w2", {"model": "m"})
    assert len(store.list("workers")) == 2
    time.sleep(1.3)
    assert store.get("workers", "w1") is None
    assert store.list("workers") == [{"model": "m"}]


def test_put_new_lets_exactly_one_of_many_concurrent_claims_win(store):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        won = list(pool.map(lambda i: store.put_new("claims", "k", {"by": i}, ttl_s=60), range(50)))
    assert won.count(True) == 1
    assert store.get("claims", "k") == {"by": won.index(True)}
    store.delete("claims", "k")
    assert store.put_new("claims", "k", {"by": "again"}, ttl_s=60)
