"""The Celery app, configured for long GPU jobs. Torch-free: the gateway builds it to enqueue."""

from __future__ import annotations

from celery import Celery

from kinora.config import Settings

GENERATE_TASK = "kinora.generate"


def queue_for(settings: Settings, model: str) -> str:
    """One queue per model, so a worker only receives jobs for the model it has loaded."""
    return f"{settings.queue_prefix}.{model}"


def create_celery(settings: Settings) -> Celery:
    if not settings.redis_url:
        raise ValueError("Celery needs KINORA_REDIS_URL")
    app = Celery("kinora", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # a job is acknowledged when it is done, not when it is received ...
        task_reject_on_worker_lost=True,  # ... and goes back to the queue if its worker dies
        worker_prefetch_multiplier=1,  # a busy worker does not hold jobs another could run
        broker_transport_options={
            # Longer than the longest job, or Redis would hand a running job to a second worker.
            "visibility_timeout": settings.job_time_limit_s + 600,
            "global_keyprefix": f"{settings.queue_prefix}:",
        },
        task_soft_time_limit=settings.job_soft_time_limit_s,
        task_time_limit=settings.job_time_limit_s,
        task_ignore_result=True,  # status flows back through the job store only
        task_serializer="json",
        accept_content=["json"],
        worker_proc_alive_timeout=600,  # the model loads in worker_process_init
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        task_default_queue=queue_for(settings, settings.default_model),
    )
    app.kinora_settings = settings  # type: ignore[attr-defined]
    return app
