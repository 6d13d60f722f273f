"""Webhooks: job events delivered to the caller's URL, signed the Standard Webhooks way, retried for hours.

Job state changes (``JobStore`` calls ``Outbox.job_changed``) become delivery documents in the shared store,
so a worker on another machine can produce them; a ``Dispatcher`` thread in each gateway process delivers
what is due, claiming each attempt first so that two gateways never send the same one. Every attempt is
recorded on its delivery with the receiver's status code.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field
from standardwebhooks import Webhook

from kinora.docstore import DocStore
from kinora.fetch import FetchRefused, checked_address, pinned_request, resolve
from kinora.jobs import Job, JobStatus, new_id, utcnow

log = logging.getLogger(__name__)

DELIVERIES = "webhook_deliveries"
DUE = "webhook_due"  # ids "<due time in ms>:<delivery id>", so an ascending listing is the order to send in
LEASES = "webhook_leases"
SECRETS = "webhook_secrets"
LEASE_S = 120

PROGRESS_STEP = 10  # a "progress" event each time progress crosses a multiple of this


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: int


class Delivery(BaseModel):
    id: str  # also the webhook-id header: the receiver's deduplication key
    job_id: str
    owner: str
    event: str
    url: str
    payload: dict
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: list[Attempt] = Field(default_factory=list)
    next_attempt_at: datetime | None = None
    created_at: datetime


def job_event(old: Job | None, new: Job) -> str | None:
    """The event a state change is, if any."""
    if old is None or old.status != new.status:
        return {JobStatus.in_progress: "started", JobStatus.completed: "completed", JobStatus.failed: "failed",
                JobStatus.cancelled: "cancelled"}.get(new.status)
    if new.status is JobStatus.in_progress and new.progress // PROGRESS_STEP > old.progress // PROGRESS_STEP:
        return "progress"
    return None


def check_webhook_url(url: str, allow_private: bool) -> None:
    """Webhook URLs obey the same rules as URL inputs: http(s) to public addresses only (unless the operator
    allows private ones, e.g. for receivers inside their own network)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("url_not_allowed", "webhook URLs must be http(s) URLs with a host")
    if not allow_private:
        checked_address(url, resolve)


def job_payload(job: Job, base_url: str | None) -> dict:
    """What a receiver learns about the job: as GET /jobs/{id} shows it, minus internal storage URIs."""
    data = job.model_dump(mode="json", include={"id", "status", "progress", "created_at", "started_at",
                                                "completed_at", "error", "cancel_requested"})
    data["object"] = "job"
    data["request"] = job.request.model_dump(mode="json", exclude={"image": {"uri"}, "video": {"uri"}})
    if job.output is not None:
        output = job.output.model_dump(mode="json", exclude={"uri", "thumbnail_uri", "spritesheet_uri"})
        output["url"] = f"{base_url.rstrip('/')}/jobs/{job.id}/content" if base_url else None
        data["output"] = output
    else:
        data["output"] = None
    return data


class Outbox:
    def __init__(self, docs: DocStore, payload: Callable[[Job], dict], retry_s: list[float]) -> None:
        self.docs, self.payload, self.retry_s = docs, payload, retry_s

    def job_changed(self, old: Job | None, new: Job) -> None:
        event = job_event(old, new)
        if event is None or new.webhook is None or event not in new.webhook.events:
            return
        now = utcnow()
        delivery = Delivery(id=new_id("msg"), job_id=new.id, owner=new.owner, event=event, url=new.webhook.url,
                            payload={"type": f"job.{event}", "timestamp": now.isoformat(), "data": self.payload(new)},
                            next_attempt_at=now, created_at=now)
        self.save(delivery)

    def save(self, delivery: Delivery) -> None:
        self.docs.put(DELIVERIES, delivery.id, delivery.model_dump(mode="json"), owner=delivery.job_id)
        if delivery.status == "pending" and delivery.next_attempt_at is not None:
            entry = f"{int(delivery.next_attempt_at.timestamp() * 1000):013d}:{delivery.id}"
            self.docs.put(DUE, entry, {"entry": entry})

    def get(self, delivery_id: str) -> Delivery | None:
        doc = self.docs.get(DELIVERIES, delivery_id)
        return Delivery.model_validate(doc) if doc else None

    def for_job(self, job_id: str) -> list[Delivery]:
        docs = self.docs.list(DELIVERIES, owner=job_id, limit=1000, ascending=True)
        return [Delivery.model_validate(d) for d in docs]

    def redeliver(self, delivery: Delivery) -> Delivery:
        again = delivery.model_copy(update={"status": "pending", "next_attempt_at": utcnow()})
        self.save(again)
        return again

    def due(self, now: float, limit: int = 50) -> list[tuple[str, str]]:
        """(due entry, delivery id) pairs whose time has come, oldest first."""
        entries = [d["entry"] for d in self.docs.list(DUE, limit=limit, ascending=True)]
        return [(e, e.split(":", 1)[1]) for e in entries if int(e.split(":", 1)[0]) <= now * 1000]

    def record(self, delivery: Delivery, attempt: Attempt, ok: bool) -> Delivery:
        """Add an attempt; schedule the next one on failure until the retry schedule runs out."""
        attempts = [*delivery.attempts, attempt]
        failures = sum(1 for a in attempts if not (a.status_code and 200 <= a.status_code < 300))
        if ok:
            update = {"status": "delivered", "next_attempt_at": None}
        elif failures <= len(self.retry_s):
            wait = self.retry_s[failures - 1]
            update = {"status": "pending", "next_attempt_at": datetime.fromtimestamp(time.time() + wait, UTC)}
        else:
            update = {"status": "failed", "next_attempt_at": None}
        done = delivery.model_copy(update={"attempts": attempts, **update})
        self.save(done)
        return done


class SecretStore:
    """One signing secret per API key (``whsec_`` + base64 of 24 random bytes), made on first use."""

    def __init__(self, docs: DocStore) -> None:
        self.docs = docs

    def get(self, key_id: str) -> str:
        fresh = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.docs.put_new(SECRETS, key_id, {"secret": fresh})
        return self.docs.get(SECRETS, key_id)["secret"]  # type: ignore[index]

    def rotate(self, key_id: str) -> str:
        fresh = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.docs.put(SECRETS, key_id, {"secret": fresh})
        return fresh


def send(delivery: Delivery, secret: str, client: httpx.Client, allow_private: bool,
         resolver: Callable[[str, int], list[str]] = resolve) -> tuple[Attempt, bool]:
    """One signed POST of the delivery's payload; 2xx is success."""
    started = time.perf_counter()
    at = utcnow()
    data = json.dumps(delivery.payload, separators=(",", ":"))
    timestamp = datetime.now(UTC)
    headers = {"content-type": "application/json", "webhook-id": delivery.id,
               "webhook-timestamp": str(int(timestamp.timestamp())),
               "webhook-signature": Webhook(secret).sign(delivery.id, timestamp, data)}
    try:
        if allow_private:
            check_webhook_url(delivery.url, allow_private=True)
            request = client.build_request("POST", delivery.url, content=data, headers=headers)
        else:  # checked now and sent to the checked address, so a changed DNS answer cannot redirect the POST
            request = pinned_request(client, "POST", delivery.url, resolver, headers=headers, content=data)
        response = client.send(request)
        ok = 200 <= response.status_code < 300
        return Attempt(at=at, status_code=response.status_code,
                       duration_ms=int((time.perf_counter() - started) * 1000)), ok
    except (httpx.HTTPError, FetchRefused) as exc:
        return Attempt(at=at, error=f"{type(exc).__name__}: {exc}"[:300],
                       duration_ms=int((time.perf_counter() - started) * 1000)), False


class Dispatcher:
    """A daemon thread delivering due webhooks; several may run (one per gateway), each attempt is claimed."""

    def __init__(self, outbox: Outbox, secrets_: SecretStore, *, allow_private: bool, poll_s: float = 0.2,
                 timeout_s: float = 10.0) -> None:
        self.outbox, self.secrets, self.allow_private, self.poll_s = outbox, secrets_, allow_private, poll_s
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kinora-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # noqa: BLE001 - a store hiccup must not end deliveries for good
                log.exception("webhook dispatch failed; retrying")
            self._stop.wait(self.poll_s)

    def run_due(self) -> int:
        sent = 0
        for entry, delivery_id in self.outbox.due(time.time()):
            if not self.outbox.docs.put_new(LEASES, entry, {}, ttl_s=LEASE_S):
                continue  # another dispatcher has it
            self.outbox.docs.delete(DUE, entry)
            delivery = self.outbox.get(delivery_id)
            if delivery is None or delivery.status != "pending":
                continue
            attempt, ok = send(delivery, self.secrets.get(delivery.owner), self.client, self.allow_private)
            self.outbox.record(delivery, attempt, ok)
            sent += 1
        return sent
