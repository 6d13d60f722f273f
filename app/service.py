"""The job service: what the routes call. Validation against the model, ownership, state changes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from app.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from app.queue import JobQueue, QueueUnavailable
from app.schemas import GenerateRequest
from kinora.config import Settings
from kinora.docstore import DocStore
from kinora.jobs import GenerationRequest, Job, JobStatus, new_job
from kinora.jobstore import JobStore
from kinora.storage import Located, Storage
from kinora.workers import live_workers
from models.registry import REGISTRY, ModelSpec, UnknownModel, get_spec


def resolve_request(req: GenerateRequest, spec: ModelSpec) -> GenerationRequest:
    """Every default made explicit, so the job echoes exactly what will be rendered."""
    if req.duration > spec.max_seconds:
        raise InvalidRequest(
            f"duration: {spec.name} renders at most {spec.max_seconds:g} s per request",
            param="duration", code="duration_too_long",
        )
    width, height = req.output_size()
    return GenerationRequest(
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        model=spec.name,
        duration=req.duration,
        fps=req.fps,
        width=width,
        height=height,
        seed=req.seed if req.seed is not None else secrets.randbelow(2**32),
        steps=req.steps or spec.default_steps,
        guidance_scale=req.guidance_scale if req.guidance_scale is not None else spec.default_guidance,
    )


@dataclass
class JobService:
    settings: Settings
    docs: DocStore
    jobs: JobStore
    queue: JobQueue
    storage: Storage

    def model_spec(self, name: str | None) -> ModelSpec:
        name = name or self.settings.default_model
        try:
            spec = get_spec(name)
        except UnknownModel:
            raise InvalidRequest(f"model: unknown model {name!r}; see GET /models", param="model",
                                 code="model_not_found") from None
        if self.settings.embedded and spec.name != self.settings.loaded_model:
            raise InvalidRequest(f"model: this embedded server runs {self.settings.loaded_model} only",
                                 param="model", code="model_not_available")
        return spec

    def create(self, owner: str, req: GenerateRequest) -> Job:
        job = new_job(owner, resolve_request(req, self.model_spec(req.model)))
        self.jobs.add(job)
        try:
            self.queue.submit(job)
        except QueueUnavailable:
            self.jobs.fail(job.id, "queue_unavailable", "The job could not be queued.")
            raise ServiceUnavailable("The job queue is unreachable; retry later.",
                                     code="queue_unavailable") from None
        return job

    def get(self, owner: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.owner != owner:  # another key's job is indistinguishable from no job
            raise NotFound(f"No job {job_id!r}.", param="job_id")
        return job

    def list(self, owner: str, limit: int, after: str | None) -> tuple[list[Job], bool]:
        page = self.jobs.list(owner, limit + 1, before=after)
        return page[:limit], len(page) > limit

    def cancel(self, owner: str, job_id: str) -> Job:
        job = self.get(owner, job_id)
        if job.status in (JobStatus.completed, JobStatus.failed):
            raise Conflict(f"Job {job_id} already ended as {job.status.value}.", code="job_not_cancellable")
        return self.jobs.request_cancel(job_id) or self.get(owner, job_id)

    def content(self, owner: str, job_id: str) -> Located:
        job = self.get(owner, job_id)
        if job.status is not JobStatus.completed or job.output is None:
            raise Conflict(f"Job {job_id} is {job.status.value}; its video exists once it is completed.",
                           code="job_not_completed")
        return self.storage.locate(job.output.uri)

    def models(self) -> tuple[list[dict], set[str]]:
        loaded = {w["model"] for w in live_workers(self.docs)}
        return [spec.describe(self.settings.models_dir) for spec in REGISTRY.values()], loaded

    def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        for name, probe in (("store", self.docs.ping), ("storage", self.storage.ping), ("queue", self.queue.ping)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - readiness reports any failure as text
                checks[name] = f"error: {exc}"[:200]
        try:
            models = sorted({w["model"] for w in live_workers(self.docs)})
            checks["worker"] = f"ok: {', '.join(models)}" if models else "error: no worker has loaded a model"
        except Exception as exc:  # noqa: BLE001
            checks["worker"] = f"error: {exc}"[:200]
        return checks
