"""Health, readiness and the model list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.auth import require_key
from app.errors import Unauthorized, responses
from app.routes.deps import get_service
from app.schemas import Health, ModelInfo, ModelList
from app.service import JobService

router = APIRouter()
Service = Annotated[JobService, Depends(get_service)]


@router.get("/healthz", response_model=Health, tags=["health"])
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, tags=["health"],
            responses={503: {"model": Health, "description": "A dependency is not ready."}})
def readyz(service: Service) -> JSONResponse:
    """Store, storage and queue reachable, and a worker has loaded its model."""
    checks = service.readiness()
    ready = all(v.startswith("ok") for v in checks.values())
    body = Health(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/models", response_model=ModelList, tags=["models"], responses=responses(Unauthorized),
            dependencies=[Depends(require_key)])
def list_models(service: Service) -> ModelList:
    """Registered models. Presets with `random_weights: true` produce noise-like video."""
    specs, loaded = service.models()
    data = [ModelInfo(**{k: v for k, v in s.items() if k in ModelInfo.model_fields}, loaded=s["name"] in loaded)
            for s in specs]
    return ModelList(default=service.settings.default_model, data=data)
