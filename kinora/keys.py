"""API keys: shown once, stored only as SHA-256 hashes, verified in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from pydantic import BaseModel

from kinora.docstore import DocStore
from kinora.jobs import new_id, utcnow

KIND = "keys"
PREFIX = "kin_"


class ApiKey(BaseModel):
    id: str
    name: str
    hint: str  # the first characters, to tell keys apart in listings
    hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    """Documents are stored under the key's hash, so verification is one lookup by hash."""

    def __init__(self, docs: DocStore) -> None:
        self.docs = docs

    def create(self, name: str) -> tuple[ApiKey, str]:
        secret = generate_secret()
        self.add(name, secret)
        return self.verify(secret), secret  # type: ignore[return-value]

    def add(self, name: str, secret: str) -> ApiKey:
        key = ApiKey(id=new_id("key"), name=name, hint=secret[:8], hash=hash_key(secret), created_at=utcnow())
        self.docs.put(KIND, key.hash, key.model_dump(mode="json"))
        return key

    def verify(self, secret: str) -> ApiKey | None:
        digest = hash_key(secret)
        doc = self.docs.get(KIND, digest)
        if doc is None:
            return None
        key = ApiKey.model_validate(doc)
        if not hmac.compare_digest(key.hash, digest) or not key.active:
            return None
        return key

    def list(self) -> list[ApiKey]:
        keys = [ApiKey.model_validate(d) for d in self.docs.list(KIND, limit=10_000)]
        return sorted(keys, key=lambda k: k.id)

    def revoke(self, id_or_name: str) -> list[ApiKey]:
        """Revoke the key with this id, or every active key with this name."""
        revoked = []
        for key in self.list():
            if key.active and id_or_name in (key.id, key.name):
                doc = self.docs.update(KIND, key.hash, lambda d: {**d, "revoked_at": utcnow().isoformat()})
                if doc:
                    revoked.append(ApiKey.model_validate(doc))
        return revoked
