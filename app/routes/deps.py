"""Route dependencies: the service from the app's state, and job → public schema conversion."""

from __future__ import annotations

from fastapi import Request

from app.schemas import JobOutputPublic, JobPublic, MediaPublic, RequestPublic
from app.service import JobService
from kinora.jobs import Job, eta_seconds


def get_service(request: Request) -> JobService:
    return request.app.state.service


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
