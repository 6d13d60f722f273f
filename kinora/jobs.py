"""The job: its status machine and the typed contract shared by the gateway and the workers.

A job carries ids, the fully resolved request and storage URIs, never media bytes. State changes are
pure functions ``Job -> Job`` so that the stores can apply them atomically and tests can call them directly.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    queued = "queued"
    in_progress = "in_progress"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.completed, JobStatus.failed, JobStatus.cancelled)


_last_us = 0
_id_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A time-ordered id: ids sort by creation time, which gives newest-first listing for free.

    Microseconds, strictly increasing within a process, then random bits for uniqueness across processes.
    """
    global _last_us
    with _id_lock:
        _last_us = max(time.time_ns() // 1000, _last_us + 1)
        stamp = _last_us
    return f"{prefix}_{stamp:014x}{secrets.token_hex(6)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class MediaRef(BaseModel):
    """An input image or video, validated by the gateway and kept in object storage: the job holds only this."""

    uri: str = Field(description="Storage URI (internal).")
    kind: Literal["image", "video"]
    content_type: str
    width: int
    height: int
    frames: int | None = None
    fps: float | None = None
    seconds: float | None = None
    source: Literal["upload", "data_url", "url", "job"]
    job_id: str | None = Field(None, description="The job whose video this is, for job references.")


class Segment(BaseModel):
    """One part of the story: this prompt for this many seconds."""

    prompt: str
    duration: float


class GenerationRequest(BaseModel):
    """What the worker needs to render a job, every default resolved."""

    prompt: str
    negative_prompt: str | None = None
    model: str
    duration: float = Field(description="Seconds of new video (for extend: added after the input).")
    fps: int
    width: int
    height: int
    seed: int
    steps: int
    guidance_scale: float
    segments: list[Segment] = Field(default_factory=list, description="Prompts in order; durations sum to duration.")
    image: MediaRef | None = None
    image_position: Literal["first", "last"] = "first"
    video: MediaRef | None = None
    mode: Literal["generate", "extend", "modify"] = "generate"
    strength: float | None = Field(None, description="modify: how far from the source video (0–1).")
    include_input: bool = Field(True, description="extend: the output starts with the input video.")

    @property
    def output_seconds(self) -> float:
        """Length of the delivered video: the input clip is part of it when an extension includes it."""
        if self.mode == "extend" and self.include_input and self.video is not None:
            return self.duration + (self.video.seconds or 0)
        return self.duration


class JobOutput(BaseModel):
    uri: str = Field(description="Storage URI of the MP4 (internal).")
    thumbnail_uri: str | None = Field(None, description="Storage URI of a WebP still (internal).")
    spritesheet_uri: str | None = Field(None, description="Storage URI of a JPEG grid of frames (internal).")
    content_type: str = "video/mp4"
    width: int
    height: int
    fps: int
    frames: int
    seconds: float
    bytes: int
    model: str
    model_version: str = Field("", description="Fingerprint of the weights that made it.")
    native: dict[str, int] = Field(default_factory=dict, description="Size, frames and fps the model produced.")
    upscaler: str = "lanczos"
    interpolation: str = Field("none", description="How frames were added to reach fps: none, flow or nearest.")
    segments: int = Field(1, description="Model runs chained to cover the duration.")


class WebhookTarget(BaseModel):
    url: str
    events: list[str] = Field(default_factory=lambda: ["completed", "failed", "cancelled"])


class JobError(BaseModel):
    code: str
    message: str


class Job(BaseModel):
    id: str
    owner: str
    status: JobStatus = JobStatus.queued
    progress: int = 0
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    request: GenerationRequest
    output: JobOutput | None = None
    error: JobError | None = None
    cancel_requested: bool = False
    attempts: int = 0
    remixed_from: str | None = None
    webhook: WebhookTarget | None = None

    def stored_uris(self) -> list[str]:
        """Objects this job owns in storage: its outputs and its uploaded inputs (not other jobs' videos)."""
        uris = [m.uri for m in (self.request.image, self.request.video) if m is not None and m.source != "job"]
        if self.output is not None:
            uris += [u for u in (self.output.uri, self.output.thumbnail_uri, self.output.spritesheet_uri) if u]
        return uris


def eta_seconds(job: Job, now: datetime | None = None) -> float | None:
    """Seconds left for a running job, from its pace so far (progress is roughly linear in time)."""
    if job.status is not JobStatus.in_progress or not job.started_at or job.progress <= 0:
        return None
    elapsed = ((now or utcnow()) - job.started_at).total_seconds()
    return round(max(0.0, elapsed * (100 - job.progress) / job.progress), 1)


def new_job(owner: str, request: GenerationRequest) -> Job:
    return Job(id=new_id("job"), owner=owner, created_at=utcnow(), request=request)


# --- transitions --------------------------------------------------------------------------------------


def start(job: Job) -> Job | None:
    """Queued (or redelivered after a worker died) → in_progress. None when there is nothing to run."""
    if job.status.is_terminal:
        return None
    if job.cancel_requested:
        return finish_cancelled(job)
    return job.model_copy(
        update={"status": JobStatus.in_progress, "started_at": utcnow(), "progress": 0,
                "attempts": job.attempts + 1}
    )


def set_progress(job: Job, progress: int) -> Job | None:
    if job.status is not JobStatus.in_progress or progress <= job.progress:
        return None
    return job.model_copy(update={"progress": min(progress, 99)})


def complete(job: Job, output: JobOutput) -> Job | None:
    if job.status is not JobStatus.in_progress or job.cancel_requested:
        return None
    return job.model_copy(
        update={"status": JobStatus.completed, "progress": 100, "output": output, "completed_at": utcnow()}
    )


def fail(job: Job, code: str, message: str) -> Job | None:
    if job.status.is_terminal:
        return None
    return job.model_copy(
        update={"status": JobStatus.failed, "error": JobError(code=code, message=message),
                "completed_at": utcnow()}
    )


def finish_cancelled(job: Job) -> Job | None:
    if job.status.is_terminal:
        return None
    return job.model_copy(
        update={"status": JobStatus.cancelled, "cancel_requested": True, "completed_at": utcnow(),
                "error": JobError(code="cancelled", message="The job was cancelled.")}
    )


def request_cancel(job: Job) -> Job | None:
    """A queued job is cancelled at once; a running one is flagged and stops at its next diffusion step."""
    if job.status.is_terminal:
        return None
    if job.status is JobStatus.queued:
        return finish_cancelled(job)
    return job.model_copy(update={"cancel_requested": True})
