"""Application errors and the one place that turns them (and framework errors) into responses.

Every error answers `{"error": {"code", "message", "details"}}` with the matching HTTP status.
"""

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


class InvalidInput(AppError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Not authenticated", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class TenantSuspended(Forbidden):
    code = "tenant_suspended"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class QuotaExceeded(AppError):
    status_code = 402
    code = "quota_exceeded"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class ProviderError(AppError):
    """An external provider (an agent's LLM, say) failed or could not be used; the message is safe to show."""

    status_code = 502
    code = "provider_error"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "Too many requests; try again later",
            details={"retry_after_seconds": retry_after_seconds},
            headers={"Retry-After": str(retry_after_seconds)},
        )


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": dict(details or {})}}
    return JSONResponse(body, status_code=status_code, headers=dict(headers or {}))


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

# OpenAPI documentation of the error responses every API route may give.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Not authenticated",
        402: "The plan's quota is used up",
        403: "Not allowed, or the tenant is suspended",
        404: "Not found (or owned by another tenant)",
        409: "Conflict with existing data",
        413: "Request body too large",
        422: "Invalid input",
        429: "Too many requests",
    }.items()
}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_details(exc)
        malformed = any(e["type"] == "json_invalid" for e in errors)
        message = "Malformed JSON body" if malformed else "Invalid input"
        return error_response(422, "validation_error", message, {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # A uniqueness race lost to a concurrent request: the service's own check could not see the other row yet.
        logger.info("Integrity error: {}", exc.orig)
        return error_response(409, "conflict", "Conflict with existing data")

    @app.exception_handler(DataError)
    async def data_error(_: Request, exc: DataError) -> JSONResponse:
        # A value PostgreSQL refuses (a NUL character in text, a number out of range) came from the client.
        logger.warning("Data error: {}", exc.orig)
        return error_response(422, "invalid_input", "Invalid input: a value cannot be stored")

    @app.exception_handler(UnicodeEncodeError)
    async def unicode_error(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # JSON may escape lone surrogates ("\ud800"); they are not text and cannot be sent to the database.
        logger.warning("Unencodable text: {}", exc)
        return error_response(422, "invalid_input", "Invalid input: text must be valid Unicode")

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.opt(exception=exc).error("Unhandled error")
        return error_response(500, "internal_error", "Internal server error")
