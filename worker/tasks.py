"""The Celery task: thin. It parses the message, calls ``run_job`` with the process's Runtime."""

from __future__ import annotations

from functools import cached_property

from celery import Celery, Task
from celery.signals import worker_process_init

from kinora.docstore import open_docstore
from kinora.jobstore import JobStore
from worker.celery_app import GENERATE_TASK, create_celery, queue_for
from worker.runner import Runtime, run_job
from worker.runtime import build_runtime


class GenerateTask(Task):
    @cached_property
    def runtime(self) -> Runtime:
        return build_runtime(self.app.kinora_settings)


def register_tasks(app: Celery) -> Task:
    @app.task(name=GENERATE_TASK, base=GenerateTask, bind=True)
    def generate(self: GenerateTask, job_id: str) -> None:
        try:
            runtime = self.runtime
        except Exception as exc:  # the model did not load: say so in the job rather than leave it queued
            settings = self.app.kinora_settings
            JobStore.open(open_docstore(settings), settings).fail(job_id, "model_unavailable", str(exc)[:500])
            raise
        run_job(job_id, runtime)

    return generate


def run_worker(settings, extra_args: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Start a Celery worker: one process per GPU, the model loaded once in it, after the fork."""
    app = create_celery(settings)
    task = register_tasks(app)

    @worker_process_init.connect(weak=False)
    def load_model(**_: object) -> None:
        task.runtime  # noqa: B018 - load now, not on the first job

    app.worker_main([
        "worker", "--pool=prefork", "--concurrency=1", "--loglevel=INFO",
        "-Q", queue_for(settings, settings.loaded_model), *extra_args,
    ])
