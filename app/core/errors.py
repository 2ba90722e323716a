"""One error hierarchy, rendered as RFC 9457 ``application/problem+json`` by one handler."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.observability import count_refusal

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """A refusal the client can act on; ``code`` is stable and machine-readable."""

    status = 400
    title = "Bad request"

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.extra = code, detail, extra

    def body(self) -> dict[str, Any]:
        return {
            "type": f"urn:fangfanpin:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


class Unauthorized(ProblemError):
    status, title = 401, "Unauthorized"


class NotFound(ProblemError):
    status, title = 404, "Not found"


class Forbidden(ProblemError):
    status, title = 403, "Forbidden"


class Unprocessable(ProblemError):
    status, title = 422, "Unprocessable content"


class PreconditionRequired(ProblemError):
    status, title = 428, "Precondition required"


class PreconditionFailed(ProblemError):
    status, title = 412, "Precondition failed"


class Conflict(ProblemError):
    status, title = 409, "Conflict"


def problem_response(error: ProblemError, headers: dict[str, str] | None = None) -> JSONResponse:
    if isinstance(error, Unauthorized):
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer error="invalid_token"'}
    return JSONResponse(
        error.body(), status_code=error.status, media_type=PROBLEM_JSON, headers=headers
    )


def validation_problem(errors: list[dict[str, Any]]) -> Unprocessable:
    """A 422 naming each invalid field by its path."""
    fields = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "message": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in errors
    ]
    names = ", ".join(f["field"] or "(body)" for f in fields)
    return Unprocessable("validation_failed", f"Invalid input: {names}.", errors=fields)


_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        count_refusal(exc.code, exc.body())
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
        error = ProblemError(code, str(exc.detail))
        error.status, error.title = exc.status_code, str(exc.detail)
        return problem_response(error, headers=dict(exc.headers or {}))

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _unstorable(_: Request, exc: Exception) -> JSONResponse:
        # a value no check at the door caught (out of the database's range, not storable
        # text): the request is refused, its transaction rolled back, nothing written
        return problem_response(
            Unprocessable(
                "value_not_storable", "A value of the request is out of range or cannot be stored."
            )
        )

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        error = ProblemError("internal_error", "An unexpected error occurred.")
        error.status, error.title = 500, "Internal server error"
        return problem_response(error)
