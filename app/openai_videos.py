"""The OpenAI-compatible video API: its wire schemas and their translation to and from Kinora's jobs.

A ``Video`` is a job seen through OpenAI's shape (the same id works on /jobs and /v1/videos); requests are
translated into a ``GenerateRequest`` plus uploads and go through the same service as POST /generate.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from app.errors import InvalidRequest
from app.inputs import Upload
from app.schemas import MAX_PROMPT, GenerateRequest
from kinora.jobs import Job, JobStatus

DEFAULT_SECONDS = "4"  # OpenAI's defaults, so code written for it gets what it expects
DEFAULT_SIZE = "720x1280"
SECONDS_PATTERN = r"^\d{1,2}(\.\d+)?$"
SIZE_PATTERN = r"^\d{2,4}x\d{2,4}$"


def model_name(name: str | None) -> str | None:
    """OpenAI's model names (sora-2, sora-2-pro and their dated versions) mean this server's default."""
    return None if name is None or re.fullmatch(r"sora-2(-pro)?(-\d{4}-\d{2}-\d{2})?", name) else name


# --- responses ----------------------------------------------------------------------------------------


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None = Field(None, description="Kinora keeps videos until they are deleted.")
    prompt: str
    size: str
    seconds: str
    remixed_from_video_id: str | None
    error: VideoError | None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


def to_video(job: Job) -> Video:
    status = "failed" if job.status is JobStatus.cancelled else job.status.value
    req = job.request
    return Video(
        id=job.id, model=req.model, status=status, progress=job.progress,  # type: ignore[arg-type]
        created_at=int(job.created_at.timestamp()),
        completed_at=int(job.completed_at.timestamp()) if job.completed_at else None,
        prompt=req.prompt, size=f"{req.width}x{req.height}", seconds=f"{req.output_seconds:g}",
        remixed_from_video_id=job.remixed_from,
        error=VideoError(code=job.error.code, message=job.error.message) if job.error else None,
    )


# --- requests -----------------------------------------------------------------------------------------


class ImageReference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_url: str | None = Field(None, description="An http(s) URL or a base64 data URL.")
    file_id: str | None = Field(None, description="Not supported: Kinora has no files API.")


class VideoReference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, description="A completed video of yours.")


Prompt = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)]
Seconds = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) else v),
                    Field(pattern=SECONDS_PATTERN, description='Seconds as a string: "4", "8", "12", … "60".')]


class VideoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    model: str | None = None
    seconds: Seconds = DEFAULT_SECONDS
    size: str = Field(DEFAULT_SIZE, pattern=SIZE_PATTERN, description='WIDTHxHEIGHT, e.g. "1280x720".')
    input_reference: ImageReference | None = Field(None, description="An image the video starts from (or a file).")


class VideoExtend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    seconds: Seconds
    video: VideoReference | None = Field(None, description="The video to extend (or a file).")


class VideoEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    video: VideoReference | None = Field(None, description="The video to edit (or a file).")


class VideoRemix(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt


def parse(model: type[BaseModel], fields: dict[str, object]) -> BaseModel:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def generate_request(fields: dict[str, object]) -> GenerateRequest:
    """A Kinora request from OpenAI's fields: ``seconds`` → duration, ``size`` → width and height."""
    try:
        return GenerateRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else None
        param = {"duration": "seconds", "width": "size", "height": "size", "image": "input_reference"}.get(
            loc or "", loc)
        raise InvalidRequest(f"{param}: {first['msg']}", param=param) from None


def size_fields(size: str) -> dict[str, int]:
    width, height = (int(v) for v in size.split("x"))
    return {"width": width, "height": height}


def from_create(body: VideoCreate, uploads: dict[str, Upload]) -> tuple[GenerateRequest, dict[str, Upload]]:
    image: str | None = None
    if body.input_reference is not None:
        if body.input_reference.file_id:
            raise InvalidRequest("input_reference: file_id is not supported; upload the image or send image_url",
                                 param="input_reference", code="unsupported_parameter")
        image = body.input_reference.image_url
    files = {"image": uploads["input_reference"]} if "input_reference" in uploads else {}
    req = generate_request({"prompt": body.prompt, "model": model_name(body.model), "duration": body.seconds,
                            **size_fields(body.size), "image": image})
    return req, files


def from_extend(body: VideoExtend, uploads: dict[str, Upload]) -> tuple[GenerateRequest, dict[str, Upload]]:
    req = generate_request({"prompt": body.prompt, "duration": body.seconds, "mode": "extend",
                            "video": _video(body.video, uploads)})
    return req, _video_upload(uploads)


def from_edit(body: VideoEdit, uploads: dict[str, Upload]) -> tuple[GenerateRequest, dict[str, Upload]]:
    req = generate_request({"prompt": body.prompt, "mode": "modify", "video": _video(body.video, uploads)})
    return req, _video_upload(uploads)


def from_remix(body: VideoRemix, source: Job) -> GenerateRequest:
    """A remix regenerates a completed video of the caller's following a new prompt, at its size."""
    src = source.request
    return generate_request({"prompt": body.prompt, "model": src.model, "mode": "modify",
                             "video": {"job_id": source.id}, "width": src.width, "height": src.height,
                             "fps": src.fps})


def _video(ref: VideoReference | None, uploads: dict[str, Upload]) -> dict | None:
    if ref is None and "video" not in uploads:
        raise InvalidRequest("video: give {\"id\": ...} or upload a file", param="video", code="video_required")
    return {"job_id": ref.id} if ref is not None and "video" not in uploads else None


def _video_upload(uploads: dict[str, Upload]) -> dict[str, Upload]:
    return {"video": uploads["video"]} if "video" in uploads else {}
