"""The job service: what the routes call. Validation against the model, ownership, state changes."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from app.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from app.idempotency import create_once, fingerprint
from app.inputs import (
    MEDIA_FIELDS,
    Accepted,
    Upload,
    check_combination,
    read_source,
    store,
    validate_job_video,
    validate_upload,
)
from app.queue import JobQueue, QueueUnavailable
from app.schemas import MAX_PIXELS, MAX_SIDE, GenerateRequest
from kinora.config import Settings
from kinora.docstore import DocStore
from kinora.fetch import FetchRefused
from kinora.jobs import GenerationRequest, Job, JobStatus, MediaRef, Segment, WebhookTarget, new_id, utcnow
from kinora.jobstore import JobStore
from kinora.storage import Located, Storage
from kinora.webhooks import Delivery, SecretStore, check_webhook_url
from kinora.workers import live_workers
from models.registry import REGISTRY, ModelSpec, UnknownModel, get_spec

DEFAULT_STRENGTH = 0.6
THUMBNAIL_TYPE, SPRITESHEET_TYPE = "image/webp", "image/jpeg"  # as the worker writes them


def resolve_request(req: GenerateRequest, spec: ModelSpec, media: dict[str, MediaRef] | None = None
                    ) -> GenerationRequest:
    """Every default made explicit, so the job echoes exactly what will be rendered."""
    media = media or {}
    image, video = media.get("image"), media.get("video")
    mode = (req.mode or "extend") if video else "generate"
    duration = req.duration
    if mode == "modify" and video is not None:
        duration = video.seconds or duration  # a modification regenerates the whole clip
    if duration > spec.max_seconds:
        raise InvalidRequest(
            f"duration: {spec.name} renders at most {spec.max_seconds:g} s per request",
            param="duration", code="duration_too_long",
        )
    shape = image or video
    width, height = req.output_size() if req.sets_size() or shape is None else follow_aspect(req, shape)
    segments = [Segment(prompt=s.prompt, duration=s.duration) for s in req.segments or []]
    return GenerationRequest(
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        model=spec.name,
        duration=duration,
        fps=req.fps,
        width=width,
        height=height,
        seed=req.seed if req.seed is not None else secrets.randbelow(2**32),
        steps=req.steps or spec.default_steps,
        guidance_scale=req.guidance_scale if req.guidance_scale is not None else spec.default_guidance,
        segments=segments,
        image=image,
        image_position=req.image_position,
        video=video,
        mode=mode,
        strength=(req.strength if req.strength is not None else DEFAULT_STRENGTH) if mode == "modify" else None,
        include_input=req.include_input,
    )


def follow_aspect(req: GenerateRequest, media: MediaRef) -> tuple[int, int]:
    """The output shape when only an input says it: a video keeps its size unless a resolution is asked for;
    otherwise the input's aspect ratio at the requested resolution. Even sizes, within the limits."""
    if media.kind == "video" and "resolution" not in req.model_fields_set:
        width, height = media.width, media.height
    else:
        short = int(req.resolution.removesuffix("p"))
        scale = short / min(media.width, media.height)
        width, height = media.width * scale, media.height * scale
    scale = min(1.0, MAX_SIDE / max(width, height), math.sqrt(MAX_PIXELS / (width * height)))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


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

    def create(self, owner: str, req: GenerateRequest, uploads: dict[str, Upload] | None = None,
               remixed_from: str | None = None) -> Job:
        uploads = uploads or {}
        spec = self.model_spec(req.model)
        check_combination(req, uploads, spec)
        webhook = self.webhook_target(req)
        accepted = {name: self._accept(owner, name, getattr(req, name), uploads) for name in MEDIA_FIELDS}
        job_id = new_id("job")
        # Only now, with every input valid, is anything stored.
        media = {name: store(name, a, job_id, self.storage) for name, a in accepted.items() if a is not None}
        job = Job(id=job_id, owner=owner, created_at=utcnow(), request=resolve_request(req, spec, media),
                  remixed_from=remixed_from, webhook=webhook)
        self.jobs.add(job)
        try:
            self.queue.submit(job)
        except QueueUnavailable:
            self.jobs.fail(job.id, "queue_unavailable", "The job could not be queued.")
            raise ServiceUnavailable("The job queue is unreachable; retry later.",
                                     code="queue_unavailable") from None
        return job

    def webhook_target(self, req: GenerateRequest) -> WebhookTarget | None:
        if req.webhook_url is None:
            if req.webhook_events:
                raise InvalidRequest("webhook_events: needs webhook_url", param="webhook_events")
            return None
        try:
            check_webhook_url(req.webhook_url, self.settings.webhook_allow_private)
        except FetchRefused as exc:
            raise InvalidRequest(f"webhook_url: {exc.message}", param="webhook_url", code=exc.code) from None
        events = sorted(set(req.webhook_events)) if req.webhook_events else None
        return WebhookTarget(url=req.webhook_url, **({"events": events} if events else {}))

    def webhook_secret(self, owner: str, rotate: bool = False) -> str:
        secrets_ = SecretStore(self.docs)
        return secrets_.rotate(owner) if rotate else secrets_.get(owner)

    def deliveries(self, owner: str, job_id: str) -> list[Delivery]:
        return self.jobs.outbox.for_job(self.get(owner, job_id).id)

    def redeliver(self, owner: str, job_id: str, delivery_id: str) -> Delivery:
        delivery = self.jobs.outbox.get(delivery_id)
        if delivery is None or delivery.job_id != self.get(owner, job_id).id:
            raise NotFound(f"No webhook delivery {delivery_id!r} for job {job_id}.", param="delivery_id")
        return self.jobs.outbox.redeliver(delivery)

    def create_once(self, owner: str, idempotency_key: str | None, req: GenerateRequest,
                    uploads: dict[str, Upload] | None = None, remixed_from: str | None = None) -> tuple[Job, bool]:
        """``create``, at most once per Idempotency-Key; (job, whether it is a replay)."""
        if idempotency_key is None:
            return self.create(owner, req, uploads, remixed_from), False
        digest = fingerprint(req, remixed_from, uploads=uploads)
        return create_once(self.docs, owner, idempotency_key, digest,
                           lambda: self.create(owner, req, uploads, remixed_from), self.jobs.get)

    def _accept(self, owner: str, name: str, value: object, uploads: dict[str, Upload]) -> Accepted | None:
        source = read_source(name, value, uploads, self.settings)
        if source is None:
            return None
        if isinstance(source, str):  # a job id
            job = self.jobs.get(source)
            return Accepted(kind=name, job=validate_job_video(name, job if job and job.owner == owner else None,
                                                                 source))
        return Accepted(kind=name, info=validate_upload(name, source, self.settings), upload=source)

    def get(self, owner: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.owner != owner:  # another key's job is indistinguishable from no job
            raise NotFound(f"No job {job_id!r}.", param="job_id")
        return job

    def list(self, owner: str, limit: int, after: str | None, ascending: bool = False) -> tuple[list[Job], bool]:
        page = self.jobs.list(owner, limit + 1, after=after, ascending=ascending)
        return page[:limit], len(page) > limit

    def cancel(self, owner: str, job_id: str) -> Job:
        job = self.get(owner, job_id)
        if job.status in (JobStatus.completed, JobStatus.failed):
            raise Conflict(f"Job {job_id} already ended as {job.status.value}.", code="job_not_cancellable")
        return self.jobs.request_cancel(job_id) or self.get(owner, job_id)

    def content(self, owner: str, job_id: str, variant: str = "video") -> tuple[Located, str]:
        """Where a completed job's video (or its thumbnail or spritesheet) is, and its content type."""
        job = self.get(owner, job_id)
        if job.status is not JobStatus.completed or job.output is None:
            raise Conflict(f"Job {job_id} is {job.status.value}; its video exists once it is completed.",
                           code="job_not_completed")
        uri, content_type = {
            "video": (job.output.uri, job.output.content_type),
            "thumbnail": (job.output.thumbnail_uri, THUMBNAIL_TYPE),
            "spritesheet": (job.output.spritesheet_uri, SPRITESHEET_TYPE),
        }[variant]
        if uri is None:
            raise NotFound(f"Job {job_id} has no {variant}.", param="variant")
        return self.storage.locate(uri), content_type

    def delete(self, owner: str, job_id: str) -> Job:
        """Forget a job and remove what it stored; a job still running is cancelled first."""
        job = self.get(owner, job_id)
        if not job.status.is_terminal:
            job = self.jobs.request_cancel(job_id) or job
        for uri in job.stored_uris():
            self.storage.delete(uri)
        self.jobs.delete(job_id)
        return job

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
