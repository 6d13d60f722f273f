"""Image and video inputs of a request: read from JSON or multipart, fetched, validated, then stored.

Nothing is stored until every input of the request has passed validation, and the job only ever carries
storage URIs (``MediaRef``), never bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.errors import ApiError, InvalidRequest, PayloadTooLarge
from app.schemas import GenerateRequest, JobReference, UrlReference
from kinora.config import Settings
from kinora.fetch import FetchRefused, fetch_url
from kinora.jobs import Job, JobStatus, MediaRef
from kinora.media import MediaInfo, MediaLimits, MediaRejected, inspect_media
from kinora.storage import Storage
from models.registry import ModelSpec

MEDIA_FIELDS = ("image", "video")
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,",
                       re.IGNORECASE)


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_content_type"


class BadRequest(ApiError):
    status, code = 400, "invalid_json"


@dataclass(frozen=True)
class Upload:
    """Bytes of one input as received (file part, data URL or fetched URL), before validation."""

    data: bytes
    content_type: str | None
    filename: str | None
    source: str  # "upload" | "data_url" | "url"


@dataclass(frozen=True)
class Accepted:
    """An input that passed validation: bytes still to store, or a video that is already ours."""

    kind: str
    info: MediaInfo | None = None
    upload: Upload | None = None
    job: Job | None = None


async def read_generate_body(request: Request) -> tuple[GenerateRequest, dict[str, Upload]]:
    """The request from a JSON body or a form (fields as text, ``image``/``video`` as files)."""
    fields, uploads = await read_fields(request, MEDIA_FIELDS, json_fields=("segments",))
    try:
        return GenerateRequest.model_validate(fields), uploads
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def read_fields(request: Request, file_fields: tuple[str, ...], json_fields: tuple[str, ...] = ()
                      ) -> tuple[dict[str, object], dict[str, Upload]]:
    """A JSON object body, or a form's text fields and files. Form fields named ``a[b]`` become ``{"a": {"b"}}``
    (how SDKs send nested objects in multipart), and ``json_fields`` hold JSON text."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads: dict[str, Upload] = {}
    fields: dict[str, object] = {}
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        async with request.form(max_files=len(file_fields), max_fields=64) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if name not in file_fields:
                        raise InvalidRequest(f"{name}: only {' and '.join(file_fields)} may be files", param=name,
                                             code="unexpected_file")
                    uploads[name] = Upload(await value.read(), value.content_type, value.filename, "upload")
                elif name in json_fields:
                    fields[name] = _json_field(name, value)
                elif (nested := re.fullmatch(r"(\w+)\[(\w+)\]", name)) is not None:
                    parent = fields.setdefault(nested[1], {})
                    if isinstance(parent, dict):
                        parent[nested[2]] = value
                else:
                    fields[name] = value
    elif content_type in ("", "application/json") or content_type.endswith("+json"):
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        fields = body
    else:
        raise UnsupportedMediaType("Send application/json or multipart/form-data.")
    return fields, uploads


def _json_field(name: str, value: str) -> object:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise InvalidRequest(f"{name}: must be JSON in a multipart form", param=name) from None


def check_combination(req: GenerateRequest, uploads: dict[str, Upload], spec: ModelSpec) -> None:
    """Inputs and options that only make sense together, and what the model can take."""
    has_image, has_video = req.image is not None or "image" in uploads, req.video is not None or "video" in uploads
    for name, given in (("image", has_image), ("video", has_video)):
        if given and name not in spec.inputs:
            raise InvalidRequest(f"{name}: {spec.name} takes {', '.join(spec.inputs)} only", param=name,
                                 code="input_not_supported")
    if spec.requires_image and not has_image:
        raise InvalidRequest(f"image: {spec.name} animates an image; send one", param="image", code="image_required")
    if has_image and req.image_position not in spec.image_positions:
        raise InvalidRequest(f"image_position: {spec.name} puts the image at: {', '.join(spec.image_positions)}",
                             param="image_position", code="input_not_supported")
    if has_image and has_video:
        raise InvalidRequest("image: send an image or a video, not both", param="image", code="conflicting_inputs")
    if req.mode and not has_video:
        raise InvalidRequest("mode: needs a video", param="mode", code="video_required")
    if has_video and (req.mode or "extend") not in spec.video_modes:
        raise InvalidRequest(f"mode: {spec.name} can {' or '.join(spec.video_modes)} a video", param="mode",
                             code="input_not_supported")
    if req.strength is not None and req.mode != "modify":
        raise InvalidRequest("strength: only with mode \"modify\"", param="strength")
    if req.segments and req.mode == "modify":
        raise InvalidRequest("segments: a modification follows its source clip; use one prompt", param="segments")


def read_source(name: str, value: object, uploads: dict[str, Upload], settings: Settings) -> Upload | str | None:
    """The bytes behind one input field, or the id of a job whose video it is."""
    if name in uploads:
        return uploads[name]
    if value is None:
        return None
    if isinstance(value, JobReference):
        return value.job_id
    if isinstance(value, UrlReference):
        return _fetch(name, value.url, settings)
    assert isinstance(value, str)
    if value.startswith("job_"):
        return value
    if value[:5].lower() == "data:":
        return _decode_data_url(name, value, settings.max_media_bytes)
    if value[:7].lower() == "http://" or value[:8].lower() == "https://":
        return _fetch(name, value, settings)
    raise InvalidRequest(f"{name}: expected a data: URL, an http(s) URL or a job id", param=name,
                         code="invalid_media_reference")


def _decode_data_url(name: str, value: str, max_bytes: int) -> Upload:
    match = _DATA_URL.match(value[:300])
    if not match or not match["b64"]:
        raise InvalidRequest(f"{name}: expected a base64 data URL (data:<type>;base64,...)", param=name,
                             code="invalid_data_url")
    payload = value[match.end():]
    if len(payload) * 3 // 4 > max_bytes:
        raise PayloadTooLarge(f"{name}: the file exceeds {max_bytes} bytes", param=name, code="media_too_large")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{name}: the data URL is not valid base64", param=name, code="invalid_data_url") from None
    return Upload(data, match["type"], None, "data_url")


def _fetch(name: str, url: str, settings: Settings) -> Upload:
    if not settings.url_inputs:
        raise InvalidRequest(f"{name}: this server does not fetch URLs; upload the file or send a data URL",
                             param=name, code="url_inputs_disabled")
    try:
        fetched = fetch_url(url, max_bytes=settings.max_media_bytes)
    except FetchRefused as exc:
        status = 413 if exc.code == "media_too_large" else 422
        raise _api_error(status, exc.code, f"{name}: {exc.message}", name) from None
    name = urlsplit(fetched.url).path.rsplit("/", 1)[-1]
    return Upload(fetched.data, fetched.content_type, name or None, "url")


def validate_upload(name: str, upload: Upload, settings: Settings) -> MediaInfo:
    limits = MediaLimits(max_bytes=settings.max_media_bytes, max_video_seconds=settings.max_input_seconds,
                         max_video_frames=int(settings.max_input_seconds * 60) + 1)
    try:
        return inspect_media(upload.data, name, content_type=upload.content_type, filename=upload.filename,
                             limits=limits)
    except MediaRejected as exc:
        raise _api_error(exc.status, exc.code, f"{name}: {exc.message}", name) from None


def validate_job_video(name: str, job: Job | None, job_id: str) -> Job:
    if job is None:
        raise InvalidRequest(f"{name}: no job {job_id!r}", param=name, code="input_job_not_found")
    if name != "video":
        raise InvalidRequest(f"{name}: a job reference is a video; send it as `video`", param=name,
                             code="media_wrong_kind")
    if job.status is not JobStatus.completed or job.output is None:
        raise InvalidRequest(f"{name}: job {job_id} is {job.status.value}; only a completed job's video can be used",
                             param=name, code="input_job_not_completed")
    return job


def store(name: str, accepted: Accepted, job_id: str, storage: Storage) -> MediaRef:
    """Keep an accepted input in object storage (a job's own video is referenced, not copied)."""
    if accepted.job is not None:
        out = accepted.job.output
        assert out is not None
        return MediaRef(uri=out.uri, kind="video", content_type=out.content_type, width=out.width, height=out.height,
                        frames=out.frames, fps=out.fps, seconds=out.seconds, source="job", job_id=accepted.job.id)
    info, upload = accepted.info, accepted.upload
    assert info is not None and upload is not None
    uri = storage.put_bytes(upload.data, f"inputs/{job_id}/{name}{info.extension}", info.content_type)
    return MediaRef(uri=uri, kind=info.kind, content_type=info.content_type, width=info.width, height=info.height,
                    frames=info.frames, fps=info.fps, seconds=info.seconds, source=upload.source)  # type: ignore[arg-type]


def _api_error(status: int, code: str, message: str, param: str) -> ApiError:
    error = ApiError(message, param=param, code=code)
    error.status = status
    return error
