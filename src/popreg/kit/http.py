"""What every HTTP endpoint shares: the database session of the request, error bodies, body limits.

Errors always have the body ``{"error": {"code", "message", "details"?}}``: domain errors with their
own code and status, malformed or invalid input as ``INPUT_*`` codes with status 400/413/422, and
anything unexpected as ``INTERNAL_ERROR`` without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import Settings

logger = logging.getLogger("popreg.http")
MAX_BODY_BYTES = 1_048_576
NO_STORE: Final = {"Cache-Control": "no-store"}
"""The headers of an answer that no cache may keep: a partner's answers and its jobs hold personal data."""


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings_of_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def request_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (so that anything the
    answer reports, including its access-log entry, is durable), rolled back on any error."""
    with get_database(request).unit_of_work() as session:
        yield session


DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(request_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def _validation_details(exc: RequestValidationError) -> tuple[str, str, list[dict[str, Any]]]:
    problems = []
    code, message = "INPUT_INVALID", "The request does not have the expected fields or values."
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        kind = str(error.get("type", ""))
        if kind == "json_invalid":
            code, message = "INPUT_MALFORMED_JSON", "The request body is not valid JSON."
        elif kind == "extra_forbidden" and code == "INPUT_INVALID":
            code, message = "INPUT_UNKNOWN_FIELD", f"Unknown field: {'.'.join(location)}."
        problems.append({"field": ".".join(location), "problem": str(error.get("msg", "")), "type": kind})
    return code, message, problems


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> Response:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        code, message, problems = _validation_details(exc)
        status = 400 if code == "INPUT_MALFORMED_JSON" else 422
        return JSONResponse(error_body(code, message, {"problems": problems}), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "INPUT_TOO_LARGE"}
        code = codes.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> Response:
        logger.warning("integrity conflict: %s", exc.orig)
        return JSONResponse(
            error_body(
                "CONFLICT",
                "The change conflicts with another one made at the same time; read the record again and retry.",
            ),
            status_code=409,
        )

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError) -> Response:
        # Input the database cannot take as given (a NUL character in a text, a number out of range),
        # found only when it reaches PostgreSQL: an input error, not a defect.
        logger.warning("input refused by the database: %s", exc.orig)
        return JSONResponse(
            error_body(
                "INPUT_INVALID",
                "A value of the request cannot be stored or looked up (for example a text with a NUL character).",
            ),
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    async def _unavailable(_request: Request, exc: OperationalError) -> Response:
        logger.error("database unavailable: %s", exc.orig)
        return JSONResponse(
            error_body("SERVICE_UNAVAILABLE", "The database is busy or unreachable; retry shortly."),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error", exc_info=exc)
        return JSONResponse(
            error_body("INTERNAL_ERROR", "Something went wrong on our side; it has been logged."), status_code=500
        )


class BodySizeLimit:
    """Refuse request bodies over a limit (413 ``INPUT_TOO_LARGE``) before anything reads them."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Larger limits for the few paths that take files (a bulk verification upload).
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope["path"], self.max_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await self._refuse(send, max_bytes)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._refuse(send, max_bytes)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        response = JSONResponse(
            error_body("INPUT_TOO_LARGE", f"The request body is over {max_bytes} bytes."), status_code=413
        )
        await response({"type": "http"}, _empty_receive, send)


class _BodyTooLarge(Exception):
    pass


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}


Handler = Callable[[Request], Awaitable[Response]]
