"""Wire schemas, named by role: what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kinora.jobs import GenerationRequest, JobError, JobStatus, MediaRef, WebhookTarget

Resolution = Literal["480p", "720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1"]

MAX_SIDE = 1920
MAX_PIXELS = 1920 * 1080
MAX_PROMPT = 4000


MAX_SEGMENTS = 24
WebhookEvent = Literal["started", "progress", "completed", "failed", "cancelled"]


class JobReference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str = Field(min_length=1, max_length=64, description="A completed job of yours; its video is the input.")


class UrlReference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048, description="An http(s) URL, if the server allows URL inputs.")


MediaInput = Annotated[str | JobReference | UrlReference, Field(description=(
    "A `data:` URL (base64), an http(s) URL (when the operator enables URL inputs), a job id, "
    "`{\"job_id\": ...}` or `{\"url\": ...}`. In multipart requests, a file part."))]


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    duration: float = Field(gt=0, le=60)

    @field_validator("prompt")
    @classmethod
    def _prompt_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text")
        return value.strip()


class GenerateRequest(BaseModel):
    """A video request: text, plus optionally an image to animate or a video to extend or modify.

    Unknown fields are rejected so that typos do not pass silently.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"prompt": "Une mer agitée au coucher du soleil", "duration": 15}]})

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT, description="What the video shows.")
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT, description="What to steer away from.")
    model: str | None = Field(None, description="A name from GET /models; the server's default when omitted.")
    duration: float = Field(5, gt=0, le=60, description="Seconds of video.")
    fps: int = Field(24, ge=1, le=60, description="Frames per second of the output.")
    resolution: Resolution = Field("480p", description="Height of the short side; ignored with width/height.")
    aspect_ratio: AspectRatio = Field("16:9", description="Ignored when width and height are given.")
    width: int | None = Field(None, ge=64, le=MAX_SIDE, description="Explicit output width (even).")
    height: int | None = Field(None, ge=64, le=MAX_SIDE, description="Explicit output height (even).")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Random seed; chosen and echoed when omitted.")
    steps: int | None = Field(None, ge=1, le=200, description="Diffusion steps; the model's default when omitted.")
    guidance_scale: float | None = Field(None, ge=0, le=30, description="Classifier-free guidance scale.")
    image: MediaInput | None = Field(None, description="Animate this image (PNG, JPEG or WebP).")
    image_position: Literal["first", "last"] = Field("first", description="The video starts (or ends) on the image.")
    video: MediaInput | None = Field(None, description="A clip to extend or modify (MP4, MOV or WebM).")
    mode: Literal["extend", "modify"] | None = Field(
        None, description="With `video`: `extend` adds `duration` seconds after it (the default), `modify` "
                          "regenerates it following the prompt.")
    strength: float | None = Field(None, ge=0.05, le=1, description="modify: how far from the source (default 0.6).")
    include_input: bool = Field(True, description="extend: the output starts with the input clip.")
    segments: list[SegmentIn] | None = Field(
        None, min_length=1, max_length=MAX_SEGMENTS,
        description="Tell a story in parts: each prompt for its duration; `duration` becomes their sum.")
    webhook_url: str | None = Field(None, max_length=2048, description="POST signed job events here.")
    webhook_events: list[WebhookEvent] | None = Field(
        None, min_length=1, description="Which events to send (default: completed, failed, cancelled).")

    @field_validator("prompt")
    @classmethod
    def _prompt_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text")
        return value.strip()

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int | None) -> int | None:
        if value is not None and value % 2:
            raise ValueError("must be even (H.264 with 4:2:0 chroma needs even sizes)")
        return value

    @model_validator(mode="after")
    def _size_pair(self) -> GenerateRequest:
        if (self.width is None) != (self.height is None):
            raise ValueError("give both width and height, or neither")
        if self.width and self.height and self.width * self.height > MAX_PIXELS:
            raise ValueError(f"width × height must not exceed {MAX_PIXELS} pixels")
        if self.segments:
            total = round(sum(s.duration for s in self.segments), 6)
            if total > 60:
                raise ValueError("the segments' durations must add up to at most 60 seconds")
            if "duration" in self.model_fields_set and abs(self.duration - total) > 1e-6:
                raise ValueError("duration must equal the sum of the segments' durations (or be omitted)")
            self.duration = total
        return self

    def sets_size(self) -> bool:
        """Whether the client chose the output shape, rather than leaving it to follow an input."""
        return bool({"width", "aspect_ratio"} & self.model_fields_set)

    def output_size(self) -> tuple[int, int]:
        if self.width and self.height:
            return self.width, self.height
        short = int(self.resolution.removesuffix("p"))
        a, b = (int(x) for x in self.aspect_ratio.split(":"))
        long = round(short * max(a, b) / min(a, b) / 2) * 2
        return (long, short) if a >= b else (short, long)


class JobOutputPublic(BaseModel):
    url: str
    thumbnail_url: str | None = Field(None, description="A WebP still from the video.")
    spritesheet_url: str | None = Field(None, description="A JPEG grid of evenly spaced frames.")
    content_type: str
    width: int
    height: int
    fps: int
    frames: int
    seconds: float
    bytes: int
    model: str
    model_version: str
    native: dict[str, int]
    upscaler: str
    interpolation: str
    segments: int


class MediaPublic(BaseModel):
    """An input as the job echoes it (without its internal storage URI)."""

    kind: Literal["image", "video"]
    content_type: str
    width: int
    height: int
    frames: int | None = None
    fps: float | None = None
    seconds: float | None = None
    source: str
    job_id: str | None = None

    @classmethod
    def of(cls, ref: MediaRef | None) -> MediaPublic | None:
        return None if ref is None else cls(**ref.model_dump(exclude={"uri"}))


class RequestPublic(GenerationRequest):
    image: MediaPublic | None = None  # type: ignore[assignment]
    video: MediaPublic | None = None  # type: ignore[assignment]


class JobPublic(BaseModel):
    id: str
    object: Literal["job"] = "job"
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    request: RequestPublic
    output: JobOutputPublic | None
    error: JobError | None
    cancel_requested: bool
    remixed_from: str | None = Field(None, description="The job this one remixes (OpenAI-compatible remix).")
    webhook: WebhookTarget | None = None
    queue_position: int | None = Field(None, description="While queued: 1 = next for its model's workers.")
    eta_seconds: float | None = Field(None, description="While running: an estimate of the seconds left.")


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobPublic]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `after` to get the next page.")


class ModelInfo(BaseModel):
    name: str
    family: str
    pipeline: str
    description: str
    random_weights: bool
    available: bool
    loaded: bool | None = Field(description="A live worker has this model loaded.")
    native_fps: int
    frame_multiple: int
    size_multiple: int
    max_seconds: float = Field(description="Longest video per request (chained runs when above run_seconds).")
    run_seconds: float = Field(description="Longest clip one run of the model makes.")
    inputs: list[str] = Field(description="What it can be conditioned on: text, image, video.")
    requires_image: bool = Field(description="An image-to-video model: every request must send an image.")
    image_positions: list[str] = Field(description="Where an image can be pinned: first and/or last frame.")
    video_modes: list[str] = Field(description="What it can do with a video input: extend and/or modify.")
    default_steps: int
    default_guidance: float


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    default: str
    data: list[ModelInfo]


class Health(BaseModel):
    status: Literal["ok", "ready", "not_ready"]
    checks: dict[str, str] = Field(default_factory=dict)


class AttemptPublic(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookDeliveryPublic(BaseModel):
    id: str = Field(description="Also the `webhook-id` header the receiver saw.")
    object: Literal["webhook.delivery"] = "webhook.delivery"
    event: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[AttemptPublic]
    next_attempt_at: datetime | None
    created_at: datetime
    payload: dict


class WebhookDeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[WebhookDeliveryPublic]


class WebhookSecret(BaseModel):
    secret: str = Field(description="Verify deliveries with it (Standard Webhooks, `whsec_…`).")
