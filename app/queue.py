"""How the gateway hands a job to workers: Celery on Redis in production, a thread in embedded mode."""

from __future__ import annotations

from typing import Protocol

from kinora.config import Settings
from kinora.jobs import Job
from worker.celery_app import GENERATE_TASK, create_celery, queue_for


class QueueUnavailable(Exception):
    pass


class JobQueue(Protocol):
    def submit(self, job: Job) -> None: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


class CeleryQueue:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_celery(settings)

    def submit(self, job: Job) -> None:
        try:
            self.app.send_task(
                GENERATE_TASK,
                args=[job.id],
                queue=queue_for(self.settings, job.request.model),
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1},
            )
        except Exception as exc:  # kombu raises OperationalError and friends when Redis is unreachable
            raise QueueUnavailable(str(exc)) from exc

    def ping(self) -> None:
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
        except Exception as exc:
            raise QueueUnavailable(str(exc)) from exc

    def close(self) -> None:
        self.app.close()
