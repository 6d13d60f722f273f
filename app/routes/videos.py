"""The OpenAI-compatible surface, /v1/videos: the official `openai` SDK works against it unchanged."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.auth import require_key
from app.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    responses,
)
from app.inputs import UnsupportedMediaType, Upload, read_fields
from app.openai_videos import (
    Video,
    VideoCreate,
    VideoDeleted,
    VideoEdit,
    VideoExtend,
    VideoList,
    VideoRemix,
    from_create,
    from_edit,
    from_extend,
    from_remix,
    parse,
    to_video,
)
from app.routes.deps import fair_use, get_service
from app.routes.jobs import CONTENT_RESPONSES, IdempotencyKey, Variant, content_response
from app.schemas import GenerateRequest
from app.service import JobService
from kinora.keys import ApiKey

POLL_AFTER_MS = "1000"

router = APIRouter(prefix="/v1/videos", tags=["openai-compatible"],
                   responses=responses(Unauthorized, openai=True))

Key = Annotated[ApiKey, Depends(require_key)]
Service = Annotated[JobService, Depends(get_service)]
CREATE_ERRORS = responses(InvalidRequest, PayloadTooLarge, UnsupportedMediaType, TooManyRequests, ServiceUnavailable,
                          openai=True)
FAIR_USE = [Depends(fair_use)]


def body_doc(schema: str) -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref},
                                                          "multipart/form-data": {"schema": ref}}}}


@router.post("", response_model=Video, responses=CREATE_ERRORS, dependencies=FAIR_USE,
             openapi_extra=body_doc("VideoCreate"))
async def create_video(key: Key, service: Service, request: Request, response: Response,
                       idempotency_key: IdempotencyKey = None) -> Video:
    """Create a video (multipart or JSON): `prompt`, `model`, `seconds`, `size`, `input_reference`."""
    fields, uploads = await read_fields(request, ("input_reference",))
    req, files = from_create(parse(VideoCreate, fields), uploads)  # type: ignore[arg-type]
    return await create(service, key, idempotency_key, req, files, response)


@router.post("/extensions", response_model=Video, responses=CREATE_ERRORS, dependencies=FAIR_USE,
             openapi_extra=body_doc("VideoExtend"))
async def extend_video(key: Key, service: Service, request: Request, response: Response,
                       idempotency_key: IdempotencyKey = None) -> Video:
    """Continue a video by `seconds` more; the result is the input followed by the continuation."""
    fields, uploads = await read_fields(request, ("video",))
    req, files = from_extend(parse(VideoExtend, fields), uploads)  # type: ignore[arg-type]
    return await create(service, key, idempotency_key, req, files, response)


@router.post("/edits", response_model=Video, responses=CREATE_ERRORS, dependencies=FAIR_USE,
             openapi_extra=body_doc("VideoEdit"))
async def edit_video(key: Key, service: Service, request: Request, response: Response,
                     idempotency_key: IdempotencyKey = None) -> Video:
    """Regenerate a video following the prompt (Kinora's `modify` mode)."""
    fields, uploads = await read_fields(request, ("video",))
    req, files = from_edit(parse(VideoEdit, fields), uploads)  # type: ignore[arg-type]
    return await create(service, key, idempotency_key, req, files, response)


@router.post("/{video_id}/remix", response_model=Video, dependencies=FAIR_USE,
             responses={**CREATE_ERRORS, **responses(NotFound, openai=True)})
async def remix_video(video_id: str, body: VideoRemix, key: Key, service: Service, response: Response,
                      idempotency_key: IdempotencyKey = None) -> Video:
    """A new video from a completed one of yours, following a new prompt, at the same size."""
    source = await run_in_threadpool(service.get, key.id, video_id)
    return await create(service, key, idempotency_key, from_remix(body, source), {}, response, source.id)


async def create(service: JobService, key: ApiKey, idempotency_key: str | None, req: GenerateRequest,
                 files: dict[str, Upload], response: Response, remixed_from: str | None = None) -> Video:
    job, replayed = await run_in_threadpool(service.create_once, key.id, idempotency_key, req, files, remixed_from)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return to_video(job)


@router.get("", response_model=VideoList, responses=responses(InvalidRequest, openai=True))
def list_videos(key: Key, service: Service,
                after: Annotated[str | None, Query(max_length=64, description="The last id of the previous page.")]
                = None,
                limit: Annotated[int, Query(ge=1, le=100)] = 20,
                order: Annotated[Literal["asc", "desc"], Query()] = "desc") -> VideoList:
    jobs, has_more = service.list(key.id, limit, after, ascending=order == "asc")
    data = [to_video(j) for j in jobs]
    return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                     has_more=has_more)


@router.get("/{video_id}", response_model=Video, responses=responses(NotFound, openai=True))
def get_video(video_id: str, key: Key, service: Service, response: Response) -> Video:
    video = to_video(service.get(key.id, video_id))
    if video.status in ("queued", "in_progress"):
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return video


@router.delete("/{video_id}", response_model=VideoDeleted, responses=responses(NotFound, openai=True))
def delete_video(video_id: str, key: Key, service: Service) -> VideoDeleted:
    """Delete a video and its files; one still running is cancelled first."""
    return VideoDeleted(id=service.delete(key.id, video_id).id)


@router.get("/{video_id}/content", responses={**CONTENT_RESPONSES, **responses(NotFound, Conflict, openai=True)})
def get_video_content(video_id: str, key: Key, service: Service, variant: Variant = "video") -> Response:
    """The MP4 (`variant=video`), a WebP thumbnail or a JPEG spritesheet."""
    return content_response(*service.content(key.id, video_id, variant), video_id)
