"""Run one job end to end: pipeline → post-process → encode → storage → job store.

A plain function shared by the Celery task (production) and the embedded worker thread.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from kinora.config import Settings
from kinora.jobs import Job, JobOutput, JobStatus
from kinora.jobstore import JobStore
from kinora.storage import Storage
from models.chaining import plan_runs
from models.pipeline import VideoGenerator
from models.registry import native_size, output_frame_count
from worker.chain import generate_frames
from worker.encode import CONTENT_TYPE, encode_mp4
from worker.postprocess import (
    LanczosResizer,
    Resizer,
    input_intro,
    load_conditioning,
    output_frames,
    watermarked,
)
from worker.previews import SPRITESHEET_TYPE, THUMBNAIL_TYPE, PreviewTap
from worker.watermark import render_watermark

log = logging.getLogger(__name__)

DIFFUSION_SHARE = 90  # progress points given to diffusion steps; the rest covers encoding and upload


class JobCancelled(Exception):
    pass


@dataclass
class Runtime:
    """What a worker process holds for its whole life: stores, storage and one loaded model."""

    settings: Settings
    jobs: JobStore
    storage: Storage
    generator: VideoGenerator
    resizer: Resizer = field(default_factory=LanczosResizer)


def run_job(job_id: str, rt: Runtime) -> Job | None:
    job = rt.jobs.start(job_id)
    if job is None or job.status is not JobStatus.in_progress:
        return job
    log.info("job %s started (attempt %d)", job_id, job.attempts)

    def on_step(done: int, total: int) -> None:
        rt.jobs.progress(job_id, DIFFUSION_SHARE * done // total)
        if rt.jobs.cancel_requested(job_id):
            raise JobCancelled

    stored: list[str] = []
    try:
        if job.request.model != rt.generator.spec.name:
            raise ValueError(f"this worker serves {rt.generator.spec.name}, not {job.request.model}")
        with tempfile.TemporaryDirectory(prefix="kinora-") as tmp:
            path = Path(tmp) / f"{job_id}.mp4"
            previews = PreviewTap(output_frame_count(job.request.output_seconds, job.request.fps))
            output = render_video(job, path, rt, on_step, previews)
            if rt.jobs.cancel_requested(job_id):
                raise JobCancelled
            stored.append(rt.storage.put_file(path, f"{job_id}.mp4", CONTENT_TYPE))
            stored.append(rt.storage.put_bytes(previews.thumbnail_bytes(), f"{job_id}.thumbnail.webp",
                                               THUMBNAIL_TYPE))
            stored.append(rt.storage.put_bytes(previews.spritesheet_bytes(), f"{job_id}.spritesheet.jpg",
                                               SPRITESHEET_TYPE))
        uris = dict(zip(("uri", "thumbnail_uri", "spritesheet_uri"), stored, strict=True))
        done = rt.jobs.complete(job_id, output.model_copy(update=uris))
        if done is None:  # cancelled between the upload and now
            raise JobCancelled
        log.info("job %s completed", job_id)
        return done
    except JobCancelled:
        for uri in stored:
            rt.storage.delete(uri)
        log.info("job %s cancelled", job_id)
        return rt.jobs.finish_cancelled(job_id)
    except SoftTimeLimitExceeded:
        return rt.jobs.fail(job_id, "timeout", "The job exceeded the worker's time limit.")
    except Exception as exc:
        log.exception("job %s failed", job_id)
        return rt.jobs.fail(job_id, "generation_failed", f"{type(exc).__name__}: {exc}"[:500])


def render_video(job: Job, path: Path, rt: Runtime, on_step: Callable[[int, int], None],
                 previews: PreviewTap | None = None) -> JobOutput:
    """Model runs → native frames → interpolation → super-resolution → watermark → encoder, frame by frame."""
    req, settings, spec = job.request, rt.settings, rt.generator.spec
    size = native_size(spec, req.width, req.height)
    segments = [(s.prompt, s.duration) for s in req.segments] or [(req.prompt, req.duration)]
    runs = plan_runs(spec, segments, after_input=req.mode == "extend")
    intro, intro_count = input_intro(req, rt.storage, rt.resizer, settings.interpolation)
    count = output_frame_count(req.output_seconds, req.fps) - intro_count
    last_index = round((count - 1) * spec.native_fps / req.fps)  # native frame under the last output frame
    native = generate_frames(rt.generator, req, runs, size, load_conditioning(req, rt.storage, spec, size),
                             on_step, image_index=last_index)
    new = output_frames(native, spec.native_fps, width=req.width, height=req.height, fps=req.fps, count=count,
                        resizer=rt.resizer, interpolation=settings.interpolation)
    mark = render_watermark(req.width, req.height, settings.watermark_text, settings.watermark_position)
    frames = watermarked(itertools.chain(intro, new), mark)
    if previews is not None:
        frames = previews(frames)
    metadata = {
        "title": req.prompt[:200],
        "comment": f"kinora job_id={job.id} model={req.model} version={rt.generator.version} seed={req.seed}",
        "description": settings.watermark_text,
    }
    written = encode_mp4(frames, path, fps=req.fps, width=req.width, height=req.height, metadata=metadata,
                         crf=settings.video_crf, preset=settings.video_preset)
    rt.jobs.progress(job.id, 99)
    return JobOutput(
        uri="", width=req.width, height=req.height, fps=req.fps, frames=written, seconds=round(written / req.fps, 3),
        bytes=path.stat().st_size, model=req.model, model_version=rt.generator.version,
        native={"width": size[0], "height": size[1], "frames": sum(r.keep for r in runs), "fps": spec.native_fps},
        upscaler=rt.resizer.name, segments=len(runs),
        interpolation=settings.interpolation if spec.native_fps != req.fps else "none",
    )
