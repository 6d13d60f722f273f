"""The app factory. The lifespan owns every long-lived client; nothing connects at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.errors import install_error_handlers
from app.limits import BodySizeLimit
from app.openai_videos import VideoCreate, VideoEdit, VideoExtend
from app.queue import CeleryQueue, JobQueue
from app.routes import jobs, system, videos, web, webhooks
from app.schemas import GenerateRequest
from app.service import JobService
from kinora import __version__
from kinora.config import Settings
from kinora.docstore import open_docstore
from kinora.jobstore import JobStore
from kinora.keys import KeyStore
from kinora.storage import open_storage
from kinora.usage import Usage
from kinora.webhooks import Dispatcher, SecretStore

log = logging.getLogger(__name__)


def open_queue(settings: Settings, jobs: JobStore) -> JobQueue:
    if settings.embedded:
        # Embedded mode only: the worker (and torch) live in this process.
        from worker.embedded import EmbeddedWorker

        worker = EmbeddedWorker(settings, jobs)
        worker.start()
        return worker
    return CeleryQueue(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        docs = open_docstore(settings)
        usage = Usage(settings)  # one instance: in embedded mode its counters live in this process's memory
        jobs_store = JobStore.open(docs, settings, usage)
        queue = open_queue(settings, jobs_store)
        app.state.keys = KeyStore(docs)
        app.state.usage = usage
        app.state.service = JobService(settings=settings, docs=docs, jobs=jobs_store, queue=queue,
                                       storage=open_storage(settings))
        dispatcher = Dispatcher(jobs_store.outbox, SecretStore(docs), allow_private=settings.webhook_allow_private,
                                timeout_s=settings.webhook_timeout_s)
        dispatcher.start()
        log.info("kinora ready in %s mode", "embedded" if settings.embedded else "production")
        try:
            yield
        finally:
            dispatcher.stop()
            queue.close()

    app = FastAPI(
        title="Kinora",
        version=__version__,
        summary="Self-hostable video generation: a prompt in, a watermarked MP4 out.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)

    app.include_router(system.router)
    app.include_router(jobs.router)
    app.include_router(webhooks.router)
    app.include_router(videos.router)
    app.include_router(web.router)
    app.mount("/static", web.static_files, name="static")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    document_request_bodies(app)
    return app


def document_request_bodies(app: FastAPI) -> None:
    """Routes that read JSON or multipart themselves: add the schemas their request bodies refer to."""
    default = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = default()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (GenerateRequest, VideoCreate, VideoExtend, VideoEdit):
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[model.__name__] = body
        components["GenerateForm"] = {
            "title": "GenerateForm",
            "description": "The GenerateRequest fields as form fields (`segments` as a JSON string), "
                           "with `image` or `video` as a file.",
            "allOf": [{"$ref": "#/components/schemas/GenerateRequest"}],
            "properties": {"image": {"type": "string", "format": "binary"},
                           "video": {"type": "string", "format": "binary"},
                           "segments": {"type": "string", "description": "JSON array of {prompt, duration}."}},
        }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
