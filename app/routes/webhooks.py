"""Webhooks: each job's delivery log, redelivery, and the signing secret of the caller's API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth import require_key
from app.errors import NotFound, Unauthorized, responses
from app.routes.deps import get_service
from app.schemas import WebhookDeliveryList, WebhookDeliveryPublic, WebhookSecret
from app.service import JobService
from kinora.keys import ApiKey

router = APIRouter(tags=["webhooks"], responses=responses(Unauthorized))

Key = Annotated[ApiKey, Depends(require_key)]
Service = Annotated[JobService, Depends(get_service)]


@router.get("/jobs/{job_id}/webhooks", response_model=WebhookDeliveryList, responses=responses(NotFound))
def list_deliveries(job_id: str, key: Key, service: Service) -> WebhookDeliveryList:
    """Every webhook delivery of the job, oldest first, with each attempt's status code."""
    return WebhookDeliveryList(data=[WebhookDeliveryPublic(**d.model_dump()) for d in service.deliveries(key.id,
                                                                                                         job_id)])


@router.post("/jobs/{job_id}/webhooks/{delivery_id}/redeliver", status_code=202,
             response_model=WebhookDeliveryPublic, responses=responses(NotFound))
def redeliver(job_id: str, delivery_id: str, key: Key, service: Service) -> WebhookDeliveryPublic:
    """Send a delivery again now (same `webhook-id`, so receivers can tell it is the same event)."""
    return WebhookDeliveryPublic(**service.redeliver(key.id, job_id, delivery_id).model_dump())


@router.get("/webhooks/secret", response_model=WebhookSecret)
def get_secret(key: Key, service: Service) -> WebhookSecret:
    """The secret that signs this API key's webhook deliveries."""
    return WebhookSecret(secret=service.webhook_secret(key.id))


@router.post("/webhooks/secret/rotate", response_model=WebhookSecret)
def rotate_secret(key: Key, service: Service) -> WebhookSecret:
    """A new signing secret; deliveries from now on are signed with it."""
    return WebhookSecret(secret=service.webhook_secret(key.id, rotate=True))
