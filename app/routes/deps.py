"""Route dependencies: the service from the app's state, and job → public schema conversion."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Request, Response

from app.auth import require_key
from app.errors import TooManyRequests
from app.schemas import JobOutputPublic, JobPublic, MediaPublic, RequestPublic
from app.service import JobService
from kinora.jobs import Job, eta_seconds
from kinora.keys import ApiKey


def get_service(request: Request) -> JobService:
    return request.app.state.service


def fair_use(request: Request, response: Response, key: Annotated[ApiKey, Depends(require_key)]) -> None:
    """Per-key limits on creates: requests a minute, jobs queued or running, GPU-seconds a day (429s)."""
    settings, usage, service = request.app.state.settings, request.app.state.usage, request.app.state.service
    verdict = usage.hit_request(key.id)
    if verdict is not None:
        headers = verdict.headers("requests")
        if not verdict.allowed:
            raise TooManyRequests(f"More than {verdict.limit} create requests a minute for this API key.",
                                  headers={**headers, "Retry-After": str(max(1, math.ceil(verdict.reset_s)))})
        response.headers.update(headers)
    if settings.max_active_jobs and service.jobs.active_count(key.id) >= settings.max_active_jobs:
        raise TooManyRequests(f"This API key already has {settings.max_active_jobs} jobs queued or running.",
                              code="too_many_active_jobs", headers={"Retry-After": "5"})
    budget = usage.gpu_budget(key.id)
    if budget is not None:
        if not budget.allowed:
            raise TooManyRequests(f"This API key has used its {budget.limit} GPU-seconds for today.",
                                  code="quota_exceeded", headers={**budget.headers("gpu-seconds"), "Retry-After":
                                                                  str(max(1, math.ceil(budget.reset_s)))})
        response.headers.update(budget.headers("gpu-seconds"))


def to_public(job: Job, request: Request) -> JobPublic:
    output = None
    if job.output is not None:
        base = request.app.state.settings.public_url
        path = request.app.url_path_for("get_job_content", job_id=job.id)
        url = base.rstrip("/") + path if base else str(request.url_for("get_job_content", job_id=job.id))
        previews = {f"{v}_url": f"{url}?variant={v}" if getattr(job.output, f"{v}_uri") else None
                    for v in ("thumbnail", "spritesheet")}
        output = JobOutputPublic(url=url, **previews, **job.output.model_dump(
            exclude={"uri", "thumbnail_uri", "spritesheet_uri"}))
    echoed = job.request.model_dump(exclude={"image", "video"})
    public = RequestPublic(**echoed, image=MediaPublic.of(job.request.image), video=MediaPublic.of(job.request.video))
    service: JobService = request.app.state.service
    return JobPublic(**job.model_dump(exclude={"owner", "output", "attempts", "request"}),
                     request=public, output=output, queue_position=service.jobs.queue_position(job),
                     eta_seconds=eta_seconds(job))
