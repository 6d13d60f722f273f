"""Typed access to jobs over a DocStore; every state change goes through one atomic update."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kinora import jobs
from kinora.config import Settings
from kinora.docstore import DocStore
from kinora.jobs import Job, JobOutput, JobStatus
from kinora.usage import Usage
from kinora.webhooks import Outbox, job_payload

log = logging.getLogger(__name__)

KIND = "jobs"


def queue_kind(model: str) -> str:
    """Ids of the jobs waiting for ``model``'s workers, in creation order (for queue positions)."""
    return f"queue:{model}"


def active_kind(owner: str) -> str:
    """Ids of an API key's jobs that are queued or running (for its concurrency limit)."""
    return f"active:{owner}"


Listener = Callable[[Job | None, Job], None]  # (before, after) of a change


class JobStore:
    def __init__(self, docs: DocStore, outbox: Outbox | None = None, listeners: list[Listener] | None = None) -> None:
        self.docs = docs
        self.outbox = outbox or Outbox(docs, lambda job: job_payload(job, None), [])
        self.listeners = [self.outbox.job_changed, *(listeners or [])]

    @classmethod
    def open(cls, docs: DocStore, settings: Settings, usage: Usage | None = None) -> JobStore:
        """The job store with webhooks and usage accounting wired to every change."""
        outbox = Outbox(docs, lambda job: job_payload(job, settings.base_url), settings.webhook_retry_s)
        return cls(docs, outbox, [(usage or Usage(settings)).job_changed])

    def add(self, job: Job) -> None:
        self.docs.put(KIND, job.id, job.model_dump(mode="json"), owner=job.owner)
        if job.status is JobStatus.queued:
            self.docs.put(queue_kind(job.request.model), job.id, {})
            self.docs.put(active_kind(job.owner), job.id, {})

    def get(self, job_id: str) -> Job | None:
        doc = self.docs.get(KIND, job_id)
        return Job.model_validate(doc) if doc else None

    def list(self, owner: str | None, limit: int, after: str | None = None, ascending: bool = False) -> list[Job]:
        docs = self.docs.list(KIND, owner=owner, limit=limit, after=after, ascending=ascending)
        return [Job.model_validate(d) for d in docs]

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        self.docs.delete(KIND, job_id)
        if job is not None:
            self.docs.delete(queue_kind(job.request.model), job_id)
            self.docs.delete(active_kind(job.owner), job_id)

    def apply(self, job_id: str, transition: Callable[[Job], Job | None]) -> Job | None:
        """Apply a transition from ``kinora.jobs`` atomically; None when it did not apply."""
        before: Job | None = None

        def mutate(doc: dict) -> dict | None:
            nonlocal before
            before = Job.model_validate(doc)
            new = transition(before)
            return new.model_dump(mode="json") if new else None

        doc = self.docs.update(KIND, job_id, mutate)
        job = Job.model_validate(doc) if doc else None
        if job is not None and before is not None:
            if before.status is JobStatus.queued and job.status is not JobStatus.queued:
                self.docs.delete(queue_kind(job.request.model), job_id)
            if job.status.is_terminal and not before.status.is_terminal:
                self.docs.delete(active_kind(job.owner), job_id)
            for listener in self.listeners:
                try:
                    listener(before, job)
                except Exception:  # noqa: BLE001 - webhook or usage bookkeeping must not fail the job
                    log.exception("a job listener failed for %s", job_id)
        return job

    def active_count(self, owner: str) -> int:
        """Queued and running jobs of an API key."""
        return self.docs.count(active_kind(owner), before="~")  # "~" sorts after every id

    def queue_position(self, job: Job) -> int | None:
        """1 for the next job its model's workers will take, None once it is no longer queued."""
        if job.status is not JobStatus.queued:
            return None
        return self.docs.count(queue_kind(job.request.model), before=job.id) + 1

    # Named shortcuts for the worker and the gateway.
    def start(self, job_id: str) -> Job | None:
        return self.apply(job_id, jobs.start)

    def progress(self, job_id: str, progress: int) -> None:
        self.apply(job_id, lambda j: jobs.set_progress(j, progress))

    def complete(self, job_id: str, output: JobOutput) -> Job | None:
        return self.apply(job_id, lambda j: jobs.complete(j, output))

    def fail(self, job_id: str, code: str, message: str) -> Job | None:
        return self.apply(job_id, lambda j: jobs.fail(j, code, message))

    def finish_cancelled(self, job_id: str) -> Job | None:
        return self.apply(job_id, jobs.finish_cancelled)

    def request_cancel(self, job_id: str) -> Job | None:
        return self.apply(job_id, jobs.request_cancel)

    def cancel_requested(self, job_id: str) -> bool:
        job = self.get(job_id)
        return job is None or job.cancel_requested
