"""One error shape everywhere, and one table from typed errors to HTTP status codes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from kinora.docstore import StoreUnavailable
from kinora.storage import StorageUnavailable

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.headers = message, param, headers
        self.code = code or self.code


class InvalidRequest(ApiError):
    status, code = 422, "invalid_request"


class Unauthorized(ApiError):
    status, code = 401, "invalid_api_key"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class TooManyRequests(ApiError):
    status, code = 429, "rate_limit_exceeded"


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int = 5) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorBody


OPENAI_PREFIX = "/v1/"


def error_response(status: int, code: str, message: str, param: str | None = None,
                   headers: dict[str, str] | None = None, *, path: str = "") -> JSONResponse:
    """Kinora's error shape, or OpenAI's under /v1/ (where clients written for OpenAI read it)."""
    if path.startswith(OPENAI_PREFIX):
        # OpenAI answers invalid parameters with 400, and its SDK maps statuses to exception classes.
        status = 400 if status == 422 else status
        kind = "server_error" if status >= 500 else "rate_limit_error" if status == 429 else "invalid_request_error"
        body: BaseModel = OpenAIErrorResponse(error=OpenAIErrorBody(message=message, type=kind, param=param,
                                                                    code=code))
    else:
        body = ErrorResponse(error=ErrorBody(code=code, message=message, param=param))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def responses(*errors: type[ApiError], openai: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route, so the document lists every error it can return."""
    model = OpenAIErrorResponse if openai else ErrorResponse
    return {(400 if openai and e.status == 422 else e.status): {"model": model, "description": e.__name__}
            for e in errors}


def _param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.param, exc.headers, path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request", "type": ""}
        if first.get("type") == "json_invalid":
            return error_response(400, "invalid_json", "The request body is not valid JSON.", path=request.url.path)
        param = _param(tuple(first.get("loc", ())))
        message = first.get("msg", "invalid request")
        if param:
            message = f"{param}: {message}"
        return error_response(422, "invalid_request", message, param, path=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "invalid_api_key"}
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                              headers=getattr(exc, "headers", None), path=request.url.path)

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(StorageUnavailable)
    async def backend_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("backend unavailable: %s", exc)
        code = "store_unavailable" if isinstance(exc, StoreUnavailable) else "storage_unavailable"
        return error_response(503, code, "A backend service is unreachable; retry later.",
                              headers={"Retry-After": "5"}, path=request.url.path)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "An internal error occurred.", path=request.url.path)
