"""How the console answers a refusal: with a page in the official's language, not a JSON body.

The application's error handlers (``popreg.kit.http``) answer the API; for paths under ``/console``
the handlers installed here render an error page instead and leave the API's answers unchanged. The
exception still leaves the request's unit of work first, so a refused request is rolled back.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from popreg.kit.errors import DomainError
from popreg.officials.dependencies import SESSION_COOKIE
from popreg.web.i18n import translator_for
from popreg.web.session import HOME_PATH, SignInRequired, login_url
from popreg.web.templating import render

logger = logging.getLogger("popreg.web")
ExceptionHandler = Callable[[Request, Any], Response | Awaitable[Response]]
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "INPUT_TOO_LARGE"}


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == HOME_PATH or path.startswith(HOME_PATH + "/")


def error_page(request: Request, *, status_code: int, code: str, message: str) -> Response:
    """The page of a refusal: what happened, its stable code, and the way back."""
    t = translator_for(request)
    title_key = "errorpage.title_jurisdiction" if code == "JURISDICTION_DENIED" else f"errorpage.title_{status_code}"
    title = t(title_key) if t.has(title_key) else t("errorpage.title_generic")
    return render(request, "error.html", {"title": title, "message": message, "code": code}, status_code=status_code)


def _domain_error_page(request: Request, error: DomainError) -> Response:
    return error_page(
        request, status_code=error.status_code, code=error.code, message=translator_for(request).error(error)
    )


def _input_error_page(request: Request, _error: RequestValidationError) -> Response:
    t = translator_for(request)
    return error_page(
        request,
        status_code=400,
        code="INPUT_INVALID",
        message=t.error_code("INPUT_INVALID", fallback="The request is not valid."),
    )


def _http_error_page(request: Request, error: StarletteHTTPException) -> Response:
    code = HTTP_CODES.get(error.status_code, "HTTP_ERROR")
    t = translator_for(request)
    return error_page(
        request, status_code=error.status_code, code=code, message=t.error_code(code, fallback=str(error.detail))
    )


def _conflict_page(request: Request, error: IntegrityError) -> Response:
    logger.warning("integrity conflict: %s", error.orig)
    t = translator_for(request)
    return error_page(
        request,
        status_code=409,
        code="CONFLICT",
        message=t.error_code("CONFLICT", fallback="The change conflicts with another one."),
    )


def _unavailable_page(request: Request, error: OperationalError) -> Response:
    logger.error("database unavailable: %s", error.orig)
    t = translator_for(request)
    response = error_page(
        request,
        status_code=503,
        code="SERVICE_UNAVAILABLE",
        message=t.error_code("SERVICE_UNAVAILABLE", fallback="The database is busy."),
    )
    response.headers["Retry-After"] = "5"
    return response


def _unexpected_page(request: Request, error: Exception) -> Response:
    logger.exception("unexpected error", exc_info=error)
    t = translator_for(request)
    return error_page(
        request,
        status_code=500,
        code="INTERNAL_ERROR",
        message=t.error_code("INTERNAL_ERROR", fallback="Something went wrong on our side."),
    )


def _to_login(request: Request, _error: SignInRequired) -> Response:
    response = RedirectResponse(login_url(request), status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def install_error_pages(app: FastAPI) -> None:
    """Answer refusals on console paths with pages; the API keeps its JSON handlers."""
    pages: list[tuple[type[Exception], Callable[[Request, Any], Response]]] = [
        (DomainError, _domain_error_page),
        (RequestValidationError, _input_error_page),
        (StarletteHTTPException, _http_error_page),
        (IntegrityError, _conflict_page),
        (OperationalError, _unavailable_page),
        (Exception, _unexpected_page),
    ]
    for kind, page in pages:
        app.add_exception_handler(kind, _console_first(page, app.exception_handlers.get(kind)))
    app.add_exception_handler(SignInRequired, _console_first(_to_login, None))


def _console_first(
    page: Callable[[Request, Any], Response], api: ExceptionHandler | None
) -> Callable[[Request, Any], Awaitable[Response]]:
    async def handle(request: Request, error: Any) -> Response:
        if is_console(request) or api is None:
            return page(request, error)
        answer = api(request, error)
        return await answer if inspect.isawaitable(answer) else answer

    return handle
