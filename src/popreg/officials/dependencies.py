"""Typed dependencies that authenticate the official behind a request.

The API takes ``Authorization: Bearer <token>``; the console takes the same token from its
``popreg_session`` cookie. Both are sessions of :mod:`popreg.officials.service`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from popreg.kit.errors import NotAuthenticated
from popreg.kit.http import SessionDep
from popreg.officials import service
from popreg.officials.rules import OfficialPrincipal

SESSION_COOKIE = "popreg_session"
_bearer = HTTPBearer(auto_error=False, description="A session token from POST /api/v1/auth/token.")


def session_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return request.cookies.get(SESSION_COOKIE)


def current_official(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> OfficialPrincipal:
    token = session_token(request, credentials)
    if not token:
        raise NotAuthenticated("Sign in first: send the session token as 'Authorization: Bearer <token>'.",
                               code="AUTH_REQUIRED")
    return service.resolve_session(session, token=token).principal


CurrentOfficial = Annotated[OfficialPrincipal, Depends(current_official)]
