"""Console pages of officials: signing in and out.

A failed sign-in says only that the username or the password is wrong, the same whether or not the
username exists; the failure counter behind the 15-minute lockout is committed even though the
sign-in is refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from popreg.kit.errors import NotAuthenticated
from popreg.kit.http import DatabaseDep, SessionDep, SettingsDep
from popreg.officials import service
from popreg.officials.dependencies import SESSION_COOKIE
from popreg.officials.service import IssuedSession
from popreg.web.forms import FieldProblem, FormErrors, input_problem
from popreg.web.i18n import translator_for
from popreg.web.session import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    ConsoleOfficial,
    clear_login_token,
    close_session,
    new_login_token,
    open_session,
    remember_login_token,
    safe_next,
    same_token,
)
from popreg.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)
FormText = Annotated[str, Form()]


@router.get("/login")
def login_page(
    request: Request, session: SessionDep, settings: SettingsDep, next: str = "/console", logged_out: bool = False
) -> Response:
    """The sign-in form; an official who is already signed in goes straight on."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            service.resolve_session(session, token=token)
        except NotAuthenticated:
            pass
        else:
            return RedirectResponse(safe_next(next), status_code=303)
    notice = translator_for(request)("login.logged_out") if logged_out else None
    return _login_form(request, settings=settings, next_page=next, notice=notice)


@router.post("/login")
def login(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    username: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
    next: FormText = "/console",
) -> Response:
    """Check the password, open a session and set the session cookie."""
    t = translator_for(request)
    if not same_token(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_form(
            request,
            settings=settings,
            next_page=next,
            username=username,
            status_code=403,
            errors=FormErrors.single(None, t.error_code("CSRF_INVALID", fallback="Reload the page.")),
        )
    missing = [
        FieldProblem(name, input_problem(t, name, "missing", None))
        for name, value in (("username", username), ("password", password))
        if not value
    ]
    if missing:
        return _login_form(
            request, settings=settings, next_page=next, username=username, status_code=422, errors=FormErrors(missing)
        )
    refused: NotAuthenticated | None = None
    issued: IssuedSession | None = None
    # Its own unit of work, committed even when the sign-in fails: the failure counter must persist.
    with database.unit_of_work() as session:
        try:
            issued = service.authenticate(
                session, username=username, password=password, session_hours=settings.session_hours
            )
        except NotAuthenticated as error:
            refused = error
    if refused is not None or issued is None:
        message = t.error(refused) if refused else t.error_code("AUTH_INVALID_CREDENTIALS", fallback="")
        return _login_form(
            request,
            settings=settings,
            next_page=next,
            username=username,
            status_code=401,
            errors=FormErrors.single(None, message),
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    open_session(response, token=issued.token, expires_at=issued.expires_at, settings=settings)
    clear_login_token(response, settings=settings)
    return response


@router.post("/logout")
def logout(request: Request, console: ConsoleOfficial, session: SessionDep, settings: SettingsDep) -> Response:
    """End the session at once (its token stops working for the API too) and forget the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(session, token=token)
    response = RedirectResponse(f"{LOGIN_PATH}?logged_out=1", status_code=303)
    close_session(response, settings=settings)
    return response


def _login_form(
    request: Request,
    *,
    settings: SettingsDep,
    next_page: str,
    username: str = "",
    notice: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    token = new_login_token()
    response = render(
        request,
        "login.html",
        {
            "values": {"username": username, "password": ""},
            "next_page": safe_next(next_page),
            "errors": errors or FormErrors(),
            "notice": notice,
            "csrf_field": CSRF_FIELD,
            "login_token": token,
        },
        status_code=status_code,
    )
    remember_login_token(response, token, settings=settings)
    return response
