import hashlib

from kinora.docstore import SqliteDocStore
from kinora.keys import KIND, PREFIX, KeyStore, hash_key


def test_keys_are_prefixed_shown_once_and_stored_as_hashes(tmp_path):
    docs = SqliteDocStore(tmp_path / "k.db")
    keys = KeyStore(docs)
    key, secret = keys.create("ci")
    assert secret.startswith(PREFIX) and len(secret) > 40
    assert key.hash == hashlib.sha256(secret.encode()).hexdigest() == hash_key(secret)
    stored = docs.list(KIND)
    assert len(stored) == 1 and secret not in str(stored)
    assert keys.verify(secret).id == key.id
    assert keys.verify(secret + "x") is None
    assert keys.verify("") is None


def test_revoke_by_id_or_name(tmp_path):
    keys = KeyStore(SqliteDocStore(tmp_path / "k.db"))
    a, sa = keys.create("alice")
    b, sb = keys.create("bob")
    assert [k.id for k in keys.revoke(a.id)] == [a.id]
    assert keys.verify(sa) is None and keys.verify(sb) is not None
    assert [k.id for k in keys.revoke("bob")] == [b.id]
    assert keys.revoke("bob") == []
    assert [k.active for k in keys.list()] == [False, False]
