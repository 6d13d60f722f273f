"""Idempotency-Key on creates: the same key with the same request gives back the same job, exactly once.

The first request with a key claims it atomically (``DocStore.put_new``) before creating its job; concurrent
or later requests with that key wait for the claim to name its job and return it. A key reused with a
different request is an error. Keys are kept per API key for ``TTL_S``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from pydantic import BaseModel

from app.errors import Conflict, InvalidRequest
from app.inputs import Upload
from kinora.docstore import DocStore
from kinora.jobs import Job

KIND = "idempotency"
TTL_S = 24 * 3600
WAIT_S = 30.0  # how long a duplicate waits for the first request to create its job
MAX_KEY = 255


def fingerprint(*parts: BaseModel | dict | str | None, uploads: dict[str, Upload] | None = None) -> str:
    """A digest of what was asked: the request as sent (unset fields left out) and the uploaded bytes."""
    canon = [p.model_dump(mode="json", exclude_unset=True) if isinstance(p, BaseModel) else p for p in parts]
    files = {name: hashlib.sha256(u.data).hexdigest() for name, u in sorted((uploads or {}).items())}
    return hashlib.sha256(json.dumps([canon, files], sort_keys=True).encode()).hexdigest()


def create_once(docs: DocStore, owner: str, key: str, request_digest: str, create: Callable[[], Job],
                get: Callable[[str], Job | None]) -> tuple[Job, bool]:
    """(job, replayed): run ``create`` once per (owner, key); replay its job for the same request."""
    if not key or len(key) > MAX_KEY:
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_KEY} characters", param="Idempotency-Key",
                             code="invalid_idempotency_key")
    slot = hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()
    deadline = time.monotonic() + WAIT_S
    while True:
        if docs.put_new(KIND, slot, {"digest": request_digest, "job_id": None}, ttl_s=TTL_S):
            try:
                job = create()
            except BaseException:
                docs.delete(KIND, slot)  # nothing was created: the key is free for a corrected retry
                raise
            docs.put(KIND, slot, {"digest": request_digest, "job_id": job.id}, ttl_s=TTL_S)
            return job, False
        claim = docs.get(KIND, slot)
        if claim is None:  # the first request failed and let go of the key: claim it again
            continue
        if claim["digest"] != request_digest:
            raise InvalidRequest("This Idempotency-Key was already used with a different request.",
                                 param="Idempotency-Key", code="idempotency_key_reused")
        if claim["job_id"] and (job := get(claim["job_id"])) is not None:
            return job, True
        if time.monotonic() > deadline:
            raise Conflict("A request with this Idempotency-Key is still being processed; retry later.",
                           code="idempotency_in_progress")
        time.sleep(0.02)
