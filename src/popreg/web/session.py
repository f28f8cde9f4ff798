"""Signing in to the console: the session cookie, the signed-in official of a page, and CSRF checks.

The ``popreg_session`` cookie holds the same token the API takes as a bearer token (one kind of
session, see :mod:`popreg.officials.service`); it is HttpOnly, SameSite=Lax, and Secure wherever the
console is served over HTTPS. Every form the console posts carries the session's CSRF token in a
hidden ``csrf_token`` field, and a post without the right one is refused before anything runs. The
login form, which has no session yet, uses a double-submitted token in a short-lived cookie instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response

from popreg.kit.errors import Forbidden, NotAuthenticated
from popreg.kit.http import SessionDep
from popreg.kit.settings import Settings
from popreg.officials import service as officials
from popreg.officials.dependencies import SESSION_COOKIE
from popreg.officials.rules import OfficialPrincipal

CSRF_FIELD = "csrf_token"
LOGIN_CSRF_COOKIE = "popreg_login_csrf"
LOGIN_PATH = "/console/login"
HOME_PATH = "/console"


class SignInRequired(Exception):
    """The page needs a signed-in official; the console answers with a redirect to the login page."""


class CsrfRefused(Forbidden):
    """A form was posted without the CSRF token of the session (or of the login page)."""

    code = "CSRF_INVALID"

    def __init__(self) -> None:
        super().__init__("The form has expired or was not sent from this console; reload the page and send it again.")


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """The official signed in to the console, and the CSRF token their forms must carry."""

    principal: OfficialPrincipal
    csrf_token: str


async def submitted_csrf_token(request: Request) -> str | None:
    """The CSRF token a posted form carries (forms are parsed once per request and cached)."""
    if request.method != "POST":
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def same_token(submitted: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    if not submitted or not expected:
        return False
    return secrets.compare_digest(submitted.encode(), expected.encode())


def console_session(
    request: Request, session: SessionDep, submitted: Annotated[str | None, Depends(submitted_csrf_token)]
) -> ConsoleSession:
    """The signed-in official of a console page; a post must carry the session's CSRF token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired
    try:
        active = officials.resolve_session(session, token=token)
    except NotAuthenticated:
        raise SignInRequired from None
    current = ConsoleSession(principal=active.principal, csrf_token=active.csrf_token)
    request.state.console = current  # the error pages of this request show who is signed in
    if request.method == "POST" and not same_token(submitted, active.csrf_token):
        raise CsrfRefused
    return current


ConsoleOfficial = Annotated[ConsoleSession, Depends(console_session)]


def open_session(response: Response, *, token: str, expires_at: datetime, settings: Settings) -> None:
    """Give the browser the session cookie, which lasts as long as the session."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires_at,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def close_session(response: Response, *, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)


def new_login_token() -> str:
    """A fresh token for the login form (double-submitted: in the form and in a cookie)."""
    return secrets.token_urlsafe(24)


def remember_login_token(response: Response, token: str, *, settings: Settings) -> None:
    """The login form's token as a cookie that only the login page receives."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=LOGIN_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def clear_login_token(response: Response, *, settings: Settings) -> None:
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path=LOGIN_PATH, httponly=True, samesite="lax", secure=settings.cookie_secure
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console page only, never another site (no open redirect)."""
    if not target or not (
        target == HOME_PATH or target.startswith(HOME_PATH + "/") or target.startswith(HOME_PATH + "?")
    ):
        return HOME_PATH
    if "//" in target or "\\" in target or any(ch in target for ch in "\r\n"):
        return HOME_PATH
    if target.startswith(LOGIN_PATH):
        return HOME_PATH
    return target


def login_url(request: Request) -> str:
    """The login page, coming back to the page asked for once signed in."""
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return f"{LOGIN_PATH}?next={quote(safe_next(target), safe='')}"
