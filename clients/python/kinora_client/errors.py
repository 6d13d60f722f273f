"""Errors: one class per kind of HTTP refusal, built from the server's ``{"error": {...}}`` body."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from kinora_client.models import Job


class KinoraError(Exception):
    """The server refused a request (``status`` is its HTTP status), or the client gave up on it.

    ``code``, ``message`` and ``param`` are the server's ``{"error": {"code", "message", "param"}}``.
    """

    def __init__(self, status: int | None, code: str, message: str, param: str | None = None, *,
                 headers: httpx.Headers | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.headers = headers if headers is not None else httpx.Headers()

    def __str__(self) -> str:
        where = f"HTTP {self.status}, " if self.status is not None else ""
        return f"{self.message} ({where}{self.code})"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r}, "
                f"param={self.param!r})")


class InvalidRequestError(KinoraError):
    """400, 415 or 422: the request is malformed or breaks a rule; ``param`` names the field."""


class AuthenticationError(KinoraError):
    """401: the API key is missing, unknown or revoked."""


class NotFoundError(KinoraError):
    """404: no such job for this key (another key's job looks the same)."""


class ConflictError(KinoraError):
    """409: the job is not in a state that allows this (not completed yet, already ended)."""


class PayloadTooLargeError(InvalidRequestError):
    """413: the body or one of its inputs is too large."""


class RateLimitError(KinoraError):
    """429: too many requests; retried automatically before this is raised."""


class ServiceUnavailableError(KinoraError):
    """503: a backend (queue, store, storage) is unreachable; retried automatically before this is raised."""


class KinoraConnectionError(KinoraError):
    """The server could not be reached (or the connection broke) after every retry."""

    def __init__(self, message: str) -> None:
        super().__init__(None, "connection_error", message)


class JobFailed(KinoraError):
    """The job ended as ``failed`` or ``cancelled``; ``code``/``message`` come from its ``error``."""

    def __init__(self, job: Job) -> None:
        if job.error is not None:
            code, message = job.error.code, job.error.message
        else:
            code, message = job.status, f"Job {job.id} was {job.status}."
        super().__init__(None, code, message)
        self.job = job


class KinoraTimeout(KinoraError):
    """``wait`` gave up before the job reached a terminal status; ``job`` is its last known state."""

    def __init__(self, job: Job, timeout: float) -> None:
        super().__init__(None, "timeout", f"Job {job.id} is still {job.status} after {timeout:g} s.")
        self.job = job


_BY_STATUS: dict[int, type[KinoraError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_from_response(response: httpx.Response) -> KinoraError:
    """The typed error for an error response; its body must have been read."""
    code, message, param = "http_error", response.reason_phrase or f"HTTP {response.status_code}", None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # Kinora's shape (and OpenAI's, under /v1/)
        code = str(error.get("code") or error.get("type") or code)
        message = str(error.get("message") or message)
        param = error.get("param")
    elif response.text.strip():
        message = response.text.strip()[:500]
    cls = _BY_STATUS.get(response.status_code, KinoraError)
    return cls(response.status_code, code, message, param, headers=response.headers)
