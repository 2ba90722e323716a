"""One error hierarchy, rendered as RFC 9457 ``application/problem+json`` by one handler."""

from __future__ import annotations

import errno
import socket
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.language import LANGUAGE
from app.core.observability import count_refusal
from app.core.problems import PROBLEMS, problem_type

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """A refusal the client can act on; ``code`` is stable, machine-readable and registered
    in :mod:`app.core.problems`, which fixes its status and its titles."""

    status = 400
    """The status family a subclass stands for; a code must be registered with it."""

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        kind = problem_type(code)
        if type(self) is not ProblemError and kind.status != type(self).status:
            raise ValueError(
                f"problem {code} is registered as {kind.status}, raised as {type(self).status}"
            )
        self.kind = kind
        self.status = kind.status
        self.code, self.detail, self.extra = code, detail, extra
        self.kept: list[Any] = []
        """Rows the refusal must still leave behind (the access log's record of it): they
        commit after the request's writes roll back (``app.core.db.get_session``)."""

    @property
    def title(self) -> str:
        return self.kind.title(LANGUAGE.get())

    def body(self) -> dict[str, Any]:
        return {
            "type": f"urn:fangfanpin:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


class Problem(ProblemError):
    """A domain's error, declared once in that domain's ``errors.py``: its code is fixed on the
    class, its status and titles come from the registry (:mod:`app.core.problems`), and the
    raise site says only what happened (``raise CaseNotFound(case_id)``)."""

    code: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:  # an unregistered code fails at import, not at a refusal
            cls.status = problem_type(cls.code).status

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(type(self).code, detail, **extra)


class Unauthorized(ProblemError):
    status = 401


class NotFound(ProblemError):
    status = 404


class Forbidden(ProblemError):
    status = 403


class Unprocessable(ProblemError):
    status = 422


class PreconditionRequired(ProblemError):
    status = 428


class PreconditionFailed(ProblemError):
    status = 412


class Conflict(ProblemError):
    status = 409


def problem_response(error: ProblemError, headers: dict[str, str] | None = None) -> JSONResponse:
    if error.status == 401:  # a family class or a declared error (app.auth.errors)
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
        if exc.status_code == 400:  # a body that is not JSON at all: invalid input like any other
            return problem_response(
                validation_problem(
                    [{"loc": ("body",), "msg": str(exc.detail), "type": "json_invalid"}]
                )
            )
        code = _STATUS_CODES.get(exc.status_code, "bad_request")
        if PROBLEMS[code].status != exc.status_code:  # a status no code stands for
            code = "bad_request" if exc.status_code < 500 else "internal_error"
        error = ProblemError(code, str(exc.detail))
        error.status = exc.status_code
        return problem_response(error, headers=dict(exc.headers or {}))

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _unstorable(_: Request, __: Exception) -> JSONResponse:
        # a value no check at the door caught (out of the database's range, not storable
        # text): the request is refused, its transaction rolled back, nothing written
        return problem_response(
            Unprocessable(
                "value_not_storable", "A value of the request is out of range or cannot be stored."
            )
        )

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        error, headers = server_problem(exc, "An unexpected error occurred.")
        return problem_response(error, headers=headers)


def server_problem(exc: BaseException, detail: str) -> tuple[ProblemError, dict[str, str]]:
    """The answer to a request the server could not complete: 503 ``database_unavailable``
    with ``Retry-After`` when the database could not be reached (it restarts or fails over;
    the request wrote nothing, its transaction died with the connection, which the pool
    discards, and the client asks again), else 500 ``internal_error``."""
    if database_unreachable(exc):
        return ProblemError("database_unavailable", detail), {"Retry-After": "1"}
    return ProblemError("internal_error", detail), {}


UNREACHABLE = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EPIPE,
    }
)
"""Socket errors of a connection to the database; any other OSError (a full disk, a missing
file) is the server's own fault, a 500."""


def database_unreachable(exc: BaseException) -> bool:
    """Whether an error is the database connection's, not the request's: refused, reset,
    closed under the query, or a server still starting or shutting down."""
    seen: BaseException | None = exc
    for _ in range(6):  # the error, what SQLAlchemy wraps, and their causes
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, ConnectionError | TimeoutError) or type(seen).__name__ in (
            "CannotConnectNowError",
            "ConnectionDoesNotExistError",
            "AdminShutdownError",
            "ConnectionFailureError",
            "ClientCannotConnectError",
            "CrashShutdownError",
        ):
            return True
        if isinstance(seen, socket.gaierror) or (
            isinstance(seen, OSError) and seen.errno in UNREACHABLE
        ):
            return True  # connecting failed at the socket (no such host, unreachable)
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


def declares(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problem statuses a route answers beyond those every request to it may meet (its path's
    404, its body's 422 …): ``@router.get(…, responses=declares(404))``. The OpenAPI document
    gives each the problem schema (``app.contract``)."""
    return {status: {"description": "Problem"} for status in statuses}
