"""A client for the Kinora video generation API: ``Kinora`` (sync), ``AsyncKinora`` (async), ``verify_webhook``.

Imports neither the server nor any machine-learning package: only httpx (and typer and rich for the CLI).
"""

from kinora_client._version import __version__
from kinora_client.client import AsyncKinora, Kinora
from kinora_client.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    JobFailed,
    KinoraConnectionError,
    KinoraError,
    KinoraTimeout,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServiceUnavailableError,
)
from kinora_client.models import Job, JobError, Output, Page
from kinora_client.webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "AsyncKinora",
    "AuthenticationError",
    "ConflictError",
    "InvalidRequestError",
    "Job",
    "JobError",
    "JobFailed",
    "Kinora",
    "KinoraConnectionError",
    "KinoraError",
    "KinoraTimeout",
    "NotFoundError",
    "Output",
    "Page",
    "PayloadTooLargeError",
    "RateLimitError",
    "ServiceUnavailableError",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
