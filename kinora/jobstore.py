"""Typed access to jobs over a DocStore; every state change goes through one atomic update."""

from __future__ import annotations

from collections.abc import Callable

from kinora import jobs
from kinora.docstore import DocStore
from kinora.jobs import Job, JobOutput

KIND = "jobs"


class JobStore:
    def __init__(self, docs: DocStore) -> None:
        self.docs = docs

    def add(self, job: Job) -> None:
        self.docs.put(KIND, job.id, job.model_dump(mode="json"), owner=job.owner)

    def get(self, job_id: str) -> Job | None:
        doc = self.docs.get(KIND, job_id)
        return Job.model_validate(doc) if doc else None

    def list(self, owner: str | None, limit: int, after: str | None = None, ascending: bool = False) -> list[Job]:
        docs = self.docs.list(KIND, owner=owner, limit=limit, after=after, ascending=ascending)
        return [Job.model_validate(d) for d in docs]

    def delete(self, job_id: str) -> None:
        self.docs.delete(KIND, job_id)

    def apply(self, job_id: str, transition: Callable[[Job], Job | None]) -> Job | None:
        """Apply a transition from ``kinora.jobs`` atomically; None when it did not apply."""

        def mutate(doc: dict) -> dict | None:
            new = transition(Job.model_validate(doc))
            return new.model_dump(mode="json") if new else None

        doc = self.docs.update(KIND, job_id, mutate)
        return Job.model_validate(doc) if doc else None

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
