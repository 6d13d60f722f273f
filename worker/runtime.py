"""Build a worker's Runtime from settings: stores, storage, and the model loaded once."""

from __future__ import annotations

import logging

from kinora.config import Settings
from kinora.docstore import open_docstore
from kinora.jobstore import JobStore
from kinora.storage import open_storage
from kinora.workers import start_heartbeat
from models.pipeline import VideoGenerator
from models.registry import get_spec
from worker.postprocess import open_resizer
from worker.runner import Runtime

log = logging.getLogger(__name__)


def build_runtime(settings: Settings, jobs: JobStore | None = None) -> Runtime:
    """``jobs``: share the gateway's job store (embedded mode), so both count usage in one place."""
    docs = jobs.docs if jobs is not None else open_docstore(settings)
    generator = VideoGenerator.load(get_spec(settings.loaded_model), settings.models_dir, settings.device)
    start_heartbeat(docs, generator.spec.name, generator.device)
    return Runtime(settings=settings, jobs=jobs or JobStore.open(docs, settings), storage=open_storage(settings),
                   generator=generator, resizer=open_resizer(settings.upscaler, generator.device))
