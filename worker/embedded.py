"""Embedded mode's worker: a thread in the API process that runs the same ``run_job`` as Celery workers."""

from __future__ import annotations

import logging
import queue
import threading

from kinora.config import Settings
from kinora.jobs import Job, JobStatus
from kinora.jobstore import JobStore
from worker.runner import Runtime, run_job
from worker.runtime import build_runtime

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, settings: Settings, jobs: JobStore) -> None:
        self.settings = settings
        self.jobs = jobs
        self.runtime: Runtime | None = None
        self.error: str | None = None
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kinora-embedded-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def submit(self, job: Job) -> None:
        self._queue.put(job.id)

    def ping(self) -> None:
        if not self._thread.is_alive():
            raise RuntimeError(self.error or "the embedded worker is not running")

    def _run(self) -> None:
        try:
            self.runtime = build_runtime(self.settings, self.jobs)
        except Exception as exc:
            log.exception("embedded worker could not load its model")
            self.error = f"model failed to load: {exc}"
            return
        # Jobs accepted before a restart are picked up again, oldest first.
        unfinished = [j for j in self.jobs.list(owner=None, limit=100_000)
                      if j.status in (JobStatus.queued, JobStatus.in_progress)]
        for job in reversed(unfinished):
            self.submit(job)
        while (job_id := self._queue.get()) is not None:
            run_job(job_id, self.runtime)
