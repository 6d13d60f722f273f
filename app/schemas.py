"""Wire schemas, named by role: what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kinora.jobs import GenerationRequest, JobError, JobStatus

Resolution = Literal["480p", "720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1"]

MAX_SIDE = 1920
MAX_PIXELS = 1920 * 1080
MAX_PROMPT = 4000


class GenerateRequest(BaseModel):
    """A text-to-video request. Unknown fields are rejected so that typos do not pass silently."""

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
        return self

    def output_size(self) -> tuple[int, int]:
        if self.width and self.height:
            return self.width, self.height
        short = int(self.resolution.removesuffix("p"))
        a, b = (int(x) for x in self.aspect_ratio.split(":"))
        long = round(short * max(a, b) / min(a, b) / 2) * 2
        return (long, short) if a >= b else (short, long)


class JobOutputPublic(BaseModel):
    url: str
    content_type: str
    width: int
    height: int
    fps: int
    frames: int
    seconds: float
    bytes: int
    model: str
    native: dict[str, int]
    upscaler: str


class JobPublic(BaseModel):
    id: str
    object: Literal["job"] = "job"
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    request: GenerationRequest
    output: JobOutputPublic | None
    error: JobError | None
    cancel_requested: bool


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
    max_seconds: float
    default_steps: int
    default_guidance: float


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    default: str
    data: list[ModelInfo]


class Health(BaseModel):
    status: Literal["ok", "ready", "not_ready"]
    checks: dict[str, str] = Field(default_factory=dict)
