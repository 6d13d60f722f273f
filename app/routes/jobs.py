"""Jobs: create (POST /generate), poll, list, cancel, download."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse
from sse_starlette import EventSourceResponse

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
from app.inputs import BadRequest, UnsupportedMediaType, read_generate_body
from app.routes.deps import fair_use, get_service, to_public
from app.schemas import JobList, JobPublic
from app.service import JobService
from kinora.keys import ApiKey
from kinora.storage import Located

EVENT_POLL_S = 0.25  # the job store is the one source of truth; reading it 4×/s per open stream is cheap

router = APIRouter(tags=["jobs"], responses=responses(Unauthorized))

GENERATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/GenerateRequest"}},
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/GenerateForm"}},
    },
}

Key = Annotated[ApiKey, Depends(require_key)]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", description="Retry-safe creates: the same key and request give back the same job.")]
Variant = Annotated[Literal["video", "thumbnail", "spritesheet"], Query(description="Which file to download.")]
Service = Annotated[JobService, Depends(get_service)]


@router.post("/generate", status_code=202, response_model=JobPublic, dependencies=[Depends(fair_use)],
             responses=responses(BadRequest, InvalidRequest, PayloadTooLarge, UnsupportedMediaType,
                                 TooManyRequests, ServiceUnavailable),
             openapi_extra={"requestBody": GENERATE_BODY})
async def generate(key: Key, service: Service, request: Request, response: Response,
                   idempotency_key: IdempotencyKey = None) -> JobPublic:
    """Queue a video generation. Poll the job at the `Location` header until it is terminal.

    Send JSON, or `multipart/form-data` with the same fields as text and `image` / `video` as files.
    """
    body, uploads = await read_generate_body(request)
    job, replayed = await run_in_threadpool(service.create_once, key.id, idempotency_key, body, uploads)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = request.app.url_path_for("get_job", job_id=job.id)
    return to_public(job, request)


@router.get("/jobs", response_model=JobList, responses=responses(InvalidRequest))
def list_jobs(key: Key, service: Service, request: Request,
              limit: Annotated[int, Query(ge=1, le=100)] = 20,
              after: Annotated[str | None, Query(max_length=64, description="Cursor from next_cursor.")] = None,
              ) -> JobList:
    """The caller's jobs, newest first."""
    jobs, has_more = service.list(key.id, limit, after)
    return JobList(data=[to_public(j, request) for j in jobs], has_more=has_more,
                   next_cursor=jobs[-1].id if has_more else None)


@router.get("/jobs/{job_id}", response_model=JobPublic, responses=responses(NotFound))
def get_job(job_id: str, key: Key, service: Service, request: Request) -> JobPublic:
    return to_public(service.get(key.id, job_id), request)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "Server-sent events: `job` (the job, as GET /jobs/{id}) on every change "
                                            "of status, progress, queue position or ETA; the stream ends after a "
                                            "terminal status."}, **responses(NotFound)})
async def job_events(job_id: str, key: Key, service: Service, request: Request) -> EventSourceResponse:
    """Live updates of one job, instead of polling."""
    await run_in_threadpool(service.get, key.id, job_id)  # 404 before the stream starts

    async def events() -> AsyncIterator[dict]:
        last = None
        while True:
            job = await run_in_threadpool(service.get, key.id, job_id)
            public = to_public(job, request)
            state = (public.status, public.progress, public.queue_position, public.cancel_requested)
            if state != last:
                last = state
                yield {"event": "job", "id": f"{public.status.value}-{public.progress}",
                       "data": public.model_dump_json()}
            if job.status.is_terminal:
                return
            await asyncio.sleep(EVENT_POLL_S)

    return EventSourceResponse(events(), ping=15)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic, responses=responses(NotFound, Conflict))
def cancel_job(job_id: str, key: Key, service: Service, request: Request) -> JobPublic:
    """A queued job is cancelled at once; a running one stops at its next diffusion step."""
    return to_public(service.cancel(key.id, job_id), request)


CONTENT_RESPONSES = {
    200: {"content": {"video/mp4": {}, "image/webp": {}, "image/jpeg": {}},
          "description": "The MP4 (or its thumbnail or spritesheet)."},
    302: {"description": "Redirect to a presigned object-storage URL."},
}


@router.get("/jobs/{job_id}/content", response_class=FileResponse,
            responses={**CONTENT_RESPONSES, **responses(NotFound, Conflict)})
def get_job_content(job_id: str, key: Key, service: Service, variant: Variant = "video") -> Response:
    return content_response(*service.content(key.id, job_id, variant), f"{job_id}")


def content_response(located: Located, content_type: str, name: str) -> Response:
    if located.url:
        return RedirectResponse(located.url, status_code=302)
    extension = {"video/mp4": ".mp4", "image/webp": ".webp", "image/jpeg": ".jpg"}[content_type]
    return FileResponse(located.path, media_type=content_type, filename=name + extension)
